/**
 * Seats and holds of one event. Seat state and counters live in memory (read at start from the
 * store); each change is decided by the pure functions of ../event-inventory.logic.ts and written
 * through to the store in one synchronous transaction, so nothing interleaves between check and write.
 */
import {
  availability,
  counterDelta,
  decideExpire,
  decideHold,
  decideRestore,
  fail,
  makeHoldId,
  ok,
  parseHoldRequest,
  toView,
  validateInit,
  type HoldContext,
  type HoldRow,
  type InventoryConfig,
  type SeatChange,
  type SeatRow,
  type Transition,
} from "../logic/rules";
import { DEFAULT_TYPE_ID, type Availability, type BookedProducts, type HoldRequest, type HoldView, type InventoryInit, type InventoryResult, type ProductSet, type ProductStats, type TicketTypeDef } from "../contract";
import type { Metric } from "../../../src/lib/metrics";
import type { Outbox } from "./outbox";
import { ExpiryQueue } from "./expiry-queue";
import { Seats } from "./seats";
import { EMPTY_PRODUCTS, decideProducts, freeInSections, inWindow, moveUsage, seatAllowed, sellableSeats, typeRemaining, typesOf, validateProducts, type Usage } from "./products";
import type { InventoryStore } from "../store/store";

const EXPIRE_BATCH = 500;
/** Holds that still count (own seats, count toward caps and quotas); the others are history. */
const isLive = (s: HoldRow["status"]) => s === "active" || s === "confirming" || s === "committed";

export const notInitialized = () => fail("NOT_INITIALIZED", "This event has no inventory (not published)");

export interface HoldsDeps {
  store: InventoryStore;
  outbox: Outbox;
  now: () => number;
  newId: (prefix: string) => string;
  /** Seat changes for the live map (after the transaction). */
  announce: (changes: SeatChange[]) => void;
  /** Runs inside the transaction of every hold transition (the waitlist hooks in here); answers what to do after it. */
  afterTransition: (before: HoldRow, after: HoldRow, now: number) => (() => void) | null;
  /** Called after a transaction rolled back, so other modules re-read their state. */
  onRollback: () => void;
  metric: (m: Metric) => void;
}

export class Holds {
  config: InventoryConfig | null = null;
  version = 0;
  private held = 0;
  private booked = 0;
  /** Reserved seating: every seat with its status, in memory (written through on every change). */
  private readonly seats = new Seats();
  /**
   * The holds that count (active, confirming, committed), in memory: at most one per seat sold or
   * held, so bounded by the capacity. Released and expired holds are read from the store when asked.
   * Rows here are never mutated: a transition replaces them.
   */
  private readonly live = new Map<string, HoldRow>();
  /** Per user, the quantity of their live holds (users with none are absent). */
  private readonly userTotals = new Map<string, number>();
  private readonly expiries = new ExpiryQueue();
  /** Ticket types and vouchers as last pushed, and what the counting holds use of them (products.ts). */
  products: ProductSet = EMPTY_PRODUCTS;
  private usage: Usage = { byType: new Map(), byVoucher: new Map() };
  /** The earliest expiry of an active hold (null: none), so most requests skip expiry entirely. */
  nextExpiry: number | null = null;

  constructor(private readonly d: HoldsDeps) {}

  load(): void {
    const inv = this.d.store.readInventory();
    this.seats.load([]);
    this.products = this.d.store.readProducts() ?? EMPTY_PRODUCTS;
    this.live.clear();
    this.userTotals.clear();
    this.expiries.clear();
    this.usage = { byType: new Map(), byVoucher: new Map(), retired: new Map(Object.entries(this.products.retiredPools ?? {})) };
    for (const h of this.d.store.liveHolds()) this.track(null, h);
    this.nextExpiry = this.expiries.peek(this.expiryOf);
    if (!inv) return;
    this.config = inv.config;
    this.version = inv.version;
    this.held = inv.held;
    this.booked = inv.booked;
    if (this.config.seating === "reserved") {
      // Reserved seating: the seat rows are the counters (the stored columns serve general admission).
      this.seats.load(this.d.store.readSeats());
      ({ held: this.held, booked: this.booked } = this.seats.counts());
    }
  }

  /** An active hold's expiry as memory knows it (null: not active), for the expiry queue. */
  private readonly expiryOf = (id: string): number | null => {
    const h = this.live.get(id);
    return h && h.status === "active" ? h.expiresAt : null;
  };

  /** Memory follows one hold from `from` (null: new, or loading) to its row `h`: the live map, caps, quotas, expiry. */
  private track(from: HoldRow["status"] | null, h: HoldRow): void {
    moveUsage(this.usage, h, from, h.status);
    const d = (isLive(h.status) ? h.quantity : 0) - (from !== null && isLive(from) ? h.quantity : 0);
    if (d !== 0) {
      const total = (this.userTotals.get(h.userId) ?? 0) + d;
      if (total > 0) this.userTotals.set(h.userId, total);
      else this.userTotals.delete(h.userId);
    }
    if (isLive(h.status)) this.live.set(h.id, h);
    else this.live.delete(h.id);
    if (h.status === "active" && h.expiresAt !== null) {
      this.expiries.push(h.expiresAt, h.id);
      if (this.nextExpiry === null || h.expiresAt < this.nextExpiry) this.nextExpiry = h.expiresAt;
      // Ended holds leave stale entries behind: start over from the live holds before they pile up.
      if (this.expiries.size > 4 * this.live.size + 10_000) {
        this.expiries.clear();
        for (const x of this.live.values()) if (x.status === "active" && x.expiresAt !== null) this.expiries.push(x.expiresAt, x.id);
      }
    }
  }

  /** A transaction over the store; when it throws, memory is re-read from the store (which rolled back). */
  tx<T>(fn: () => T): T {
    try {
      return this.d.store.transaction(fn);
    } catch (e) {
      this.load();
      this.d.onRollback();
      throw e;
    }
  }

  initialize(init: InventoryInit): InventoryResult<{ created: boolean; version: number }> {
    const v = validateInit(init);
    if (!v.ok) return v;
    if (this.config) {
      if (this.config.eventId !== v.value.config.eventId) return fail("INVALID_STATE", "This object belongs to another event");
      return ok({ created: false, version: this.version });
    }
    this.tx(() => this.d.store.createInventory(v.value.config, v.value.seats));
    this.load();
    return ok({ created: true, version: this.version });
  }

  setConfig(config: InventoryConfig): void {
    this.tx(() => this.d.store.writeConfig(config));
    this.config = config;
  }

  available(): number {
    return (this.config?.capacity ?? 0) - this.held - this.booked;
  }

  availability(): Availability {
    return availability(this.config?.capacity ?? 0, this.held, this.booked);
  }

  /** Every seat with its status, from memory (reserved seating; undefined for general admission). */
  seatMap() {
    return this.config?.seating === "reserved" ? this.seats.view() : undefined;
  }

  seatRows(ids: string[]): SeatRow[] {
    return this.seats.rows(ids);
  }

  /** Reserved seating: the best seats to offer are the first free ones in seat order that the default type sells. */
  firstAvailableSeats(n: number): SeatRow[] {
    const t = typesOf(this.products).get(DEFAULT_TYPE_ID)!;
    return this.seats.firstAvailable(n, (id) => seatAllowed(t, id));
  }

  /** Prices and gates wanted lines as a hold would be, against the current products and usage (the waitlist's offers use it). */
  pricer(now: number): HoldContext["price"] {
    const config = this.config!;
    return (wanted, voucher) => decideProducts({ config, products: this.products, usage: this.usage, now, wanted, voucherCode: voucher });
  }

  activeHolds(): HoldRow[] {
    return [...this.live.values()].filter((h) => h.status === "active");
  }

  releasedWithoutBookingSince(since: number): HoldRow[] {
    return this.d.store.releasedWithoutBookingSince(since);
  }

  /** The live map's next version, stored so it survives restarts. */
  bumpVersion(): number {
    this.version += 1;
    this.d.store.writeVersion(this.version);
    return this.version;
  }

  holdById(id: string): HoldRow | null {
    if (typeof id !== "string") return null;
    return this.live.get(id) ?? this.d.store.holdById(id);
  }

  /**
   * The time first (8 base-36 digits of epoch ms, good until 2059), then 12 random characters: new
   * holds go to the end of the holds table's key order instead of a random page.
   */
  newHoldId(): string {
    return makeHoldId(this.config!.eventId, Math.max(0, this.d.now()).toString(36).padStart(8, "0").slice(-8) + this.d.newId("h").slice(-12));
  }

  userQuantity(userId: string): number {
    return this.userTotals.get(userId) ?? 0;
  }

  hold(userId: string, req: HoldRequest, idempotencyKey: string | null): InventoryResult<HoldView> {
    const config = this.config;
    if (!config) return notInitialized();
    if (typeof userId !== "string" || userId.length === 0) return fail("VALIDATION_FAILED", "userId is required");
    const now = this.d.now();
    this.expireDue(now);
    const parsed = parseHoldRequest(req, config, idempotencyKey ?? null);
    if (!parsed.ok) return parsed;
    const previous = idempotencyKey ? this.d.store.holdByKey(userId, idempotencyKey) : null;
    const decision = decideHold({
      config,
      now,
      userId,
      req: parsed.value,
      idempotencyKey: idempotencyKey ?? null,
      previous,
      seats: parsed.value.kind === "seats" && !previous ? this.seatRows(parsed.value.seatIds) : [],
      userQuantity: previous ? 0 : this.userQuantity(userId),
      available: this.available(),
      newHoldId: this.newHoldId(),
      price: this.pricer(now),
    });
    if (!decision.ok) return decision;
    if (decision.value.kind === "create") {
      const { hold, changes } = decision.value;
      this.tx(() => this.insertHold(hold, changes, now));
      this.d.announce(changes);
    }
    return ok(toView(decision.value.hold, config));
  }

  /** Whether this user already made a hold with this idempotency key (a hold call with it is a replay). */
  madeWithKey(userId: string, idempotencyKey: string): boolean {
    return this.d.store.holdByKey(userId, idempotencyKey) !== null;
  }

  /** Writes a new hold and takes its seats; call inside a transaction (the waitlist's offers use it too). */
  insertHold(hold: HoldRow, changes: SeatChange[], now: number): void {
    this.d.store.insertHold(hold, now);
    this.takeSeats(hold.id, changes);
    this.moveCounters(null, hold);
    this.d.outbox.wrote(); // the store wrote the hold's "created" history row
  }

  /** One transition of one hold, decided by `decide`, applied in one transaction. */
  transition(holdId: string, decide: (h: HoldRow) => InventoryResult<Transition>): InventoryResult<HoldView> {
    const config = this.config;
    if (!config) return notInitialized();
    const now = this.d.now();
    this.expireDue(now);
    const hold = this.holdById(holdId);
    if (!hold) return fail("NOT_FOUND", "No such hold");
    const t = decide(hold);
    if (!t.ok) return t;
    this.apply(hold, t.value, now);
    return ok(toView(t.value.hold, config));
  }

  /** Books a released or expired hold's seats again for its booking (see decideRestore); for reconciliation. */
  restore(holdId: string, bookingId: string): InventoryResult<HoldView> {
    const config = this.config;
    if (!config) return notInitialized();
    const now = this.d.now();
    this.expireDue(now);
    const hold = this.holdById(holdId);
    if (!hold) return fail("NOT_FOUND", "No such hold");
    const seatRows = config.seating === "reserved" && hold.seats.length ? this.seatRows(hold.seats.map((x) => x.id)) : [];
    const t = decideRestore(hold, bookingId, seatRows, this.available(), config.seating);
    if (!t.ok) return t;
    const retake = t.value.changed && (hold.status === "released" || hold.status === "expired");
    // An ended hold no longer owns its seats: take them back first, in the same transaction as the booking.
    this.apply(hold, t.value, now, retake ? () => this.takeSeats(hold.id, t.value.changes) : undefined);
    return ok(toView(t.value.hold, config));
  }

  apply(before: HoldRow, t: Transition, now: number, first?: () => void): void {
    if (!t.changed) return;
    const h = t.hold;
    let after: (() => void) | null = null;
    this.tx(() => {
      first?.();
      this.d.store.updateHold(h, now);
      const to = t.changes[0]?.status;
      if (to === "available") this.seats.free(h);
      else if (to === "booked") this.seats.book(h);
      this.moveCounters(before.status, h);
      if (t.history) this.d.outbox.wrote(); // the store wrote the history row with the hold
      // Seats coming back go to the waitlist in this same transaction: no public hold can take them first.
      after = this.d.afterTransition(before, h, now);
    });
    const d = counterDelta(before.status, h.status, h.quantity);
    if (t.changes.length > 0 || d.held !== 0 || d.booked !== 0) this.d.announce(t.changes);
    (after as (() => void) | null)?.();
  }

  /** Idempotent and safe to run late or twice: only active holds already due are expired. */
  expireDue(now: number): void {
    if (this.nextExpiry === null || now < this.nextExpiry) return;
    for (;;) {
      const due = this.expiries.due(now, EXPIRE_BATCH, this.expiryOf);
      for (const id of due) {
        // Read at its turn: an id the heap holds twice (pushed again with the same expiry) expires once.
        const h = this.live.get(id);
        if (!h || h.status !== "active") continue;
        this.apply(h, decideExpire(h, now), now);
        this.d.metric({ kind: "hold", eventId: this.config?.eventId ?? "", outcome: "ok", action: "expired", quantity: h.quantity, amountCents: h.totalCents });
      }
      if (due.length < EXPIRE_BATCH) break;
    }
    this.nextExpiry = this.expiries.peek(this.expiryOf);
  }

  /**
   * Memory's seats; the store moves its own with the hold row (store.ts, seatMove), and a seat no
   * longer available there aborts the transaction (a last line behind decideHold).
   */
  private takeSeats(holdId: string, changes: SeatChange[]): void {
    if (changes.length > 0) this.seats.take(holdId, changes.map((c) => c.id));
  }

  private moveCounters(from: HoldRow["status"] | null, to: HoldRow): void {
    const d = counterDelta(from, to.status, to.quantity);
    if (d.held !== 0 || d.booked !== 0) {
      if (this.config?.seating !== "reserved") this.d.store.addCounters(d.held, d.booked);
      this.held += d.held;
      this.booked += d.booked;
    }
    this.track(from, to);
  }

  /**
   * Takes a pushed set of ticket types and vouchers. Revisions strictly increase with every change
   * (Postgres' product_revisions), so a set whose revision is not above the stored one is a stale
   * read or a repeat: ignored, never a replacement.
   */
  setProducts(set: ProductSet): InventoryResult<{ revision: number; applied: boolean }> {
    if (!this.config) return notInitialized();
    const v = validateProducts(set);
    if (!v.ok) return v;
    if (set.revision <= this.products.revision) return ok({ revision: this.products.revision, applied: false });
    // A type leaving the set while held or sold keeps counting in its shared pool (ProductSet.retiredPools).
    const retiredPools: Record<string, string> = {};
    const leaving = [...this.products.types.filter((t) => t.quotaPool).map((t) => [t.id, t.quotaPool!] as const), ...Object.entries(this.products.retiredPools ?? {})];
    for (const [id, pool] of leaving) {
      if (!set.types.some((t) => t.id === id) && (this.usage.byType.get(id) ?? 0) > 0) retiredPools[id] = pool;
    }
    const clean: ProductSet = {
      revision: set.revision,
      types: set.types,
      vouchers: set.vouchers.map((x) => ({ ...x, code: x.code.toUpperCase() })),
      ...(Object.keys(retiredPools).length ? { retiredPools } : {}),
    };
    this.tx(() => this.d.store.writeProducts(clean));
    this.products = clean;
    this.usage.retired = new Map(Object.entries(retiredPools));
    return ok({ revision: clean.revision, applied: true });
  }

  /** Per type and per voucher, what the committed holds (sales) carry; active and confirming holds are not counted. */
  bookedProducts(): BookedProducts {
    const u: Usage = { byType: new Map(), byVoucher: new Map() };
    for (const h of this.live.values()) if (h.status === "committed") moveUsage(u, h, null, h.status);
    return { types: Object.fromEntries(u.byType), vouchers: Object.fromEntries(u.byVoucher) };
  }

  /** Seats some ticket type can still sell now (products.ts, sellableSeats): what the waiting room admits against. */
  sellable(now: number): number {
    const available = this.available();
    // Reserved seating: a type limited to sections sells only the free seats there.
    const freeFor = (t: TicketTypeDef) => (this.config?.seating === "reserved" && t.sections ? freeInSections(t.sections, (k) => this.seats.freeIn(k)) : available);
    return sellableSeats(this.products, this.usage, now, available, freeFor);
  }

  /**
   * Seats the default ticket type can sell now (what a waitlist offer is made of): none while it is
   * outside its sales window or hidden, else the free seats up to its pool's quota and, reserved, in
   * its sections. A waitlist join asks for more than this.
   */
  defaultSellable(now: number): number {
    const types = typesOf(this.products);
    const t = types.get(DEFAULT_TYPE_ID)!;
    if (t.hidden || !inWindow(now, t.salesStartMs, t.salesEndMs)) return 0;
    const available = this.available();
    const free = this.config?.seating === "reserved" && t.sections ? freeInSections(t.sections, (k) => this.seats.freeIn(k)) : available;
    return Math.max(0, Math.min(available, free, typeRemaining(types, this.usage, t) ?? Number.POSITIVE_INFINITY));
  }

  /** Per type: held+sold and what is left of its quota; per voucher: usages (counting holds). */
  productStats(): ProductStats {
    const types = typesOf(this.products);
    const eventLeft = this.available();
    return {
      revision: this.products.revision,
      types: [...types.values()].map((t) => {
        const left = typeRemaining(types, this.usage, t);
        return { ticketTypeId: t.id, used: this.usage.byType.get(t.id) ?? 0, quota: t.quota, available: left === null ? eventLeft : Math.min(left, eventLeft) };
      }),
      vouchers: this.products.vouchers.map((v) => ({ voucherId: v.id, code: v.code, usages: this.usage.byVoucher.get(v.id) ?? 0, maxUsages: v.maxUsages })),
    };
  }
}
