/**
 * Load shedding per event in this isolate (the hold routes, src/routes/holds.ts), decided from the
 * time requests spend at the event's object, in the manner of CoDel ("good queue, bad queue"): a
 * burst that the object serves quickly is a good queue, however many are in flight; a queue that
 * stays, so that even the fastest request of a whole interval waited QUEUE_BUDGET_MS longer than
 * the lane's base time, is a bad one. While the lane is in that state, a request finding at least
 * MIN_INFLIGHT_BEFORE_SHEDDING in flight is answered at once with 503 + Retry-After instead of
 * joining the object's queue; `hardLimit` in flight is refused always. Pure (the caller passes the
 * time), so it runs in plain Node tests.
 *
 * Why not the earlier estimate (in flight / completions per ms, Little's law): completions per ms
 * measure what was asked, not what can be served. Below saturation they equal the arrival rate,
 * so a burst read as a long wait and was shed while the object sat idle (bench/onsale.ts: half the
 * admitted buyers' first holds shed, one hold in the object at a time).
 *
 * The base time is the fastest completion of the last BASE_WINDOWS intervals that showed no queue:
 * the round trip to the object with no queue (a few ms next to it, tens of ms when it runs in
 * another location), so a far-away object is not taken for a busy one.
 */
export const QUEUE_BUDGET_MS = 100;
export const MIN_INFLIGHT_BEFORE_SHEDDING = 8;
export const INTERVAL_MS = 100;
export const BASE_WINDOWS = 100;

export interface Lane {
  inFlight: number;
  windowStart: number;
  /** Fastest completion (ms) of the current interval; Infinity before one. */
  windowMin: number;
  /** Completions in the current interval. */
  done: number;
  /** Fastest completion of each of the last BASE_WINDOWS intervals that had one, newest last. */
  mins: number[];
  /** Whether the last closed interval showed a standing queue. */
  queued: boolean;
}

export function newLane(now: number): Lane {
  return { inFlight: 0, windowStart: now, windowMin: Infinity, done: 0, mins: [], queued: false };
}

/** The lane's base time: its fastest completion over the recent intervals (Infinity before one). */
export function baseMs(lane: Lane): number {
  return lane.mins.length ? Math.min(...lane.mins) : Infinity;
}

/**
 * Closes the interval once it is INTERVAL_MS old. An interval with completions tells by its fastest
 * one; an interval without any while requests were in flight is a queue (nothing came back for a
 * whole interval); an idle one clears the state.
 */
export function roll(lane: Lane, now: number): void {
  if (now - lane.windowStart < INTERVAL_MS) return;
  if (lane.done > 0) {
    lane.queued = lane.windowMin - baseMs(lane) > QUEUE_BUDGET_MS;
    // A queued interval's times are not a base: were they, a storm longer than BASE_WINDOWS
    // intervals would raise the base to the queue's own wait and shedding would stop. The price: a
    // lane whose object became slower for good (100 ms more per call) keeps shedding above
    // MIN_INFLIGHT_BEFORE_SHEDDING in flight until it goes idle for a minute and starts afresh.
    if (!lane.queued) {
      lane.mins.push(lane.windowMin);
      if (lane.mins.length > BASE_WINDOWS) lane.mins.shift();
    }
  } else {
    lane.queued = lane.inFlight >= MIN_INFLIGHT_BEFORE_SHEDDING && now - lane.windowStart > QUEUE_BUDGET_MS;
  }
  lane.windowMin = Infinity;
  lane.done = 0;
  lane.windowStart = now;
}

/**
 * `metered`: the request carries a valid admission of the event's waiting room, which already paces
 * admissions by how fast the object serves them; shedding those too would send buyers who waited
 * their turn back to wait again, so only the hard limit applies to them.
 */
export function shouldShed(lane: Lane, hardLimit: number, metered = false): boolean {
  if (lane.inFlight >= hardLimit) return true;
  return !metered && lane.queued && lane.inFlight >= MIN_INFLIGHT_BEFORE_SHEDDING;
}

/** A request joins the lane (after shouldShed said no); the caller keeps its start time for `leave`. */
export function enter(lane: Lane): void {
  lane.inFlight++;
}

/** A request of the lane that entered at `enteredAt` finished at `now`. */
export function leave(lane: Lane, now: number, enteredAt: number): void {
  lane.inFlight--;
  lane.done++;
  lane.windowMin = Math.min(lane.windowMin, Math.max(0, now - enteredAt));
}

/** Idle lanes beyond this many are dropped as soon as they go idle, so random event ids cannot grow the map. */
export const MAX_IDLE_LANES = 1_000;
const LANE_IDLE_RESET_MS = 60_000;

/** This isolate's lanes, one per event (its id in lower case however a request spelled it). */
const lanes = new Map<string, Lane>();

/** Lanes kept in this isolate (for tests). */
export function laneCount(): number {
  return lanes.size;
}

/** Whether the event's lane is already over budget (no lane yet: never). For an early refusal, before any work. */
export function laneOverBudget(eventId: string, hardLimit: number, now = Date.now()): boolean {
  const lane = lanes.get(eventId.toLowerCase());
  if (!lane) return false;
  roll(lane, now);
  return shouldShed(lane, hardLimit);
}

/**
 * Runs `call` in the event's lane, or answers `refused` (without calling) when the lane is over
 * budget (`metered`: see shouldShed). The lane measures only what `call` waits for.
 */
export async function throughLane<T>(eventId: string, hardLimit: number, metered: boolean, call: () => Promise<T>, refused: () => Error): Promise<T> {
  const key = eventId.toLowerCase();
  const now = Date.now();
  let lane = lanes.get(key);
  // A lane idle for a minute starts afresh (its base time measured again).
  if (!lane || (lane.inFlight === 0 && now - lane.windowStart > LANE_IDLE_RESET_MS)) lanes.set(key, (lane = newLane(now)));
  roll(lane, now);
  if (shouldShed(lane, hardLimit, metered)) throw refused();
  enter(lane);
  try {
    return await call();
  } finally {
    leave(lane, Date.now(), now);
    if (lane.inFlight === 0 && lanes.size > MAX_IDLE_LANES) lanes.delete(key);
  }
}
