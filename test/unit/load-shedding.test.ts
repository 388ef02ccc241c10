import { describe, expect, it } from "vitest";
import { enter, leave, newLane, QUEUE_BUDGET_MS, roll, shouldShed, type Lane } from "../../src/lib/load-shedding";

/** One request arriving at `now`: answers false when it was shed, as the hold routes' middleware decides. */
function arrive(lane: Lane, now: number, hardLimit = 10_000): boolean {
  roll(lane, now);
  if (shouldShed(lane, hardLimit)) return false;
  enter(lane, now);
  return true;
}

describe("the hold routes' load shedding", () => {
  it("does not shed a small burst on a quiet lane: a waiting room's tick admitting 20 buyers once a second, served in 40 ms", () => {
    const lane = newLane(0);
    let shed = 0;
    for (let second = 0; second < 10; second++) {
      const t = second * 1_000;
      let admitted = 0;
      for (let i = 0; i < 20; i++) if (arrive(lane, t)) admitted++;
      shed += 20 - admitted;
      // The object serves them one after another, 2 ms each.
      for (let i = 1; i <= admitted; i++) leave(lane, t + 2 * i);
    }
    expect(shed).toBe(0);
  });

  it("sheds a standing queue: twice as many arrivals as the lane serves keeps the wait near the budget", () => {
    const lane = newLane(0);
    let shed = 0;
    let most = 0;
    // Two arrivals per millisecond, one completion per millisecond, for 3 seconds.
    for (let t = 1; t <= 3_000; t++) {
      for (let k = 0; k < 2; k++) if (!arrive(lane, t)) shed++;
      if (lane.inFlight > 0) leave(lane, t);
      most = Math.max(most, lane.inFlight);
    }
    expect(shed).toBeGreaterThan(2_000);
    // At 1 per ms, QUEUE_BUDGET_MS of waiting is that many in flight (plus the first window, before any rate is known).
    if (most > 300) throw new Error(`in flight grew to ${most}`);
    expect(lane.inFlight).toBeLessThanOrEqual(QUEUE_BUDGET_MS + 2);
  });

  it("sheds everything beyond the hard limit of requests in flight", () => {
    const lane = newLane(0);
    for (let i = 0; i < 64; i++) expect(arrive(lane, 0, 64)).toBe(true);
    expect(arrive(lane, 0, 64)).toBe(false);
  });
});
