// A fixed hold/release/expire/confirm/commit/return and waitlist sequence run by the inventory
// engine over any InventoryStore: the unit tests run it on MemoryStore in Node, the Workers test on
// the object's SQLite, and both must answer the same.
import { InventoryEngine } from "../../durable-objects/inventory/engine/engine";
import type { InventoryStore } from "../../durable-objects/inventory/store/store";
import type { InventoryInit } from "../../durable-objects/inventory/contract";

export const SCENARIO_EVENT = "6f1c2d3e-4a5b-4c6d-8e7f-001122334455";
export const T0 = Date.parse("2030-01-01T10:00:00Z");
const [U1, U2, U3] = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"];

export const scenarioInit: InventoryInit = {
  eventId: SCENARIO_EVENT,
  seating: "reserved",
  seats: [1, 2, 3, 4, 5, 6].map((n) => ({ id: `A-1-${n}`, section: "A", row: "1", number: n, priceCents: 1000 * n })),
  capacity: 6,
  priceCents: 0,
  currency: "EUR",
  maxSeatsPerUser: 4,
  holdTtlSeconds: 60,
  paymentDeadlineSeconds: 600,
  waitlistOfferSeconds: 300,
  salesStartAt: null,
  salesEndAt: null,
  startsAt: "2030-02-01T20:00:00Z",
};

/** An engine over `store` with a clock the scenario moves and ids that count up (same on every store). */
export function scenarioEngine(store: InventoryStore, clock: { now: number }, ids = { n: 0 }) {
  return new InventoryEngine({ store, now: () => clock.now, newId: (p) => `${p}_${"a".repeat(19)}${String(++ids.n).padStart(6, "0")}` });
}

/** What a user could observe of the engine: seats, counts, the named holds and waitlist entries. */
export function observe(engine: InventoryEngine, holdIds: string[], now: number, users = [U1, U2, U3]) {
  return {
    seats: engine.holds.seatMap(),
    availability: engine.holds.availability(),
    holds: holdIds.map((id) => engine.getHold(id, now)),
    waitlist: users.map((u) => engine.waitlistEntry(u)),
  };
}

/** Runs the sequence; `restart` rebuilds the engine from the same store midway (as after an eviction). */
export function runScenario(store: InventoryStore) {
  const clock = { now: T0 };
  const ids = { n: 0 };
  let engine = scenarioEngine(store, clock, ids);
  const trace: unknown[] = [];
  /** Each step with the store's own seat rows after it (the store moves them with each hold row: store.ts, seatMove). */
  const step = (name: string, result: unknown) => trace.push({ name, result, storeSeats: store.readSeats().map((x) => `${x.id}:${x.status}:${x.holdId ?? ""}`) });
  const value = <T>(r: { ok: boolean; value?: T }): T => (r.ok ? r.value! : (null as T));

  step("initialize", engine.initialize(scenarioInit));
  const h1 = value(engine.hold(U1, { seatIds: ["A-1-1", "A-1-2"] }, "k1"));
  step("hold U1", h1);
  step("hold U2 on a held seat", engine.hold(U2, { seatIds: ["A-1-2", "A-1-3"] }, null));
  step("replay U1", engine.hold(U1, { seatIds: ["A-1-2", "A-1-1"] }, "k1"));
  step("replay U1 other body", engine.hold(U1, { seatIds: ["A-1-3"] }, "k1"));
  const h2 = value(engine.hold(U2, { seatIds: ["A-1-3", "A-1-4"] }, null));
  step("hold U2", h2);
  step("U1 over the cap", engine.hold(U1, { seatIds: ["A-1-5", "A-1-6", "A-1-3"] }, null));
  step("release by another user", engine.release(h2.id, U1));
  step("release U2", engine.release(h2.id, U2));
  step("release U2 again", engine.release(h2.id, U2));

  engine = scenarioEngine(store, clock, ids);
  step("after restart", observe(engine, [h1.id, h2.id], clock.now));

  clock.now = T0 + 59_999;
  step("stats before expiry", engine.stats(clock.now));
  clock.now = T0 + 60_000;
  step("stats at expiry", engine.stats(clock.now));
  step("expired hold", engine.getHold(h1.id, clock.now));

  const h3 = value(engine.hold(U3, { seatIds: ["A-1-1", "A-1-2", "A-1-3", "A-1-4"] }, "k3"));
  step("hold U3", h3);
  const h4 = value(engine.hold(U1, { seatIds: ["A-1-5", "A-1-6"] }, null));
  step("hold U1 last seats", h4);
  step("join waitlist U2", engine.joinWaitlist(U2, 2));
  step("begin confirm U3", engine.beginConfirm(h3.id, "bk3"));
  clock.now += 3_600_000;
  step("confirming outlives its clock; U1's hold expires and U2 is offered it", engine.stats(clock.now));
  step("commit U3", engine.commit(h3.id, "bk3"));
  step("commit again", engine.commit(h3.id, "bk3"));
  step("waitlist U2", engine.waitlistEntry(U2));

  engine = scenarioEngine(store, clock, ids);
  const offered = value(engine.waitlistEntry(U2)) as { holdId: string } | null;
  step("offer survives restart", offered);
  clock.now += 300_000;
  step("offer lapses", engine.stats(clock.now));
  step("return U3's seats", engine.returnSeats(h3.id, "bk3"));
  step("leave waitlist U2", engine.leaveWaitlist(U2));
  step("close sales", engine.closeSales(clock.now));
  step("hold after close", engine.hold(U2, { seatIds: ["A-1-1"] }, null));

  const holdIds = [h1.id, h2.id, h3.id, h4.id, ...(offered?.holdId ? [offered.holdId] : [])];
  const final = observe(engine, holdIds, clock.now);
  const outbox = store.peekOutbox(1000).map((r) => ({ kind: r.kind, body: JSON.parse(r.body) }));
  return { trace, final, holdIds, outbox, clock, ids };
}
