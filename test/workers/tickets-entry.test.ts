import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { and, eq } from "drizzle-orm";
import { CompactSign, compactVerify, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { parse } from "csv-parse/sync";
import { auditLog, checkins, notifications, users, webhooks } from "../../src/db/schema";
import { createWebhook } from "../../src/services/webhooks";
import { call, expectError, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { bookingRow, confirmedBooking, makeReservedEventOnSale } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// Tickets and entry end to end: real saga queue, real CheckinDesk object, real Postgres, and a real
// HTTP receiver for webhooks (test/helpers/webhook-receiver.ts).


const ticketsOf = async (user: TestUser, eventId?: string): Promise<any[]> =>
  ((await (await call(`/v1/tickets${eventId ? `?eventId=${eventId}` : ""}`, { headers: user.auth })).json()) as any).data;

async function setup(opts: { allowReentry?: boolean; ticketTypeIds?: string[] } = {}) {
  const ev = await makeReservedEventOnSale();
  const admin = await makeUser("admin");
  const list: any = await (await call(`/v1/events/${ev.eventId}/checkin-lists`, { method: "POST", headers: admin.auth, json: { name: "Main door", ...opts } })).json();
  const scannerRes = await call(`/v1/events/${ev.eventId}/scanners`, { method: "POST", headers: admin.auth, json: { name: "Door 1" } });
  expect(scannerRes.status).toBe(201);
  const scanner: any = await scannerRes.json();
  return { ev, admin, list, scanner, scanAuth: { authorization: `Bearer ${scanner.token}` } };
}

const redeem = (auth: Record<string, string>, body: Record<string, unknown>) =>
  call("/v1/checkin/redeem", { method: "POST", headers: auth, json: { nonce: crypto.randomUUID(), ...body } });

describe("tickets", () => {
  it("issues one signed ticket per seat on confirmation, shows it with a QR code, and puts the codes in the confirmation", async () => {
    const { ev, scanAuth } = await setup();
    const buyer = await makeUser("user", "Buyer");
    const bookingId = await confirmedBooking(ev, buyer, ["A-1-1", "A-1-2"]);
    const mine = await ticketsOf(buyer);
    expect(mine.map((t) => t.seatId).sort()).toEqual(["A-1-1", "A-1-2"]);
    for (const t of mine) expect(t).toMatchObject({ bookingId, eventId: ev.eventId, status: "valid", holderName: "Buyer", ticketTypeId: "tt_default" });
    expect(new Set(mine.map((t) => t.code)).size).toBe(2);

    const one = await call(`/v1/tickets/${mine[0].id}`, { headers: buyer.auth });
    expect(((await one.json()) as any).code).toBe(mine[0].code);
    const stranger = await makeUser();
    expect((await call(`/v1/tickets/${mine[0].id}`, { headers: stranger.auth })).status).toBe(404);

    const qr = await call(`/v1/tickets/${mine[0].id}/qr.svg`, { headers: buyer.auth });
    expect(qr.status).toBe(200);
    expect(qr.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect(await qr.text()).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

    // The confirmation (stored and emailed) carries the codes.
    const notice = await eventually(async () => {
      const rows = await withDb((db) => db.select().from(notifications).where(and(eq(notifications.userId, buyer.id), eq(notifications.type, "booking.confirmed"))));
      return rows[0];
    }, 15_000, "confirmation notification");
    expect(((notice.payload as any).tickets as any[]).map((t) => t.code).sort()).toEqual(mine.map((t) => t.code).sort());

    // Offline verification: the event's public key verifies a real code and refuses altered and forged ones.
    const keysRes = await call(`/v1/events/${ev.eventId}/checkin/keys`, { headers: scanAuth });
    expect(keysRes.status).toBe(200);
    const { keys } = (await keysRes.json()) as { keys: JWK[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toHaveProperty("d");
    const pub = await importJWK(keys[0], "EdDSA");
    const { payload, protectedHeader } = await compactVerify(mine[0].code, pub);
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: keys[0].kid, typ: "evently-ticket" });
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ tid: mine[0].id, eid: ev.eventId });

    const [h, p, s] = mine[0].code.split(".");
    const otherTicket = btoa(JSON.stringify({ v: 1, tid: mine[1].id, eid: ev.eventId, n: "x" })).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
    const altered = `${h}.${otherTicket}.${s}`;
    await expect(compactVerify(altered, pub)).rejects.toThrow();
    const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    await expect(compactVerify(flipped, pub)).rejects.toThrow();
    const attacker = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify({ v: 1, tid: mine[0].id, eid: ev.eventId, n: "y" })))
      .setProtectedHeader({ alg: "EdDSA", kid: keys[0].kid, typ: "evently-ticket" })
      .sign(attacker.privateKey);
    await expect(compactVerify(forged, pub)).rejects.toThrow();
    expect((await exportJWK(attacker.publicKey)).x).not.toBe(keys[0].x);
  });
});

describe("check-in", () => {
  it("redeems a code exactly once when 50 scanners send it at the same moment", async () => {
    const { ev, list, scanAuth } = await setup();
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-2-1"]);
    const [ticket] = await ticketsOf(buyer);
    const answers: any[] = await Promise.all(
      Array.from({ length: 50 }, async () => (await redeem(scanAuth, { listId: list.id, code: ticket.code })).json()),
    );
    const ok = answers.filter((a) => a.result === "ok");
    const again = answers.filter((a) => a.result === "already_redeemed");
    expect(ok).toHaveLength(1);
    expect(again).toHaveLength(49);
    for (const a of again) expect(a.firstRedeemedAt).toBe(ok[0].firstRedeemedAt);
    expect(ok[0].ticket).toMatchObject({ id: ticket.id, seatId: "A-2-1" });
    // Mirrored to Postgres once.
    const rows = await withDb((db) => db.select().from(checkins).where(eq(checkins.ticketId, ticket.id)));
    expect(rows).toHaveLength(1);
    expect(rows[0].at.toISOString()).toBe(ok[0].firstRedeemedAt);
  });

  it("answers a repeated nonce with its first answer, and invalid for junk, forged and other events' codes", async () => {
    const { ev, list, scanAuth } = await setup();
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-2-2"]);
    const [ticket] = await ticketsOf(buyer);
    const first: any = await (await redeem(scanAuth, { listId: list.id, code: ticket.code, nonce: "scan-1" })).json();
    const retry: any = await (await redeem(scanAuth, { listId: list.id, code: ticket.code, nonce: "scan-1" })).json();
    expect(first.result).toBe("ok");
    expect(retry).toEqual(first);
    expect(((await (await redeem(scanAuth, { listId: list.id, code: "not-a-code" })).json()) as any).result).toBe("invalid");
    const [h, , s] = ticket.code.split(".");
    const altered = `${h}.${btoa(JSON.stringify({ v: 1, tid: crypto.randomUUID(), eid: ev.eventId, n: "z" })).replace(/=+$/, "")}.${s}`;
    const bad: any = await (await redeem(scanAuth, { listId: list.id, code: altered })).json();
    expect(bad).toEqual({ nonce: expect.any(String), result: "invalid" });

    // A code of another event is invalid here, and this event's scanner cannot scan at that event's list.
    const other = await setup();
    const otherBuyer = await makeUser();
    await confirmedBooking(other.ev, otherBuyer, ["A-1-1"]);
    const [foreign] = await ticketsOf(otherBuyer);
    expect(((await (await redeem(scanAuth, { listId: list.id, code: foreign.code })).json()) as any).result).toBe("invalid");
    const cross = await redeem(scanAuth, { listId: other.list.id, code: foreign.code });
    expect(cross.status).toBe(403);
  });

  it("gives two scanners that happen to use the same nonce each their own answer", async () => {
    const { ev, admin, list, scanAuth } = await setup();
    const second: any = await (await call(`/v1/events/${ev.eventId}/scanners`, { method: "POST", headers: admin.auth, json: { name: "Door 2" } })).json();
    const door2 = { authorization: `Bearer ${second.token}` };
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-1-4", "A-1-5"]);
    const [a, b] = await ticketsOf(buyer);
    // Each device numbers its own scans: both start at "scan-1".
    const one: any = await (await redeem(scanAuth, { listId: list.id, code: a.code, nonce: "scan-1" })).json();
    const two: any = await (await redeem(door2, { listId: list.id, code: b.code, nonce: "scan-1" })).json();
    expect(one).toMatchObject({ result: "ok", ticket: { id: a.id } });
    expect(two).toMatchObject({ result: "ok", ticket: { id: b.id } });
    // A retry from either device still answers that device's first answer.
    expect(await (await redeem(scanAuth, { listId: list.id, code: a.code, nonce: "scan-1" })).json()).toEqual(one);
    expect(await (await redeem(door2, { listId: list.id, code: b.code, nonce: "scan-1" })).json()).toEqual(two);
    // An offline upload from a third device (the organizer's phone) with the same nonce is its own scan too.
    const synced: any = await (await call("/v1/checkin/sync", { method: "POST", headers: admin.auth, json: { listId: list.id, scans: [{ code: a.code, nonce: "scan-1", at: new Date(Date.now() - 1000).toISOString(), direction: "entry" }] } })).json();
    expect(synced.results[0]).toMatchObject({ result: "ok", ticket: { id: a.id } });
    const rows = await withDb((db) => db.select().from(checkins).where(eq(checkins.listId, list.id)));
    expect(rows.map((r) => r.ticketId).sort()).toEqual([a.id, a.id, b.id].sort());
  });

  it("keeps nothing of a flood of junk codes at the desk, and still answers each of them invalid, retries too", async () => {
    const { ev, list, scanAuth } = await setup();
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-1-1"]);
    const [ticket] = await ticketsOf(buyer);
    const at = new Date(Date.now() - 5_000).toISOString();
    const junk = Array.from({ length: 500 }, (_, i) => ({ code: `junk-${i}-${crypto.randomUUID()}`, nonce: `j-${i}`, at, direction: "entry" }));
    const sync = async (scans: object[]) => ((await (await call("/v1/checkin/sync", { method: "POST", headers: scanAuth, json: { listId: list.id, scans } })).json()) as any).results;
    for (let round = 0; round < 2; round++) expect((await sync(junk)).every((r: any) => r.result === "invalid")).toBe(true);
    const ok: any = await (await redeem(scanAuth, { listId: list.id, code: ticket.code, nonce: "real-1" })).json();
    expect(ok.result).toBe("ok");
    const desks = (env as unknown as { CHECKIN_DESK: DurableObjectNamespace }).CHECKIN_DESK;
    const stored = await runInDurableObject(desks.get(desks.idFromName(ev.eventId)), (_o, state) => state.storage.sql.exec(`SELECT count(*) AS n FROM device_scans`).one().n);
    // The genuine scan's answer is kept (its retry answers the same); the 1,000 junk scans left nothing.
    expect(stored).toBe(1);
    expect(await (await redeem(scanAuth, { listId: list.id, code: ticket.code, nonce: "real-1" })).json()).toEqual(ok);
  });

  it("keeps scanner tokens to check-in: no other route accepts them, and a revoked scanner stops at once", async () => {
    const { ev, admin, list, scanner, scanAuth } = await setup();
    expect((await call("/v1/me", { headers: scanAuth })).status).toBe(401);
    expect((await call("/v1/bookings", { headers: scanAuth })).status).toBe(401);
    expect((await call(`/v1/events/${ev.eventId}/exports/attendees.csv`, { headers: scanAuth })).status).toBe(401);
    expect((await call(`/v1/events/${ev.eventId}/checkin-lists`, { headers: scanAuth })).status).toBe(200);
    expect((await call(`/v1/events/${ev.eventId}/scanners/${scanner.id}`, { method: "DELETE", headers: admin.auth })).status).toBe(204);
    const after = await redeem(scanAuth, { listId: list.id, code: "x" });
    expect(after.status).toBe(401);
    expectError(await after.json(), "UNAUTHENTICATED");
  });

  it("answers wrong_list for a list of other ticket types, and lets people back in after an exit on a re-entry list", async () => {
    const { ev, admin, list: vipOnly, scanAuth } = await setup({ ticketTypeIds: ["tt_vip"] });
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-1-3"]);
    const [ticket] = await ticketsOf(buyer);
    expect(((await (await redeem(scanAuth, { listId: vipOnly.id, code: ticket.code })).json()) as any).result).toBe("wrong_list");

    const reentry: any = await (await call(`/v1/events/${ev.eventId}/checkin-lists`, { method: "POST", headers: admin.auth, json: { name: "Hall", allowReentry: true } })).json();
    const scan = async (direction: string) => ((await (await redeem(scanAuth, { listId: reentry.id, code: ticket.code, direction })).json()) as any).result;
    expect(await scan("entry")).toBe("ok");
    expect(await scan("entry")).toBe("already_redeemed");
    expect(await scan("exit")).toBe("ok");
    expect(await scan("entry")).toBe("ok");
  });

  it("decides offline uploads by scan time, the same way every time", async () => {
    const { ev, list, scanAuth } = await setup();
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-2-3"]);
    const [ticket] = await ticketsOf(buyer);
    const t0 = Date.now() - 60_000;
    const scans = [
      { code: ticket.code, nonce: "door2-7", at: new Date(t0 + 5_000).toISOString(), direction: "entry" },
      { code: ticket.code, nonce: "door1-3", at: new Date(t0).toISOString(), direction: "entry" },
      { code: "garbage", nonce: "door1-4", at: new Date(t0 + 1).toISOString(), direction: "entry" },
    ];
    const sync = async () => {
      const res = await call("/v1/checkin/sync", { method: "POST", headers: scanAuth, json: { listId: list.id, scans } });
      expect(res.status).toBe(200);
      return ((await res.json()) as any).results;
    };
    const first = await sync();
    expect(first.map((r: any) => [r.nonce, r.result])).toEqual([["door2-7", "already_redeemed"], ["door1-3", "ok"], ["door1-4", "invalid"]]);
    expect(first[0].firstRedeemedAt).toBe(new Date(t0).toISOString());
    expect(await sync()).toEqual(first);
    // An online scan afterwards sees the offline entry as the first.
    const online: any = await (await redeem(scanAuth, { listId: list.id, code: ticket.code })).json();
    expect(online).toMatchObject({ result: "already_redeemed", firstRedeemedAt: new Date(t0).toISOString() });
  });
});

describe("a desk restarted mid-scan", () => {
  it("lets no ticket in twice and loses no entry when the desk object is evicted between scans and syncs", async () => {
    const { ev, admin, list, scanAuth } = await setup();
    const door2: any = await (await call(`/v1/events/${ev.eventId}/scanners`, { method: "POST", headers: admin.auth, json: { name: "Door 2" } })).json();
    const offline = { authorization: `Bearer ${door2.token}` };
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-1-1", "A-1-2", "A-1-3"]);
    const [t1, t2, t3] = await ticketsOf(buyer);
    const result = async (res: Response) => ((await res.json()) as any).result;
    const sync = async (scans: object[]) => ((await (await call("/v1/checkin/sync", { method: "POST", headers: offline, json: { listId: list.id, scans } })).json()) as any).results;

    const first: any = await (await redeem(scanAuth, { listId: list.id, code: t1.code, nonce: "d1-1" })).json();
    expect(first.result).toBe("ok");
    const t0 = Date.now();
    const batch = [
      { code: t2.code, nonce: "d2-1", at: new Date(t0 - 1_000).toISOString(), direction: "entry" },
      { code: t1.code, nonce: "d2-2", at: new Date(t0 + 1_000).toISOString(), direction: "entry" },
    ];
    const synced = await sync(batch);
    expect(synced.map((r: any) => r.result)).toEqual(["ok", "already_redeemed"]);

    await abortAllDurableObjects();

    // After the restart: the same retries answer the same, a new scan of an entered ticket is refused, a fresh ticket gets in.
    expect(await (await redeem(scanAuth, { listId: list.id, code: t1.code, nonce: "d1-1" })).json()).toEqual(first);
    expect(await sync(batch)).toEqual(synced);
    expect(await result(await redeem(scanAuth, { listId: list.id, code: t1.code, nonce: "d1-2" }))).toBe("already_redeemed");
    expect(await result(await redeem(scanAuth, { listId: list.id, code: t2.code, nonce: "d1-3" }))).toBe("already_redeemed");
    expect(await result(await redeem(scanAuth, { listId: list.id, code: t3.code, nonce: "d1-4" }))).toBe("ok");
    // An entered ticket stays untransferable after the restart.
    expect((await call(`/v1/tickets/${t2.id}/transfer`, { method: "POST", headers: buyer.auth, json: { toEmail: admin.email } })).status).toBe(409);

    await abortAllDurableObjects();
    expect(await result(await redeem(scanAuth, { listId: list.id, code: t3.code, nonce: "d1-5" }))).toBe("already_redeemed");
    // One entry per ticket, each mirrored once.
    const rows = await withDb((db) => db.select().from(checkins).where(eq(checkins.listId, list.id)));
    expect(rows.map((r) => r.ticketId).sort()).toEqual([t1.id, t2.id, t3.id].sort());
  });
});

describe("transfer and cancellation", () => {
  it("kills the old code at once, gives the recipient a new ticket, audits it, and refuses after check-in", async () => {
    const { ev, list, scanAuth } = await setup();
    const holder = await makeUser();
    const friend = await makeUser("user", "Friend");
    await confirmedBooking(ev, holder, ["A-1-4", "A-1-5"]);
    const [give, keep] = await ticketsOf(holder);
    const key = { ...holder.auth, "idempotency-key": crypto.randomUUID() };
    const res = await call(`/v1/tickets/${give.id}/transfer`, { method: "POST", headers: key, json: { toEmail: friend.email.toUpperCase() } });
    expect(res.status).toBe(200);
    const out: any = await res.json();
    // A retried request (same key, same body) answers the first answer; nothing moves twice.
    const retried = await call(`/v1/tickets/${give.id}/transfer`, { method: "POST", headers: key, json: { toEmail: friend.email.toUpperCase() } });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual(out);
    expect(out).toMatchObject({ id: give.id, status: "transferred", code: null, transferredTo: { email: friend.email } });

    expect(((await (await redeem(scanAuth, { listId: list.id, code: give.code })).json()) as any).result).toBe("invalid");
    expect((await ticketsOf(holder)).map((t) => t.id)).toEqual([keep.id]);
    const [received] = await ticketsOf(friend);
    expect(received).toMatchObject({ id: out.transferredTo.ticketId, seatId: give.seatId, holderName: "Friend", status: "valid" });
    expect(received.code).not.toBe(give.code);
    expect(((await (await redeem(scanAuth, { listId: list.id, code: received.code })).json()) as any).result).toBe("ok");
    const audited = await withDb((db) => db.select().from(auditLog).where(and(eq(auditLog.action, "ticket.transferred"), eq(auditLog.subjectId, give.id))));
    expect(audited[0]).toMatchObject({ actorId: holder.id, detail: { newTicketId: received.id, toUserId: friend.id } });

    // Checked in: no longer transferable, by anyone.
    const late = await call(`/v1/tickets/${received.id}/transfer`, { method: "POST", headers: friend.auth, json: { toEmail: holder.email } });
    expect(late.status).toBe(409);
    expect((await call(`/v1/tickets/${give.id}/transfer`, { method: "POST", headers: holder.auth, json: { toEmail: friend.email } })).status).toBe(404);
  });

  it("lets a ticket scanned offline be transferred before the sync, and answers that scan invalid at the sync (as docs/tickets.md says)", async () => {
    const { ev, list, scanAuth } = await setup();
    const holder = await makeUser();
    const friend = await makeUser();
    await confirmedBooking(ev, holder, ["A-2-1"]);
    const [t] = await ticketsOf(holder);
    const scannedAt = new Date(Date.now() - 30_000).toISOString();
    // The desk has not seen the offline entry: the transfer goes through.
    expect((await call(`/v1/tickets/${t.id}/transfer`, { method: "POST", headers: holder.auth, json: { toEmail: friend.email } })).status).toBe(200);
    const synced: any = await (await call("/v1/checkin/sync", { method: "POST", headers: scanAuth, json: { listId: list.id, scans: [{ code: t.code, nonce: "offline-1", at: scannedAt, direction: "entry" }] } })).json();
    expect(synced.results).toEqual([{ nonce: "offline-1", result: "invalid" }]);
    expect(await withDb((db) => db.select().from(checkins).where(eq(checkins.listId, list.id)))).toEqual([]);
    const [received] = await ticketsOf(friend);
    expect(((await (await redeem(scanAuth, { listId: list.id, code: received.code })).json()) as any).result).toBe("ok");
  });

  it("refuses the buyer a refund once a ticket was transferred away, and keeps the recipient's ticket valid", async () => {
    const { ev, list, scanAuth } = await setup();
    const buyer = await makeUser();
    const friend = await makeUser("user", "Friend");
    const bookingId = await confirmedBooking(ev, buyer, ["A-1-1", "A-1-2"]);
    const [give] = await ticketsOf(buyer);
    expect((await call(`/v1/tickets/${give.id}/transfer`, { method: "POST", headers: buyer.auth, json: { toEmail: friend.email } })).status).toBe(200);
    const res = await call(`/v1/bookings/${bookingId}/cancel`, { method: "POST", headers: buyer.auth });
    expect(res.status).toBe(409);
    const body: any = await res.json();
    expectError(body, "TICKETS_IN_USE");
    expect(body.error.details).toEqual({ transferred: 1, checkedIn: 0 });
    const [received] = await ticketsOf(friend);
    expect(((await (await redeem(scanAuth, { listId: list.id, code: received.code })).json()) as any).result).toBe("ok");
    expect((await bookingRow(bookingId)).status).toBe("confirmed");
  });

  it("refuses the buyer a refund once a ticket got someone in at the door", async () => {
    const { ev, list, scanAuth } = await setup();
    const buyer = await makeUser();
    const bookingId = await confirmedBooking(ev, buyer, ["A-1-3"]);
    const [t] = await ticketsOf(buyer);
    expect(((await (await redeem(scanAuth, { listId: list.id, code: t.code })).json()) as any).result).toBe("ok");
    await eventually(async () => (await withDb((db) => db.select().from(checkins).where(eq(checkins.ticketId, t.id)))).length > 0 || null, 10_000, "the scan mirrored to Postgres");
    const res = await call(`/v1/bookings/${bookingId}/cancel`, { method: "POST", headers: buyer.auth });
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error.details).toEqual({ transferred: 0, checkedIn: 1 });
    expect((await bookingRow(bookingId)).status).toBe("confirmed");
  });

  it("answers cancelled for every code of a cancelled (refunded) booking", async () => {
    const { ev, list, scanAuth } = await setup();
    const buyer = await makeUser();
    const bookingId = await confirmedBooking(ev, buyer, ["A-2-4", "A-2-5"]);
    const before = await ticketsOf(buyer);
    expect((await call(`/v1/bookings/${bookingId}/cancel`, { method: "POST", headers: buyer.auth })).status).toBe(202);
    for (const t of before) {
      expect(((await (await redeem(scanAuth, { listId: list.id, code: t.code })).json()) as any).result).toBe("cancelled");
    }
    const after = await ticketsOf(buyer);
    expect(after.map((t) => [t.status, t.code])).toEqual([["cancelled", null], ["cancelled", null]]);
    expect((await call(`/v1/tickets/${before[0].id}/qr.svg`, { headers: buyer.auth })).status).toBe(409);
  });
});

describe("event cancellation", () => {
  it("cancels every ticket of a cancelled event and tells its webhooks once", async () => {
    const { ev, admin, list, scanAuth } = await setup();
    const name = crypto.randomUUID();
    await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: `${inject("webhookReceiver")}/in/${name}`, events: ["event.cancelled"] } });
    const buyer = await makeUser();
    await confirmedBooking(ev, buyer, ["A-1-1", "A-1-2"]);
    const codes = (await ticketsOf(buyer)).map((t) => t.code);
    expect((await call(`/v1/events/${ev.eventId}/cancel`, { method: "POST", headers: admin.auth })).status).toBe(202);
    await call(`/v1/events/${ev.eventId}/cancel`, { method: "POST", headers: admin.auth });
    await eventually(async () => (await ticketsOf(buyer)).every((t) => t.status === "cancelled"), 20_000, "tickets cancelled by the refund job");
    for (const code of codes) expect(((await (await redeem(scanAuth, { listId: list.id, code })).json()) as any).result).toBe("cancelled");
    const got = await eventually(async () => {
      const r: any[] = await (await fetch(`${inject("webhookReceiver")}/control/${name}`)).json();
      return r.length ? r : null;
    }, 10_000, "event.cancelled delivery");
    expect(got.map((r) => JSON.parse(r.body))).toEqual([expect.objectContaining({ type: "event.cancelled", data: expect.objectContaining({ eventId: ev.eventId }) })]);
  });
});

describe("webhooks", () => {
  const receiver = inject("webhookReceiver");
  const inbox = async (name: string): Promise<any[]> => (await fetch(`${receiver}/control/${name}`)).json() as Promise<any[]>;
  const hmacHex = async (secret: string, msg: string) => {
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(msg)))].map((b) => b.toString(16).padStart(2, "0")).join("");
  };

  it("retries a receiver that fails three times: the fourth attempt lands, signed, and the log shows every attempt", async () => {
    const { ev, admin } = await setup();
    const name = crypto.randomUUID();
    await fetch(`${receiver}/control/${name}?failFirst=3`, { method: "PUT" });
    const created = await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: `${receiver}/in/${name}`, events: ["booking.confirmed"], eventId: ev.eventId } });
    expect(created.status).toBe(201);
    const hook: any = await created.json();
    expect(hook.secret).toMatch(/^whsec_[0-9a-f]{64}$/);

    const buyer = await makeUser();
    const bookingId = await confirmedBooking(ev, buyer, ["A-1-1"]);
    const got = await eventually(async () => {
      const r = await inbox(name);
      return r.length >= 4 ? r : null;
    }, 25_000, "four delivery attempts");
    expect(got.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    // One delivery, four attempts: the receiver dedupes on the delivery id.
    const ids = new Set(got.map((r) => r.headers["evently-delivery"]));
    expect(ids.size).toBe(1);
    const last = got[3];
    const body = JSON.parse(last.body);
    expect(body).toMatchObject({ id: [...ids][0], type: "booking.confirmed", data: { bookingId, eventId: ev.eventId } });
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(last.headers["evently-signature"])!;
    expect(m).not.toBeNull();
    expect(m[2]).toBe(await hmacHex(hook.secret, `${m[1]}.${last.body}`));
    expect(m[2]).not.toBe(await hmacHex("whsec_wrong", `${m[1]}.${last.body}`));

    const log: any = await eventually(async () => {
      const d: any = await (await call(`/v1/webhooks/${hook.id}/deliveries`, { headers: admin.auth })).json();
      return d.data[0]?.status === "delivered" ? d.data[0] : null;
    }, 10_000, "delivery logged as delivered");
    expect(log.attempts.map((a: any) => a.statusCode)).toEqual([500, 500, 500, 200]);
    expect(log.id).toBe(body.id);

    // Replay: the same delivery once more (same id, so a deduping receiver ignores it).
    expect((await call(`/v1/webhooks/${hook.id}/deliveries/${log.id}/replay`, { method: "POST", headers: admin.auth })).status).toBe(202);
    const replayed = await eventually(async () => ((await inbox(name)).length >= 5 ? inbox(name) : null), 10_000, "replayed delivery");
    expect(replayed[4].headers["evently-delivery"]).toBe(log.id);
  });

  it("refuses private and loopback endpoints in production", async () => {
    const admin = await makeUser("admin");
    const production = { ...testEnv, ENVIRONMENT: "production" } as typeof testEnv;
    for (const url of ["https://127.0.0.1/hook", "https://10.0.0.8/hook", "https://[::1]/hook", "https://localhost/hook", "http://hooks.example.com/x"]) {
      await expect(withDb((db) => createWebhook(production, db, { id: admin.id, role: "admin", sid: "s", jti: "j", exp: 0 }, { url, events: ["booking.confirmed"] })), url).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    }
    const ok = await withDb((db) => createWebhook(production, db, { id: admin.id, role: "admin", sid: "s", jti: "j", exp: 0 }, { url: "https://hooks.example.com/x", events: ["booking.confirmed"] }));
    expect(ok.url).toBe("https://hooks.example.com/x");
    // An admin endpoint without an event covers every event: retire it, so no other test delivers there.
    await withDb((db) => db.update(webhooks).set({ deletedAt: new Date() }).where(eq(webhooks.id, ok.id)));
  });

  it("announces check-ins and transfers, and stops after the endpoint is deleted", async () => {
    const { ev, admin, list, scanAuth } = await setup();
    const name = crypto.randomUUID();
    const hook: any = await (await call("/v1/webhooks", { method: "POST", headers: admin.auth, json: { url: `${receiver}/in/${name}`, events: ["checkin.redeemed", "ticket.transferred"], eventId: ev.eventId } })).json();
    const buyer = await makeUser();
    const friend = await makeUser();
    await confirmedBooking(ev, buyer, ["A-2-1", "A-2-2"]);
    const [a, b] = await ticketsOf(buyer);
    await redeem(scanAuth, { listId: list.id, code: a.code, nonce: "n1" });
    await redeem(scanAuth, { listId: list.id, code: a.code, nonce: "n2" });
    await call(`/v1/tickets/${b.id}/transfer`, { method: "POST", headers: buyer.auth, json: { toEmail: friend.email } });
    const got = await eventually(async () => ((await inbox(name)).length >= 2 ? inbox(name) : null), 10_000, "two deliveries");
    expect(got.map((r) => JSON.parse(r.body).type).sort()).toEqual(["checkin.redeemed", "ticket.transferred"]);
    expect((await call(`/v1/webhooks/${hook.id}`, { method: "DELETE", headers: admin.auth })).status).toBe(204);
    expect(((await (await call("/v1/webhooks", { headers: admin.auth })).json()) as any).data.map((h: any) => h.id)).not.toContain(hook.id);
  });
});

describe("exports", () => {
  it("streams attendees and bookings as CSV that round-trips names with commas, quotes and newlines", async () => {
    const { ev, admin } = await setup();
    const names = ['Smith, "Jo"', "Line\nBreak", 'Quote"Only'];
    const buyers: TestUser[] = [];
    for (const n of names) {
      const u = await makeUser();
      await withDb((db) => db.update(users).set({ name: n }).where(eq(users.id, u.id)));
      buyers.push(u);
    }
    await Promise.all(buyers.map((u, i) => confirmedBooking(ev, u, [`A-1-${i + 1}`])));
    const res = await call(`/v1/events/${ev.eventId}/exports/attendees.csv`, { headers: admin.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const rows: Record<string, string>[] = parse(await res.text(), { columns: true });
    expect(rows.map((r) => r.holderName).sort()).toEqual([...names].sort());
    expect(rows.map((r) => r.seatId).sort()).toEqual(["A-1-1", "A-1-2", "A-1-3"]);
    expect(new Set(rows.map((r) => r.holderEmail))).toEqual(new Set(buyers.map((b) => b.email)));

    const bk: Record<string, string>[] = parse(await (await call(`/v1/events/${ev.eventId}/exports/bookings.csv`, { headers: admin.auth })).text(), { columns: true });
    expect(bk.map((r) => r.buyerName).sort()).toEqual([...names].sort());
    expect(bk.every((r) => r.status === "confirmed" && r.totalCents === "5000" && r.currency === "EUR")).toBe(true);

    const otherOrganizer = await makeUser("organizer");
    expect((await call(`/v1/events/${ev.eventId}/exports/bookings.csv`, { headers: otherOrganizer.auth })).status).toBe(403);
    expect((await call(`/v1/events/${ev.eventId}/exports/bookings.csv`, { headers: buyers[0].auth })).status).toBe(403);
    // Three bookings through the saga first: on the embedded Postgres (one session) that alone can take most of 30 s.
  }, 60_000);
});
