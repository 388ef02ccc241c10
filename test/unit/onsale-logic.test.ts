import { describe, expect, it } from "vitest";
import { AdmissionGate } from "../../durable-objects/inventory/admission-gate";
import { admissionKey, signAdmission, verifyAdmission } from "../../durable-objects/onsale/contract";
import { LATE_BASE, shardOf, splitQuota } from "../../durable-objects/onsale/order";
import { checkSolution, leadingZeroBits, makeChallenge, solveChallenge } from "../../durable-objects/onsale/pow";
import {
  afterTick,
  beginTick,
  decideConfigure,
  decideTick,
  emptyRoomState,
  FIRST_HOLD_GRACE_MS,
  nextTickAt,
  PACE_GROWTH,
  PACE_START_PER_SECOND,
  recoverInflight,
  SOLD_OUT_TICK_FACTOR,
  type InventoryView,
  type RoomConfig,
} from "../../durable-objects/onsale/room.logic";
import { makeSketch } from "../../durable-objects/onsale/order";
import { ShardEngine, type TickReport } from "../../durable-objects/onsale/shard.logic";
import { chiSquareUniform, kendallTau } from "../../bench/lib/fairness";
import { rngFor } from "../helpers/onsale-sim";

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const EVENT = "11111111-2222-4333-8444-555555555555";
const SECRET = { JWT_SECRET: "unit-test-secret-0123456789abcdef0123456789" };

function config(over: Partial<RoomConfig> = {}): RoomConfig {
  return { eventId: EVENT, opensAt: T0, shards: 2, maxActiveShoppers: 1_000, admitPerMinute: null, shopperSessionSeconds: 600, powDifficulty: 0, enabled: true, ...over };
}

function shards(c: RoomConfig): ShardEngine[] {
  return Array.from({ length: c.shards }, (_, n) => {
    const e = new ShardEngine();
    e.load({ eventId: c.eventId, shard: n, shards: c.shards, opensAt: c.opensAt, shopperSessionSeconds: c.shopperSessionSeconds, enabled: true }, false, []);
    return e;
  });
}

/** One coordinator tick over in-memory shards, as the WaitingRoom object runs it; answers who was admitted, in order. */
function tick(c: RoomConfig, state: ReturnType<typeof emptyRoomState>, engines: ShardEngine[], inv: InventoryView, now: number, random: () => number = rngFor(1)) {
  const d = decideTick(c, state, inv, now);
  const admitted: string[] = [];
  const reports: TickReport[] = engines.map((e, n) => {
    const { toAdmit } = e.takeOrder({ open: d.open, admit: d.perShard[n] ?? 0, soldOut: d.soldOut, sketches: state.sketches, ratePerSecond: d.ratePerSecond }, random);
    for (const v of toAdmit) {
      e.admit(v, `token-${v.userId}`, now, e.sessionEnd(now));
      admitted.push(v.userId);
    }
    return e.report(toAdmit, 2_000, now);
  });
  return { decision: d, state: afterTick(state, d, reports, now), admitted };
}

const inventory = (over: Partial<InventoryView> = {}): InventoryView => ({ capacity: 100, available: 100, held: 0, booked: 0, admissionsUsed: 0, seatsPerBuyer: null, ...over });

describe("admitted buyers who never hold", () => {
  it("keep seats in reserve for FIRST_HOLD_GRACE_MS after admission, then no longer stop the next in line", () => {
    const c = config({ opensAt: T0 - 60_000 });
    // 40 admitted at T0 still in session; none has held; 80 seats free of 100.
    const state = { ...emptyRoomState(), opened: true, lastTickAt: T0, sessions: [[T0 + 600_000, 40]] as [number, number][], recent: [[T0, 40]] as [number, number][], usedAtLastTick: 0 };
    const inv = inventory({ available: 80, booked: 20, admissionsUsed: 0, seatsPerBuyer: 2 });
    // 80 free seats over 3 per buyer on the way = 27 buyers' worth, all taken by the 40 pending.
    expect(decideTick(c, state, inv, T0 + 1_000).quota).toBe(0);
    // Past the grace they are no longer pending: the room admits again (the shards' heads decide who).
    const later = decideTick(c, { ...state, heads: [[1, 2, 3], [4, 5, 6]], waiting: [3, 3], lastTickAt: T0 + FIRST_HOLD_GRACE_MS }, inv, T0 + FIRST_HOLD_GRACE_MS + 1_000);
    expect(later.activeShoppers).toBe(0);
    expect(later.quota).toBe(6);
  });
});

describe("free seats no ticket type can sell", () => {
  const c = config({ opensAt: T0 - 60_000 });
  const state = { ...emptyRoomState(), opened: true, lastTickAt: T0, usedAtLastTick: 0, heads: [[1, 2, 3], [4, 5, 6]], waiting: [3, 3] };

  it("admit nobody: the room counts seats some on-sale type can still sell, and is sold out at none with nothing held", () => {
    // 50 seats free, every on-sale type out of quota, nothing held: sold out, nobody admitted.
    const none = decideTick(c, state, inventory({ available: 50, booked: 50, sellable: 0, maxSeatsPerUser: 2 }), T0 + 1_000);
    expect(none).toMatchObject({ soldOut: true, quota: 0 });
    // 2 left of a quota, at most 2 per buyer: one buyer admitted, not 25.
    const two = decideTick(c, state, inventory({ available: 50, booked: 50, sellable: 2, maxSeatsPerUser: 2 }), T0 + 1_000);
    expect(two).toMatchObject({ soldOut: false, quota: 1 });
    // Quota held by someone who may let go: not sold out, but nobody admitted meanwhile.
    const held = decideTick(c, state, inventory({ available: 48, held: 2, booked: 50, sellable: 0, maxSeatsPerUser: 2 }), T0 + 1_000);
    expect(held).toMatchObject({ soldOut: false, quota: 0 });
  });
});

describe("a tick that fails in part, or is never recorded", () => {
  const c = config({ opensAt: T0 - 60_000 });
  // 4 seats, at most 2 per buyer: two buyers on the way at a time; one waiting on each shard first.
  const inv = inventory({ capacity: 4, available: 4, maxSeatsPerUser: 2 });
  const start = { ...emptyRoomState(), opened: true, lastTickAt: T0, usedAtLastTick: 0, heads: [[1, 3], [2, 4]], waiting: [2, 2], sketches: [makeSketch(0, [1, 3]), makeSketch(1, [2, 4])] };
  const report = (shard: number, admittedExpiries: number[], heads: number[], earlier?: [number, number][]): TickReport => ({
    shard, at: T0, waiting: heads.length, admitted: admittedExpiries.length, admittedExpiries, heads, sketch: makeSketch(shard, heads), ...(earlier ? { earlier } : {}),
  });

  it("presumes a shard that did not answer admitted its whole grant, until its report says what it did", () => {
    const now = T0 + 1_000;
    const d = decideTick(c, start, inv, now);
    expect(d.perShard).toEqual([1, 1]);
    const running = beginTick(start, d, now);
    const after = afterTick(running, d, [report(0, [d.sessionEnd], [3]), null], now);
    // The next tick admits nobody: two buyers are on the way, one of them presumed.
    const next = decideTick(c, after, inv, now + 1_000);
    expect(next.quota).toBe(0);
    expect(after.admittedTotal).toBe(1);
    expect(after.heads[1]).toEqual([4]);
    // Shard 1 answers the next tick with the admission it made in the lost one: recorded once.
    const later = afterTick(beginTick(after, next, now + 1_000), next, [report(0, [], [3]), report(1, [], [4], [[running.seq!, d.sessionEnd]])], now + 1_000);
    expect(later.presumed).toEqual([]);
    expect(later.admittedTotal).toBe(2);
    expect(later.sessions).toEqual([[d.sessionEnd, 2]]);
    expect(decideTick(c, later, inv, now + 2_000).quota).toBe(0);
  });

  it("presumes every grant of a tick the object did not live to record", () => {
    const now = T0 + 1_000;
    const d = decideTick(c, start, inv, now);
    const recovered = recoverInflight(beginTick(start, d, now));
    expect(recovered.inflight).toBeNull();
    expect(recovered.presumed).toHaveLength(2);
    expect(decideTick(c, recovered, inv, now + 1_000).quota).toBe(0);
  });
});

describe("when the room ticks", () => {
  it("ticks after a wake even if the last tick found nobody, and slower while sold out", () => {
    const c = config({ opensAt: T0 - 60_000 });
    const idle = { ...emptyRoomState(), opened: true, waiting: [0, 0] };
    expect(nextTickAt(c, idle, T0, 1_000)).toBeNull();
    expect(nextTickAt(c, idle, T0, 1_000, true)).toBe(T0 + 1_000);
    expect(nextTickAt(c, { ...idle, waiting: [3, 0] }, T0, 1_000)).toBe(T0 + 1_000);
    expect(nextTickAt(c, { ...idle, waiting: [3, 0], soldOut: true }, T0, 1_000)).toBe(T0 + 1_000 * SOLD_OUT_TICK_FACTOR);
    expect(nextTickAt({ ...c, enabled: false }, idle, T0, 1_000, true)).toBeNull();
  });
});

describe("a second on-sale", () => {
  it("is a new generation after the room was ended; a change before the opening keeps the generation", () => {
    const first = decideConfigure(null, emptyRoomState(), EVENT, { opensAt: new Date(T0).toISOString() }, 0);
    expect(first).toMatchObject({ ok: true, value: { generation: 1 } });
    const c = first.ok ? first.value : config();
    expect(decideConfigure(c, emptyRoomState(), EVENT, { opensAt: new Date(T0 + 5).toISOString() }, 0)).toMatchObject({ ok: true, value: { generation: 1 } });
    const ended = { ...c, enabled: false };
    expect(decideConfigure(ended, { ...emptyRoomState(), opened: true }, EVENT, { opensAt: new Date(T0 + 5).toISOString(), shards: 8 }, 5)).toMatchObject({ ok: true, value: { generation: 2, shards: 8 } });
  });
});

describe("every admitted buyer finds a seat", () => {
  it("counts a buyer on the way at the event's cap, so the last admitted finds a seat even if all before take the cap", () => {
    const c = config({ opensAt: T0 - 60_000 });
    const state = { ...emptyRoomState(), opened: true, lastTickAt: T0, usedAtLastTick: 0, heads: [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], waiting: [6, 6] };
    // 8 seats left, buyers have held 2.5 on average, cap 4. Counting a buyer as 1.5 x 2.5 = 3.75
    // admitted 3, and two buyers taking 4 each left the third with none (the old rule's worst case).
    const d = decideTick(c, state, inventory({ available: 8, booked: 92, admissionsUsed: 30, seatsPerBuyer: 2.5, maxSeatsPerUser: 4 }), T0 + 1_000);
    expect(d.quota).toBe(2);
    // One seat left still admits one buyer: no seat is left unsold for want of a buyer.
    expect(decideTick(c, state, inventory({ available: 1, booked: 99, admissionsUsed: 30, seatsPerBuyer: 2.5, maxSeatsPerUser: 4 }), T0 + 1_000).quota).toBe(1);
  });

  it("over random rooms, buyers on the way all taking the cap never leave an admitted buyer without a seat", () => {
    const random = rngFor(7);
    const c = config({ opensAt: T0 - 60_000, maxActiveShoppers: 100_000 });
    const heads = [Array.from({ length: 2_000 }, (_, i) => i), Array.from({ length: 2_000 }, (_, i) => 2_000 + i)];
    let checked = 0;
    for (let i = 0; i < 5_000; i++) {
      const cap = 1 + Math.floor(random() * 10);
      const available = Math.floor(random() * 300);
      const pendingNow = Math.floor(random() * 40);
      const used = Math.floor(random() * 50);
      // `pendingNow` admitted in this tick's grace window who have not held yet, `used` who held.
      const state = { ...emptyRoomState(), opened: true, lastTickAt: T0, usedAtLastTick: used, heads, waiting: [2_000, 2_000], sessions: [[T0 + 600_000, pendingNow + used]] as [number, number][], recent: [[T0, pendingNow + used]] as [number, number][] };
      const d = decideTick(c, state, inventory({ capacity: 10_000, available, admissionsUsed: used, seatsPerBuyer: 1 + random() * (cap - 1), maxSeatsPerUser: cap }), T0 + 1_000);
      if (d.quota === 0) continue;
      checked++;
      // Worst case: everyone on the way before the last admitted takes the cap.
      expect((pendingNow + d.quota - 1) * cap).toBeLessThan(available);
    }
    expect(checked).toBeGreaterThan(1_000);
  });
});

describe("waiting room order", () => {
  it("hashes a user to the same shard every time and spreads users evenly", () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4_000; i++) counts[shardOf(`user-${i}-${i * 7919}`, 4)]++;
    expect(shardOf("same-user", 4)).toBe(shardOf("same-user", 4));
    expect(chiSquareUniform(counts).pass).toBe(true);
  });

  it("cuts the lowest keys overall across shards", () => {
    expect(splitQuota([[1, 4, 9], [2, 3, 10], []], 4)).toEqual([2, 2, 0]);
    expect(splitQuota([[1], [2]], 5)).toEqual([1, 1]);
    expect(splitQuota([[1], [2]], 0)).toEqual([0, 0]);
  });

  it("measures rank agreement and uniformity", () => {
    expect(kendallTau([1, 2, 3, 4], [1, 2, 3, 4])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(chiSquareUniform([100, 100, 100, 100]).pass).toBe(true);
    expect(chiSquareUniform([400, 0, 0, 0]).pass).toBe(false);
  });
});

describe("a queue shard's places", () => {
  it("keeps one place per user: joining again answers the same place, never a better one", () => {
    const [e] = shards(config({ shards: 1 }));
    const a = e.join("a", T0 + 1);
    const b = e.join("b", T0 + 2);
    const again = e.join("a", T0 + 3);
    expect(a).toMatchObject({ ok: true, created: true });
    expect(again).toMatchObject({ ok: true, created: false });
    expect(again.ok && a.ok && again.visitor).toBe(a.ok && a.visitor);
    expect(b.ok && e.position(b.visitor)).toBe(2);
    expect(again.ok && e.position(again.visitor)).toBe(1);
    expect(e.visitorCount).toBe(2);
  });

  it("refuses joins when the room is off", () => {
    const e = new ShardEngine();
    expect(e.join("a", T0)).toMatchObject({ ok: false, code: "NO_QUEUE" });
    e.load({ eventId: EVENT, shard: 0, shards: 1, opensAt: T0, shopperSessionSeconds: 600, enabled: false }, false, []);
    expect(e.join("a", T0)).toMatchObject({ ok: false, code: "NO_QUEUE" });
  });

  it("leaves early arrivals without a position until the opening's draw, which happens once and ranks them before every later arrival", () => {
    const [e] = shards(config({ shards: 1 }));
    const early = ["e1", "e2", "e3"].map((u, i) => e.join(u, T0 - 1_000 + i));
    for (const r of early) expect(r.ok && e.view(r.visitor, T0 - 500)).toMatchObject({ status: "waiting", position: null });
    const drawn = e.open(rngFor(7));
    expect(drawn).toHaveLength(3);
    const keys = drawn.map((v) => v.key);
    expect(e.open(rngFor(8))).toEqual([]);
    expect(drawn.map((v) => v.key)).toEqual(keys);
    const late = e.join("l1", T0 + 5);
    expect(late.ok && late.visitor.key! > LATE_BASE).toBe(true);
    expect(late.ok && e.position(late.visitor)).toBe(4);
    expect(new Set(early.map((r) => r.ok && e.position(r.visitor)))).toEqual(new Set([1, 2, 3]));
  });

  it("tells an admitted visitor their admission until it expires, and sold_out to those still waiting when the room says so", () => {
    const c = config({ shards: 1 });
    const [e] = shards(c);
    const a = e.join("a", T0 + 1);
    e.join("b", T0 + 2);
    const { toAdmit } = e.takeOrder({ open: true, admit: 1, soldOut: false, sketches: [], ratePerSecond: 1 }, rngFor(1));
    expect(toAdmit.map((v) => v.userId)).toEqual(["a"]);
    const exp = e.sessionEnd(T0 + 10);
    e.admit(toAdmit[0], "tok", T0 + 10, exp);
    expect(a.ok && e.view(a.visitor, T0 + 11)).toEqual({ status: "admitted", admission: { token: "tok", expiresAt: new Date(exp).toISOString() } });
    expect(a.ok && e.view(a.visitor, exp)).toEqual({ status: "expired" });
    e.takeOrder({ open: true, admit: 5, soldOut: true, waitlist: "/w", sketches: [], ratePerSecond: 1 }, rngFor(1));
    expect(e.view(e.visitor("b")!, T0 + 12)).toEqual({ status: "sold_out", waitlist: "/w" });
    e.takeOrder({ open: true, admit: 0, soldOut: false, sketches: [], ratePerSecond: 1 }, rngFor(1));
    expect(e.view(e.visitor("b")!, T0 + 13)).toMatchObject({ status: "waiting", position: 1 });
  });
});

describe("the coordinator's admission rules", () => {
  it("admits nobody before the opening, then as many buyers as free seats can serve", () => {
    const c = config();
    let state = emptyRoomState();
    const engines = shards(c);
    let r = tick(c, state, engines, inventory({ available: 10 }), T0 - 1);
    expect(r.admitted).toEqual([]);
    for (let i = 0; i < 40; i++) engines[shardOf(`u${i}`, 2)].join(`u${i}`, T0 + i);
    // The first tick after the opening learns the shards' heads; the room admits only what shards reported.
    r = tick(c, r.state, engines, inventory({ available: 10 }), T0 + 100);
    expect(r.admitted).toEqual([]);
    state = r.state;
    // Each buyer on the way is counted at the event's cap (8), so 10 free seats admit 2: even if the
    // first takes 8, the second finds a seat.
    r = tick(c, state, engines, inventory({ available: 10, maxSeatsPerUser: 8 }), T0 + 1_100, rngFor(1));
    expect(r.admitted.sort()).toEqual(["u0", "u1"]);
    // Two admitted, none has held: the free seats are spoken for.
    r = tick(c, r.state, engines, inventory({ available: 10, maxSeatsPerUser: 8 }), T0 + 2_100, rngFor(1));
    expect(r.admitted).toEqual([]);
    // Both held 2 seats each: nobody on the way, 6 free seats admit 1 (6 < 8).
    r = tick(c, r.state, engines, inventory({ available: 6, held: 4, admissionsUsed: 2, seatsPerBuyer: 2, maxSeatsPerUser: 8 }), T0 + 3_100, rngFor(1));
    expect(r.admitted).toEqual(["u2"]);
    // Still on the way (has not held): nobody more, whatever the average.
    r = tick(c, r.state, engines, inventory({ available: 6, held: 4, admissionsUsed: 2, seatsPerBuyer: 2, maxSeatsPerUser: 8 }), T0 + 4_100, rngFor(1));
    expect(r.admitted).toEqual([]);
    // The cap bounds what a buyer is counted at: at most 1 seat each, 2 free seats admit 2.
    r = tick(c, r.state, engines, inventory({ available: 2, held: 8, admissionsUsed: 3, seatsPerBuyer: 1.5, maxSeatsPerUser: 1 }), T0 + 5_100, rngFor(1));
    expect(r.admitted.sort()).toEqual(["u3", "u4"]);
  });

  it("says sold out only when no seat is free and none is held; admits again when seats come back", () => {
    const c = config();
    const engines = shards(c);
    for (let i = 0; i < 6; i++) engines[shardOf(`u${i}`, 2)].join(`u${i}`, T0 + i);
    let state = tick(c, emptyRoomState(), engines, inventory({ available: 0, held: 4, booked: 96 }), T0 + 10).state;
    expect(state.soldOut).toBe(false);
    let r = tick(c, state, engines, inventory({ available: 0, held: 0, booked: 100 }), T0 + 20);
    expect(r.decision).toMatchObject({ soldOut: true, quota: 0 });
    expect(engines.flatMap((e) => e.waitingVisitors().map((v) => e.view(v, T0 + 21).status))).toEqual(Array(6).fill("sold_out"));
    r = tick(c, r.state, engines, inventory({ available: 2, held: 0, booked: 98 }), T0 + 30);
    expect(r.decision.soldOut).toBe(false);
    expect(r.admitted).toEqual(["u0"]);
  });

  it("paces admission by how fast admitted buyers hold: no opening burst, faster while holds keep up, no faster than holds when they lag", () => {
    const c = config({ shards: 4 });
    const engines = shards(c);
    for (let i = 0; i < 2_000; i++) engines[shardOf(`early-${i}`, 4)].join(`early-${i}`, T0 - 60_000 + i);
    const roomy = (used: number) => inventory({ capacity: 100_000, available: 100_000, admissionsUsed: used, seatsPerBuyer: 1 });
    // The opening draws; the next tick (250 ms later) may admit PACE_START_PER_SECOND x 0.25 s, not the 1,000 seats and shoppers allow.
    let r = tick(c, emptyRoomState(), engines, roomy(0), T0);
    r = tick(c, r.state, engines, roomy(0), T0 + 250);
    expect(r.admitted).toHaveLength(Math.ceil(PACE_START_PER_SECOND * 0.25));
    // All of them held within the tick: the room may admit twice as fast as they held.
    let used = r.admitted.length;
    const before = r.admitted.length;
    r = tick(c, r.state, engines, roomy(used), T0 + 500);
    expect(r.admitted).toHaveLength(Math.ceil(PACE_GROWTH * before));
    // Only 20 of those 26 held in the next 250 ms (80/s): the hold path lags, so admit no faster than it served.
    used += 20;
    r = tick(c, r.state, engines, roomy(used), T0 + 750);
    expect(r.admitted).toHaveLength(20);
    // A tick long after the last one admits at most one second's pace, not a burst for the whole gap.
    used += r.admitted.length + 6;
    r = tick(c, r.state, engines, roomy(used), T0 + 10_750);
    expect(r.admitted.length).toBeLessThanOrEqual(PACE_START_PER_SECOND);
  });

  it("caps admission by maxActiveShoppers and by admitPerMinute", () => {
    const c = config({ maxActiveShoppers: 3, admitPerMinute: 60 });
    const engines = shards(c);
    for (let i = 0; i < 20; i++) engines[shardOf(`u${i}`, 2)].join(`u${i}`, T0 + i);
    let state = tick(c, emptyRoomState(), engines, inventory(), T0 + 100).state;
    // 10 s at 60/min allows 10, but only 3 may shop at once.
    let r = tick(c, state, engines, inventory(), T0 + 10_100);
    expect(r.admitted).toHaveLength(3);
    // All three hold (3 holders at 1 seat each): nobody more until one finishes.
    r = tick(c, r.state, engines, inventory({ available: 97, held: 3, admissionsUsed: 3, seatsPerBuyer: 1 }), T0 + 11_100);
    expect(r.admitted).toHaveLength(0);
    // They booked: 1 s more of allowance at 60/min is one admission.
    state = r.state;
    r = tick(c, state, engines, inventory({ available: 97, held: 0, booked: 3, admissionsUsed: 3, seatsPerBuyer: 1 }), T0 + 12_100);
    expect(r.admitted.length).toBeGreaterThanOrEqual(1);
    expect(r.admitted.length).toBeLessThanOrEqual(3);
  });

  it("admits late arrivals across shards in arrival order: a tick's set is the lowest waiting keys of all shards", () => {
    const c = config({ shards: 4, admitPerMinute: 600 });
    const engines = shards(c);
    let state = tick(c, emptyRoomState(), engines, inventory(), T0).state;
    const tickOf = new Map<number, number>();
    let arrived = 0;
    // 20 arrivals per second, 10 admissions per second: the queue grows while ticks admit its head.
    for (let t = 1; t <= 40; t++) {
      for (let k = 0; k < 20; k++, arrived++) engines[shardOf(`late-${arrived}`, 4)].join(`late-${arrived}`, T0 + (t - 1) * 1_000 + k * 50);
      const r = tick(c, state, engines, inventory({ available: 10_000 }), T0 + t * 1_000);
      for (const u of r.admitted) tickOf.set(Number(u.slice(5)), t);
      state = r.state;
    }
    expect(tickOf.size).toBeGreaterThan(350);
    const admittedArrivals = [...tickOf.keys()].sort((a, b) => a - b);
    // Everyone admitted arrived before everyone still waiting, and no later arrival got an earlier tick.
    expect(admittedArrivals).toEqual(admittedArrivals.map((_, i) => i));
    const ticks = admittedArrivals.map((a) => tickOf.get(a)!);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
    // Ties within a tick broken by arrival: the rank correlation the bench reports.
    const admissionRank = admittedArrivals.map((a) => tickOf.get(a)! * 1e6 + a);
    expect(kendallTau(admittedArrivals, admissionRank)).toBe(1);
  });

  it("shuffles early arrivals uniformly across shards (chi-square over who comes first)", () => {
    const c = config({ shards: 3 });
    const firsts = new Map<string, number>();
    const random = rngFor(42);
    for (let trial = 0; trial < 1_200; trial++) {
      const engines = shards(c);
      for (let i = 0; i < 6; i++) engines[shardOf(`e${i}`, 3)].join(`e${i}`, T0 - 100 + i);
      let state = emptyRoomState();
      state = tick(c, state, engines, inventory({ available: 2 }), T0, random).state;
      const r = tick(c, state, engines, inventory({ available: 2 }), T0 + 1_000, random);
      firsts.set(r.admitted[0], (firsts.get(r.admitted[0]) ?? 0) + 1);
    }
    const counts = ["e0", "e1", "e2", "e3", "e4", "e5"].map((u) => firsts.get(u) ?? 0);
    expect(chiSquareUniform(counts).pass).toBe(true);
  });

  it("changes nothing once open (the same PUT again is a retry), and keeps the shard count once anyone joined", () => {
    const c = config();
    const opened = { ...emptyRoomState(), opened: true };
    expect(decideConfigure(c, opened, EVENT, { opensAt: new Date(T0 + 1).toISOString() }, 0)).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(decideConfigure(c, opened, EVENT, { opensAt: new Date(T0).toISOString(), maxActiveShoppers: 5 }, 0)).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(decideConfigure(c, opened, EVENT, { opensAt: new Date(T0).toISOString() }, 0)).toEqual({ ok: true, value: c });
    expect(decideConfigure(c, emptyRoomState(), EVENT, { opensAt: new Date(T0).toISOString(), shards: 8 }, 3)).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(decideConfigure(c, emptyRoomState(), EVENT, { opensAt: new Date(T0).toISOString(), shards: 8 }, 0)).toMatchObject({ ok: true, value: { shards: 8 } });
    expect(decideConfigure(null, emptyRoomState(), EVENT, { opensAt: new Date(T0).toISOString() }, 0)).toMatchObject({
      ok: true,
      value: { shards: 4, maxActiveShoppers: 1_000, admitPerMinute: null, shopperSessionSeconds: 600, powDifficulty: 0 },
    });
  });
});

describe("admission tokens and the inventory's gate", () => {
  it("accepts a token only for its user and event, before its expiry, and only under our key", async () => {
    const key = await admissionKey(SECRET);
    const token = await signAdmission(key, { userId: "u1", eventId: EVENT, expiresAt: T0 + 600_000, jti: "j1" });
    expect(await verifyAdmission(key, token, "u1", EVENT, T0)).toMatchObject({ ok: true, claims: { userId: "u1", eventId: EVENT, expiresAt: T0 + 600_000, jti: "j1" } });
    expect(await verifyAdmission(key, token, "u2", EVENT, T0)).toMatchObject({ ok: false, reason: expect.stringMatching(/another user/) });
    expect(await verifyAdmission(key, token, "u1", "other-event", T0)).toMatchObject({ ok: false, reason: expect.stringMatching(/another event/) });
    expect(await verifyAdmission(key, token, "u1", EVENT, T0 + 600_000)).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
    const otherKey = await admissionKey({ JWT_SECRET: "another-secret-0123456789abcdef0123456789" });
    expect(await verifyAdmission(otherKey, token, "u1", EVENT, T0)).toMatchObject({ ok: false, reason: "The admission token is not valid" });
    // An admission key is not the access-token key: the raw JWT_SECRET does not verify it.
    const raw = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET.JWT_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    expect(await verifyAdmission(raw, token, "u1", EVENT, T0)).toMatchObject({ ok: false });
  });

  it("lets holds through only with a valid token while on sale, and counts admitted buyers who held", async () => {
    const store = new Map<string, unknown>();
    const storage = {
      get: <T>(k: string) => store.get(k) as T | undefined,
      put: <T>(k: string, v: T) => void store.set(k, structuredClone(v)),
      delete: (k: string) => store.delete(k),
      list: <T>({ prefix = "", start = "", end, limit = Infinity }: { prefix?: string; start?: string; end?: string; limit?: number }) =>
        ([...store.entries()].filter(([k]) => k.startsWith(prefix) && k >= start && (end === undefined || k < end)).sort(([a], [b]) => (a < b ? -1 : 1)) as [string, T][]).slice(0, limit),
    };
    const gate = new AdmissionGate(storage, SECRET);
    expect(gate.onSale).toBe(false);
    gate.setOnSale(true);
    expect(await gate.check("u1", EVENT, null, T0)).toEqual({ ok: false, code: "NOT_ADMITTED", message: expect.any(String), details: { queue: `/v1/events/${EVENT}/queue` } });
    const token = await signAdmission(await admissionKey(SECRET), { userId: "u1", eventId: EVENT, expiresAt: T0 + 60_000, jti: "j1" });
    const ok = await gate.check("u1", EVENT, token, T0);
    expect(ok.ok).toBe(true);
    expect((await gate.check("u2", EVENT, token, T0)).ok).toBe(false);
    expect((await gate.check("u1", EVENT, token, T0 + 60_000)).ok).toBe(false);
    if (ok.ok) gate.recordHold(ok.claims, 3, T0);
    expect(gate.stats(T0)).toEqual({ admissionsUsed: 1, seatsPerBuyer: 3 });
    // A restarted object reads the flag and the counts back.
    const again = new AdmissionGate(storage, SECRET);
    expect(again.onSale).toBe(true);
    expect(again.stats(T0)).toEqual({ admissionsUsed: 1, seatsPerBuyer: 3 });
    expect(again.stats(T0 + 60_000)).toEqual({ admissionsUsed: 0, seatsPerBuyer: 3 });
  });

  it("keeps an admission's entry only until its session is over, and reads no entry back at start", async () => {
    const store = new Map<string, unknown>();
    let listed = 0;
    const storage = {
      get: <T>(k: string) => store.get(k) as T | undefined,
      put: <T>(k: string, v: T) => void store.set(k, structuredClone(v)),
      delete: (k: string) => store.delete(k),
      list: <T>({ prefix = "", start = "", end, limit = Infinity }: { prefix?: string; start?: string; end?: string; limit?: number }) => {
        const hits = ([...store.entries()].filter(([k]) => k.startsWith(prefix) && k >= start && (end === undefined || k < end)).sort(([a], [b]) => (a < b ? -1 : 1)) as [string, T][]).slice(0, limit);
        listed += hits.length;
        return hits;
      },
    };
    // Entries of the old, unbounded kind are dropped once.
    store.set("onsale:used:old-jti", [T0 + 60_000, 2]);
    const gate = new AdmissionGate(storage, SECRET);
    expect(store.has("onsale:used:old-jti")).toBe(false);
    gate.setOnSale(true, 1);
    const key = await admissionKey(SECRET);
    for (let i = 0; i < 50; i++) {
      const token = await signAdmission(key, { userId: `u${i}`, eventId: EVENT, expiresAt: T0 + 60_000 + (i % 5) * 1_000, jti: `j${i}`, generation: 1 });
      const res = await gate.check(`u${i}`, EVENT, token, T0);
      if (res.ok) gate.recordHold(res.claims, 2, T0);
    }
    expect(gate.stats(T0)).toEqual({ admissionsUsed: 50, seatsPerBuyer: 2 });
    expect(gate.entries()).toBe(50);
    listed = 0;
    const restarted = new AdmissionGate(storage, SECRET);
    expect(listed).toBe(0);
    expect(restarted.stats(T0 + 62_500)).toEqual({ admissionsUsed: 20, seatsPerBuyer: 2 });
    expect(restarted.entries()).toBe(20);
    expect(restarted.stats(T0 + 70_000).admissionsUsed).toBe(0);
    expect(restarted.entries()).toBe(0);
  });
});

describe("proof of work on join", () => {
  it("accepts a solved, unexpired challenge of ours for that event and user only", async () => {
    const key = await admissionKey(SECRET);
    // A fixed random part, so the outcome for the second account is fixed too.
    const { challenge, expiresAt } = await makeChallenge(key, EVENT, T0, "0123456789abcdef");
    const nonce = solveChallenge(challenge, "u1", 8);
    expect(await checkSolution(key, EVENT, "u1", 8, challenge, nonce, T0)).toEqual({ ok: true });
    expect(await checkSolution(key, EVENT, "u1", 0, undefined, undefined, T0)).toEqual({ ok: true });
    expect((await checkSolution(key, EVENT, "u1", 8, undefined, undefined, T0)).ok).toBe(false);
    expect((await checkSolution(key, EVENT, "u1", 8, challenge, nonce, expiresAt)).ok).toBe(false);
    expect((await checkSolution(key, "other", "u1", 8, challenge, nonce, T0)).ok).toBe(false);
    expect((await checkSolution(key, EVENT, "u1", 8, challenge.replace(/.$/, (c) => (c === "0" ? "1" : "0")), nonce, T0)).ok).toBe(false);
    // The same solution does not buy a place for another account.
    expect(await checkSolution(key, EVENT, "u2", 8, challenge, nonce, T0)).toMatchObject({ ok: false, reason: expect.stringMatching(/leading zero bits/) });
  });

  it("counts leading zero bits", () => {
    expect(leadingZeroBits(new Uint8Array([0, 0x10]))).toBe(11);
    expect(leadingZeroBits(new Uint8Array([0x80]))).toBe(0);
    expect(leadingZeroBits(new Uint8Array([0, 0]))).toBe(16);
  });
});
