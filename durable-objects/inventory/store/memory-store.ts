/**
 * The in-memory twin of SqliteStore: the same answers from plain maps, so the inventory's modules
 * run and are unit-tested in Node. A transaction that throws leaves nothing behind, as in SQLite.
 */
import { type HoldRow, type InventoryConfig } from "../logic/rules";
import type { ProductSet } from "../contract";
import type { WaitlistEntryRow } from "../logic/waitlist";
import type { SeatSpec } from "../contract";
import { historyKind, seatMove, SEATS_CHANGED, type InventoryStore, type OutboxKind, type OutboxRow, type SeatMove, type SeatRecord, type StoredInventory } from "./store";

interface HoldRecord {
  hold: HoldRow;
  updatedAt: number;
}

interface State {
  inventory: StoredInventory | null;
  seats: SeatRecord[];
  holds: Map<string, HoldRecord>;
  waitlist: WaitlistEntryRow[];
  nextEntrySeq: number;
  outbox: OutboxRow[];
  nextOutboxSeq: number;
  products: ProductSet | null;
}

/** A hold row copied deep enough that no caller can change the stored one (its arrays hold flat objects). */
const copyHold = (h: HoldRow): HoldRow => ({ ...h, seats: h.seats.map((s) => ({ ...s })), ...(h.lines ? { lines: h.lines.map((l) => ({ ...l })) } : {}) });

/**
 * What a rollback needs: rows are replaced on change, never edited in place, except seats and the
 * hold records' `updatedAt`, which are copied; the rest is shared. (structuredClone of the whole
 * state per transaction was most of the simulation's time.)
 */
function snapshot(s: State): State {
  return {
    ...s,
    inventory: s.inventory ? { ...s.inventory } : null,
    seats: s.seats.map((x) => ({ ...x })),
    holds: new Map([...s.holds].map(([id, r]) => [id, { ...r }])),
    waitlist: [...s.waitlist],
    outbox: [...s.outbox],
  };
}

const empty = (): State => ({ inventory: null, seats: [], holds: new Map(), waitlist: [], nextEntrySeq: 1, outbox: [], nextOutboxSeq: 1, products: null });
const isActive = (s: WaitlistEntryRow["status"]) => s === "waiting" || s === "offered";

export class MemoryStore implements InventoryStore {
  private s: State = empty();
  private depth = 0;

  transaction<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    const saved = snapshot(this.s);
    this.depth++;
    try {
      return fn();
    } catch (e) {
      this.s = saved;
      throw e;
    } finally {
      this.depth--;
    }
  }

  readInventory(): StoredInventory | null {
    return this.s.inventory ? structuredClone(this.s.inventory) : null;
  }

  createInventory(config: InventoryConfig, seats: SeatSpec[]): void {
    if (this.s.inventory) throw new Error("inventory exists");
    this.s.inventory = { config: structuredClone(config), version: 0, held: 0, booked: 0 };
    this.s.seats = seats.map((x) => ({ ...x, status: "available", holdId: null }));
  }

  writeConfig(config: InventoryConfig): void {
    this.s.inventory!.config = structuredClone(config);
  }

  writeVersion(version: number): void {
    this.s.inventory!.version = version;
  }

  addCounters(held: number, booked: number): void {
    const inv = this.s.inventory!;
    const h = inv.held + held;
    const b = inv.booked + booked;
    if (h < 0 || b < 0 || h + b > inv.config.capacity) throw new Error("CHECK constraint failed: inventory counters");
    inv.held = h;
    inv.booked = b;
  }

  readSeats(): SeatRecord[] {
    return this.s.seats.map((x) => ({ ...x }));
  }

  /** What SqliteStore's seat triggers do (store.ts, seatMove). */
  private moveSeats(h: HoldRow, move: SeatMove): void {
    if (move === null || h.seats.length === 0) return;
    const ids = new Set(h.seats.map((x) => x.id));
    const mine = this.s.seats.filter((seat) => ids.has(seat.id));
    if (move === "take" || move === "retake") {
      const free = mine.filter((seat) => seat.status === "available");
      for (const seat of free) Object.assign(seat, { status: move === "take" ? "held" : "booked", holdId: h.id });
      if (free.length !== h.seats.length) throw new Error(SEATS_CHANGED);
    } else if (move === "free") {
      for (const seat of mine) if (seat.holdId === h.id) Object.assign(seat, { status: "available", holdId: null });
    } else {
      for (const seat of mine) if (seat.holdId === h.id) seat.status = "booked";
    }
  }

  /** The stored rows themselves: filter first, then copy only what is returned. */
  private rows(): HoldRow[] {
    return [...this.s.holds.values()].map((r) => r.hold);
  }

  holdById(id: string): HoldRow | null {
    const r = this.s.holds.get(id);
    return r ? copyHold(r.hold) : null;
  }

  holdByKey(userId: string, key: string): HoldRow | null {
    const found = this.rows().find((h) => h.userId === userId && h.idempotencyKey === key);
    return found ? copyHold(found) : null;
  }

  insertHold(hold: HoldRow, now: number): void {
    if (this.s.holds.has(hold.id)) throw new Error("UNIQUE constraint failed: holds.id");
    if (hold.idempotencyKey !== null && this.holdByKey(hold.userId, hold.idempotencyKey)) throw new Error("UNIQUE constraint failed: holds idempotency");
    // As in SQLite: no lines stored means the default type's lines, read back as null.
    this.s.holds.set(hold.id, { hold: { ...structuredClone(hold), lines: hold.lines?.length ? structuredClone(hold.lines) : null, voucherId: hold.voucherId ?? null }, updatedAt: now });
    this.moveSeats(hold, seatMove(null, hold.status));
    this.history(hold, historyKind(null, hold.status), now);
  }

  updateHold(hold: HoldRow, now: number): void {
    const r = this.s.holds.get(hold.id);
    if (!r) return;
    const before = r.hold.status;
    r.hold = { ...r.hold, status: hold.status, expiresAt: hold.expiresAt, bookingId: hold.bookingId };
    r.updatedAt = now;
    this.moveSeats(r.hold, seatMove(before, hold.status));
    this.history(r.hold, historyKind(before, hold.status), now);
  }

  /** What SqliteStore's history triggers write (same keys, same order). */
  private history(h: HoldRow, kind: ReturnType<typeof historyKind>, at: number): void {
    if (kind) this.appendOutbox("history", JSON.stringify({ holdId: h.id, kind, userId: h.userId, quantity: h.quantity, at }));
  }

  liveHolds(): HoldRow[] {
    return this.rows()
      .filter((h) => h.status === "active" || h.status === "confirming" || h.status === "committed")
      .map(copyHold);
  }

  releasedWithoutBookingSince(since: number): HoldRow[] {
    return [...this.s.holds.values()]
      .filter((r) => r.hold.status === "released" && r.hold.bookingId === null && r.updatedAt >= since)
      .map((r) => copyHold(r.hold));
  }

  readProducts(): ProductSet | null {
    return this.s.products ? structuredClone(this.s.products) : null;
  }

  writeProducts(set: ProductSet): void {
    this.s.products = structuredClone(set);
  }

  insertEntry(entry: WaitlistEntryRow): number {
    if (isActive(entry.status) && this.activeEntry(entry.userId)) throw new Error("UNIQUE constraint failed: waitlist active user");
    const seq = this.s.nextEntrySeq++;
    this.s.waitlist.push({ ...entry, seq });
    return seq;
  }

  updateEntry(entry: WaitlistEntryRow): void {
    const i = this.s.waitlist.findIndex((e) => e.id === entry.id);
    if (i >= 0) this.s.waitlist[i] = { ...entry, seq: this.s.waitlist[i].seq };
  }

  private find(pred: (e: WaitlistEntryRow) => boolean): WaitlistEntryRow | null {
    const e = this.s.waitlist.find(pred);
    return e ? { ...e } : null;
  }

  entryById(id: string) {
    return this.find((e) => e.id === id);
  }
  entryByHold(holdId: string) {
    return this.find((e) => e.holdId === holdId);
  }
  activeEntry(userId: string) {
    return this.find((e) => e.userId === userId && isActive(e.status));
  }
  latestEntry(userId: string) {
    const mine = this.s.waitlist.filter((e) => e.userId === userId);
    return mine.length ? { ...mine[mine.length - 1] } : null;
  }
  firstWaiting() {
    return this.find((e) => e.status === "waiting");
  }

  waitingCount(): number {
    return this.s.waitlist.filter((e) => e.status === "waiting").length;
  }

  waitingUpTo(seq: number): number {
    return this.s.waitlist.filter((e) => e.status === "waiting" && e.seq <= seq).length;
  }

  offeredHoldIds(): string[] {
    return this.s.waitlist.filter((e) => e.status === "offered").map((e) => e.holdId!);
  }

  appendOutbox(kind: OutboxKind, body: string): void {
    this.s.outbox.push({ seq: this.s.nextOutboxSeq++, kind, body });
  }

  peekOutbox(limit: number): OutboxRow[] {
    return this.s.outbox.slice(0, limit).map((r) => ({ ...r }));
  }

  deleteOutboxThrough(seq: number): void {
    this.s.outbox = this.s.outbox.filter((r) => r.seq > seq);
  }

  outboxPending(): boolean {
    return this.s.outbox.length > 0;
  }
}
