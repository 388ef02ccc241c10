/**
 * The inventory's storage, behind one small synchronous interface: `SqliteStore` over the object's
 * SQLite (sqlite-store.ts) and `MemoryStore` (memory-store.ts), its in-memory twin for unit tests in
 * plain Node. The modules decide and keep their working state in memory; every write goes through
 * here inside `transaction`, so memory and storage move together. Nothing here awaits.
 */
import type { InventoryConfig, HistoryKind, HoldRow } from "../logic/rules";
import type { WaitlistEntryRow } from "../logic/waitlist";
import type { SeatSpec, SeatStatus } from "../contract";
import type { ProductSet } from "../contract";

export interface SeatRecord extends SeatSpec {
  status: SeatStatus;
  holdId: string | null;
}

export interface StoredInventory {
  config: InventoryConfig;
  version: number;
  /** General admission's counters (reserved seating counts its seat rows instead). */
  held: number;
  booked: number;
}

/** The one outbox's row kinds: hold history and waitlist mirrors (to Postgres, via the inventory-events queue), offer notifications. */
export type OutboxKind = "history" | "mirror" | "notify";
export interface OutboxRow {
  seq: number;
  kind: OutboxKind;
  body: string;
}

/**
 * The hold history row a hold write appends to the outbox, in the same statement: "created" for a
 * new hold, the new status when a hold becomes released, expired or committed, else none.
 * SqliteStore does it by trigger (inventory/store/schema.sql.ts, migration 9), MemoryStore in JavaScript.
 */
export function historyKind(before: HoldRow["status"] | null, after: HoldRow["status"]): HistoryKind | null {
  if (before === null) return "created";
  return after !== before && (after === "released" || after === "expired" || after === "committed") ? after : null;
}

/** What a hold write does to the hold's seats (reserved seating), in the same statement. */
export type SeatMove = "take" | "free" | "book" | "retake" | null;

/**
 * The seats follow their hold: a new hold takes them (all must be available, else the write fails
 * and the transaction rolls back); ending a live hold (released, expired) frees them; committing an
 * active or confirming hold books them; committing an ended hold (a restored booking) takes them
 * back as booked (all must be available). SqliteStore does it by trigger (inventory/store/schema.sql.ts,
 * migration 10), MemoryStore in JavaScript.
 */
export function seatMove(before: HoldRow["status"] | null, after: HoldRow["status"]): SeatMove {
  if (before === null) return "take";
  if ((after === "released" || after === "expired") && (before === "active" || before === "confirming" || before === "committed")) return "free";
  if (after === "committed" && (before === "active" || before === "confirming")) return "book";
  if (after === "committed" && (before === "released" || before === "expired")) return "retake";
  return null;
}

/** The message of the write that failed because a seat was no longer there to take. */
export const SEATS_CHANGED = "seats changed under a decided hold";

export interface InventoryStore {
  /** Runs `fn` atomically: everything it wrote lands, or (it threw) nothing does. */
  transaction<T>(fn: () => T): T;

  readInventory(): StoredInventory | null;
  createInventory(config: InventoryConfig, seats: SeatSpec[]): void;
  writeConfig(config: InventoryConfig): void;
  writeVersion(version: number): void;
  addCounters(held: number, booked: number): void;

  /** Every seat in seat order. */
  readSeats(): SeatRecord[];

  holdById(id: string): HoldRow | null;
  holdByKey(userId: string, key: string): HoldRow | null;
  /** Writes a new hold, takes its seats (seatMove; throws SEATS_CHANGED if one is taken), and writes its history row (historyKind) to the outbox. */
  insertHold(hold: HoldRow, now: number): void;
  /** Writes a hold's status, expiry and booking; moves its seats (seatMove; a retake throws SEATS_CHANGED if one is taken) and writes its history row when historyKind says so. */
  updateHold(hold: HoldRow, now: number): void;
  /** The holds that count: active, confirming and committed (read once at start; memory keeps them after). */
  liveHolds(): HoldRow[];
  /** Holds released without a booking at or after `since`. */
  releasedWithoutBookingSince(since: number): HoldRow[];

  /** The pushed ticket types and vouchers (null until the first push). */
  readProducts(): ProductSet | null;
  writeProducts(set: ProductSet): void;

  /** Inserts a waiting entry; answers its arrival number. */
  insertEntry(entry: WaitlistEntryRow): number;
  updateEntry(entry: WaitlistEntryRow): void;
  entryById(id: string): WaitlistEntryRow | null;
  entryByHold(holdId: string): WaitlistEntryRow | null;
  activeEntry(userId: string): WaitlistEntryRow | null;
  latestEntry(userId: string): WaitlistEntryRow | null;
  firstWaiting(): WaitlistEntryRow | null;
  waitingCount(): number;
  /** 1 for the first waiting entry, and so on, up to the entry with arrival number `seq`. */
  waitingUpTo(seq: number): number;
  offeredHoldIds(): string[];

  appendOutbox(kind: OutboxKind, body: string): void;
  peekOutbox(limit: number): OutboxRow[];
  deleteOutboxThrough(seq: number): void;
  outboxPending(): boolean;
}
