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
import type { AdmissionStats, HoldRequest, HoldView, InventoryResult } from "../../../durable-objects/inventory/contract";
import { AdmissionGate, type GateStorage } from "../../../durable-objects/inventory/admission-gate";
import type { AdmissionSecrets } from "../../../durable-objects/onsale/contract";

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

/** How the simulation builds the object's admission gate: the real one, or one with a planted defect. */
export type MakeGate = (storage: GateStorage, secrets: AdmissionSecrets) => AdmissionGate;

/** The key the simulated queue shards sign admissions with (and the gate checks them with). */
export const SIM_ADMISSION_SECRETS: AdmissionSecrets = { ADMISSION_SECRET: "inventory-simulation-admission-secret-0123456789" };

/**
 * The object's synchronous key-value storage (`ctx.storage.kv`, where the gate keeps its flag,
 * generation and admissions) in memory: it outlives a restart, as the object's storage does.
 */
export class MemoryKv implements GateStorage {
  private readonly m = new Map<string, unknown>();

  get<T>(key: string): T | undefined {
    return structuredClone(this.m.get(key)) as T | undefined;
  }

  put<T>(key: string, value: T): void {
    this.m.set(key, structuredClone(value));
  }

  delete(key: string): boolean {
    return this.m.delete(key);
  }

  list<T>({ prefix = "", start = "", end, limit = Infinity }: { prefix?: string; start?: string; end?: string; limit?: number }): [string, T][] {
    const keys = [...this.m.keys()].filter((k) => k.startsWith(prefix) && k >= start && (end === undefined || k < end)).sort();
    return keys.slice(0, limit).map((k) => [k, structuredClone(this.m.get(k)) as T]);
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
  /** The gate's storage, kept across restarts. */
  readonly kv = new MemoryKv();
  /** On-sale mode's gate, as EventInventory holds it beside its engine (rebuilt from `kv` on a restart). */
  gate: AdmissionGate;
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
    private readonly makeGate: MakeGate = (storage, secrets) => new AdmissionGate(storage, secrets),
  ) {
    // Ids replay from the seed (shrinking reruns a sequence and expects the same ids); the counter
    // lives outside the engine so it survives restarts, as randomness would. Hold ids take 20
    // characters after the prefix.
    const newId = (prefix: string) => `${prefix}_${(++this.ids).toString(36).padStart(20, "0")}`;
    // The waitlist is closed while the gate is on, as EventInventory wires it.
    this.deps = { store: this.store, now, newId, waitlistClosed: () => this.gate.onSale };
    this.gate = this.makeGate(this.kv, SIM_ADMISSION_SECRETS);
    this.engine = this.make(this.deps);
    const r = this.engine.initialize(init);
    if (!r.ok) throw new Error(`the simulation's event does not initialize: ${r.code} ${r.message}`);
  }

  /** Eviction: the memory is gone, the rows stay; the next call reaches a new engine read from them. */
  restart(): void {
    this.gate = this.makeGate(this.kv, SIM_ADMISSION_SECRETS);
    this.engine = this.make(this.deps);
  }

  /** EventInventory.hold: while on sale, the gate checks the admission first, and records it once the hold is made. */
  async hold(userId: string, req: HoldRequest, key: string | null, admission: string | null): Promise<InventoryResult<HoldView>> {
    if (!this.gate.onSale || !this.engine.config) return this.engine.hold(userId, req, key);
    const admitted = await this.gate.check(userId, this.engine.config.eventId, admission, this.deps.now());
    if (!admitted.ok) return admitted;
    const replay = key !== null && this.engine.holds.madeWithKey(userId, key);
    const res = this.engine.hold(userId, req, key);
    if (res.ok && !replay) this.gate.recordHold(admitted.claims, res.value.quantity, this.deps.now());
    return res;
  }

  /** EventInventory.setOnSale: the gate; once the room is over, the waitlist's line gets the seats free now. */
  setOnSale(on: boolean, generation?: number): void {
    this.gate.setOnSale(on, generation);
    if (!on) this.engine.waitlist.offerFree();
  }

  /** EventInventory.admissionStats, what the waiting room reads at each tick (it expires what is due). */
  admissionStats(now: number): AdmissionStats {
    const config = this.engine.config!;
    return {
      ...this.engine.stats(now),
      sellable: this.engine.sellable(now),
      onSale: this.gate.onSale,
      ...this.gate.stats(now),
      maxSeatsPerUser: config.maxSeatsPerUser,
      salesOver: config.cancelledMs !== undefined || now >= config.salesEndMs,
    };
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
