/**
 * The object under simulation: the real InventoryEngine (durable-objects/inventory/engine/engine.ts) over
 * MemoryStore, wired as the EventInventory class wires it, with what the checker needs to look at
 * its rows. A restart is a new engine over the same store, as the object after an eviction rebuilds
 * its memory from SQLite; the alarm expires holds and drains the outbox, as the class's alarm does.
 */
import type { HoldRow, InventoryConfig } from "../../../durable-objects/inventory/logic/rules";
import type { WaitlistEntryRow } from "../../../durable-objects/inventory/logic/waitlist";
import type { InventoryInit } from "../../../durable-objects/inventory/contract";
import { InventoryEngine, type EngineDeps } from "../../../durable-objects/inventory/engine/engine";
import { MemoryStore } from "../../../durable-objects/inventory/store/memory-store";
import type { HoldHistoryItem, OutboxSinks } from "../../../durable-objects/inventory/engine/outbox";
import type { SeatRecord } from "../../../durable-objects/inventory/store/store";

/** How the simulation builds an engine: the real one, or (in the harness's own test) one with a planted defect. */
export type MakeEngine = (deps: EngineDeps) => InventoryEngine;

/**
 * MemoryStore, watched: remembers which holds and entries exist (the store has no listing of them)
 * and which hold rows were written since the last look, and enforces the waitlist's and holds'
 * SQLite CHECKs and unique indexes that MemoryStore leaves out (inventory/store/schema.sql.ts), so a write
 * SQLite would refuse fails here too.
 */
export class WatchedStore extends MemoryStore {
  /** Every hold inserted, in creation order (nothing rolls back: see `transaction`). */
  readonly holdIds: string[] = [];
  readonly entryIds: string[] = [];
  written = new Set<string>();

  /**
   * Without MemoryStore's copy of every row for a rollback: the simulation ends at the first throw
   * (a refused write is a found defect), so nothing runs on after a rollback, and the copy was most
   * of the time 10,000 seeds took.
   */
  override transaction<T>(fn: () => T): T {
    return fn();
  }

  override insertHold(hold: HoldRow, now: number): void {
    if (!(hold.quantity > 0) || !(hold.totalCents >= 0)) throw new Error(`CHECK constraint failed: holds ${hold.id}`);
    super.insertHold(hold, now);
    this.holdIds.push(hold.id);
    this.written.add(hold.id);
  }

  override updateHold(hold: HoldRow, now: number): void {
    super.updateHold(hold, now);
    this.written.add(hold.id);
  }

  override insertEntry(entry: WaitlistEntryRow): number {
    this.checkEntry(entry);
    const seq = super.insertEntry(entry);
    this.entryIds.push(entry.id);
    return seq;
  }

  override updateEntry(entry: WaitlistEntryRow): void {
    this.checkEntry(entry);
    super.updateEntry(entry);
  }

  /** Every waitlist row, in arrival order. */
  entries(): WaitlistEntryRow[] {
    const out: WaitlistEntryRow[] = [];
    for (const id of this.entryIds) {
      const e = this.entryById(id);
      if (e) out.push(e);
    }
    return out;
  }

  takeWritten(): Set<string> {
    const w = this.written;
    this.written = new Set();
    return w;
  }

  private checkEntry(e: WaitlistEntryRow): void {
    if (!((e.status === "waiting") === (e.holdId === null) || e.status === "expired" || e.status === "left" || e.status === "cancelled")) {
      throw new Error(`CHECK constraint failed: waitlist entry ${e.id} ${e.status} with hold ${e.holdId}`);
    }
    if (e.holdId === null) return;
    for (const id of this.entryIds) {
      if (id === e.id) continue;
      if (this.entryById(id)?.holdId === e.holdId) throw new Error(`UNIQUE constraint failed: waitlist_hold_uq ${e.holdId}`);
    }
  }
}

/** Which errors are SQLite (or the engine's own last line) refusing a write: a found defect, not a crash of the harness. */
export const isConstraint = (e: unknown) => e instanceof Error && /constraint failed|seats changed under a decided hold/.test(e.message);

export class SimObject {
  readonly store = new WatchedStore();
  engine: InventoryEngine;
  /** Hold history that the alarm relayed (the inventory-events queue's messages), in order. */
  readonly relayedHistory: HoldHistoryItem[] = [];
  /** Offer notifications the alarm relayed (the notifications queue's messages). */
  readonly relayedNotifications: unknown[] = [];
  private ids = 0;
  private readonly deps: EngineDeps;
  private readonly sinks: OutboxSinks = {
    events: async (messages) => {
      for (const m of messages) this.relayedHistory.push(...m.history);
    },
    notifications: async (bodies) => {
      this.relayedNotifications.push(...bodies);
    },
  };

  constructor(
    init: InventoryInit,
    now: () => number,
    private readonly make: MakeEngine = (d) => new InventoryEngine(d),
  ) {
    // Ids replay from the seed (shrinking reruns a sequence and expects the same ids); the counter
    // lives outside the engine so it survives restarts, as randomness would. Hold ids take 20
    // characters after the prefix.
    const newId = (prefix: string) => `${prefix}_${(++this.ids).toString(36).padStart(20, "0")}`;
    this.deps = { store: this.store, now, newId };
    this.engine = this.make(this.deps);
    const r = this.engine.initialize(init);
    if (!r.ok) throw new Error(`the simulation's event does not initialize: ${r.code} ${r.message}`);
  }

  /** Eviction: the memory is gone, the rows stay; the next call reaches a new engine read from them. */
  restart(): void {
    this.engine = this.make(this.deps);
  }

  /** The class's alarm: expire what is due, then drain the outbox into the queues. */
  async alarm(now: number): Promise<void> {
    this.engine.holds.expireDue(now);
    const config = this.engine.config;
    if (config) await this.engine.outbox.drain(config.eventId, this.sinks, now);
  }

  get config(): InventoryConfig {
    return this.engine.config!;
  }

  /** The engine's counters in memory (for reserved seating: counted from its seats in memory at load). */
  counters(): { held: number; booked: number } {
    const a = this.engine.holds.availability();
    return { held: a.held, booked: a.booked };
  }

  /** General admission's stored counters (the `inventory` row); reserved seating counts its seat rows. */
  storedCounters(): { held: number; booked: number } {
    const inv = this.store.readInventory()!;
    return { held: inv.held, booked: inv.booked };
  }

  seatRows(): SeatRecord[] {
    return this.store.readSeats();
  }

  /** The engine's per-user total if it has one cached (private: the simulation checks the cache is the truth). */
  cachedUserTotal(userId: string): number | undefined {
    return this.engine.holds["userTotals"].get(userId);
  }

  /** Hold history: what was relayed, then what still waits in the outbox. */
  history(): HoldHistoryItem[] {
    const pending = this.store.peekOutbox(Number.MAX_SAFE_INTEGER).filter((r) => r.kind === "history");
    return [...this.relayedHistory, ...pending.map((r) => JSON.parse(r.body) as HoldHistoryItem)];
  }

  /** Notifications of one kind (`waitlist.offered`, `waitlist.event-cancelled`): relayed, then still in the outbox. */
  notificationCount(kind: string): number {
    const pending = this.store.peekOutbox(Number.MAX_SAFE_INTEGER).filter((r) => r.kind === "notify").map((r) => JSON.parse(r.body));
    return [...this.relayedNotifications, ...pending].filter((n) => (n as { kind?: string }).kind === kind).length;
  }
}
