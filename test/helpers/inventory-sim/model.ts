/**
 * The reference model for the oversell simulation: what the inventory should do, written from the
 * rules (DESIGN.md "The seat lifecycle", API.md) with the plainest data there is. No counters, no
 * caches, no expiry bound: who owns a seat, what a user holds and what is free are recounted from
 * the holds each time. It predicts every answer and every row; ids it cannot know (new holds and
 * entries) it takes from the engine's answer and then holds the engine to them.
 */
import type { HoldStatus, InventoryErrorCode } from "../../../durable-objects/inventory/contract";

export interface ModelConfig {
  seating: "reserved" | "general";
  capacity: number;
  /** Reserved: seat ids in seat order. */
  seatIds: string[];
  maxSeatsPerUser: number;
  holdTtlMs: number;
  offerTtlMs: number;
  salesStartMs: number | null;
  salesEndMs: number;
  /** Ticket types with quotas (several may share a pool) and one voucher (docs/products.md); null = the default type only. */
  products: ModelProducts | null;
}

export interface ModelProducts {
  types: { id: string; quota: number | null; pool: string }[];
  voucher: { id: string; code: string; maxUsages: number };
}

export const DEFAULT_TYPE = "tt_default";

export interface ModelHold {
  id: string;
  userId: string;
  status: HoldStatus;
  seats: string[];
  quantity: number;
  expiresAt: number | null;
  bookingId: string | null;
  key: string | null;
  hash: string;
  /** Kinds recorded in the hold history, in order. */
  history: string[];
  /** Booked again by reconciliation after it ended: outside the per-user cap by design. */
  restored: boolean;
  /** The ticket type of every seat or ticket of the hold. */
  typeId: string;
  /** Whether it takes a usage of the voucher. */
  voucher: boolean;
}

export interface ModelEntry {
  id: string;
  userId: string;
  quantity: number;
  status: "waiting" | "offered" | "expired" | "converted" | "left" | "cancelled";
  holdId: string | null;
}

/** What the engine answered: a code, or ok with the id of the hold or entry it made or touched. */
export type Answer = { ok: true; id: string } | { ok: false; code: InventoryErrorCode };
/** Ids only the engine knows: the hold made for an offered entry. */
export type Oracle = { offeredHoldId(entryId: string): string | null };

/** A difference between the object and the model (or a broken rule); `check` names which, for shrinking. */
export class Mismatch extends Error {
  constructor(readonly check: string, message: string) {
    super(`${check}: ${message}`);
  }
}

const ENDED: ReadonlySet<HoldStatus> = new Set(["released", "expired"]);

export class ReferenceModel {
  readonly holds = new Map<string, ModelHold>();
  /** Holds in creation order (the simulation picks from here). */
  readonly order: ModelHold[] = [];
  /** In arrival order. */
  readonly entries: ModelEntry[] = [];
  /** Ids of holds whose row this step changed (or should have). */
  touched = new Set<string>();
  /** Entries offered during this step, in the order offered. */
  offeredNow: ModelEntry[] = [];
  salesClosed = false;
  /** While the on-sale room is on, the waitlist takes nobody and offers nothing (docs/onsale.md). */
  waitlistClosed = false;
  /** The ticket types and voucher the object should hold now, and their revision (pushes change them). */
  products: ModelProducts | null;
  revision: number;
  /**
   * Per quota pool: what non-restored live holds carried when a push last changed the set. A quota
   * lowered below what is held does not take holds back, so a pool may stay above its new quota
   * until those holds end; it never grows past it.
   */
  readonly ceilings = new Map<string, number>();

  constructor(readonly config: ModelConfig, private readonly oracle: Oracle) {
    this.products = config.products ? structuredClone(config.products) : null;
    this.revision = config.products ? 1 : 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Derived facts

  /** Holds that own seats or places (active, confirming, committed): kept as a set so each step stays cheap. */
  private readonly liveSet = new Set<ModelHold>();

  live(): ModelHold[] {
    return [...this.liveSet];
  }

  /** Seat id -> the live hold that owns it; two owners is the oversell this model exists to catch. */
  owners(): Map<string, ModelHold> {
    const m = new Map<string, ModelHold>();
    for (const h of this.live()) {
      for (const s of h.seats) {
        const other = m.get(s);
        if (other) throw new Mismatch("oversell", `model: seat ${s} in two live holds ${other.id} and ${h.id}`);
        m.set(s, h);
      }
    }
    return m;
  }

  heldAndBooked(): { held: number; booked: number } {
    let held = 0;
    let booked = 0;
    for (const h of this.live()) {
      if (h.status === "committed") booked += h.quantity;
      else held += h.quantity;
    }
    return { held, booked };
  }

  available(): number {
    const { held, booked } = this.heldAndBooked();
    return this.config.capacity - held - booked;
  }

  userTotal(userId: string): number {
    let q = 0;
    for (const h of this.live()) if (h.userId === userId) q += h.quantity;
    return q;
  }

  private salesOpen(now: number): boolean {
    const started = this.config.salesStartMs === null || now >= this.config.salesStartMs;
    return started && !this.salesClosed && now < this.config.salesEndMs;
  }

  // ---------------------------------------------------------------------------------------------
  // Operations: each checks the engine's answer against the prediction, then moves the model.

  /** Tickets live holds carry per quota pool (types without a pool of their own count under their id). */
  poolUsed(pool: string): number {
    let n = 0;
    for (const h of this.live()) if (this.poolOf(h.typeId) === pool) n += h.quantity;
    return n;
  }

  voucherUsages(): number {
    let n = 0;
    for (const h of this.live()) if (h.voucher) n++;
    return n;
  }

  /** Types a push dropped while live holds carried them, in a shared pool: type id -> that pool. */
  readonly retired = new Map<string, string>();

  /** A type's pool in the set held now; a dropped type's holds count in its shared pool, else under its own id. */
  poolOf(typeId: string): string {
    return this.products?.types.find((t) => t.id === typeId)?.pool ?? this.retired.get(typeId) ?? typeId;
  }

  /** Tickets non-restored live holds carry per pool (the quota bound leaves reconciliation's restores out). */
  unrestoredPoolUsed(pool: string): number {
    let n = 0;
    for (const h of this.live()) if (!h.restored && this.poolOf(h.typeId) === pool) n += h.quantity;
    return n;
  }

  /** The room went off: the waitlist is open again and its line gets the seats free now. */
  reopenWaitlist(now: number): void {
    this.waitlistClosed = false;
    this.serve(now);
  }

  /**
   * A push of `set` at `revision`: the object takes it only when the revision is above its own
   * (a stale read or a repeat never replaces a newer set). A set it takes offers the seats free now
   * to the waitlist's line, as seats coming back do (docs/waitlist.md). A type in a shared pool that
   * the set drops while live holds carry it keeps counting in that pool.
   */
  push(set: ModelProducts, revision: number, got: { applied: boolean; revision: number }, now: number): void {
    const applied = revision > this.revision;
    if (got.applied !== applied || got.revision !== (applied ? revision : this.revision)) {
      throw new Mismatch("products push", `push of revision ${revision} over ${this.revision}: the model expects applied ${applied}, the object answered ${JSON.stringify(got)}`);
    }
    if (!applied) return;
    const leaving: [string, string][] = [...(this.products?.types ?? []).filter((t) => t.pool !== t.id).map((t) => [t.id, t.pool] as [string, string]), ...this.retired];
    const retired = leaving.filter(([id]) => !set.types.some((t) => t.id === id) && this.live().some((h) => h.typeId === id));
    this.retired.clear();
    for (const [id, pool] of retired) this.retired.set(id, pool);
    this.products = structuredClone(set);
    this.revision = revision;
    this.ceilings.clear();
    for (const t of set.types) this.ceilings.set(t.pool, this.unrestoredPoolUsed(t.pool));
    this.serve(now);
  }

  hold(userId: string, seats: string[] | null, quantity: number, key: string | null, now: number, got: Answer, typeId = DEFAULT_TYPE, voucher = false): void {
    this.expire(now);
    const plain = typeId === DEFAULT_TYPE && !voucher;
    const hash = (seats ? `s:${[...seats].sort().join(",")}` : `q:${quantity}`) + (plain ? "" : `|${typeId}|${voucher}`);
    const type = this.products?.types.find((t) => t.id === typeId);
    const previous = key === null ? undefined : this.order.find((h) => h.userId === userId && h.key === key);
    let want: Answer | { ok: true; id: null };
    if (previous) want = previous.hash === hash ? { ok: true, id: previous.id } : { ok: false, code: "IDEMPOTENCY_CONFLICT" };
    else if (!this.salesOpen(now)) want = { ok: false, code: "SALES_CLOSED" };
    else if (this.userTotal(userId) + quantity > this.config.maxSeatsPerUser) want = { ok: false, code: "LIMIT_EXCEEDED" };
    else if (seats ? seatsTaken(this.owners(), seats) : quantity > this.available()) want = { ok: false, code: "SEAT_UNAVAILABLE" };
    else if (typeId !== DEFAULT_TYPE && !type) want = { ok: false, code: "VALIDATION_FAILED" };
    else if (type && type.quota !== null && this.poolUsed(type.pool) + quantity > type.quota) want = { ok: false, code: "QUOTA_EXHAUSTED" };
    else if (voucher && this.voucherUsages() >= this.products!.voucher.maxUsages) want = { ok: false, code: "VOUCHER_EXHAUSTED" };
    else want = { ok: true, id: null };
    expectAnswer(`hold by ${userId} of ${seats ? seats.join(",") : quantity}${key ? ` key ${key}` : ""}`, want, got);
    if (!got.ok || previous) return;
    if (this.holds.has(got.id)) throw new Mismatch("hold row", `hold id ${got.id} reused`);
    this.add({ id: got.id, userId, status: "active", seats: seats ?? [], quantity, expiresAt: now + this.config.holdTtlMs, bookingId: null, key, hash, history: ["created"], restored: false, typeId, voucher });
  }

  release(holdId: string, byUserId: string | null, now: number, got: Answer): void {
    this.expire(now);
    const h = this.holds.get(holdId)!;
    let want: Answer;
    if (byUserId !== null && byUserId !== h.userId) want = { ok: false, code: "NOT_FOUND" };
    else if (h.status === "confirming" && byUserId !== null) want = { ok: false, code: "INVALID_STATE" };
    else want = { ok: true, id: holdId };
    expectAnswer(`release of ${holdId} by ${byUserId ?? "the system"}`, want, got);
    if (got.ok && (h.status === "active" || h.status === "confirming")) this.end(h, "released", now);
  }

  beginConfirm(holdId: string, bookingId: string, now: number, got: Answer): void {
    this.expire(now);
    const h = this.holds.get(holdId)!;
    let want: Answer;
    if (ENDED.has(h.status)) want = { ok: false, code: "HOLD_EXPIRED" };
    else if (h.status !== "active") want = h.bookingId === bookingId ? { ok: true, id: holdId } : { ok: false, code: "INVALID_STATE" };
    else want = { ok: true, id: holdId };
    expectAnswer(`beginConfirm of ${holdId} for ${bookingId}`, want, got);
    if (got.ok && h.status === "active") {
      h.status = "confirming";
      h.expiresAt = null;
      h.bookingId = bookingId;
      this.touched.add(h.id);
      // An offered entry stays offered while its user pays.
    }
  }

  commit(holdId: string, bookingId: string, now: number, got: Answer): void {
    this.expire(now);
    const h = this.holds.get(holdId)!;
    let want: Answer;
    if (h.bookingId !== bookingId) want = { ok: false, code: ENDED.has(h.status) ? "HOLD_EXPIRED" : "INVALID_STATE" };
    else if (h.status === "committed") want = { ok: true, id: holdId };
    else if (ENDED.has(h.status)) want = { ok: false, code: "HOLD_EXPIRED" };
    else want = { ok: true, id: holdId };
    expectAnswer(`commit of ${holdId} for ${bookingId}`, want, got);
    if (got.ok && h.status === "confirming") {
      h.status = "committed";
      h.history.push("committed");
      this.touched.add(h.id);
      const e = this.entries.find((x) => x.holdId === h.id && x.status === "offered");
      if (e) e.status = "converted";
    }
  }

  /** Reconciliation: Postgres has this booking confirmed; an ended hold is booked again if its seats are free. */
  restore(holdId: string, bookingId: string, now: number, got: Answer): void {
    this.expire(now);
    const h = this.holds.get(holdId)!;
    const owners = this.owners();
    const free = this.config.seating === "reserved" ? !seatsTaken(owners, h.seats) : this.available() >= h.quantity;
    let want: Answer;
    if (h.bookingId !== bookingId || h.status === "active") want = { ok: false, code: "INVALID_STATE" };
    else if (ENDED.has(h.status) && !free) want = { ok: false, code: "SEAT_UNAVAILABLE" };
    else want = { ok: true, id: holdId };
    expectAnswer(`restoreBooking of ${holdId} for ${bookingId}`, want, got);
    if (!got.ok || h.status === "committed") return;
    if (h.status === "confirming") {
      this.commit(holdId, bookingId, now, got);
      return;
    }
    h.status = "committed";
    h.restored = true;
    h.history.push("committed");
    this.liveSet.add(h);
    this.touched.add(h.id);
  }

  returnSeats(holdId: string, bookingId: string, now: number, got: Answer): void {
    this.expire(now);
    const h = this.holds.get(holdId)!;
    let want: Answer;
    if (h.bookingId !== bookingId) want = { ok: false, code: "INVALID_STATE" };
    else if (h.status === "released") want = { ok: true, id: holdId };
    else if (h.status !== "committed") want = { ok: false, code: "INVALID_STATE" };
    else want = { ok: true, id: holdId };
    expectAnswer(`returnSeats of ${holdId} for ${bookingId}`, want, got);
    if (got.ok && h.status === "committed") this.end(h, "released", now);
  }

  closeSales(now: number): void {
    this.salesClosed = true;
    this.expire(now);
    // The line ends with the sales: everyone waiting, and every offer not being booked.
    for (const e of this.entries) {
      if (e.status === "waiting" || (e.status === "offered" && this.holds.get(e.holdId!)!.status === "active")) e.status = "cancelled";
    }
    for (const h of this.live().sort(byId)) if (h.status === "active") this.end(h, "released", now);
  }

  join(userId: string, quantity: number, now: number, got: Answer): void {
    // Refused before anything else, holds due included (they expire at the next call that looks).
    if (this.waitlistClosed) return expectAnswer(`waitlist join by ${userId} for ${quantity}`, { ok: false, code: "WAITLIST_CLOSED" }, got);
    this.expire(now);
    const existing = this.entries.find((e) => e.userId === userId && (e.status === "waiting" || e.status === "offered"));
    let want: Answer | { ok: true; id: null };
    if (existing) want = { ok: true, id: existing.id };
    else if (!this.salesOpen(now)) want = { ok: false, code: "SALES_CLOSED" };
    else if (quantity > this.config.capacity || this.userTotal(userId) + quantity > this.config.maxSeatsPerUser) want = { ok: false, code: "LIMIT_EXCEEDED" };
    else if (quantity <= this.available()) want = { ok: false, code: "SEATS_AVAILABLE" };
    else want = { ok: true, id: null };
    expectAnswer(`waitlist join by ${userId} for ${quantity}`, want, got);
    if (got.ok && !existing) this.entries.push({ id: got.id, userId, quantity, status: "waiting", holdId: null });
  }

  leave(userId: string, now: number, got: Answer): void {
    this.expire(now);
    let latest: ModelEntry | undefined;
    for (const e of this.entries) if (e.userId === userId) latest = e;
    let want: Answer;
    if (!latest) want = { ok: false, code: "NOT_FOUND" };
    else if (latest.status === "offered" && this.holds.get(latest.holdId!)!.status === "confirming") want = { ok: false, code: "INVALID_STATE" };
    else want = { ok: true, id: latest.id };
    expectAnswer(`waitlist leave by ${userId}`, want, got);
    if (!got.ok || !latest) return;
    if (latest.status === "waiting") {
      latest.status = "left";
      // The queue's head may have changed: whoever is first now is served if the seats are there.
      this.serve(now);
    } else if (latest.status === "offered") {
      this.end(this.holds.get(latest.holdId!)!, "released", now);
    }
  }

  /** Every active hold whose time is up expires, earliest first (ties by id), each giving its seats to the queue. */
  expire(now: number): void {
    const due = this.live().filter((h) => h.status === "active" && h.expiresAt! <= now).sort((a, b) => a.expiresAt! - b.expiresAt! || byId(a, b));
    for (const h of due) this.end(h, "expired", now);
  }

  // ---------------------------------------------------------------------------------------------

  private add(h: ModelHold): void {
    this.holds.set(h.id, h);
    this.order.push(h);
    this.liveSet.add(h);
    this.touched.add(h.id);
  }

  /** A live hold ends (or committed seats come back); its seats go to the waitlist first. */
  private end(h: ModelHold, status: "released" | "expired", now: number): void {
    const from = h.status;
    h.status = status;
    h.expiresAt = null;
    h.history.push(status);
    this.liveSet.delete(h);
    this.touched.add(h.id);
    const e = this.entries.find((x) => x.holdId === h.id && x.status === "offered");
    if (e) e.status = status === "expired" || from === "confirming" ? "expired" : "left";
    this.serve(now);
  }

  /** Strict arrival order: the first waiting entry is served if it fits, else nobody behind it is. */
  private serve(now: number): void {
    for (;;) {
      const head = this.entries.find((e) => e.status === "waiting");
      if (!head || !this.salesOpen(now) || this.waitlistClosed) return;
      if (this.userTotal(head.userId) + head.quantity > this.config.maxSeatsPerUser) {
        head.status = "expired";
        continue;
      }
      if (head.quantity > this.available()) return;
      const id = this.oracle.offeredHoldId(head.id);
      if (id === null) throw new Mismatch("waitlist served", `waitlist entry ${head.id} of ${head.userId} should have been offered ${head.quantity} seats`);
      if (this.holds.has(id)) throw new Mismatch("hold row", `offer for ${head.id} reuses hold id ${id}`);
      let seats: string[] = [];
      if (this.config.seating === "reserved") {
        const owned = this.owners();
        seats = this.config.seatIds.filter((s) => !owned.has(s)).slice(0, head.quantity);
      }
      head.status = "offered";
      head.holdId = id;
      this.offeredNow.push(head);
      this.add({ id, userId: head.userId, status: "active", seats, quantity: head.quantity, expiresAt: now + this.config.offerTtlMs, bookingId: null, key: null, hash: `w:${head.id}`, history: ["created"], restored: false, typeId: DEFAULT_TYPE, voucher: false });
    }
  }
}

const seatsTaken = (owners: Map<string, ModelHold>, seats: string[]) => seats.some((s) => owners.has(s));

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function expectAnswer(what: string, want: Answer | { ok: true; id: null }, got: Answer): void {
  const same = want.ok && got.ok ? want.id === null || want.id === got.id : !want.ok && !got.ok && want.code === got.code;
  if (!same) {
    const show = (a: Answer | { ok: true; id: null }) => (a.ok ? `ok${a.id ? ` ${a.id}` : ""}` : a.code);
    throw new Mismatch("answer", `${what}: the model expects ${show(want)}, the object answered ${show(got)}`);
  }
}
