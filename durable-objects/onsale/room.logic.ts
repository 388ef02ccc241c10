/**
 * The waiting room's coordinator rules (docs/onsale.md), runtime-independent: the on-sale
 * configuration and, every tick, how many to admit and from which shard, from what the event's
 * inventory says can still sell. The WaitingRoom object (../waiting-room.ts) is a thin shell.
 */
import type { OnSaleInput } from "./contract";
import { arrivedBefore, splitQuota, type Sketch } from "./order";
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

export type RoomResult<T> = { ok: true; value: T } | { ok: false; code: "CONFLICT" | "NO_QUEUE" | "VALIDATION_FAILED"; message: string };

/** A new configuration, or why not: nothing changes once the room has opened, and the shard count is fixed once anyone joined. */
export function decideConfigure(current: RoomConfig | null, state: RoomState, eventId: string, input: OnSaleInput, joined: number): RoomResult<RoomConfig> {
  if (current?.enabled && state.opened) return { ok: false, code: "CONFLICT", message: "The on-sale has opened; it can only be ended (DELETE)" };
  const shards = input.shards ?? current?.shards ?? ROOM_DEFAULTS.shards;
  if (current && joined > 0 && shards !== current.shards) return { ok: false, code: "CONFLICT", message: "Visitors have joined: the shard count is fixed now" };
  const opensAt = Date.parse(input.opensAt);
  return {
    ok: true,
    value: {
      eventId,
      opensAt,
      shards,
      maxActiveShoppers: input.maxActiveShoppers ?? current?.maxActiveShoppers ?? ROOM_DEFAULTS.maxActiveShoppers,
      admitPerMinute: input.admitPerMinute === undefined ? (current?.admitPerMinute ?? null) : input.admitPerMinute,
      shopperSessionSeconds: input.shopperSessionSeconds ?? current?.shopperSessionSeconds ?? ROOM_DEFAULTS.shopperSessionSeconds,
      powDifficulty: input.powDifficulty ?? current?.powDifficulty ?? ROOM_DEFAULTS.powDifficulty,
      enabled: true,
    },
  };
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
}

export function emptyRoomState(): RoomState {
  return { opened: false, soldOut: false, admittedTotal: 0, sessions: [], recent: [], carry: 0, lastTickAt: null, heads: [], sketches: [], waiting: [], reportedAt: null, usedAtLastTick: null };
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
  /** The event's cap per buyer (no admitted buyer wants more). */
  maxSeatsPerUser?: number;
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
}

const sum = (pairs: [number, number][]) => pairs.reduce((n, [, c]) => n + c, 0);

export function inSession(state: RoomState, now: number): number {
  return sum(state.sessions.filter(([exp]) => exp > now));
}

export function measuredRate(state: RoomState, now: number): number {
  return sum(state.recent.filter(([at]) => at > now - 60_000)) / 60;
}

/**
 * How many to admit now. Nothing before the opening. Sold out when no seat is free and none is
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
  const soldOut = open && inv.available <= 0 && inv.held <= 0;
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
    const byInventory = Math.ceil(inv.available / reserve) - pending;
    const byShoppers = config.maxActiveShoppers - activeShoppers;
    const byPace = Math.ceil((pace * Math.min(PACE_MAX_INTERVAL_MS, elapsed || PACE_MAX_INTERVAL_MS)) / 1_000);
    quota = Math.max(0, Math.min(byInventory, byShoppers, byRate, byPace));
  }
  const heads = state.heads.length ? state.heads : Array.from({ length: config.shards }, () => []);
  const perShard = splitQuota(heads, quota, state.waiting.length ? state.waiting : undefined, state.reportedAt != null ? arrivedBefore(state.reportedAt) : undefined);
  const admitted = perShard.reduce((a, b) => a + b, 0);
  if (config.admitPerMinute !== null) carry -= admitted;
  const measured = measuredRate(state, now);
  const ratePerSecond = measured > 0 ? measured : config.admitPerMinute !== null ? config.admitPerMinute / 60 : Math.max(1, Math.ceil(inv.available / wants) / 60);
  return { open, soldOut, quota: admitted, perShard, ratePerSecond, activeShoppers, carry, pacePerSecond: pace, admissionsUsed: inv.admissionsUsed };
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

/** The state after the shards answered a tick. */
export function afterTick(state: RoomState, decision: TickDecision, reports: TickReport[], now: number): RoomState {
  const sessions = new Map(state.sessions.filter(([exp]) => exp > now));
  let admitted = 0;
  for (const r of reports) {
    admitted += r.admitted;
    for (const exp of r.admittedExpiries) sessions.set(exp, (sessions.get(exp) ?? 0) + 1);
  }
  const recent = state.recent.filter(([at]) => at > now - 60_000);
  if (admitted > 0) recent.push([now, admitted]);
  const sorted = [...reports].sort((a, b) => a.shard - b.shard);
  return {
    opened: state.opened || decision.open,
    soldOut: decision.soldOut,
    admittedTotal: state.admittedTotal + admitted,
    sessions: [...sessions.entries()].sort((a, b) => a[0] - b[0]),
    recent,
    carry: decision.carry,
    lastTickAt: now,
    heads: sorted.map((r) => r.heads),
    sketches: sorted.map((r) => r.sketch),
    waiting: sorted.map((r) => r.waiting),
    reportedAt: sorted.length && sorted.every((r) => Number.isFinite(r.at)) ? Math.min(...sorted.map((r) => r.at)) : null,
    usedAtLastTick: decision.admissionsUsed,
  };
}

/** When the next tick is due: at the opening, then every tickMs while anyone waits or shops. */
export function nextTickAt(config: RoomConfig, state: RoomState, now: number, tickMs: number): number | null {
  if (!config.enabled) return null;
  if (!state.opened) return Math.max(now + 1, config.opensAt);
  const waiting = state.waiting.reduce((a, b) => a + b, 0);
  if (waiting === 0 && inSession(state, now) === 0) return null;
  return now + tickMs;
}
