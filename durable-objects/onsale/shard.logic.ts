/**
 * One queue shard's places (docs/onsale.md), runtime-independent: joins, the opening's shuffle of
 * early arrivals, positions, picking the head for admission and what each visitor is told. The
 * QueueShard object (../queue-shard.ts) is a thin shell: storage, signing, sockets.
 */
import { aheadIn, earlyKey, lateKey, makeSketch, type Sketch } from "./order";

export interface ShardConfig {
  eventId: string;
  shard: number;
  shards: number;
  /** Epoch ms. */
  opensAt: number;
  shopperSessionSeconds: number;
  /** False once the organizer ended on-sale mode: nobody joins, nobody is admitted. */
  enabled: boolean;
  /** The room's on-sale (RoomConfig.generation): a new one empties the shard. */
  generation?: number;
}

export interface Visitor {
  userId: string;
  seq: number;
  joinedAt: number;
  early: boolean;
  /** Order key (order.ts); null for an early arrival until the opening's draw. */
  key: number | null;
  status: "waiting" | "admitted";
  admittedAt: number | null;
  expiresAt: number | null;
  token: string | null;
  /** The coordinator's tick that admitted this visitor (null while waiting, and in rows of before). */
  admitTick?: number | null;
}

/**
 * Where a shard keeps the visitors it does not hold in memory (the object's SQLite): only waiting
 * visitors stay in memory, admitted ones are read back when asked for.
 */
export interface VisitorStore {
  find(userId: string): Visitor | undefined;
  admittedSince(since: number): Visitor[];
}

export type VisitorView =
  | { status: "waiting"; position: number | null; estimatedWaitSeconds: number; opensAt: string }
  | { status: "admitted"; admission: { token: string; expiresAt: string } }
  | { status: "expired" }
  | { status: "sold_out"; waitlist?: string };

/** What the coordinator hands a shard every tick. */
export interface TickOrder {
  /** The room's opening time has come: draw the early arrivals' order (once). */
  open: boolean;
  /** How many of its head to admit now. */
  admit: number;
  soldOut: boolean;
  /** Where sold-out visitors can queue for returned seats (the event's waitlist), if any. */
  waitlist?: string;
  /** Every shard's sketch from the previous tick (this shard's own is ignored). */
  sketches: Sketch[];
  /** Admissions per second the room is running at, for wait estimates. */
  ratePerSecond: number;
  /** The coordinator's time of this tick (epoch ms): the admission time of everyone it admits, on every shard. */
  at?: number;
  /** The tick's number: the shard tags its admissions with it. */
  seq?: number;
  /** The last tick whose report the coordinator recorded from this shard: every later admission is reported. */
  ackedThrough?: number;
  /** The on-sale the order is for; a shard configured for another one refuses it. */
  generation?: number;
}

/** What a shard reports back. */
export interface TickReport {
  shard: number;
  waiting: number;
  admitted: number;
  /** Expiry (epoch ms) of each admission made this tick. */
  admittedExpiries: number[];
  /** Admissions of earlier ticks the coordinator has not recorded (its object stopped, or the answer was lost): [tick, expiry]. */
  earlier?: [number, number][];
  /** The lowest waiting keys, for the next tick's cut. */
  heads: number[];
  /** When this shard took the tick (its clock, epoch ms): everyone who joined before is in `heads` or `waiting`. */
  at: number;
  sketch: Sketch;
}

export type JoinResult = { ok: true; visitor: Visitor; created: boolean } | { ok: false; code: "NO_QUEUE"; message: string };

const byKey = (a: Visitor, b: Visitor) => (a.key! - b.key!) || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);

export class ShardEngine {
  config: ShardConfig | null = null;
  opened = false;
  soldOut = false;
  waitlist: string | undefined;
  ratePerSecond = 0;
  private lastSeq = 0;
  /** Every visitor without a store; with one, only those waiting. */
  private readonly visitors = new Map<string, Visitor>();

  constructor(private readonly store?: VisitorStore) {}
  /** Ranked waiting visitors, lowest key first. */
  private waiting: Visitor[] = [];
  /** Early arrivals before the draw. */
  private unranked: Visitor[] = [];
  private others: Sketch[] = [];

  /** `visitors`: every visitor, or with a store only those waiting; `lastSeq`: the highest sequence given out (with a store). */
  load(config: ShardConfig | null, opened: boolean, visitors: Visitor[], lastSeq = 0): void {
    this.config = config;
    this.opened = opened;
    this.visitors.clear();
    this.waiting = [];
    this.unranked = [];
    this.lastSeq = lastSeq;
    for (const v of visitors) {
      this.lastSeq = Math.max(this.lastSeq, v.seq);
      if (v.status !== "waiting" && this.store) continue;
      this.visitors.set(v.userId, v);
      if (v.status !== "waiting") continue;
      if (v.key === null) this.unranked.push(v);
      else this.waiting.push(v);
    }
    this.waiting.sort(byKey);
  }

  get waitingCount(): number {
    return this.waiting.length + this.unranked.length;
  }

  get visitorCount(): number {
    return this.visitors.size;
  }

  /** One place per user: a second join answers the first place as it is now. */
  join(userId: string, now: number): JoinResult {
    const existing = this.visitor(userId);
    if (existing) return { ok: true, visitor: existing, created: false };
    if (!this.config?.enabled) return { ok: false, code: "NO_QUEUE", message: "This event has no waiting room open" };
    const seq = ++this.lastSeq;
    const early = !this.opened && now < this.config.opensAt;
    const v: Visitor = { userId, seq, joinedAt: now, early, key: early ? null : lateKey(now, seq), status: "waiting", admittedAt: null, expiresAt: null, token: null };
    this.visitors.set(userId, v);
    if (v.key === null) this.unranked.push(v);
    else this.insertRanked(v);
    return { ok: true, visitor: v, created: true };
  }

  private insertRanked(v: Visitor): void {
    // Late keys mostly grow with time: usually an append.
    let i = this.waiting.length;
    while (i > 0 && byKey(this.waiting[i - 1], v) > 0) i--;
    this.waiting.splice(i, 0, v);
  }

  /** The opening's draw: every early arrival gets a uniform random key, once. Answers the visitors changed. */
  open(random: () => number): Visitor[] {
    if (this.opened) return [];
    this.opened = true;
    const drawn = this.unranked;
    for (const v of drawn) v.key = earlyKey(random);
    this.unranked = [];
    this.waiting.push(...drawn);
    this.waiting.sort(byKey);
    return drawn;
  }

  /** Applies the coordinator's order except admission; answers whom to admit (the shell signs their tokens). */
  takeOrder(order: TickOrder, random: () => number): { drawn: Visitor[]; toAdmit: Visitor[] } {
    const drawn = order.open ? this.open(random) : [];
    this.soldOut = order.soldOut;
    this.waitlist = order.waitlist;
    this.ratePerSecond = order.ratePerSecond;
    this.others = this.config ? order.sketches.filter((s) => s.shard !== this.config!.shard) : [];
    const admit = this.config?.enabled && this.opened && !order.soldOut ? Math.min(order.admit, this.waiting.length) : 0;
    return { drawn, toAdmit: this.waiting.slice(0, admit) };
  }

  /** Session end for an admission made at `now`, whole seconds (the token's `exp` has second precision). */
  sessionEnd(now: number): number {
    return Math.floor(now / 1000) * 1000 + this.config!.shopperSessionSeconds * 1000;
  }

  admit(v: Visitor, token: string, now: number, expiresAt: number, tick: number | null = null): void {
    const i = this.waiting.indexOf(v);
    if (i >= 0) this.waiting.splice(i, 1);
    Object.assign(v, { status: "admitted", admittedAt: now, expiresAt, token, admitTick: tick });
    // The store has it from now on (the shell wrote it in the same transaction).
    if (this.store) this.visitors.delete(v.userId);
  }

  /** What the coordinator needs for the next tick; `at` is when this shard took the tick (before any join it let in meanwhile). */
  report(admitted: Visitor[], headLimit: number, at: number): TickReport {
    const keys = this.waiting.map((v) => v.key!);
    return {
      shard: this.config?.shard ?? 0,
      at,
      waiting: this.waitingCount,
      admitted: admitted.length,
      admittedExpiries: admitted.map((v) => v.expiresAt!),
      heads: keys.slice(0, headLimit),
      sketch: makeSketch(this.config?.shard ?? 0, keys),
    };
  }

  visitor(userId: string): Visitor | undefined {
    return this.visitors.get(userId) ?? this.store?.find(userId);
  }

  /** 1-based place across every shard: exact here, from the others' sketches there. Null before the draw. */
  position(v: Visitor): number | null {
    if (v.status !== "waiting" || v.key === null) return null;
    let lo = 0;
    let hi = this.waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (byKey(this.waiting[mid], v) < 0) lo = mid + 1;
      else hi = mid;
    }
    let ahead = lo;
    for (const s of this.others) ahead += aheadIn(s, v.key);
    return ahead + 1;
  }

  view(v: Visitor, now: number): VisitorView {
    if (v.status === "admitted") {
      if (now >= v.expiresAt!) return { status: "expired" };
      return { status: "admitted", admission: { token: v.token!, expiresAt: new Date(v.expiresAt!).toISOString() } };
    }
    if (this.soldOut) return { status: "sold_out", ...(this.waitlist ? { waitlist: this.waitlist } : {}) };
    const position = this.position(v);
    const opensAt = this.config!.opensAt;
    const untilOpen = Math.max(0, opensAt - now) / 1000;
    const rate = this.ratePerSecond > 0 ? this.ratePerSecond : 1;
    const estimatedWaitSeconds = Math.ceil(untilOpen + (position ?? this.waitingCount) / rate);
    return { status: "waiting", position, estimatedWaitSeconds, opensAt: new Date(opensAt).toISOString() };
  }

  /** Visitors admitted at or after `since` (epoch ms), for reports and the bench. */
  admittedSince(since: number): Visitor[] {
    if (this.store) return this.store.admittedSince(since);
    return [...this.visitors.values()].filter((v) => v.status === "admitted" && v.admittedAt! >= since);
  }

  /** Waiting visitors in order (for pushing positions to their sockets). */
  waitingVisitors(): readonly Visitor[] {
    return [...this.waiting, ...this.unranked];
  }
}
