import { describe, expect, inject, it } from "vitest";
import { eq } from "drizzle-orm";
import { eventSigningKeys, webhookDeliveries, webhooks } from "../../src/db/schema";
import type { Env } from "../../src/env";
import { runScheduled, STAGES } from "../../src/jobs/scheduled";
import { keyring, unseal } from "../../src/lib/secret-box";
import { inventoryFor } from "../../src/services/booking-saga";
import { eventKeys, signTicketCode } from "../../src/services/ticket-codes";
import { deliverWebhook, emitWebhook } from "../../src/services/webhooks";
import { call, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { makeReservedEventOnSale, type TestEvent } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// Secrets at rest (issue 24 item 14): webhook secrets and events' private signing keys sealed with
// SECRETS_KEYS (AES-GCM, key id beside), rotation, clear rows from before; and entry needs the
// issued code, not only a valid signature.

const receiver = inject("webhookReceiver");
const inbox = async (name: string): Promise<any[]> => (await fetch(`${receiver}/control/${name}`)).json() as Promise<any[]>;
const hmacHex = async (secret: string, msg: string) => {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(msg)))].map((b) => b.toString(16).padStart(2, "0")).join("");
};
const signedWith = async (secret: string, r: { headers: Record<string, string>; body: string }) => {
  const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(r.headers["evently-signature"])!;
  return v1 === (await hmacHex(secret, `${t}.${r.body}`));
};
const randomKey = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const queueDown = { send: async () => Promise.reject(new Error("down")), sendBatch: async () => Promise.reject(new Error("down")) };
const withKeys = (SECRETS_KEYS: string) => ({ ...testEnv, SECRETS_KEYS }) as Env;

const hookRow = async (id: string) => (await withDb((db) => db.select().from(webhooks).where(eq(webhooks.id, id))))[0];
const keyRow = async (eventId: string) => (await withDb((db) => db.select().from(eventSigningKeys).where(eq(eventSigningKeys.eventId, eventId))))[0];

/** One pending delivery for the hook, delivered by the consumer's own function under `env`'s keys. */
async function deliverOnce(env: Env, ev: TestEvent, hookId: string) {
  await withDb((db) => emitWebhook({ ...env, WEBHOOKS: queueDown } as unknown as Env, db, { type: "checkin.redeemed", eventId: ev.eventId, dedupeKey: crypto.randomUUID(), data: { eventId: ev.eventId } }));
  const [d] = await withDb((db) => db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hookId)));
  expect(await withDb((db) => deliverWebhook(env, db, d.id, false))).toEqual({ kind: "done" });
}

async function hookOf(ev: TestEvent, admin: TestUser) {
  const name = crypto.randomUUID();
  const res = await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: `${receiver}/in/${name}`, events: ["checkin.redeemed"], eventId: ev.eventId } });
  expect(res.status).toBe(201);
  return { name, hook: (await res.json()) as any };
}

describe("secrets at rest", () => {
  it("a webhook's secret and an event's private signing key are not stored in clear, and still sign", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const { name, hook } = await hookOf(ev, admin);
    const row = await hookRow(hook.id);
    expect(row.secretKeyId).toBe("test1");
    expect(row.secret).not.toContain(hook.secret);
    expect(row.secret).not.toMatch(/whsec_/);
    await deliverOnce(testEnv, ev, hook.id);
    const [got] = await inbox(name);
    expect(await signedWith(hook.secret, got)).toBe(true);

    await withDb((db) => eventKeys(db, testEnv, ev.eventId));
    const key = await keyRow(ev.eventId);
    expect(key.privateKeyId).toBe("test1");
    expect(typeof key.privateJwk).toBe("string");
    expect(JSON.stringify(key.privateJwk)).not.toMatch(/"d"/);
  });

  it("rotation: after a new key is added, rows under the old key still work, and the cron's rewrap moves them to the new key", async () => {
    const old = testEnv.SECRETS_KEYS!;
    const fresh = `k2:${randomKey()}`;
    const rotated = withKeys(`${fresh},${old}`);
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const { name, hook } = await hookOf(ev, admin);
    await withDb((db) => eventKeys(db, testEnv, ev.eventId));
    expect((await hookRow(hook.id)).secretKeyId).toBe("test1");

    // Readable under the new keyring (old key still listed); delivering seals it again on the way.
    await deliverOnce(rotated, ev, hook.id);
    expect(await signedWith(hook.secret, (await inbox(name))[0])).toBe(true);
    expect((await hookRow(hook.id)).secretKeyId).toBe("k2");

    // The cron stage moves the rest: the event's key here.
    const result = await runScheduled(rotated, new Date(), { secretsRewrap: STAGES.secretsRewrap });
    expect(result.secretsRewrap).toMatchObject({ ok: true });
    expect((result.secretsRewrap as any).eventKeys).toBeGreaterThanOrEqual(1);
    const key = await keyRow(ev.eventId);
    expect(key.privateKeyId).toBe("k2");
    // With the old key dropped, both still open.
    const onlyNew = await keyring({ SECRETS_KEYS: fresh });
    const jwk = JSON.parse(await unseal(onlyNew, key.privateKeyId, key.privateJwk as string, `event-signing-key:${ev.eventId}`));
    expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", d: expect.any(String) });
    const h = await hookRow(hook.id);
    expect(await unseal(onlyNew, h.secretKeyId, h.secret, `webhook-secret:${hook.id}`)).toBe(hook.secret);
    // A ciphertext does not open as another row's.
    await expect(unseal(onlyNew, h.secretKeyId, h.secret, `webhook-secret:${crypto.randomUUID()}`)).rejects.toThrow();
  });

  it("rows stored in clear before sealing keep working and are sealed on first use", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const { name, hook } = await hookOf(ev, admin);
    await withDb((db) => db.update(webhooks).set({ secret: "whsec_legacy", secretKeyId: null }).where(eq(webhooks.id, hook.id)));
    await deliverOnce(testEnv, ev, hook.id);
    expect(await signedWith("whsec_legacy", (await inbox(name))[0])).toBe(true);
    const sealed = await hookRow(hook.id);
    expect(sealed.secretKeyId).toBe("test1");
    expect(sealed.secret).not.toMatch(/whsec_/);

    // An event key written in clear (as before): the cron's rewrap seals it, and it still verifies.
    const ev2 = await makeReservedEventOnSale();
    const jose = await import("jose");
    const pair = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const publicJwk = { ...(await jose.exportJWK(pair.publicKey)), kid: "tk_legacy", alg: "EdDSA", use: "sig" };
    const privateJwk = { ...(await jose.exportJWK(pair.privateKey)), kid: "tk_legacy", alg: "EdDSA" };
    await withDb((db) => db.insert(eventSigningKeys).values({ eventId: ev2.eventId, kid: "tk_legacy", publicJwk, privateJwk }));
    await runScheduled(testEnv, new Date(), { secretsRewrap: STAGES.secretsRewrap });
    const key = await keyRow(ev2.eventId);
    expect(key.privateKeyId).toBe("test1");
    expect(JSON.parse(await unseal(await keyring(testEnv), key.privateKeyId, key.privateJwk as string, `event-signing-key:${ev2.eventId}`))).toEqual(privateJwk);
  });
});

describe("entry needs the issued code", () => {
  it("a validly signed code for a real ticket id, other than the code issued, is refused at the door", async () => {
    const ev = await makeReservedEventOnSale();
    const admin = await makeUser("admin");
    const list: any = await (await call(`/v1/events/${ev.eventId}/checkin-lists`, { method: "POST", headers: admin.auth, json: { name: "Main door" } })).json();
    const buyer = await makeUser();
    const h = await inventoryFor(testEnv, ev.eventId).hold(buyer.id, { seatIds: ["A-1-1"] }, null);
    if (!h.ok) throw new Error(h.code);
    const b: any = await (await call("/v1/bookings", { method: "POST", headers: buyer.auth, json: { holdId: h.value.id, paymentMethod: "pm_card_ok" } })).json();
    await eventually(async () => ((await (await call(`/v1/bookings/${b.id}`, { headers: buyer.auth })).json()) as any).status === "confirmed", 20_000, "confirmed");
    const [t]: any[] = ((await (await call(`/v1/tickets?eventId=${ev.eventId}`, { headers: buyer.auth })).json()) as any).data;

    // Whoever holds the event's signing key can sign a code for the ticket's id: not the issued code.
    const keys = await withDb((db) => eventKeys(db, testEnv, ev.eventId));
    const minted = await signTicketCode(keys, { tid: t.id, eid: ev.eventId });
    expect(minted).not.toBe(t.code);
    const refused: any = await (await call("/v1/checkin/redeem", { method: "POST", headers: admin.auth, json: { listId: list.id, code: minted, nonce: crypto.randomUUID() } })).json();
    expect(refused.result).toBe("invalid");
    // The issued code gets in, once.
    const ok: any = await (await call("/v1/checkin/redeem", { method: "POST", headers: admin.auth, json: { listId: list.id, code: t.code, nonce: crypto.randomUUID() } })).json();
    expect(ok.result).toBe("ok");
  });
});
