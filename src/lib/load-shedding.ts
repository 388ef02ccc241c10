/**
 * Load shedding per event in this isolate (the hold routes, src/routes/holds.ts). A request that
 * would wait longer than QUEUE_BUDGET_MS behind the ones in flight (in flight / recent completion
 * rate, Little's law), or that finds `hardLimit` already in flight, is answered at once with 503 +
 * Retry-After instead of joining the object's queue: under a storm the tail stays short and
 * callers back off. Pure (the caller passes the time), so it runs in plain Node tests.
 */
export const QUEUE_BUDGET_MS = 100;
export const MIN_INFLIGHT_BEFORE_SHEDDING = 8;
export const RATE_WINDOW_MS = 250;

export interface Lane {
  inFlight: number;
  done: number;
  windowStart: number;
  /** Completions per millisecond, smoothed over recent windows; 0 until measured. */
  rate: number;
}

export function newLane(now: number): Lane {
  return { inFlight: 0, done: 0, windowStart: now, rate: 0 };
}

/** Closes the rate window once it is RATE_WINDOW_MS old. */
export function roll(lane: Lane, now: number): void {
  const elapsed = now - lane.windowStart;
  if (elapsed < RATE_WINDOW_MS) return;
  const current = lane.done / elapsed;
  lane.rate = lane.rate === 0 ? current : 0.5 * lane.rate + 0.5 * current;
  lane.done = 0;
  lane.windowStart = now;
}

export function shouldShed(lane: Lane, hardLimit: number): boolean {
  if (lane.inFlight >= hardLimit) return true;
  if (lane.inFlight < MIN_INFLIGHT_BEFORE_SHEDDING || lane.rate === 0) return false;
  return lane.inFlight / lane.rate > QUEUE_BUDGET_MS;
}

/** A request joins the lane (after shouldShed said no). */
export function enter(lane: Lane, _now: number): void {
  lane.inFlight++;
}

/** A request of the lane finished. */
export function leave(lane: Lane, _now: number): void {
  lane.inFlight--;
  lane.done++;
}
