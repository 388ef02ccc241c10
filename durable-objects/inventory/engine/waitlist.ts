/**
 * The event's waitlist (DESIGN.md step 6): strict arrival order, offers made inside the transaction
 * that frees the seats, its Postgres mirror and offer notifications through the one outbox. Its
 * counts live in memory so the hold path pays nothing while nobody waits.
 */
import { counterDelta, decideRelease, fail, ok, type HoldRow, type SeatChange } from "../logic/rules";
import {
  cancelledEntry,
  cancelledNotification,
  decideJoin,
  decideLeave,
  decideOffer,
  entryAfterHold,
  entryView,
  mirrorOf,
  offerNotification,
  type WaitlistEntryRow,
} from "../logic/waitlist";
import type { InventoryResult, WaitlistEntryView } from "../contract";
import type { Metric } from "../../../src/lib/metrics";
import { notInitialized, type Holds } from "./holds";
import type { Outbox } from "./outbox";
import type { InventoryStore } from "../store/store";

export interface WaitlistDeps {
  store: InventoryStore;
  outbox: Outbox;
  holds: Holds;
  now: () => number;
  newId: (prefix: string) => string;
  announce: (changes: SeatChange[]) => void;
  metric: (m: Metric) => void;
  /**
   * While the event's on-sale room is on, the waitlist is closed: nobody joins, and seats that come
   * back go to the pool the room admits buyers to, not to entries ahead of the room's queue.
   */
  closed: () => boolean;
}

export class Waitlist {
  private waitingCount = 0;
  private readonly offeredHolds = new Set<string>();

  constructor(private readonly d: WaitlistDeps) {}

  load(): void {
    this.waitingCount = this.d.store.waitingCount();
    this.offeredHolds.clear();
    for (const id of this.d.store.offeredHoldIds()) this.offeredHolds.add(id);
  }

  join(userId: string, quantity: number): InventoryResult<{ entry: WaitlistEntryView; created: boolean }> {
    const { holds } = this.d;
    const config = holds.config;
    if (!config) return notInitialized();
    if (typeof userId !== "string" || userId.length === 0) return fail("VALIDATION_FAILED", "userId is required");
    if (this.d.closed()) return fail("WAITLIST_CLOSED", "The event is on sale through its waiting room: join the queue instead");
    const now = this.d.now();
    holds.expireDue(now);
    const d = decideJoin({
      config,
      now,
      userId,
      quantity,
      existing: this.d.store.activeEntry(userId),
      userQuantity: holds.userQuantity(userId),
      // Seats an offer could be made of now: free seats only other types may sell are no reason to refuse.
      available: holds.defaultSellable(now),
      newEntryId: this.d.newId("wl"),
    });
    if (!d.ok) return d;
    if (d.value.kind === "existing") return ok({ entry: this.viewOf(d.value.entry), created: false });
    let entry = d.value.entry;
    holds.tx(() => {
      entry = { ...entry, seq: this.d.store.insertEntry(entry) };
      this.mirror(entry);
    });
    this.waitingCount++;
    this.d.metric({ kind: "waitlist", eventId: config.eventId, outcome: "ok", action: "joined", quantity: entry.quantity });
    return ok({ entry: this.viewOf(entry), created: true });
  }

  leave(userId: string): InventoryResult<WaitlistEntryView> {
    const { holds } = this.d;
    const config = holds.config;
    if (!config) return notInitialized();
    const now = this.d.now();
    holds.expireDue(now);
    const entry = this.d.store.latestEntry(userId);
    if (!entry) return fail("NOT_FOUND", "You are not on this event's waitlist");
    const d = decideLeave(entry, now);
    if (d.kind === "left") {
      const changes: SeatChange[] = [];
      const metrics: Metric[] = [{ kind: "waitlist", eventId: config.eventId, outcome: "ok", action: "left", quantity: entry.quantity }];
      holds.tx(() => {
        this.writeEntry(d.entry);
        this.waitingCount--;
        // The line moved up: a new head may fit the seats that are free now (they would otherwise
        // wait for the next seat to come back while any public hold could take them).
        if (!this.d.closed()) this.offerToQueue(now, changes, metrics);
      });
      this.afterCommit(changes, metrics)();
    } else if (d.kind === "release-offer") {
      // Releasing the offered hold marks the entry left and offers the seats to the next in line.
      const r = holds.transition(d.holdId, (h) => decideRelease(h, userId));
      if (!r.ok) return r;
    }
    return ok(this.viewOf(this.d.store.entryById(entry.id)!));
  }

  entry(userId: string): InventoryResult<WaitlistEntryView> {
    if (!this.d.holds.config) return notInitialized();
    this.d.holds.expireDue(this.d.now());
    const entry = this.d.store.latestEntry(userId);
    return entry ? ok(this.viewOf(entry)) : fail("NOT_FOUND", "You are not on this event's waitlist");
  }

  /**
   * The event was cancelled (the engine's closeSales, before it ends the open holds): every waiting
   * entry, and every offered one whose hold is still open, ends `cancelled` with its mirror, in one
   * transaction. The waiting are told through the outbox; an offered entry's user is told by its
   * released hold's own message (hold.event-cancelled), so nobody is told twice. An offer being
   * booked (its hold confirming) follows its booking. A repeated close finds nobody left.
   */
  cancelAll(now: number): void {
    const { holds, store } = this.d;
    const config = holds.config!;
    const ended: WaitlistEntryRow[] = [];
    holds.tx(() => {
      for (let head = store.firstWaiting(); head; head = store.firstWaiting()) {
        const e = cancelledEntry(head, now);
        this.writeEntry(e);
        this.d.outbox.add({ kind: "notify", body: cancelledNotification(e, config) });
        ended.push(e);
      }
      for (const holdId of store.offeredHoldIds()) {
        const entry = store.entryByHold(holdId);
        if (!entry || holds.holdById(holdId)?.status !== "active") continue;
        const e = cancelledEntry(entry, now);
        this.writeEntry(e);
        ended.push(e);
      }
    });
    this.waitingCount = 0;
    for (const e of ended) if (e.holdId) this.offeredHolds.delete(e.holdId);
    if (ended.length) this.d.metric({ kind: "waitlist", eventId: config.eventId, outcome: "ok", action: "cancelled", quantity: ended.reduce((n, e) => n + e.quantity, 0) });
  }

  /**
   * Offers the seats free now to the line (after the ticket catalogue changed: the default type
   * back on sale, a quota raised), as when seats come back. Nothing while the waitlist is closed.
   */
  offerFree(): void {
    const { holds } = this.d;
    if (!holds.config || this.waitingCount === 0 || this.d.closed()) return;
    const now = this.d.now();
    const changes: SeatChange[] = [];
    const metrics: Metric[] = [];
    holds.tx(() => this.offerToQueue(now, changes, metrics));
    this.afterCommit(changes, metrics)();
  }

  /**
   * Runs inside the transaction of every hold transition: an offered entry follows its hold
   * (converted, expired, left), and when seats came back the queue's head gets them if enough are
   * free, then the next, and so on; the first entry that does not fit stops the queue (nobody is
   * skipped). Answers what to do once the transaction committed.
   */
  afterTransition(before: HoldRow, after: HoldRow, now: number): (() => void) | null {
    if (this.waitingCount === 0 && this.offeredHolds.size === 0) return null;
    const changes: SeatChange[] = [];
    const metrics: Metric[] = [];
    const eventId = this.d.holds.config!.eventId;
    if (this.offeredHolds.has(after.id)) {
      const entry = this.d.store.entryByHold(after.id);
      const next = entry && entryAfterHold(entry, before.status, after.status, now);
      if (next) {
        this.writeEntry(next);
        this.offeredHolds.delete(after.id);
        if (next.status === "converted" || next.status === "left") {
          metrics.push({ kind: "waitlist", eventId, outcome: "ok", action: next.status, quantity: next.quantity });
        }
      }
    }
    const d = counterDelta(before.status, after.status, after.quantity);
    if (d.held + d.booked < 0 && !this.d.closed()) this.offerToQueue(now, changes, metrics);
    if (changes.length === 0 && metrics.length === 0) return null;
    return this.afterCommit(changes, metrics);
  }

  private afterCommit(changes: SeatChange[], metrics: Metric[]): () => void {
    return () => {
      // The offered seats are announced as held after the release's own delta, so held wins.
      if (metrics.some((m) => m.action === "offered")) this.d.announce(changes);
      for (const m of metrics) this.d.metric(m);
    };
  }

  private offerToQueue(now: number, changes: SeatChange[], metrics: Metric[]): void {
    const { holds } = this.d;
    const config = holds.config!;
    while (this.waitingCount > 0) {
      const head = this.d.store.firstWaiting();
      if (!head) {
        this.waitingCount = 0;
        return;
      }
      const available = holds.available();
      const d = decideOffer({
        config,
        now,
        head,
        available,
        seats: config.seating === "reserved" && head.quantity <= available ? holds.firstAvailableSeats(head.quantity) : [],
        userQuantity: holds.userQuantity(head.userId),
        newHoldId: holds.newHoldId(),
        price: holds.pricer(now),
      });
      if (d.kind === "wait") return;
      this.waitingCount--;
      this.writeEntry(d.entry);
      if (d.kind === "close") continue;
      holds.insertHold(d.hold, d.changes, now);
      this.d.outbox.add({ kind: "notify", body: offerNotification(d.entry, d.hold, config) });
      this.offeredHolds.add(d.hold.id);
      changes.push(...d.changes);
      metrics.push({ kind: "waitlist", eventId: config.eventId, outcome: "ok", action: "offered", quantity: d.hold.quantity });
    }
  }

  private writeEntry(e: WaitlistEntryRow): void {
    this.d.store.updateEntry(e);
    this.mirror(e);
  }

  private mirror(e: WaitlistEntryRow): void {
    this.d.outbox.add({ kind: "mirror", body: mirrorOf(e, this.d.holds.config!.eventId) });
  }

  private viewOf(e: WaitlistEntryRow): WaitlistEntryView {
    const position = e.status === "waiting" ? this.d.store.waitingUpTo(e.seq) : null;
    return entryView(e, this.d.holds.config!.eventId, position);
  }
}
