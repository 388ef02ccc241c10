// The waiting room's order across shards, end to end over the pure modules (room.logic, shard.logic,
// order) with seeded draws: what bench/onsale.ts measures, without a runtime or a busy machine.
import { describe, expect, it } from "vitest";
import { LATE_BASE, splitQuota } from "../../durable-objects/onsale/order";
import { HEADS_PER_SHARD, type RoomConfig } from "../../durable-objects/onsale/room.logic";
import { chiSquareUniform, kendallTau } from "../../bench/lib/fairness";
import { RoomSim, rngFor } from "../helpers/onsale-sim";

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const config = (over: Partial<RoomConfig> = {}): RoomConfig => ({
  eventId: "11111111-2222-4333-8444-555555555555",
  opensAt: T0,
  shards: 8,
  maxActiveShoppers: 100_000,
  admitPerMinute: null,
  shopperSessionSeconds: 600,
  powDifficulty: 0,
  enabled: true,
  ...over,
});

describe("early joiners across shards", () => {
  it("are admitted in one uniform random order: the first quarter admitted comes evenly from every quarter of the joiners", () => {
    const N = 400;
    const counts = [0, 0, 0, 0];
    for (let seed = 1; seed <= 300; seed++) {
      const room = new RoomSim(config(), rngFor(seed));
      // Joins bunched towards the opening, spread over the 8 shards by user id.
      for (let i = 0; i < N; i++) room.join(`s${seed}-early-${i}`, T0 - 60_000 + Math.floor(60_000 * Math.sqrt(i / N)));
      room.tick(0, T0); // the opening: the draw, nobody admitted yet
      // 25 buyers a tick, so the first quarter spans four ticks and every shard's head.
      for (let t = 1; room.admitted.length < N / 4; t++) room.tick(25, T0 + t * 1_000);
      for (const a of room.admitted.slice(0, N / 4)) counts[Math.floor((Number(a.userId.split("-").at(-1)) * 4) / N)]++;
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(300 * 100);
    expect(chiSquareUniform(counts).pass).toBe(true);
  }, 30_000);
});

describe("late joiners across shards", () => {
  it("are admitted in arrival order even when a shard's join lands between two shards' reports of the same tick", () => {
    const room = new RoomSim(config({ shards: 4 }), rngFor(7));
    room.tick(0, T0);
    let arrived = 0;
    const joinAt = (at: number) => room.join(`late-${arrived++}`, at);
    for (let t = 1; t <= 30; t++) {
      const now = T0 + t * 1_000;
      // Five arrivals during the second, then more while the shards are answering this tick.
      for (let k = 0; k < 5; k++) joinAt(now - 1_000 + k * 200);
      room.tick(8, now, () => joinAt(now + 1));
    }
    const late = room.admitted.filter((a) => !a.early);
    expect(late.length).toBeGreaterThan(200);
    // No later arrival is admitted in an earlier tick than an earlier arrival.
    const byArrival = [...late].sort((a, b) => a.joinedAt - b.joinedAt || Number(a.userId.slice(5)) - Number(b.userId.slice(5)));
    const ticks = byArrival.map((a) => a.tick);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
    expect(kendallTau(byArrival.map((a) => a.joinedAt), ticks)).toBe(1);
  });

  it("are admitted in arrival order when one shard holds more of the queue's head than it reports", () => {
    // Shard 0 reports only its first 3 keys (of 6 waiting); shard 1 reports all of its 3.
    const heads = [[1, 2, 3], [4, 5, 6]];
    const waiting = [6, 3];
    // Shard 0's 4th key may be below 4: nothing above 3 can be admitted before the next report.
    expect(splitQuota(heads, 6, waiting)).toEqual([3, 0]);
    expect(splitQuota([[1, 5], [2, 3]], 3, [2, 2])).toEqual([1, 2]);
  });

  it("are admitted in arrival order when the quota is larger than a shard's report", () => {
    const headLimit = 40;
    const room = new RoomSim(config({ shards: 4 }), rngFor(3), headLimit);
    room.tick(0, T0);
    let arrived = 0;
    // A crowd of 1,000 before the first admission, then admission of up to 190 a tick (the pace starts lower and doubles
    // while everyone holds: from the third tick about 48 from each shard, more than it reports).
    // User ids hash unevenly over the shards (sequential ids would fall almost round-robin).
    const rng = rngFor(11);
    for (let i = 0; i < 1_000; i++) room.join(`late-${arrived++}-${Math.floor(rng() * 1e9)}`, T0 + 1 + i);
    for (let t = 1; t <= 8; t++) room.tick(190, T0 + 2_000 + t * 1_000);
    const late = room.admitted.filter((a) => !a.early);
    expect(late.length).toBeGreaterThan(headLimit * 4);
    const byArrival = [...late].sort((a, b) => a.joinedAt - b.joinedAt);
    // Everyone admitted arrived before everyone still waiting, in ticks that never go back.
    expect(byArrival.map((a) => Number(a.userId.split("-")[1]))).toEqual(byArrival.map((_, i) => i));
    const ticks = byArrival.map((a) => a.tick);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
    expect(HEADS_PER_SHARD).toBeGreaterThan(headLimit);
    expect(LATE_BASE).toBeGreaterThan(0);
  });
});
