/**
 * Load shedding per event in this isolate (the hold routes, src/routes/holds.ts). A request that
 * would wait longer than QUEUE_BUDGET_MS behind the ones in flight (in flight / recent completion
 * rate, Little's law), or that finds `hardLimit` already in flight, is answered at once with 503 +
 * Retry-After instead of joining the object's queue: under a storm the tail stays short and
 * callers back off. Pure (the caller passes the time), so it runs in plain Node tests.
 *
 * The rate is completions per millisecond the lane was busy (something in flight), not per
 * wall-clock millisecond: per wall clock it measures what was asked, not what can be served, so a
 * quiet lane read as slow and shed the first small burst (a waiting room's tick admitting 20
 * buyers into a lane that had served 20 a second: 8 in flight / 0.02 per ms = 400 ms "wait", while
 * the object served them in 40 ms). Under a standing queue the lane is busy all the time, and the
 * two measures agree.
 */
export const QUEUE_BUDGET_MS = 100;
export const MIN_INFLIGHT_BEFORE_SHEDDING = 8;
export const RATE_WINDOW_MS = 250;

export interface Lane {
  inFlight: number;
  done: number;
  windowStart: number;
  /** Busy milliseconds of the current window that ended (requests in flight). */
  busyMs: number;
  /** When the lane last went from idle to busy; null while idle. */
  busySince: number | null;
  /** Completions per busy millisecond, smoothed over recent windows; 0 until measured. */
  rate: number;
}

export function newLane(now: number): Lane {
  return { inFlight: 0, done: 0, windowStart: now, busyMs: 0, busySince: null, rate: 0 };
}

/**
 * Closes the rate window once it is RATE_WINDOW_MS old. A window with nothing in flight leaves the
 * rate as it was (idle time says nothing of the speed). Busy time is at least 1 ms: workerd's clock
 * advances only on I/O, so a quick burst can take "0 ms".
 */
export function roll(lane: Lane, now: number): void {
  if (now - lane.windowStart < RATE_WINDOW_MS) return;
  const busy = lane.busyMs + (lane.busySince === null ? 0 : now - lane.busySince);
  if (busy > 0 || lane.done > 0) {
    const current = lane.done / Math.max(1, busy);
    lane.rate = lane.rate === 0 ? current : 0.5 * lane.rate + 0.5 * current;
  }
  lane.done = 0;
  lane.busyMs = 0;
  if (lane.busySince !== null) lane.busySince = now;
  lane.windowStart = now;
}

export function shouldShed(lane: Lane, hardLimit: number): boolean {
  if (lane.inFlight >= hardLimit) return true;
  if (lane.inFlight < MIN_INFLIGHT_BEFORE_SHEDDING || lane.rate === 0) return false;
  return lane.inFlight / lane.rate > QUEUE_BUDGET_MS;
}

/** A request joins the lane (after shouldShed said no). */
export function enter(lane: Lane, now: number): void {
  if (lane.inFlight === 0) lane.busySince = now;
  lane.inFlight++;
}

/** A request of the lane finished. */
export function leave(lane: Lane, now: number): void {
  lane.inFlight--;
  lane.done++;
  if (lane.inFlight === 0 && lane.busySince !== null) {
    lane.busyMs += Math.max(0, now - lane.busySince);
    lane.busySince = null;
  }
}
