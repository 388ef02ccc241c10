import { abortAllDurableObjects, createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import type { EventInventory } from "../../durable-objects/inventory/object";
import { auditLog, holdHistory, waitlistEntries } from "../../src/db/schema";
import { handleBatch } from "../../src/queues/consumer";
import { makeUser, testEnv, withDb } from "../helpers/fixtures";
import { inventoryStub, publishedEvent } from "../helpers/inventory";
import { runScenario } from "../helpers/inventory-scenario";
import { MemoryStore } from "../../durable-objects/inventory/store/memory-store";
import { SqliteStore } from "../../durable-objects/inventory/store/sqlite-store";
import { INVENTORY_MIGRATIONS, migrateInventory } from "../../durable-objects/inventory/store/schema.sql.js";

const U1 = "00000000-0000-4000-8000-000000000001";
const U2 = "00000000-0000-4000-8000-000000000002";

/** Pins the object's clock; returns a setter to move it. */
async function pinClock(stub: DurableObjectStub<EventInventory>, at: number) {
  await runInDurableObject(stub, (o: EventInventory) => {
    o.now = () => at;
  });
  return (t: number) => runInDurableObject(stub, (o: EventInventory) => {
    o.now = () => t;
  });
}

describe("initialize", () => {
  it("is idempotent for the same event and refuses another event", async () => {
    const ev = await publishedEvent();
    expect(await ev.stub.initialize(ev.init)).toEqual({ ok: true, value: { created: false, version: 0 } });
    const other = await ev.stub.initialize({ ...ev.init, eventId: crypto.randomUUID() });
    expect(other).toMatchObject({ ok: false, code: "INVALID_STATE" });
  });

  it("answers NOT_INITIALIZED from an object that was never published", async () => {
    const stub = inventoryStub(crypto.randomUUID());
    expect(await stub.hold(U1, { seatIds: ["A-1-1"] }, null)).toMatchObject({ ok: false, code: "NOT_INITIALIZED" });
    expect(await stub.getHold("hld_x")).toMatchObject({ ok: false, code: "NOT_INITIALIZED" });
  });
});

describe("holds on reserved seating", () => {
  it("holds all requested seats or none, naming the taken ones", async () => {
    const ev = await publishedEvent();
    const first = await ev.stub.hold(U1, { seatIds: ["A-1-1", "A-1-2"] }, null);
    expect(first).toMatchObject({ ok: true, value: { status: "active", quantity: 2, totalCents: 10_000, currency: "EUR" } });
    const second = await ev.stub.hold(U2, { seatIds: ["A-1-2", "A-1-3"] }, null);
    expect(second).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE", details: { seatIds: ["A-1-2"] } });
    const snap = await ev.stub.snapshot();
    expect(snap.seats!.find((s) => s.id === "A-1-3")!.status).toBe("available");
    expect(snap.availability).toEqual({ capacity: 100, available: 98, held: 2, booked: 0 });
  });

  it("enforces the per-user cap over held and booked seats exactly", async () => {
    const ev = await publishedEvent({ maxSeatsPerUser: 3 });
    const a = await ev.stub.hold(U1, { seatIds: ["A-1-1", "A-1-2"] }, null);
    if (!a.ok) throw new Error(JSON.stringify(a));
    await ev.stub.beginConfirm(a.value.id, "b1");
    await ev.stub.commit(a.value.id, "b1");
    expect(await ev.stub.hold(U1, { seatIds: ["A-2-1", "A-2-2"] }, null)).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED" });
    expect(await ev.stub.hold(U1, { seatIds: ["A-2-1"] }, null)).toMatchObject({ ok: true });
  });

  it("refuses holds outside the sales window", async () => {
    const ev = await publishedEvent({ salesStartAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null)).toMatchObject({ ok: false, code: "SALES_CLOSED" });
  });

  it("returns the same hold for a retried idempotency key and refuses the key with another body", async () => {
    const ev = await publishedEvent();
    const a = await ev.stub.hold(U1, { seatIds: ["A-1-1", "A-1-2"] }, "key-1");
    const b = await ev.stub.hold(U1, { seatIds: ["A-1-2", "A-1-1"] }, "key-1");
    expect(a.ok && b.ok && b.value.id).toBe(a.ok && a.value.id);
    expect(await ev.stub.hold(U1, { seatIds: ["A-1-3"] }, "key-1")).toMatchObject({ ok: false, code: "IDEMPOTENCY_CONFLICT" });
    // Keys belong to a user: the same key from someone else is a new request.
    expect(await ev.stub.hold(U2, { seatIds: ["A-1-3"] }, "key-1")).toMatchObject({ ok: true });
    expect((await ev.stub.stats()).held).toBe(3);
  });

  it("walks a hold through confirm, commit and return, idempotently at each step", async () => {
    const ev = await publishedEvent();
    const h = await ev.stub.hold(U1, { seatIds: ["B-1-1"] }, null);
    if (!h.ok) throw new Error(JSON.stringify(h));
    const id = h.value.id;
    expect(await ev.stub.beginConfirm(id, "bk1")).toMatchObject({ ok: true, value: { status: "confirming", expiresAt: null, bookingId: "bk1" } });
    expect(await ev.stub.beginConfirm(id, "bk1")).toMatchObject({ ok: true, value: { status: "confirming" } });
    expect(await ev.stub.release(id, U1)).toMatchObject({ ok: false, code: "INVALID_STATE" });
    expect(await ev.stub.commit(id, "bk1")).toMatchObject({ ok: true, value: { status: "committed" } });
    expect(await ev.stub.commit(id, "bk1")).toMatchObject({ ok: true, value: { status: "committed" } });
    expect(await ev.stub.stats()).toMatchObject({ held: 0, booked: 1 });
    expect(await ev.stub.returnSeats(id, "bk1")).toMatchObject({ ok: true, value: { status: "released" } });
    expect(await ev.stub.returnSeats(id, "bk1")).toMatchObject({ ok: true, value: { status: "released" } });
    expect(await ev.stub.stats()).toMatchObject({ held: 0, booked: 0, available: 100 });
  });

  it("answers HOLD_EXPIRED to a commit after the saga released the hold", async () => {
    const ev = await publishedEvent();
    const h = await ev.stub.hold(U1, { seatIds: ["B-1-2"] }, null);
    if (!h.ok) throw new Error(JSON.stringify(h));
    await ev.stub.beginConfirm(h.value.id, "bk2");
    expect(await ev.stub.release(h.value.id, null)).toMatchObject({ ok: true, value: { status: "released" } });
    expect(await ev.stub.commit(h.value.id, "bk2")).toMatchObject({ ok: false, code: "HOLD_EXPIRED" });
    expect((await ev.stub.stats()).available).toBe(100);
  });
});

describe("general admission", () => {
  it("holds quantities against capacity and never past it", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 5 });
    expect(await ev.stub.hold(U1, { quantity: 3 }, null)).toMatchObject({ ok: true, value: { quantity: 3, seats: [], totalCents: 15_000 } });
    expect(await ev.stub.hold(U2, { quantity: 3 }, null)).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE", details: { available: 2 } });
    expect(await ev.stub.hold(U2, { quantity: 2 }, null)).toMatchObject({ ok: true });
    expect(await ev.stub.snapshot()).toMatchObject({ seating: "general", availability: { capacity: 5, available: 0, held: 5 } });
  });
});

describe("expiry by alarm", () => {
  it("frees the seats exactly at the expiry, and a second alarm changes nothing", async () => {
    const ev = await publishedEvent({ holdTtlSeconds: 60 });
    const t0 = Date.now();
    const setClock = await pinClock(ev.stub, t0);
    const h = await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null);
    if (!h.ok) throw new Error(JSON.stringify(h));
    expect(h.value.expiresAt).toBe(new Date(t0 + 60_000).toISOString());

    await setClock(t0 + 59_999);
    await runDurableObjectAlarm(ev.stub);
    expect(await ev.stub.getHold(h.value.id)).toMatchObject({ ok: true, value: { status: "active" } });

    await setClock(t0 + 60_000);
    expect(await runDurableObjectAlarm(ev.stub)).toBe(true);
    expect(await ev.stub.getHold(h.value.id)).toMatchObject({ ok: true, value: { status: "expired", expiresAt: null } });
    expect(await ev.stub.stats()).toMatchObject({ held: 0, available: 100 });

    await runDurableObjectAlarm(ev.stub);
    expect(await ev.stub.stats()).toMatchObject({ held: 0, available: 100 });
    expect(await ev.stub.hold(U2, { seatIds: ["A-1-1"] }, null)).toMatchObject({ ok: true });
  });

  it("treats an overdue hold as expired even when the alarm is late", async () => {
    const ev = await publishedEvent({ holdTtlSeconds: 60 });
    const t0 = Date.now();
    const setClock = await pinClock(ev.stub, t0);
    const h = await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null);
    if (!h.ok) throw new Error(JSON.stringify(h));
    await setClock(t0 + 61_000);
    expect(await ev.stub.hold(U2, { seatIds: ["A-1-1"] }, null)).toMatchObject({ ok: true });
    expect(await ev.stub.getHold(h.value.id)).toMatchObject({ ok: true, value: { status: "expired" } });
    expect(await ev.stub.beginConfirm(h.value.id, "late")).toMatchObject({ ok: false, code: "HOLD_EXPIRED" });
  });

  it("never expires a confirming hold by the clock", async () => {
    const ev = await publishedEvent({ holdTtlSeconds: 60 });
    const t0 = Date.now();
    const setClock = await pinClock(ev.stub, t0);
    const h = await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null);
    if (!h.ok) throw new Error(JSON.stringify(h));
    await ev.stub.beginConfirm(h.value.id, "bk");
    await setClock(t0 + 3_600_000);
    await runDurableObjectAlarm(ev.stub);
    expect(await ev.stub.getHold(h.value.id)).toMatchObject({ ok: true, value: { status: "confirming" } });
  });
});

describe("restart", () => {
  it("keeps holds, bookings, counters and the version across an aborted object", async () => {
    const ev = await publishedEvent();
    const h = await ev.stub.hold(U1, { seatIds: ["A-1-1", "A-1-2"] }, "restart-key");
    const b = await ev.stub.hold(U2, { seatIds: ["A-1-3"] }, null);
    if (!h.ok || !b.ok) throw new Error("holds failed");
    await ev.stub.beginConfirm(b.value.id, "bk");
    await ev.stub.commit(b.value.id, "bk");
    const before = await ev.stub.snapshot();

    await abortAllDurableObjects();
    const fresh = inventoryStub(ev.id);
    expect(await fresh.getHold(h.value.id)).toMatchObject({ ok: true, value: { status: "active", expiresAt: h.value.expiresAt } });
    const after = await fresh.snapshot();
    expect(after.version).toBe(before.version);
    expect(after.availability).toEqual({ capacity: 100, available: 97, held: 2, booked: 1 });
    expect(await fresh.hold(U2, { seatIds: ["A-1-2"] }, null)).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE" });
    // The idempotency key survived too.
    const replay = await fresh.hold(U1, { seatIds: ["A-1-1", "A-1-2"] }, "restart-key");
    expect(replay.ok && replay.value.id).toBe(h.value.id);
  });
});

describe("restart in the middle of a sale with ticket types and a voucher (issue 24: every object restarted mid-scenario)", () => {
  it("an object aborted with holds taken, products pushed and a booking being paid loses nothing and grants nothing twice", async () => {
    const ev = await publishedEvent();
    const vip = { id: "tt_vip", name: "VIP", priceCents: 9000, quota: 3, quotaPool: null, minPerOrder: 1, maxPerOrder: null, salesStartMs: null, salesEndMs: null, hidden: false, sections: null };
    const code = { id: "vch_restart", code: "VIP1", discount: { kind: "percent" as const, value: 10 }, maxUsages: 1, validFromMs: null, validUntilMs: null, ticketTypeIds: null, unlocksHidden: false };
    expect(await ev.stub.setProducts({ revision: 7, types: [vip], vouchers: [code] })).toEqual({ ok: true, value: { revision: 7, applied: true } });
    const vipSeats = (ids: string[]) => ids.map((id) => ({ id, ticketTypeId: "tt_vip" }));
    const h1 = await ev.stub.hold(U1, { seats: vipSeats(["A-1-1", "A-1-2"]), voucher: "VIP1" }, "vip-key");
    const h2 = await ev.stub.hold(U2, { seatIds: ["A-1-3"] }, null);
    if (!h1.ok || !h2.ok) throw new Error(JSON.stringify([h1, h2]));
    expect(await ev.stub.beginConfirm(h2.value.id, "bk-mid")).toMatchObject({ ok: true });
    const before = await ev.stub.productStats();

    await abortAllDurableObjects();
    const fresh = inventoryStub(ev.id);
    // The pushed set, its revision and what the holds use of it came back from SQLite.
    expect(await fresh.productStats()).toEqual(before);
    expect(await fresh.setProducts({ revision: 7, types: [{ ...vip, quota: 100 }], vouchers: [code] })).toEqual({ ok: true, value: { revision: 7, applied: false } });
    expect(await fresh.hold(U2, { seats: vipSeats(["A-1-4", "A-1-5"]) }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED" });
    expect(await fresh.hold(U2, { seats: vipSeats(["A-1-4"]), voucher: "vip1" }, null)).toMatchObject({ ok: false, code: "VOUCHER_EXHAUSTED" });
    // The buyer's retry gets the same hold; the seats being paid for are nobody else's.
    const replay = await fresh.hold(U1, { seats: vipSeats(["A-1-1", "A-1-2"]), voucher: "VIP1" }, "vip-key");
    expect(replay.ok && replay.value.id).toBe(h1.value.id);
    expect(await fresh.hold(U1, { seatIds: ["A-1-3"] }, null)).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE" });
    // The payment lands after the restart: the sale completes once.
    expect(await fresh.commit(h2.value.id, "bk-mid")).toMatchObject({ ok: true, value: { status: "committed" } });
    expect(await fresh.commit(h2.value.id, "bk-mid")).toMatchObject({ ok: true, value: { status: "committed" } });
    expect((await fresh.snapshot()).availability).toEqual({ capacity: 100, available: 97, held: 2, booked: 1 });
    const last = await fresh.hold(U2, { seats: vipSeats(["A-1-4"]) }, null);
    expect(last).toMatchObject({ ok: true });
    expect(await fresh.productStats()).toMatchObject({ ok: true, value: { types: expect.arrayContaining([expect.objectContaining({ ticketTypeId: "tt_vip", used: 3, available: 0 })]) } });
  });
});

/** Polls Postgres until `count` answers at least `want` (queue delivery takes about a second locally). */
async function eventually(count: () => Promise<number>, want: number, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  let n = await count();
  while (n < want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    n = await count();
  }
  return n;
}

const historyOf = (eventId: string) =>
  withDb(async (db) => Number(((await db.execute(sql`select count(*)::int as n from hold_history where event_id = ${eventId}`)).rows[0] as { n: number }).n));

async function deliverOutbox(body: unknown) {
  const batch = createMessageBatch("inventory-events", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await handleBatch(batch, testEnv, ctx);
  return getQueueResult(batch, ctx);
}

describe("hold history outbox", () => {
  it("hold history reaches Postgres through the alarm and the inventory-events queue, once per hold and kind", async () => {
    const ev = await publishedEvent();
    const h = await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null);
    if (!h.ok) throw new Error(JSON.stringify(h));
    await ev.stub.release(h.value.id, U1);
    await runDurableObjectAlarm(ev.stub);
    await runDurableObjectAlarm(ev.stub);
    const left = await runInDurableObject(ev.stub, (_o: EventInventory, state) => state.storage.sql.exec(`SELECT count(*) AS n FROM outbox`).one().n);
    expect(left).toBe(0);
    expect(await eventually(() => historyOf(ev.id), 2)).toBe(2);
    const rows = await withDb((db) => db.select().from(holdHistory).where(eq(holdHistory.holdId, h.value.id)).orderBy(holdHistory.at, holdHistory.kind));
    expect(rows.map((r) => r.kind).sort()).toEqual(["created", "released"]);
    expect(rows.every((r) => r.eventId === ev.id && r.userId === U1 && r.quantity === 1)).toBe(true);
  });

  it("an inventory-events message delivered twice or out of order stores each history row once and never rolls a waitlist mirror back", async () => {
    const ev = await publishedEvent();
    const u = await makeUser();
    const t = Date.now();
    const entry = { id: `wl_${crypto.randomUUID()}`, eventId: ev.id, userId: u.id, quantity: 1, holdId: null, joinedAt: t, offeredAt: null };
    const newer = { type: "inventory.outbox", eventId: ev.id, history: [{ holdId: "h-dup", kind: "created", userId: u.id, quantity: 1, at: t }], waitlist: [{ ...entry, status: "left", updatedAt: t + 2 }] };
    const older = { type: "inventory.outbox", eventId: ev.id, history: [], waitlist: [{ ...entry, status: "waiting", updatedAt: t + 1 }] };
    for (const body of [newer, newer, older]) expect((await deliverOutbox(body)).explicitAcks).toHaveLength(1);
    expect(await historyOf(ev.id)).toBe(1);
    const [mirror] = await withDb((db) => db.select().from(waitlistEntries).where(eq(waitlistEntries.id, entry.id)));
    expect(mirror).toMatchObject({ status: "left", userId: u.id });
  });
});

describe("an outbox message for an event Postgres does not know (issue 24, item 17)", () => {
  it("is recorded once as an orphan with a clear log line and acked, never retried into the dead-letter queue", async () => {
    const u = await makeUser();
    const unknownEvent = crypto.randomUUID();
    const body = { type: "inventory.outbox", eventId: unknownEvent, history: [{ holdId: `hld_${unknownEvent}_orphan`, kind: "created", userId: u.id, quantity: 2, at: Date.now() }], waitlist: [] };
    const errors: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((line: unknown) => {
      errors.push(String(line));
    });
    let result;
    try {
      result = await deliverOutbox(body);
    } finally {
      spy.mockRestore();
    }
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    const orphans = await withDb((db) => db.select().from(auditLog).where(and(eq(auditLog.action, "inventory.outbox-orphaned"), eq(auditLog.subjectId, unknownEvent))));
    expect(orphans).toHaveLength(1);
    expect(orphans[0].detail).toMatchObject({ history: 1, waitlist: 0, holdIds: [`hld_${unknownEvent}_orphan`] });
    const line = errors.map((l) => JSON.parse(l)).find((l) => l.eventId === unknownEvent);
    expect(line).toMatchObject({ level: "error", msg: expect.stringMatching(/orphan/) });
    expect(await historyOf(unknownEvent)).toBe(0);
  });
});

describe("the in-memory store twin", () => {
  it("the same hold/release/expire/confirm/waitlist sequence answers the same on the object's SQLite as on the in-memory store, restarts included", async () => {
    const onMemory = runScenario(new MemoryStore());
    // A fresh object (never initialized): the scenario gets its migrated SQLite to itself.
    const stub = inventoryStub(crypto.randomUUID());
    const onSqlite = await runInDurableObject(stub, (_o: EventInventory, state) =>
      runScenario(new SqliteStore(state.storage.sql, (fn) => state.storage.transactionSync(fn))),
    );
    expect(onSqlite.trace).toEqual(onMemory.trace);
    expect(onSqlite.final).toEqual(onMemory.final);
    expect(onSqlite.outbox).toEqual(onMemory.outbox);
    // The trace holds each store's own seat rows after every step: both stores moved them alike, through held and booked.
    const seatStates = new Set(onSqlite.trace.flatMap((t) => (t as { storeSeats: string[] }).storeSeats.map((x) => x.split(":")[1])));
    expect(seatStates).toEqual(new Set(["available", "held", "booked"]));
  });
});

describe("seats follow their hold in the object's SQLite (triggers)", () => {
  it("a hold row takes its seats, ending frees them, commit books them, a restore takes them back; a seat already taken aborts the write and leaves nothing", async () => {
    const stub = inventoryStub(crypto.randomUUID());
    const seen = await runInDurableObject(stub, (_o: EventInventory, state) => {
      const store = new SqliteStore(state.storage.sql, (fn) => state.storage.transactionSync(fn));
      const tx = <T>(fn: () => T) => state.storage.transactionSync(fn);
      // Seat rows only: the triggers need no inventory row (and this object is left with none).
      for (const [i, id] of ["A-1-1", "A-1-2", "A-1-3"].entries()) state.storage.sql.exec(`INSERT INTO seats (id, section, row, number, price_cents) VALUES (?, 'A', '1', ?, 100)`, id, i + 1);
      store.readSeats();
      const seats = () => Object.fromEntries(store.readSeats().map((x) => [x.id, `${x.status}:${x.holdId ?? ""}`]));
      const hold = (id: string, seatIds: string[], userId = U1) => ({ id, userId, status: "active" as const, seats: seatIds.map((x) => ({ id: x, priceCents: 100 })), quantity: seatIds.length, totalCents: 100 * seatIds.length, expiresAt: 999, createdAt: 1, bookingId: null, idempotencyKey: null, requestHash: id });
      const out: Record<string, unknown> = {};
      const a = hold("ha", ["A-1-1", "A-1-2"]);
      tx(() => store.insertHold(a, 1));
      out.taken = seats();
      const outboxBefore = store.peekOutbox(100).length;
      try {
        tx(() => store.insertHold(hold("hb", ["A-1-2", "A-1-3"]), 2));
      } catch (e) {
        out.refused = String(e);
      }
      out.afterRefusal = { seats: seats(), hb: store.holdById("hb"), outbox: store.peekOutbox(100).length - outboxBefore };
      tx(() => store.updateHold({ ...a, status: "confirming", expiresAt: null, bookingId: "b1" }, 3));
      out.confirming = seats();
      tx(() => store.updateHold({ ...a, status: "committed", expiresAt: null, bookingId: "b1" }, 4));
      out.committed = seats();
      tx(() => store.updateHold({ ...a, status: "released", expiresAt: null, bookingId: "b1" }, 5));
      out.released = seats();
      tx(() => store.insertHold(hold("hc", ["A-1-2"]), 6));
      try {
        tx(() => store.updateHold({ ...a, status: "committed", expiresAt: null, bookingId: "b1" }, 7));
      } catch (e) {
        out.restoreRefused = String(e);
      }
      out.afterRestoreRefused = { seats: seats(), ha: store.holdById("ha")?.status };
      tx(() => store.updateHold({ ...hold("hc", ["A-1-2"]), status: "expired", expiresAt: null }, 8));
      tx(() => store.updateHold({ ...a, status: "committed", expiresAt: null, bookingId: "b1" }, 9));
      out.restored = seats();
      // Leave nothing behind for the object to expire or relay after the test.
      state.storage.sql.exec(`DELETE FROM outbox`);
      state.storage.sql.exec(`DELETE FROM holds`);
      return out;
    });
    expect(seen.taken).toEqual({ "A-1-1": "held:ha", "A-1-2": "held:ha", "A-1-3": "available:" });
    expect(seen.refused).toMatch(/seats changed under a decided hold/);
    expect(seen.afterRefusal).toEqual({ seats: seen.taken, hb: null, outbox: 0 });
    expect(seen.confirming).toEqual(seen.taken);
    expect(seen.committed).toEqual({ "A-1-1": "booked:ha", "A-1-2": "booked:ha", "A-1-3": "available:" });
    expect(seen.released).toEqual({ "A-1-1": "available:", "A-1-2": "available:", "A-1-3": "available:" });
    expect(seen.restoreRefused).toMatch(/seats changed under a decided hold/);
    expect(seen.afterRestoreRefused).toEqual({ seats: { "A-1-1": "available:", "A-1-2": "held:hc", "A-1-3": "available:" }, ha: "released" });
    expect(seen.restored).toEqual({ "A-1-1": "booked:ha", "A-1-2": "booked:ha", "A-1-3": "available:" });
  });
});

/** Rebuilds an object's SQLite as it was before the migration step containing `marker`. */
function rebuildBefore(sql: SqlStorage, marker: string): void {
  const before = INVENTORY_MIGRATIONS.findIndex((m) => m.includes(marker));
  for (const t of ["meta", "inventory", "seats", "holds", "outbox", "waitlist", "waitlist_outbox", "live_refs", "products"]) sql.exec(`DROP TABLE IF EXISTS ${t}`);
  sql.exec(`DELETE FROM _schema_version`);
  for (const m of INVENTORY_MIGRATIONS.slice(0, before)) sql.exec(m);
  sql.exec(`INSERT INTO _schema_version (id, version) VALUES (1, ?)`, before);
}

describe("the object's own SQLite migrations", () => {
  it("an object deployed before the one outbox keeps the rows it had not relayed: they move into the one outbox in order", async () => {
    const stub = inventoryStub(crypto.randomUUID());
    const moved = await runInDurableObject(stub, (_o: EventInventory, state) => {
      const sql = state.storage.sql;
      const tx = <T>(fn: () => T) => state.storage.transactionSync(fn);
      // Rebuild this object's SQLite as the step before the one outbox left it, with rows waiting.
      rebuildBefore(sql, "CREATE TABLE outbox_v4");
      sql.exec(`INSERT INTO outbox (hold_id, kind, user_id, quantity, at) VALUES ('h1', 'created', ?, 2, 1000), ('h1', 'released', ?, 2, 2000)`, U1, U1);
      sql.exec(`INSERT INTO waitlist_outbox (kind, body) VALUES ('mirror', '{"id":"wl_1"}'), ('notify', '{"dedupeKey":"k"}')`);
      expect(migrateInventory(sql, tx)).toBe(INVENTORY_MIGRATIONS.length);
      return sql.exec(`SELECT kind, body FROM outbox ORDER BY seq`).toArray().map((r) => ({ kind: r.kind, body: JSON.parse(String(r.body)) }));
    });
    expect(moved).toEqual([
      { kind: "history", body: { holdId: "h1", kind: "created", userId: U1, quantity: 2, at: 1000 } },
      { kind: "history", body: { holdId: "h1", kind: "released", userId: U1, quantity: 2, at: 2000 } },
      { kind: "mirror", body: { id: "wl_1" } },
      { kind: "notify", body: { dedupeKey: "k" } },
    ]);
  });

  it("an object deployed before the rowid holds table keeps every hold, its idempotency index, and writes history by trigger from then on", async () => {
    const stub = inventoryStub(crypto.randomUUID());
    const after = await runInDurableObject(stub, (_o: EventInventory, state) => {
      const sql = state.storage.sql;
      const tx = <T>(fn: () => T) => state.storage.transactionSync(fn);
      rebuildBefore(sql, "CREATE TABLE holds_v8");
      const cols = `(id, user_id, status, seats, quantity, total_cents, expires_at, created_at, updated_at, booking_id, idempotency_key, request_hash, lines, voucher_id)`;
      sql.exec(`INSERT INTO holds ${cols} VALUES ('h2', ?, 'committed', '[]', 2, 5000, NULL, 10, 20, 'b2', 'k2', 'r2', '[{"t":1}]', 'v1')`, U1);
      sql.exec(`INSERT INTO holds ${cols} VALUES ('h1', ?, 'active', '[{"id":"A-1-1"}]', 1, 2500, 99, 10, 10, NULL, NULL, 'r1', NULL, NULL)`, U1);
      expect(migrateInventory(sql, tx)).toBe(INVENTORY_MIGRATIONS.length);
      const rows = sql.exec(`SELECT * FROM holds ORDER BY id`).toArray();
      let duplicate = "";
      try {
        sql.exec(`INSERT INTO holds ${cols} VALUES ('h3', ?, 'active', '[]', 1, 0, 99, 30, 30, NULL, 'k2', 'r3', NULL, NULL)`, U1);
      } catch (e) {
        duplicate = String(e);
      }
      sql.exec(`UPDATE holds SET status = 'released', updated_at = 40 WHERE id = 'h1'`);
      sql.exec(`UPDATE holds SET status = 'released', updated_at = 50 WHERE id = 'h1'`);
      const outbox = sql.exec(`SELECT kind, body FROM outbox ORDER BY seq`).toArray().map((r) => ({ kind: r.kind, body: JSON.parse(String(r.body)) }));
      // Leave nothing behind for the object to expire or relay after the test.
      sql.exec(`DELETE FROM outbox`);
      sql.exec(`DELETE FROM holds`);
      return { rows, duplicate, outbox };
    });
    expect(after.rows).toEqual([
      // (No seat rows in this object: h1's seat has no rowid to point at.)
      { id: "h1", user_id: U1, status: "active", seats: '[{"id":"A-1-1"}]', quantity: 1, total_cents: 2500, expires_at: 99, created_at: 10, updated_at: 10, booking_id: null, idempotency_key: null, request_hash: "r1", lines: null, voucher_id: null, seat_ords: "[]" },
      { id: "h2", user_id: U1, status: "committed", seats: "[]", quantity: 2, total_cents: 5000, expires_at: null, created_at: 10, updated_at: 20, booking_id: "b2", idempotency_key: "k2", request_hash: "r2", lines: '[{"t":1}]', voucher_id: "v1", seat_ords: null },
    ]);
    expect(after.duplicate).toMatch(/UNIQUE/);
    // The migration wrote no history for the holds it moved; the release wrote one row, its repeat none.
    expect(after.outbox).toEqual([{ kind: "history", body: { holdId: "h1", kind: "released", userId: U1, quantity: 1, at: 40 } }]);
  });
});
