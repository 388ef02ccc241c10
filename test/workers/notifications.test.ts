import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import { runScheduled, STAGES } from "../../src/jobs/scheduled";
import { keyring, unseal } from "../../src/lib/secret-box";
import { call, makeUser, testEnv, withDb } from "../helpers/fixtures";
import { eventually } from "../helpers/wait";
import { notifications, organizationInvitations } from "../../src/db/schema";
import type { NotificationMessage } from "../../src/queues/messages";

const message = (userId: string, dedupeKey: string, kind: NotificationMessage["kind"] = "booking.confirmed"): NotificationMessage => ({
  type: "notification.send",
  dedupeKey,
  userId,
  kind,
  payload: { bookingId: crypto.randomUUID(), amountCents: 5000, currency: "EUR" },
});

const rowsFor = (userId: string) => withDb((db) => db.select().from(notifications).where(eq(notifications.userId, userId)));

describe("notifications through the real queue", () => {
  it("stores a notification once and marks it emailed when the same message is delivered twice", async () => {
    const u = await makeUser();
    const key = `test:${crypto.randomUUID()}`;
    await testEnv.NOTIFICATIONS.send(message(u.id, key));
    await testEnv.NOTIFICATIONS.send(message(u.id, key));
    const rows = await eventually(async () => {
      const r = await rowsFor(u.id);
      return r.length && r.every((n) => n.emailedAt) ? r : null;
    }, 15_000, "notification stored and emailed");
    await new Promise((r) => setTimeout(r, 1_500)); // let the duplicate land too
    expect(await rowsFor(u.id)).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: "booking.confirmed", dedupeKey: key });
  });

  it("lists only the caller's own notifications, newest first, in keyset pages", async () => {
    const [me, other] = [await makeUser(), await makeUser()];
    await withDb(async (db) => {
      // A second apart: rows inserted back to back can share a timestamp (the embedded Postgres's
      // clock is coarse), and then "newest first" is the ids' random order.
      const t0 = Date.now() - 60_000;
      for (let i = 0; i < 5; i++) {
        await db.insert(notifications).values({ userId: me.id, dedupeKey: `t:${crypto.randomUUID()}`, type: "booking.confirmed", payload: { n: i }, createdAt: new Date(t0 + i * 1_000) });
      }
      await db.insert(notifications).values({ userId: other.id, dedupeKey: `t:${crypto.randomUUID()}`, type: "booking.failed", payload: { n: 99 } });
    });
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(`/v1/notifications?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: me.auth });
      expect(res.status).toBe(200);
      const body: any = await res.json();
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((n: any) => n.payload.n));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([4, 3, 2, 1, 0]);
  });

  it("answers 401 without a token and 400 for a forged cursor", async () => {
    expect((await call("/v1/notifications")).status).toBe(401);
    const u = await makeUser();
    const res = await call("/v1/notifications?cursor=bm9wZQ", { headers: u.auth });
    expect(res.status).toBe(400);
  });
});

describe("invitation emails (notifications × organizations)", () => {
  const queueDown = {
    send: async () => {
      throw new Error("queue unavailable");
    },
    sendBatch: async () => {
      throw new Error("queue unavailable");
    },
  };

  /** The app with the NOTIFICATIONS queue down (waits for its waitUntil work too). */
  async function withQueueDown(path: string, init: RequestInit & { json?: unknown }): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("content-type", "application/json");
    const ctx = createExecutionContext();
    const res = await createApp().request(`http://evently.test${path}`, { ...init, headers, body: JSON.stringify(init.json) }, { ...testEnv, NOTIFICATIONS: queueDown } as unknown as Env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  async function company() {
    const owner = await makeUser("organizer", "inviter");
    const res = await call("/v1/orgs", { method: "POST", headers: owner.auth, json: { name: "Mailers" } });
    return { owner, orgId: ((await res.json()) as any).id as string };
  }

  const invitationRow = async (id: string) => (await withDb((db) => db.select().from(organizationInvitations).where(eq(organizationInvitations.id, id))))[0];
  const accept = async (who: { auth: Record<string, string> }, token: string) => (await call("/v1/invitations/accept", { method: "POST", headers: who.auth, json: { token } })).status;

  it("sends the org.invitation email through the real notifications queue and its consumer, once, and drops the sealed link", async () => {
    const c = await company();
    const invitee = await makeUser("user", "mailed");
    const res = await call(`/v1/orgs/${c.orgId}/invitations`, { method: "POST", headers: c.owner.auth, json: { email: invitee.email, role: "door" } });
    expect(res.status).toBe(201);
    const invitation: any = await res.json();
    const row = await eventually(async () => {
      const r = await invitationRow(invitation.id);
      return r.emailedAt ? r : null;
    }, 15_000, "invitation emailed by the consumer");
    expect(row.emailQueuedAt).not.toBeNull();
    expect(row.emailLink).toBeNull();
    expect(await accept(invitee, invitation.token)).toBe(200);
  });

  it("answers 201 when the queue send fails; the cron's sweep sends the email later, and its link admits the invitee", async () => {
    const c = await company();
    const invitee = await makeUser("user", "late-mail");
    const res = await withQueueDown(`/v1/orgs/${c.orgId}/invitations`, { method: "POST", headers: c.owner.auth, json: { email: invitee.email, role: "box_office" } });
    expect(res.status).toBe(201);
    const invitation: any = await res.json();
    const waiting = await invitationRow(invitation.id);
    expect(waiting).toMatchObject({ emailQueuedAt: null, emailedAt: null });
    // The outbox holds the email's link sealed, never in clear.
    expect(waiting.emailLink).not.toContain(invitation.token);
    const link = await unseal(await keyring(testEnv), waiting.emailLinkKeyId, waiting.emailLink!, `invitation-link:${invitation.id}`);
    expect(link).toBe(`http://evently.test/?invite=${encodeURIComponent(invitation.token)}`);

    const swept = await runScheduled(testEnv, new Date(Date.now() + 60_000), { invitationEmails: STAGES.invitationEmails });
    expect(swept.invitationEmails).toMatchObject({ ok: true });
    expect((swept.invitationEmails as any).queued).toBeGreaterThanOrEqual(1);
    await eventually(async () => (await invitationRow(invitation.id)).emailedAt !== null, 15_000, "emailed after the sweep");
    expect(await accept(invitee, new URL(link).searchParams.get("invite")!)).toBe(200);
  });

  it("an invitation whose sealed link no longer opens (its key dropped) does not hold up the other invitations' emails", async () => {
    const c = await company();
    const make = async (tag: string) => ((await (await withQueueDown(`/v1/orgs/${c.orgId}/invitations`, { method: "POST", headers: c.owner.auth, json: { email: `${tag}-${crypto.randomUUID()}@evently.test`, role: "viewer" } })).json()) as any).id as string;
    const lost = await make("lost-key");
    const fine = await make("fine");
    // The older invitation (swept first) was sealed under a key no longer in SECRETS_KEYS.
    await withDb((db) => db.update(organizationInvitations).set({ emailLinkKeyId: "dropped", createdAt: new Date(Date.now() - 3_600_000) }).where(eq(organizationInvitations.id, lost)));
    const swept = await runScheduled(testEnv, new Date(Date.now() + 60_000), { invitationEmails: STAGES.invitationEmails });
    expect(swept.invitationEmails).toMatchObject({ ok: true, queued: 1, givenUp: 1 });
    await eventually(async () => (await invitationRow(fine)).emailedAt !== null, 15_000, "the other invitation emailed");
    // Given up, once: nothing left to send, and the next sweep does not pick it again.
    expect(await invitationRow(lost)).toMatchObject({ emailLink: null, emailedAt: null });
  });

  it("the cron's secretsRewrap seals an unsent invitation link again under the newest key", async () => {
    const c = await company();
    const res = await withQueueDown(`/v1/orgs/${c.orgId}/invitations`, { method: "POST", headers: c.owner.auth, json: { email: `rewrap-${crypto.randomUUID()}@evently.test`, role: "viewer" } });
    const invitation: any = await res.json();
    const rotated = { ...testEnv, SECRETS_KEYS: `k2:${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))},${testEnv.SECRETS_KEYS}` } as unknown as Env;
    const result = await runScheduled(rotated, new Date(), { secretsRewrap: STAGES.secretsRewrap });
    expect(result.secretsRewrap).toMatchObject({ ok: true });
    expect((result.secretsRewrap as any).invitationLinks).toBeGreaterThanOrEqual(1);
    const row = await invitationRow(invitation.id);
    expect(row.emailLinkKeyId).toBe("k2");
    expect(await unseal(await keyring(rotated), row.emailLinkKeyId, row.emailLink!, `invitation-link:${invitation.id}`)).toBe(`http://evently.test/?invite=${encodeURIComponent(invitation.token)}`);
  });

  it("does not email an invitation revoked before its email went out", async () => {
    const c = await company();
    const res = await withQueueDown(`/v1/orgs/${c.orgId}/invitations`, { method: "POST", headers: c.owner.auth, json: { email: `revoked-${crypto.randomUUID()}@evently.test`, role: "viewer" } });
    const invitation: any = await res.json();
    expect((await call(`/v1/orgs/${c.orgId}/invitations/${invitation.id}`, { method: "DELETE", headers: c.owner.auth })).status).toBe(204);
    await runScheduled(testEnv, new Date(Date.now() + 60_000), { invitationEmails: STAGES.invitationEmails });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await invitationRow(invitation.id)).toMatchObject({ emailQueuedAt: null, emailedAt: null });
  });
});
