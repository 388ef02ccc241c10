// The bench's fairness measures (bench/lib/fairness.ts): they must read a fair room as fair whatever
// the arrival pattern, and catch a biased one.
import { describe, expect, it } from "vitest";
import { earlyShuffle, kendallTau, lateOrder, soldOutLag, type RoomRecord } from "../../bench/lib/fairness";
import { rngFor } from "../helpers/onsale-sim";

const TICK = 250;

/**
 * `n` early joiners, most of them in the last quarter of the joining window (as a crowd gathers, or
 * as the bench's joins speed up once warm), drawn with `keyOf(rank, random)`, and the lowest `admitted`
 * keys admitted `perTick` a tick.
 */
function earlyRoom(seed: number, n: number, admitted: number, keyOf = (_rank: number, random: () => number) => random()): RoomRecord[] {
  const random = rngFor(seed);
  const records: RoomRecord[] = Array.from({ length: n }, (_, i) => ({
    userId: `u${i}`,
    joinedAt: i < n / 10 ? Math.floor((i / (n / 10)) * 45_000) : 45_000 + Math.floor(((i - n / 10) / (n * 0.9)) * 15_000),
    early: true,
    key: keyOf(i / n, random),
    admittedAt: null,
  }));
  [...records].sort((a, b) => a.key! - b.key!).slice(0, admitted).forEach((r, i) => (r.admittedAt = 60_000 + Math.floor(i / 50) * TICK));
  return records;
}

describe("the early shuffle's measure", () => {
  it("reads a uniform draw as uniform however the joins bunch in time", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const m = earlyShuffle(earlyRoom(seed, 2_000, 600));
      expect(m.sampled).toBe(500);
      expect(m.pass, `seed ${seed}: ${m.counts.join("/")}`).toBe(true);
    }
  });

  it("takes the first quarter of the early joiners when all of them were admitted", () => {
    const m = earlyShuffle(earlyRoom(5, 2_000, 2_000));
    expect(m.sampled).toBe(500);
    expect(m.pass).toBe(true);
  });

  it("catches a draw that favours early joiners", () => {
    const m = earlyShuffle(earlyRoom(1, 2_000, 600, (rank, random) => random() * (0.5 + rank)));
    expect(m.pass).toBe(false);
    expect(m.counts[0]).toBeGreaterThan(m.counts[3]);
  });

  it("counts only the visitors the room drew, not those who joined after the opening", () => {
    const records = earlyRoom(3, 2_000, 600).map((r, i) => (i >= 1_800 ? { ...r, early: false, key: 2 ** 40 + r.joinedAt, admittedAt: null } : r));
    const m = earlyShuffle(records);
    expect(m.early).toBe(1_800);
    expect(m.pass).toBe(true);
  });
});

describe("the late arrivals' measure", () => {
  const late = (joinedAt: number, admittedAt: number | null, userId = `l${joinedAt}`): RoomRecord => ({ userId, joinedAt, early: false, key: 2 ** 40 + joinedAt, admittedAt });

  it("reads first come, first admitted, a tick's set at once, as tau 1 with nothing out of order", () => {
    const m = lateOrder([late(1, 1000), late(2, 1000), late(3, 1250), late(4, 1500), late(5, null)]);
    expect(m).toEqual({ admitted: 4, ticks: 3, tau: 1, maxInversionMs: 0, passedOver: 0 });
  });

  it("says how much earlier an arrival admitted a tick later had come", () => {
    const m = lateOrder([late(10, 1000), late(30, 1000), late(20, 1250), late(40, 1500)]);
    expect(m.maxInversionMs).toBe(10);
    expect(m.tau).toBeCloseTo(1 - (2 * 1) / 6);
  });

  it("counts waiting arrivals passed over by a later one who was admitted", () => {
    expect(lateOrder([late(10, null), late(20, 1000), late(30, null)]).passedOver).toBe(1);
  });

  it("ignores early joiners", () => {
    expect(lateOrder([{ ...late(50, 1000), early: true }, late(60, 1250)]).admitted).toBe(1);
  });

  it("agrees with Kendall's tau on untied ranks", () => {
    expect(kendallTau([1, 2, 3, 4], [2, 1, 3, 4])).toBeCloseTo(1 - (2 * 1) / 6);
  });
});

describe("the sold-out lag", () => {
  const sold = { soldOut: true, available: 0, held: 0 };

  it("is the last sale to the last socket that was waiting then showing sold_out", () => {
    const m = soldOutLag(
      [
        { joinedAt: 100, soldOutAt: 2_300 },
        { joinedAt: 200, soldOutAt: 2_700 },
        { joinedAt: 300, admittedAt: 900 },
        // Joined after the last sale: told at its first tick, not part of the lag.
        { joinedAt: 5_000, soldOutAt: 9_000 },
      ],
      2_000,
      sold,
    );
    expect(m).toEqual({ lagMs: 700, waiting: 2, told: 2 });
  });

  it("gives no figure, with the reason, when a waiting socket never showed sold_out", () => {
    const m = soldOutLag([{ joinedAt: 100, soldOutAt: 2_300 }, { joinedAt: 200 }], 2_000, sold);
    expect(m.lagMs).toBeNull();
    expect(m.reason).toMatch(/1 of 2 sockets waiting at the last sale never showed sold_out/);
  });

  it("gives no figure, with the reason, when the room did not sell out", () => {
    const m = soldOutLag([{ joinedAt: 100 }], 2_000, { soldOut: false, available: 332, held: 215 });
    expect(m.lagMs).toBeNull();
    expect(m.reason).toMatch(/did not sell out: 332 seats available and 215 held/);
  });

  it("gives no figure, with the reason, when nobody was waiting at the last sale", () => {
    const m = soldOutLag([{ joinedAt: 100, admittedAt: 500 }], 2_000, sold);
    expect(m.lagMs).toBeNull();
    expect(m.reason).toMatch(/no socket was waiting/);
  });
});
