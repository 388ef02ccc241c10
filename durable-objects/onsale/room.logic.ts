/**
 * The waiting room's coordinator rules (docs/onsale.md), runtime-independent: the on-sale
 * configuration and, every tick, how many to admit and from which shard, from what the event's
 * inventory says can still sell. The WaitingRoom object (../waiting-room.ts) is a thin shell.
 */
import type { OnSaleInput } from "./contract";
import { arrivedBefore, makeSketch, splitQuota, type Sketch } from "./order";
import type { TickReport } from "./shard.logic";

export const ROOM_DEFAULTS = { shards: 4, maxActiveShoppers: 1_000, shopperSessionSeconds: 600, powDifficulty: 0 } as const;
/** Seats an admitted buyer is assumed to want before the room has seen any hold (at most the event's cap). */
export const DEFAULT_SEATS_PER_BUYER = 4;
/**
 * Without a per-user cap (never, for events made through the API), an admitted buyer on the way is
 * counted as wanting this many times the average seen so far. With a cap, they count as the cap.
 */
export const SEATS_SAFETY = 1.5;
/**
 * Admissions per second the room allows before it has seen admitted buyers hold: the speed of the
 * hold path is unknown yet. Admitted buyers hold at once, so a tick's admissions arrive at the
 * inventory together; this keeps the opening's first ticks small (50/s is 13 a tick at 250 ms).
 */
export const PACE_START_PER_SECOND = 50;
/** While admitted buyers hold as fast as they are admitted, the pace may grow this many times the rate they held at. */
export const PACE_GROWTH = 2;
/** A tick's allowance covers at most this much time, so a late or first tick does not admit a burst. */
export const PACE_MAX_INTERVAL_MS = 1_000;
/**
 * An admitted buyer keeps a seat in reserve (counts as "pending" against the free seats) for this
 * long after admission; one who has not held by then keeps their session and token, but no longer
 * stops the next in line from being admitted. Without it, a few admitted buyers who never hold froze
 * the last seats for a whole session (a quiet run ended with 80 seats free, 1,112 waiting, 100 s
 * without an admission).
 */
export const FIRST_HOLD_GRACE_MS = 30_000;
/** The most a shard reports of its head per tick (and so the most admitted per shard per tick). */
export const HEADS_PER_SHARD = 2_000;
/**
 * A sold-out room ticks this much slower: nothing sells until seats come back (a cancellation), and
 * every tick costs a read of the inventory and a call to every shard.
 */
export const SOLD_OUT_TICK_FACTOR = 10;
/** Default milliseconds between ticks (`ONSALE_TICK_MS`). */
export const TICK_MS_DEFAULT = 1_000;

/** The tick interval from `ONSALE_TICK_MS` (at least 50 ms). */
export function tickInterval(value: string | undefined): number {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n >= 50 ? n : TICK_MS_DEFAULT;
}


export interface RoomConfig {
  eventId: string;
  /** Epoch ms. */
  opensAt: number;
  shards: number;
  maxActiveShoppers: number;
  /** Null: no rate cap, only the inventory and maxActiveShoppers limit admission. */
  admitPerMinute: number | null;
  shopperSessionSeconds: number;
  powDifficulty: number;
  enabled: boolean;
  /**
   * Which on-sale of the event this is: a PUT after a DELETE starts the next one, a new room (shards
   * start empty, tokens of the earlier one are refused). Absent in rooms saved before generations: 0.
   */
  generation?: number;
}

export interface RoomConfigView {
  eventId: string;
  opensAt: string;
  shards: number;
  maxActiveShoppers: number;
  admitPerMinute: number | null;
  shopperSessionSeconds: number;
  powDifficulty: number;
  status: "scheduled" | "open" | "off";
}

export type RoomResult<T> = { ok: true; value: T } | { ok: false; code: "CONFLICT" | "NO_QUEUE" | "VALIDATION_FAILED" | "DEPENDENCY_UNAVAILABLE"; message: string };

const SETTINGS = ["opensAt", "shards", "maxActiveShoppers", "admitPerMinute", "shopperSessionSeconds", "powDifficulty"] as const;

/**
 * A new configuration, or why not. A PUT while the room is off (never on, or ended) starts a new
 * on-sale: the next generation. Settings change only until the room opens, and the shard count only
 * while nobody joined; once open, a PUT with the same settings is a retry (the switch is repeated,
 * so a PUT that failed halfway is repaired by sending it again).
 */
export function decideConfigure(current: RoomConfig | null, state: RoomState, eventId: string, input: OnSaleInput, joined: number): RoomResult<RoomConfig> {
  const fresh = !current?.enabled;
  const shards = input.shards ?? current?.shards ?? ROOM_DEFAULTS.shards;
  const value: RoomConfig = {
    eventId,
    opensAt: Date.parse(input.opensAt),
    shards,
    maxActiveShoppers: input.maxActiveShoppers ?? current?.maxActiveShoppers ?? ROOM_DEFAULTS.maxActiveShoppers,
    admitPerMinute: input.admitPerMinute === undefined ? (current?.admitPerMinute ?? null) : input.admitPerMinute,
    shopperSessionSeconds: input.shopperSessionSeconds ?? current?.shopperSessionSeconds ?? ROOM_DEFAULTS.shopperSessionSeconds,
    powDifficulty: input.powDifficulty ?? current?.powDifficulty ?? ROOM_DEFAULTS.powDifficulty,
    enabled: true,
    generation: fresh ? (current?.generation ?? 0) + 1 : (current.generation ?? 0),
  };
  if (!fresh && state.opened) {
    if (SETTINGS.every((k) => value[k] === current[k])) return { ok: true, value: current };
    return { ok: false, code: "CONFLICT", message: "The on-sale has opened; it can only be ended (DELETE), or the same PUT repeated" };
  }
  if (!fresh && joined > 0 && shards !== current.shards) return { ok: false, code: "CONFLICT", message: "Visitors have joined: the shard count is fixed now" };
  return { ok: true, value };
}

export function configView(c: RoomConfig, state: RoomState): RoomConfigView {
  const { enabled: _enabled, opensAt, ...rest } = c;
  return { ...rest, opensAt: new Date(opensAt).toISOString(), status: !c.enabled ? "off" : state.opened ? "open" : "scheduled" };
}

export interface RoomState {
  opened: boolean;
  soldOut: boolean;
  admittedTotal: number;
  /** Admissions still in their session: expiry (epoch ms) -> count. */
  sessions: [number, number][];
  /** Admissions of the last minute: [at, count], for the measured rate. */
  recent: [number, number][];
  /** Unused part of the admitPerMinute allowance. */
  carry: number;
  lastTickAt: number | null;
  /** Per shard, from the last tick. */
  heads: number[][];
  sketches: Sketch[];
  waiting: number[];
  /**
   * The earliest of the shards' report times (epoch ms, each shard's clock) in the last tick: every
   * visitor who joined before it is in the reports. Null before any tick (or in a state saved before
   * this field existed).
   */
  reportedAt?: number | null;
  /** The inventory's `admissionsUsed` read at the last tick, for the holds made since (null before any tick, or in an older saved state). */
  usedAtLastTick?: number | null;
  /** The last tick's number (every order carries its tick's; a shard tags its admissions with it). */
  seq?: number;
  /** Per shard, the last tick whose report was recorded: the shard reports every admission after it. */
  acked?: number[];
  /**
   * The tick being run, saved before any shard is ordered (the first phase of a grant). Found on a
   * later tick, the object stopped before recording it: every shard is presumed to have admitted
   * what it was granted until it reports.
   */
  inflight?: { seq: number; at: number; perShard: number[]; expiresAt: number } | null;
  /**
   * Grants not reported yet (the shard failed to answer, or the object stopped): [shard, tick, count,
   * at, session end]. Counted as admitted, so the next ticks never admit past the free-seat rule; the
   * shard's next report replaces them with what it really admitted.
   */
  presumed?: [number, number, number, number, number][];
}

export function emptyRoomState(): RoomState {
  return {
    opened: false, soldOut: false, admittedTotal: 0, sessions: [], recent: [], carry: 0, lastTickAt: null, heads: [], sketches: [], waiting: [], reportedAt: null, usedAtLastTick: null,
    seq: 0, acked: [], inflight: null, presumed: [],
  };
}

/** What the inventory object says (its `admissionStats`). */
export interface InventoryView {
  capacity: number;
  available: number;
  /** Seats in holds that are not booked yet (active or confirming): they may come back. */
  held: number;
  booked: number;
  /** Distinct admissions, still in session, that have made a hold. */
  admissionsUsed: number;
  /** Seats per admitted buyer who held, so far; null before any. */
  seatsPerBuyer: number | null;
  /**
   * Of `available`, the seats some ticket type can still sell (types off sale, out of quota, or
   * hidden with no voucher left to unlock them sell none); absent: `available`.
   */
  sellable?: number;
  /** The event's cap per buyer (no admitted buyer wants more). */
  maxSeatsPerUser?: number;
  /** Cancelled, or the sales window has ended. */
  salesOver?: boolean;
}

export interface TickDecision {
  open: boolean;
  soldOut: boolean;
  quota: number;
  perShard: number[];
  ratePerSecond: number;
  activeShoppers: number;
  carry: number;
  /** Admissions per second the pace allowed this tick. */
  pacePerSecond: number;
  /** The inventory's admissionsUsed this tick read (kept for the next tick's pace). */
  admissionsUsed: number;
  /** The session end of an admission made now (epoch ms), for grants presumed until reported. */
  sessionEnd: number;
}

const sum = (pairs: [number, number][]) => pairs.reduce((n, [, c]) => n + c, 0);

export function inSession(state: RoomState, now: number): number {
  return sum(state.sessions.filter(([exp]) => exp > now));
}

export function measuredRate(state: RoomState, now: number): number {
  return sum(state.recent.filter(([at]) => at > now - 60_000)) / 60;
}

/**
 * How many to admit now. Nothing before the opening. "Free" seats are those some public ticket
 * type can still sell (`sellable`: on sale, within its quota). Sold out when none is free and none is
 * held (nothing can come back). Otherwise the least of: the seats free now over the most a buyer
 * may take (the event's cap), minus admitted buyers who have not held yet, within
 * FIRST_HOLD_GRACE_MS of their admission (so every admitted buyer finds at least one seat for their
 * first hold, even if all before them take the cap); room under maxActiveShoppers (buyers not yet
 * holding plus those holding); the admitPerMinute allowance; and the pace (`pacePerSecond`).
 * Without a cap, a buyer on the way counts as SEATS_SAFETY times the average seen
 * (DEFAULT_SEATS_PER_BUYER before any).
 */
export function decideTick(config: RoomConfig, state: RoomState, inv: InventoryView, now: number): TickDecision {
  const open = config.enabled && now >= config.opensAt;
  const cap = inv.maxSeatsPerUser && inv.maxSeatsPerUser > 0 ? inv.maxSeatsPerUser : Number.POSITIVE_INFINITY;
  const seen = inv.seatsPerBuyer && inv.seatsPerBuyer > 0 ? inv.seatsPerBuyer : null;
  // What a buyer on the way is counted as wanting (the inventory rule); `seen` itself estimates the holders.
  const wants = Math.min(cap, seen === null ? DEFAULT_SEATS_PER_BUYER : Math.max(1, seen * SEATS_SAFETY));
  const seatsPerBuyer = seen ?? Math.min(cap, DEFAULT_SEATS_PER_BUYER);
  const admittedLately = sum(state.recent.filter(([at]) => at > now - FIRST_HOLD_GRACE_MS));
  const pending = Math.max(0, Math.min(inSession(state, now) - inv.admissionsUsed, admittedLately));
  const holding = Math.ceil(inv.held / seatsPerBuyer);
  const activeShoppers = pending + holding;
  // Free seats no on-sale type can sell admit nobody: each buyer admitted for them would fail to hold.
  const free = Math.min(inv.available, inv.sellable ?? inv.available);
  const soldOut = open && free <= 0 && inv.held <= 0;
  const elapsed = state.lastTickAt === null ? 0 : Math.max(0, now - state.lastTickAt);
  let carry = state.carry;
  let byRate = Number.POSITIVE_INFINITY;
  if (config.admitPerMinute !== null) {
    carry = Math.min(carry + (config.admitPerMinute * elapsed) / 60_000, Math.max(1, config.admitPerMinute / 6));
    byRate = Math.floor(carry);
  }
  const pace = pacePerSecond(state, inv, now);
  let quota = 0;
  if (open && !soldOut) {
    // Each buyer on the way is counted at the most they may take (the event's cap), so even if every
    // one of them takes the cap, the last admitted still finds a seat. Only an event without a cap
    // falls back to the estimate.
    const reserve = Number.isFinite(cap) ? cap : wants;
    const byInventory = Math.ceil(free / reserve) - pending;
    const byShoppers = config.maxActiveShoppers - activeShoppers;
    const byPace = Math.ceil((pace * Math.min(PACE_MAX_INTERVAL_MS, elapsed || PACE_MAX_INTERVAL_MS)) / 1_000);
    quota = Math.max(0, Math.min(byInventory, byShoppers, byRate, byPace));
  }
  const heads = state.heads.length ? state.heads : Array.from({ length: config.shards }, () => []);
  const perShard = splitQuota(heads, quota, state.waiting.length ? state.waiting : undefined, state.reportedAt != null ? arrivedBefore(state.reportedAt) : undefined);
  const admitted = perShard.reduce((a, b) => a + b, 0);
  if (config.admitPerMinute !== null) carry -= admitted;
  const measured = measuredRate(state, now);
  const ratePerSecond = measured > 0 ? measured : config.admitPerMinute !== null ? config.admitPerMinute / 60 : Math.max(1, Math.ceil(free / wants) / 60);
  const sessionEnd = Math.floor(now / 1000) * 1000 + config.shopperSessionSeconds * 1000;
  return { open, soldOut, quota: admitted, perShard, ratePerSecond, activeShoppers, carry, pacePerSecond: pace, admissionsUsed: inv.admissionsUsed, sessionEnd };
}

/**
 * How fast the room may admit: admitted buyers hold right away, so admissions beyond what the hold
 * path serves only queue at the inventory (seconds of hold latency, then 503s and retries). The
 * rate admitted buyers made their first hold since the last tick measures what it serves. If they
 * kept up with the last tick's admissions (as many held as that tick admitted, times the share of
 * admissions that hold at all in this room, so buyers who never hold do not read as a lag), the
 * pace may grow to PACE_GROWTH times that rate; if not, it falls to that rate. Never below
 * PACE_START_PER_SECOND, so a room whose buyers take their time still moves.
 */
export function pacePerSecond(state: RoomState, inv: InventoryView, now: number): number {
  if (state.lastTickAt === null || state.usedAtLastTick == null || now <= state.lastTickAt) return PACE_START_PER_SECOND;
  const held = Math.max(0, inv.admissionsUsed - state.usedAtLastTick);
  const rate = (held * 1_000) / (now - state.lastTickAt);
  const lastTickAdmitted = sum(state.recent.filter(([at]) => at === state.lastTickAt));
  const admittedInSession = inSession(state, now);
  const converting = admittedInSession > 0 ? Math.min(1, inv.admissionsUsed / admittedInSession) : 1;
  const keptUp = held >= Math.floor(lastTickAdmitted * converting);
  return Math.max(PACE_START_PER_SECOND, keptUp ? PACE_GROWTH * rate : rate);
}

/** The first phase of a tick: its number and grants, saved before any shard is ordered. */
export function beginTick(state: RoomState, decision: TickDecision, now: number): RoomState {
  const seq = (state.seq ?? 0) + 1;
  return { ...state, seq, inflight: { seq, at: now, perShard: decision.perShard, expiresAt: decision.sessionEnd } };
}

type Counts = Map<number, number>;
const bump = (m: Counts, k: number, n: number) => {
  const v = (m.get(k) ?? 0) + n;
  if (v > 0) m.set(k, v);
  else m.delete(k);
};

/** Presumes shard `n` admitted `count` at `at` (tick `seq`): counted as admitted until it reports. */
function presume(sessions: Counts, recent: Counts, presumed: NonNullable<RoomState["presumed"]>, n: number, seq: number, count: number, at: number, expiresAt: number) {
  if (count <= 0) return;
  presumed.push([n, seq, count, at, expiresAt]);
  bump(sessions, expiresAt, count);
  bump(recent, at, count);
}

/**
 * A tick found in flight (the object stopped between ordering the shards and recording their
 * reports): every shard is presumed to have admitted its grant, and its reported head moves past it.
 */
export function recoverInflight(state: RoomState): RoomState {
  const t = state.inflight;
  if (!t) return state;
  const sessions: Counts = new Map(state.sessions);
  const recent: Counts = new Map(state.recent);
  const presumed = [...(state.presumed ?? [])];
  t.perShard.forEach((count, n) => presume(sessions, recent, presumed, n, t.seq, count, t.at, t.expiresAt));
  return {
    ...state,
    sessions: [...sessions.entries()].sort((a, b) => a[0] - b[0]),
    recent: [...recent.entries()].sort((a, b) => a[0] - b[0]),
    heads: state.heads.map((h, n) => h.slice(t.perShard[n] ?? 0)),
    waiting: state.waiting.map((w, n) => Math.max(0, w - (t.perShard[n] ?? 0))),
    inflight: null,
    presumed,
  };
}

/**
 * The state after the shards answered a tick: `reports[n]` is shard n's report, or null when its
 * call failed. A shard that answered replaces what was presumed of it with what it admitted (this
 * tick's and any earlier admission it had not reported); one that failed is presumed to have admitted
 * its whole grant, and keeps its last report's head minus that grant.
 */
export function afterTick(state: RoomState, decision: TickDecision, reports: (TickReport | null | undefined)[], now: number): RoomState {
  const sessions: Counts = new Map(state.sessions.filter(([exp]) => exp > now));
  const recent: Counts = new Map(state.recent.filter(([at]) => at > now - 60_000));
  let presumed = [...(state.presumed ?? [])];
  const seq = state.inflight?.seq ?? state.seq ?? 0;
  const acked = [...(state.acked ?? [])];
  const shards = Math.max(reports.length, decision.perShard.length);
  const heads: number[][] = [];
  const sketches: Sketch[] = [];
  const waiting: number[] = [];
  const reportTimes: number[] = [];
  let admitted = 0;
  let failed = false;
  for (let n = 0; n < shards; n++) {
    const r = reports[n];
    const granted = decision.perShard[n] ?? 0;
    if (!r) {
      failed = true;
      presume(sessions, recent, presumed, n, seq, granted, now, decision.sessionEnd);
      heads[n] = (state.heads[n] ?? []).slice(granted);
      waiting[n] = Math.max(0, (state.waiting[n] ?? 0) - granted);
      sketches[n] = state.sketches.find((s) => s.shard === n) ?? makeSketch(n, []);
      continue;
    }
    const mine = presumed.filter((p) => p[0] === n);
    for (const [, , count, at, exp] of mine) {
      bump(sessions, exp, -count);
      bump(recent, at, -count);
    }
    presumed = presumed.filter((p) => p[0] !== n);
    for (const exp of r.admittedExpiries) bump(sessions, exp, 1);
    if (r.admitted > 0) bump(recent, now, r.admitted);
    for (const [s, exp] of r.earlier ?? []) {
      if (exp > now) bump(sessions, exp, 1);
      const at = mine.find((p) => p[1] === s)?.[3] ?? now;
      if (at > now - 60_000) bump(recent, at, 1);
    }
    admitted += r.admitted + (r.earlier?.length ?? 0);
    acked[n] = seq;
    heads[n] = r.heads;
    sketches[n] = r.sketch;
    waiting[n] = r.waiting;
    if (Number.isFinite(r.at)) reportTimes.push(r.at);
  }
  // A shard that did not answer has joiners since its last report: the cut stays below them too.
  if (failed && state.reportedAt != null) reportTimes.push(state.reportedAt);
  return {
    opened: state.opened || decision.open,
    soldOut: decision.soldOut,
    admittedTotal: state.admittedTotal + admitted,
    sessions: [...sessions.entries()].sort((a, b) => a[0] - b[0]),
    recent: [...recent.entries()].sort((a, b) => a[0] - b[0]),
    carry: decision.carry,
    lastTickAt: now,
    heads,
    sketches,
    waiting,
    reportedAt: reportTimes.length ? Math.min(...reportTimes) : null,
    usedAtLastTick: decision.admissionsUsed,
    seq,
    acked,
    inflight: null,
    presumed,
  };
}

/**
 * When the next tick is due: at the opening, then every tickMs while anyone waits or shops (slower
 * while sold out); none when nobody does, unless a shard woke the room since the last tick began
 * (`woken`: someone joined after their shard reported).
 */
export function nextTickAt(config: RoomConfig, state: RoomState, now: number, tickMs: number, woken = false): number | null {
  if (!config.enabled) return null;
  if (!state.opened) return Math.max(now + 1, config.opensAt);
  if (woken) return now + tickMs;
  const waiting = state.waiting.reduce((a, b) => a + b, 0);
  if (waiting === 0 && inSession(state, now) === 0) return null;
  return now + (state.soldOut ? tickMs * SOLD_OUT_TICK_FACTOR : tickMs);
}
