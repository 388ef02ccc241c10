/**
 * An in-memory twin of the EventInventory object (durable-objects/event-inventory.ts) for the
 * oversell simulation: the same decide* functions applied the way the class applies them (expire
 * first, read rows, decide, write, then the waitlist in the same "transaction"), with the same
 * in-memory shortcuts the class keeps (counters, per-user totals, the expiry lower bound, the
 * waiting count and offered set), so a defect in either the decisions or the way the class applies
 * them shows up here. Tables are plain rows; `rows()`/`EngineTwin.restore()` are the restart.
 * Keep it in step with the class: each method names the class method it mirrors.
 */
import {
  counterDelta,
  decideBeginConfirm,
  decideCommit,
  decideExpire,
  decideHold,
  decideRelease,
  decideRestore,
  decideReturnSeats,
  fail,
  makeHoldId,
  ok,
  parseHoldRequest,
  type HistoryKind,
  type HoldRow,
  type InventoryConfig,
  type SeatChange,
  type SeatRow,
  type Transition,
} from "../../../durable-objects/event-inventory.logic";
import {
  decideJoin,
  decideLeave,
  decideOffer,
  entryAfterHold,
  type WaitlistEntryRow,
} from "../../../durable-objects/event-inventory.waitlist.logic";
import type { HoldRequest, HoldStatus, InventoryResult, SeatStatus } from "../../../durable-objects/event-inventory.types";

export interface SeatTableRow {
  id: string;
  priceCents: number;
  status: SeatStatus;
  holdId: string | null;
}

export type StoredHold = HoldRow & { updatedAt: number };

export interface HistoryRow {
  holdId: string;
  kind: HistoryKind;
  userId: string;
  quantity: number;
  at: number;
}

/** Everything the object keeps in SQLite: what survives a restart. */
export interface EngineRows {
  config: InventoryConfig;
  held: number;
  booked: number;
  /** In `ord` order. */
  seats: SeatTableRow[];
  holds: StoredHold[];
  outbox: HistoryRow[];
  /** In `seq` order. */
  waitlist: WaitlistEntryRow[];
  waitlistSeq: number;
  notifications: { entryId: string; holdId: string }[];
  /** Stands in for randomness in `newId`: ids must be replayable from the seed. */
  idCounter: number;
}

/** The SQLite constraints of event-inventory.sql.ts, or a failed write, as a thrown error (a found defect). */
export class ConstraintViolation extends Error {}

export class EngineTwin {
  private config: InventoryConfig;
  private held = 0;
  private booked = 0;
  /** The `inventory` row's counters: written for general admission only, read back on load. */
  private stored: { held: number; booked: number };
  private readonly seats: SeatTableRow[];
  private readonly seatById = new Map<string, SeatTableRow>();
  readonly holds = new Map<string, StoredHold>();
  /** Holds with status active: the `holds_expiry_idx` partial index. */
  private readonly activeIds = new Set<string>();
  readonly outbox: HistoryRow[];
  readonly waitlist: WaitlistEntryRow[];
  private waitlistSeq: number;
  readonly notifications: { entryId: string; holdId: string }[];
  private idCounter: number;
  // In-memory state of the class, rebuilt by load() on a restart.
  private readonly userTotals = new Map<string, number>();
  private nextExpiry: number | null = null;
  private waitingCount = 0;
  private readonly offeredHolds = new Set<string>();
  /** Hold ids written since the last `takeWritten()`: lets the checker compare only what moved. */
  private written = new Set<string>();

  constructor(rows: EngineRows) {
    this.config = rows.config;
    this.stored = { held: rows.held, booked: rows.booked };
    this.held = rows.held;
    this.booked = rows.booked;
    this.seats = rows.seats;
    for (const s of this.seats) this.seatById.set(s.id, s);
    for (const h of rows.holds) {
      this.holds.set(h.id, h);
      if (h.status === "active") this.activeIds.add(h.id);
    }
    this.outbox = rows.outbox;
    this.waitlist = rows.waitlist;
    this.waitlistSeq = rows.waitlistSeq;
    this.notifications = rows.notifications;
    this.idCounter = rows.idCounter;
    this.load();
  }

  /** The rows of a freshly initialized object. */
  static initialRows(config: InventoryConfig, seats: { id: string; priceCents: number }[]): EngineRows {
    return {
      config,
      held: 0,
      booked: 0,
      seats: seats.map((s) => ({ id: s.id, priceCents: s.priceCents, status: "available", holdId: null })),
      holds: [],
      outbox: [],
      waitlist: [],
      waitlistSeq: 0,
      notifications: [],
      idCounter: 0,
    };
  }

  /** The stored rows (a deep copy through JSON, as SQLite would give them back): `new EngineTwin(JSON.parse(...))` is a restart. */
  serialize(): string {
    const rows: EngineRows = {
      config: this.config,
      held: this.stored.held,
      booked: this.stored.booked,
      seats: this.seats,
      holds: [...this.holds.values()],
      outbox: this.outbox,
      waitlist: this.waitlist,
      waitlistSeq: this.waitlistSeq,
      notifications: this.notifications,
      idCounter: this.idCounter,
    };
    return JSON.stringify(rows);
  }

  /** `load()` + `loadWaitlist()` of the class. */
  private load(): void {
    if (this.config.seating === "reserved") {
      this.held = this.seats.filter((s) => s.status === "held").length;
      this.booked = this.seats.filter((s) => s.status === "booked").length;
    }
    this.nextExpiry = this.earliestExpiry();
    this.waitingCount = this.waitlist.filter((e) => e.status === "waiting").length;
    this.offeredHolds.clear();
    for (const e of this.waitlist) if (e.status === "offered") this.offeredHolds.add(e.holdId!);
  }

  // ---------------------------------------------------------------------------------------------
  // Views for the checker

  get configNow(): InventoryConfig {
    return this.config;
  }

  counters(): { held: number; booked: number } {
    return { held: this.held, booked: this.booked };
  }

  seatRows(): readonly SeatTableRow[] {
    return this.seats;
  }

  /** The cached per-user total, if the class would have one. */
  cachedUserTotal(userId: string): number | undefined {
    return this.userTotals.get(userId);
  }

  takeWritten(): Set<string> {
    const w = this.written;
    this.written = new Set();
    return w;
  }

  // ---------------------------------------------------------------------------------------------
  // RPC

  private newHoldId(): string {
    this.idCounter++;
    return makeHoldId(this.config.eventId, this.idCounter.toString(36).padStart(20, "0"));
  }

  hold(userId: string, req: HoldRequest, idempotencyKey: string | null, now: number): InventoryResult<HoldRow> {
    const config = this.config;
    this.expireDue(now);
    const parsed = parseHoldRequest(req, config, idempotencyKey ?? null);
    if (!parsed.ok) return parsed;
    const previous = idempotencyKey ? this.holdByKey(userId, idempotencyKey) : null;
    const decision = decideHold({
      config,
      now,
      userId,
      req: parsed.value,
      idempotencyKey: idempotencyKey ?? null,
      previous,
      seats: parsed.value.kind === "seats" && !previous ? this.readSeats(parsed.value.seatIds) : [],
      userQuantity: previous ? 0 : this.userQuantity(userId),
      available: config.capacity - this.held - this.booked,
      newHoldId: this.newHoldId(),
    });
    if (!decision.ok) return decision;
    const { hold } = decision.value;
    if (decision.value.kind === "create") {
      if (idempotencyKey && this.holdByKey(userId, idempotencyKey)) throw new ConstraintViolation("holds_idempotency_uq");
      this.insertHold(hold, now);
      this.takeSeats(hold.id, decision.value.changes);
      this.moveCounters(null, hold);
      this.recordHistory(hold, "created", now);
      if (this.nextExpiry === null || hold.expiresAt! < this.nextExpiry) this.nextExpiry = hold.expiresAt;
    }
    return ok(hold);
  }

  release(holdId: string, byUserId: string | null, now: number): InventoryResult<HoldRow> {
    return this.transition(holdId, (h) => decideRelease(h, byUserId), now);
  }

  beginConfirm(holdId: string, bookingId: string, now: number): InventoryResult<HoldRow> {
    return this.transition(holdId, (h) => decideBeginConfirm(h, bookingId), now);
  }

  commit(holdId: string, bookingId: string, now: number): InventoryResult<HoldRow> {
    return this.transition(holdId, (h) => decideCommit(h, bookingId), now);
  }

  returnSeats(holdId: string, bookingId: string, now: number): InventoryResult<HoldRow> {
    return this.transition(holdId, (h) => decideReturnSeats(h, bookingId), now);
  }

  restoreBooking(holdId: string, bookingId: string, now: number): InventoryResult<HoldRow> {
    const config = this.config;
    this.expireDue(now);
    const hold = this.holdById(holdId);
    if (!hold) return fail("NOT_FOUND", "No such hold");
    const seatRows = config.seating === "reserved" && hold.seats.length ? this.readSeats(hold.seats.map((x) => x.id)) : [];
    const t = decideRestore(hold, bookingId, seatRows, config.capacity - this.held - this.booked, config.seating);
    if (!t.ok) return t;
    if (t.value.changed && (hold.status === "released" || hold.status === "expired")) this.takeSeats(hold.id, t.value.changes);
    this.apply(hold, t.value, now);
    return ok(t.value.hold);
  }

  /** `closeSales`: the event is cancelled; every active hold is released. */
  closeSales(now: number): void {
    if (this.config.cancelledMs === undefined) {
      this.config = { ...this.config, salesEndMs: Math.min(this.config.salesEndMs, now), cancelledMs: now };
    }
    this.expireDue(now);
    const open = [...this.activeIds].sort().map((id) => this.holds.get(id)!);
    for (const hold of open) {
      const t = decideRelease(hold, null);
      if (t.ok) this.apply(hold, t.value, now);
    }
  }

  /** `alarm`'s expiry part (the relays leave the object and are not simulated). */
  alarm(now: number): void {
    this.expireDue(now);
  }

  joinWaitlist(userId: string, quantity: number, now: number): InventoryResult<{ entry: WaitlistEntryRow; created: boolean }> {
    const config = this.config;
    this.expireDue(now);
    const d = decideJoin({
      config,
      now,
      userId,
      quantity,
      existing: this.activeEntry(userId),
      userQuantity: this.userQuantity(userId),
      available: config.capacity - this.held - this.booked,
      newEntryId: `wl_${++this.idCounter}`,
    });
    if (!d.ok) return d;
    if (d.value.kind === "existing") return ok({ entry: d.value.entry, created: false });
    const entry = { ...d.value.entry, seq: ++this.waitlistSeq };
    this.checkEntry(entry);
    this.waitlist.push(entry);
    this.waitingCount++;
    return ok({ entry, created: true });
  }

  leaveWaitlist(userId: string, now: number): InventoryResult<WaitlistEntryRow> {
    this.expireDue(now);
    const entry = this.latestEntry(userId);
    if (!entry) return fail("NOT_FOUND", "You are not on this event's waitlist");
    const d = decideLeave(entry, now);
    if (d.kind === "left") {
      this.writeEntry(d.entry);
      this.waitingCount--;
      this.offerToQueue(now);
    } else if (d.kind === "release-offer") {
      const r = this.transition(d.holdId, (h) => decideRelease(h, userId), now);
      if (!r.ok) return r;
    }
    return ok(this.waitlist.find((e) => e.id === entry.id)!);
  }

  // ---------------------------------------------------------------------------------------------
  // Expiry and transitions

  /** `expireDue`: skipped while `now` is before the lower bound of the earliest expiry. */
  private expireDue(now: number): void {
    if (this.nextExpiry === null || now < this.nextExpiry) return;
    const due = [...this.activeIds]
      .map((id) => this.holds.get(id)!)
      .filter((h) => h.expiresAt !== null && h.expiresAt <= now)
      // ORDER BY expires_at over an index keyed (expires_at, id).
      .sort((a, b) => a.expiresAt! - b.expiresAt! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const h of due) {
      // The class reads the batch once, then applies each row as read (an offer made meanwhile is not due yet).
      this.apply(h, decideExpire(h, now), now);
    }
    this.nextExpiry = this.earliestExpiry();
  }

  private earliestExpiry(): number | null {
    let min: number | null = null;
    for (const id of this.activeIds) {
      const t = this.holds.get(id)!.expiresAt;
      if (t !== null && (min === null || t < min)) min = t;
    }
    return min;
  }

  private transition(holdId: string, decide: (h: HoldRow) => InventoryResult<Transition>, now: number): InventoryResult<HoldRow> {
    this.expireDue(now);
    const hold = this.holdById(holdId);
    if (!hold) return fail("NOT_FOUND", "No such hold");
    const t = decide(hold);
    if (!t.ok) return t;
    this.apply(hold, t.value, now);
    return ok(t.value.hold);
  }

  private apply(before: HoldRow, t: Transition, now: number): void {
    if (!t.changed) return;
    const h = t.hold;
    const stored = this.holds.get(h.id)!;
    this.writeHold({ ...stored, status: h.status, expiresAt: h.expiresAt, bookingId: h.bookingId, updatedAt: now });
    const to = t.changes[0]?.status;
    if (to === "available") {
      for (const s of this.seats) if (s.holdId === h.id) Object.assign(s, { status: "available", holdId: null });
    } else if (to === "booked") {
      for (const s of this.seats) if (s.holdId === h.id) s.status = "booked";
    }
    this.moveCounters(before.status, h);
    if (t.history) this.recordHistory(h, t.history, now);
    this.waitlistAfter(before, h, now);
  }

  private takeSeats(holdId: string, changes: SeatChange[]): void {
    if (changes.length === 0) return;
    let taken = 0;
    for (const c of changes) {
      const s = this.seatById.get(c.id);
      if (s && s.status === "available") {
        s.status = "held";
        s.holdId = holdId;
        taken++;
      }
    }
    if (taken !== changes.length) throw new ConstraintViolation(`hold ${holdId}: seats changed under a decided hold`);
  }

  private moveCounters(from: HoldStatus | null, to: HoldRow): void {
    const d = counterDelta(from, to.status, to.quantity);
    if (d.held === 0 && d.booked === 0) return;
    if (this.config.seating !== "reserved") {
      const next = { held: this.stored.held + d.held, booked: this.stored.booked + d.booked };
      // The stored counters' CHECK, a last line against overselling.
      if (next.held < 0 || next.booked < 0 || next.held + next.booked > this.config.capacity) {
        throw new ConstraintViolation(`inventory counters out of bounds: held ${next.held}, booked ${next.booked}`);
      }
      this.stored = next;
    }
    this.held += d.held;
    this.booked += d.booked;
    const total = this.userTotals.get(to.userId);
    if (total !== undefined) this.userTotals.set(to.userId, total + d.held + d.booked);
  }

  private recordHistory(h: HoldRow, kind: HistoryKind, now: number): void {
    this.outbox.push({ holdId: h.id, kind, userId: h.userId, quantity: h.quantity, at: now });
  }

  // ---------------------------------------------------------------------------------------------
  // Waitlist

  private waitlistAfter(before: HoldRow, after: HoldRow, now: number): void {
    if (this.waitingCount === 0 && this.offeredHolds.size === 0) return;
    if (this.offeredHolds.has(after.id)) {
      const entry = this.waitlist.find((e) => e.holdId === after.id) ?? null;
      const next = entry && entryAfterHold(entry, before.status, after.status, now);
      if (next) {
        this.writeEntry(next);
        this.offeredHolds.delete(after.id);
      }
    }
    const d = counterDelta(before.status, after.status, after.quantity);
    if (d.held + d.booked < 0) this.offerToQueue(now);
  }

  private offerToQueue(now: number): void {
    const config = this.config;
    while (this.waitingCount > 0) {
      const row = this.waitlist.find((e) => e.status === "waiting");
      if (!row) {
        this.waitingCount = 0;
        return;
      }
      const head = { ...row };
      const available = config.capacity - this.held - this.booked;
      const d = decideOffer({
        config,
        now,
        head,
        available,
        seats: config.seating === "reserved" && head.quantity <= available ? this.firstAvailableSeats(head.quantity) : [],
        userQuantity: this.userQuantity(head.userId),
        newHoldId: this.newHoldId(),
      });
      if (d.kind === "wait") return;
      this.waitingCount--;
      this.writeEntry(d.entry);
      if (d.kind === "close") continue;
      const { hold } = d;
      this.insertHold(hold, now);
      for (const c of d.changes) {
        const s = this.seatById.get(c.id)!;
        if (s.status === "available") Object.assign(s, { status: "held", holdId: hold.id });
      }
      this.moveCounters(null, hold);
      this.recordHistory(hold, "created", now);
      this.notifications.push({ entryId: d.entry.id, holdId: hold.id });
      this.offeredHolds.add(hold.id);
      if (this.nextExpiry === null || hold.expiresAt! < this.nextExpiry) this.nextExpiry = hold.expiresAt;
    }
  }

  private firstAvailableSeats(n: number): SeatRow[] {
    const out: SeatRow[] = [];
    for (const s of this.seats) {
      if (out.length === n) break;
      if (s.status === "available") out.push({ id: s.id, priceCents: s.priceCents, status: s.status });
    }
    return out;
  }

  private writeEntry(e: WaitlistEntryRow): void {
    const i = this.waitlist.findIndex((x) => x.id === e.id);
    const next = { ...this.waitlist[i], status: e.status, holdId: e.holdId, offeredAt: e.offeredAt, offerExpiresAt: e.offerExpiresAt, updatedAt: e.updatedAt };
    this.checkEntry(next, i);
    this.waitlist[i] = next;
  }

  /** The waitlist table's CHECK and unique indexes. */
  private checkEntry(e: WaitlistEntryRow, at = -1): void {
    if (!((e.status === "waiting") === (e.holdId === null) || e.status === "expired" || e.status === "left")) {
      throw new ConstraintViolation(`waitlist CHECK: entry ${e.id} ${e.status} with hold ${e.holdId}`);
    }
    const active = (s: string) => s === "waiting" || s === "offered";
    this.waitlist.forEach((x, i) => {
      if (i === at) return;
      if (active(e.status) && active(x.status) && x.userId === e.userId) throw new ConstraintViolation(`waitlist_active_user_uq: ${e.userId}`);
      if (e.holdId !== null && x.holdId === e.holdId) throw new ConstraintViolation(`waitlist_hold_uq: ${e.holdId}`);
    });
  }

  private activeEntry(userId: string): WaitlistEntryRow | null {
    return this.waitlist.find((e) => e.userId === userId && (e.status === "waiting" || e.status === "offered")) ?? null;
  }

  private latestEntry(userId: string): WaitlistEntryRow | null {
    for (let i = this.waitlist.length - 1; i >= 0; i--) if (this.waitlist[i].userId === userId) return this.waitlist[i];
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Rows

  private insertHold(hold: HoldRow, now: number): void {
    if (this.holds.has(hold.id)) throw new ConstraintViolation(`holds primary key: ${hold.id}`);
    if (!(hold.quantity > 0) || !(hold.totalCents >= 0)) throw new ConstraintViolation(`holds CHECK: ${hold.id}`);
    this.writeHold({ ...hold, createdAt: now, updatedAt: now });
  }

  private writeHold(h: StoredHold): void {
    this.holds.set(h.id, h);
    if (h.status === "active") this.activeIds.add(h.id);
    else this.activeIds.delete(h.id);
    this.written.add(h.id);
  }

  private holdById(id: string): HoldRow | null {
    const h = this.holds.get(id);
    if (!h) return null;
    const { updatedAt: _, ...row } = h;
    return { ...row, seats: row.seats.map((s) => ({ ...s })) };
  }

  private holdByKey(userId: string, key: string): HoldRow | null {
    for (const h of this.holds.values()) if (h.userId === userId && h.idempotencyKey === key) return this.holdById(h.id);
    return null;
  }

  private readSeats(ids: string[]): SeatRow[] {
    const out: SeatRow[] = [];
    for (const id of ids) {
      const s = this.seatById.get(id);
      if (s) out.push({ id: s.id, priceCents: s.priceCents, status: s.status });
    }
    return out;
  }

  private userQuantity(userId: string): number {
    const known = this.userTotals.get(userId);
    if (known !== undefined) return known;
    let q = 0;
    for (const h of this.holds.values()) {
      if (h.userId === userId && (h.status === "active" || h.status === "confirming" || h.status === "committed")) q += h.quantity;
    }
    this.userTotals.set(userId, q);
    return q;
  }
}
