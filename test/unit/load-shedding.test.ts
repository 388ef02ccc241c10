import { describe, expect, it } from "vitest";
import { enter, leave, MIN_INFLIGHT_BEFORE_SHEDDING, newLane, QUEUE_BUDGET_MS, roll, shouldShed, type Lane } from "../../src/lib/load-shedding";

/** One request arriving at `now`: answers false when it was shed, as the hold routes decide (src/routes/holds.ts). */
function arrive(lane: Lane, now: number, hardLimit = 10_000): boolean {
  roll(lane, now);
  if (shouldShed(lane, hardLimit)) return false;
  enter(lane);
  return true;
}

/** A first-in, first-out object behind a lane: `serve` completes requests at `now` and returns their waits. */
function fifo(lane: Lane) {
  const entered: number[] = [];
  return {
    arrive(now: number, hardLimit?: number): boolean {
      if (!arrive(lane, now, hardLimit)) return false;
      entered.push(now);
      return true;
    },
    serve(now: number, n: number, extraMs = 0): number[] {
      const waits: number[] = [];
      for (let i = 0; i < n && entered.length; i++) {
        const at = entered.shift()!;
        leave(lane, now + extraMs, at);
        waits.push(now + extraMs - at);
      }
      return waits;
    },
  };
}

describe("the hold routes' load shedding", () => {
  /** `ticks` bursts of `size` arriving at once every `everyMs`, served one after another `msEach` apart; how many were shed. */
  function bursts(ticks: number, everyMs: number, size: number, msEach: number): number {
    const object = fifo(newLane(0));
    let shed = 0;
    for (let tick = 0; tick < ticks; tick++) {
      const t = tick * everyMs;
      for (let i = 0; i < size; i++) if (!object.arrive(t)) shed++;
      for (let i = 1; i <= size; i++) object.serve(t + msEach * i, 1);
    }
    return shed;
  }

  it("does not shed a small burst on a quiet lane: a waiting room's tick admitting 20 buyers once a second, served in 40 ms", () => {
    expect(bursts(10, 1_000, 20, 2)).toBe(0);
  });

  it("does not shed a large burst the object serves quickly, however many are in flight (the reason for measuring time, not counts)", () => {
    // Every 250 ms a tick of 150 buyers arrives at once; the object serves one per ms (150 ms for the last).
    expect(bursts(20, 250, 150, 1)).toBe(0);
  });

  it("does not take a far-away object for a busy one: 80 ms round trips, no queue", () => {
    const lane = newLane(0);
    const object = fifo(lane);
    let shed = 0;
    // One arrival per ms, each answered 80 ms later: 80 in flight all the time.
    for (let t = 0; t < 3_000; t++) {
      if (!object.arrive(t)) shed++;
      if (t >= 80) object.serve(t, 1);
    }
    expect(shed).toBe(0);
  });

  it("sheds a standing queue: twice as many arrivals as the object serves keeps the waits near the budget", () => {
    const lane = newLane(0);
    const object = fifo(lane);
    let shed = 0;
    const waits: number[] = [];
    // Two arrivals per millisecond, one completion per millisecond, for 5 seconds.
    for (let t = 1; t <= 5_000; t++) {
      for (let k = 0; k < 2; k++) if (!object.arrive(t)) shed++;
      const w = object.serve(t, 1);
      if (t > 2_000) waits.push(...w);
    }
    // Half the arrivals cannot be served; the lane refuses about that many instead of queueing them.
    expect(shed).toBeGreaterThan(4_000);
    // Once it settled, requests wait about the budget, not seconds: without shedding the 3rd second
    // alone would add 1,000 ms of wait.
    const sorted = waits.sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(3 * QUEUE_BUDGET_MS);
    expect(sorted.at(-1)!).toBeLessThan(6 * QUEUE_BUDGET_MS);
  });

  it("keeps shedding while the object stays slow from other isolates' load, longer than the base's memory", () => {
    const lane = newLane(0);
    const object = fifo(lane);
    let most = 0;
    // Two arrivals per ms, one served per ms; after the first second every answer also takes 150 ms
    // more (the object busy with other isolates' requests), for 30 s.
    for (let t = 1; t <= 30_000; t++) {
      for (let k = 0; k < 2; k++) object.arrive(t);
      object.serve(t, 1, t > 1_000 ? 150 : 0);
      if (t > 25_000) most = Math.max(most, lane.inFlight);
    }
    // Had the slow intervals become the base, shedding would have stopped after about 10 s and this
    // isolate would have piled thousands of requests onto the object.
    expect(most).toBeLessThan(4 * MIN_INFLIGHT_BEFORE_SHEDDING);
  });

  it("sheds when nothing comes back for a whole interval while many are in flight (a stuck object)", () => {
    const lane = newLane(0);
    const object = fifo(lane);
    object.arrive(0);
    object.serve(0, 1, 1);
    for (let i = 0; i < 20; i++) expect(object.arrive(10)).toBe(true);
    // The interval that saw the quick answer closes at 150 ms; the next one, with none, at 300 ms.
    expect(object.arrive(150)).toBe(true);
    expect(object.arrive(300)).toBe(false);
    // Once it answers quickly again (the fastest of an interval within the budget), the lane opens.
    object.serve(310, 21);
    object.arrive(350);
    object.serve(351, 1);
    expect(object.arrive(460)).toBe(true);
  });

  it("does not shed a buyer the waiting room admitted (metered) while the lane is queued, only at the hard limit", () => {
    const lane = newLane(0);
    const object = fifo(lane);
    // A quick answer first (the base: 2 ms), then every answer of an interval 160 ms: a standing queue.
    object.arrive(0);
    object.serve(2, 1);
    for (let i = 0; i < 20; i++) object.arrive(100);
    object.serve(260, 5);
    roll(lane, 300);
    expect(lane.queued).toBe(true);
    expect(shouldShed(lane, 64)).toBe(true);
    expect(shouldShed(lane, 64, true)).toBe(false);
    for (let i = lane.inFlight; i < 64; i++) enter(lane);
    expect(shouldShed(lane, 64, true)).toBe(true);
  });

  it("sheds everything beyond the hard limit of requests in flight", () => {
    const lane = newLane(0);
    for (let i = 0; i < 64; i++) expect(arrive(lane, 0, 64)).toBe(true);
    expect(arrive(lane, 0, 64)).toBe(false);
  });
});
