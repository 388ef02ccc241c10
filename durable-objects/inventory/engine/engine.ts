/**
 * The inventory of one event as a runtime-independent engine (after tldraw's TLSocketRoom): seats
 * and holds, waitlist and the outbox over one store. The Durable Object is a thin shell around it;
 * unit tests run it over MemoryStore in plain Node.
 */
import {
  decideBeginConfirm,
  decideCommit,
  decideRelease,
  decideReturnSeats,
  fail,
  nextAlarmAt,
  ok,
  toView,
  type SeatChange,
} from "../logic/rules";
import type { Availability, ClosedSales, HoldRequest, HoldView, InventoryInit, InventoryResult, WaitlistEntryView } from "../contract";
import type { Metric } from "../../../src/lib/metrics";
import { Holds, notInitialized } from "./holds";
import type { BookedProducts, ProductStats } from "../contract";
import type { ProductSet } from "../contract";
import { Outbox } from "./outbox";
import type { InventoryStore } from "../store/store";
import { Waitlist } from "./waitlist";

export interface EngineDeps {
  store: InventoryStore;
  now: () => number;
  newId: (prefix: string) => string;
  /** Seat changes for the live map, after their transaction committed. */
  announce?: (changes: SeatChange[]) => void;
  metric?: (m: Metric) => void;
  log?: (msg: string, extra: Record<string, unknown>) => void;
  /** True while the waiting room stands in front of the event: the waitlist is closed (docs/onsale.md). */
  waitlistClosed?: () => boolean;
}

export class InventoryEngine {
  readonly outbox: Outbox;
  readonly holds: Holds;
  readonly waitlist: Waitlist;

  constructor(d: EngineDeps) {
    const announce = (changes: SeatChange[]) => d.announce?.(changes);
    const metric = (m: Metric) => d.metric?.(m);
    this.outbox = new Outbox(d.store, d.log);
    this.holds = new Holds({
      store: d.store,
      outbox: this.outbox,
      now: () => d.now(),
      newId: d.newId,
      announce,
      metric,
      afterTransition: (before, after, now) => this.waitlist.afterTransition(before, after, now),
      onRollback: () => this.waitlist.load(),
    });
    this.waitlist = new Waitlist({ store: d.store, outbox: this.outbox, holds: this.holds, now: () => d.now(), newId: d.newId, announce, metric, closed: () => d.waitlistClosed?.() ?? false });
    this.load();
  }

  /** (Re)reads the working state from the store, as after a restart. */
  load(): void {
    this.holds.load();
    this.waitlist.load();
  }

  get config() {
    return this.holds.config;
  }

  /** When the one alarm is next due: the earliest hold expiry or the outbox's next drain. */
  nextAlarmAt(now: number): number | null {
    return nextAlarmAt(this.holds.nextExpiry, this.outbox.dueAt(now));
  }

  initialize(init: InventoryInit) {
    return this.holds.initialize(init);
  }

  /**
   * The event was cancelled: the sales window ends now (no new holds) and every open hold ends with
   * it, its seats back. Holds being booked (confirming) are left to their booking's saga. Idempotent:
   * every call answers all holds the closing ended.
   */
  closeSales(now: number): InventoryResult<ClosedSales> {
    const config = this.holds.config;
    if (!config) return notInitialized();
    if (config.cancelledMs === undefined) this.holds.setConfig({ ...config, salesEndMs: Math.min(config.salesEndMs, now), cancelledMs: now });
    this.holds.expireDue(now);
    // The line ends before the holds do: an offered hold released below must not read as "left".
    this.waitlist.cancelAll(now);
    for (const hold of this.holds.activeHolds()) {
      const t = decideRelease(hold, null);
      if (t.ok) this.holds.apply(hold, t.value, now);
    }
    const closedAt = this.holds.config!.cancelledMs!;
    const ended = this.holds.releasedWithoutBookingSince(closedAt).map((h) => ({ holdId: h.id, userId: h.userId, quantity: h.quantity, seats: h.seats.map((x) => x.id) }));
    return ok({ closedAt: new Date(closedAt).toISOString(), releasedHolds: ended });
  }

  hold(userId: string, req: HoldRequest, idempotencyKey: string | null): InventoryResult<HoldView> {
    return this.holds.hold(userId, req, idempotencyKey);
  }

  getHold(holdId: string, now: number): InventoryResult<HoldView> {
    const config = this.holds.config;
    if (!config) return notInitialized();
    this.holds.expireDue(now);
    const hold = this.holds.holdById(holdId);
    return hold ? ok(toView(hold, config)) : fail("NOT_FOUND", "No such hold");
  }

  release(holdId: string, byUserId: string | null) {
    return this.holds.transition(holdId, (h) => decideRelease(h, byUserId ?? null));
  }

  beginConfirm(holdId: string, bookingId: string) {
    return this.holds.transition(holdId, (h) => decideBeginConfirm(h, bookingId));
  }

  commit(holdId: string, bookingId: string) {
    return this.holds.transition(holdId, (h) => decideCommit(h, bookingId));
  }

  returnSeats(holdId: string, bookingId: string) {
    return this.holds.transition(holdId, (h) => decideReturnSeats(h, bookingId));
  }

  restoreBooking(holdId: string, bookingId: string) {
    return this.holds.restore(holdId, bookingId);
  }

  /** A hold this object does not know, or that is not booked by that booking, is skipped: `returned` counts the rest. */
  returnSeatsMany(pairs: { holdId: string; bookingId: string }[]): InventoryResult<{ returned: number }> {
    if (!this.holds.config) return notInitialized();
    let returned = 0;
    for (const p of pairs) if (this.returnSeats(p.holdId, p.bookingId).ok) returned++;
    return ok({ returned });
  }

  /** The catalogue's ticket types and vouchers (products.ts); a revision not above the stored one is ignored. */
  setProducts(set: ProductSet) {
    const r = this.holds.setProducts(set);
    // The default type may have come back on sale: the line gets the free seats before the public.
    if (r.ok && r.value.applied) this.waitlist.offerFree();
    return r;
  }

  productStats(now: number): InventoryResult<ProductStats> {
    if (!this.holds.config) return notInitialized();
    this.holds.expireDue(now);
    return ok(this.holds.productStats());
  }

  stats(now: number): Availability {
    if (!this.holds.config) return this.holds.availability();
    this.holds.expireDue(now);
    return this.holds.availability();
  }

  bookedProducts(): BookedProducts {
    return this.holds.bookedProducts();
  }

  /** Free seats some ticket type can still sell now (what the waiting room admits against). */
  sellable(now: number): number {
    if (!this.holds.config) return 0;
    this.holds.expireDue(now);
    return this.holds.sellable(now);
  }

  joinWaitlist(userId: string, quantity: number): InventoryResult<{ entry: WaitlistEntryView; created: boolean }> {
    return this.waitlist.join(userId, quantity);
  }

  leaveWaitlist(userId: string): InventoryResult<WaitlistEntryView> {
    return this.waitlist.leave(userId);
  }

  waitlistEntry(userId: string): InventoryResult<WaitlistEntryView> {
    return this.waitlist.entry(userId);
  }
}
