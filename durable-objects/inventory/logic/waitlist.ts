/**
 * Pure decisions of the EventInventory's waitlist (DESIGN.md, step 6). No `cloudflare:*` imports:
 * the object reads rows, asks a function here, and writes the answer in the same synchronous
 * transaction as the seats coming back, so no public hold can take them in between.
 * Kept beside inventory/logic/rules.ts rather than in it: the hold path lives there.
 */
import { fail, ok, type HoldContext, type HoldRow, type InventoryConfig, type SeatChange, type SeatRow } from "./rules";
import { DEFAULT_TYPE_ID, MAX_SEATS_PER_REQUEST, type HoldStatus, type InventoryResult, type WaitlistEntryView, type WaitlistStatus } from "../contract";

export interface WaitlistEntryRow {
  /** Arrival order: the queue is served strictly by it. */
  seq: number;
  id: string;
  userId: string;
  quantity: number;
  status: WaitlistStatus;
  holdId: string | null;
  joinedAt: number;
  offeredAt: number | null;
  offerExpiresAt: number | null;
  updatedAt: number;
}

/** Waiting and offered entries are active: one per user per event. */
export const isActiveEntry = (s: WaitlistStatus) => s === "waiting" || s === "offered";

const salesOpen = (config: InventoryConfig, now: number) =>
  (config.salesStartMs === null || now >= config.salesStartMs) && now < config.salesEndMs;

export interface JoinContext {
  config: InventoryConfig;
  now: number;
  userId: string;
  quantity: unknown;
  /** The user's waiting or offered entry in this event, if any. */
  existing: WaitlistEntryRow | null;
  /** Quantity this user holds or bought in this event (active, confirming, committed). */
  userQuantity: number;
  /** Seats neither held nor booked right now. */
  available: number;
  newEntryId: string;
}

export type JoinDecision = { kind: "existing"; entry: WaitlistEntryRow } | { kind: "create"; entry: WaitlistEntryRow };

export function decideJoin(x: JoinContext): InventoryResult<JoinDecision> {
  const q = x.quantity;
  if (!Number.isInteger(q) || (q as number) < 1 || (q as number) > MAX_SEATS_PER_REQUEST) {
    return fail("VALIDATION_FAILED", `quantity must be an integer 1-${MAX_SEATS_PER_REQUEST}`);
  }
  const quantity = q as number;
  // Joining twice is a retry, not a second place in the queue.
  if (x.existing) return ok({ kind: "existing", entry: x.existing });
  if (!salesOpen(x.config, x.now)) return fail("SALES_CLOSED", "Sales are not open for this event");
  // Such an entry could never be offered, and the line is served strictly in order: it would block everyone behind it.
  if (quantity > x.config.capacity) {
    return fail("LIMIT_EXCEEDED", `This event has only ${x.config.capacity} seats`, { capacity: x.config.capacity });
  }
  if (x.userQuantity + quantity > x.config.maxSeatsPerUser) {
    return fail("LIMIT_EXCEEDED", `At most ${x.config.maxSeatsPerUser} seats per user for this event`, {
      maxSeatsPerUser: x.config.maxSeatsPerUser,
      alreadyHeldOrBooked: x.userQuantity,
    });
  }
  if (quantity <= x.available) {
    return fail("SEATS_AVAILABLE", `${x.available} seats are available now: hold them instead`, { available: x.available });
  }
  return ok({
    kind: "create",
    entry: {
      seq: 0, // assigned by SQLite on insert
      id: x.newEntryId,
      userId: x.userId,
      quantity,
      status: "waiting",
      holdId: null,
      joinedAt: x.now,
      offeredAt: null,
      offerExpiresAt: null,
      updatedAt: x.now,
    },
  });
}

export interface OfferContext {
  config: InventoryConfig;
  now: number;
  /** The waiting entry that arrived first. */
  head: WaitlistEntryRow;
  /** Seats neither held nor booked right now. */
  available: number;
  /** Reserved seating: the first `head.quantity` available seats in seat order. General admission: empty. */
  seats: SeatRow[];
  /** Quantity the head's user holds or bought in this event. */
  userQuantity: number;
  newHoldId: string;
  /**
   * Prices and gates the offer as a public hold of the default ticket type (inventory/engine/products.ts):
   * its price, its sales window, its hidden flag, its sections, its quota and per-order limits.
   */
  price: HoldContext["price"];
}

export type OfferDecision =
  /** A hold reserved for the head for `waitlistOfferSeconds`; the entry becomes offered. */
  | { kind: "offer"; hold: HoldRow; changes: SeatChange[]; entry: WaitlistEntryRow }
  /** The head can never be offered within the per-user cap (it bought seats meanwhile): it ends, the next one is considered. */
  | { kind: "close"; entry: WaitlistEntryRow }
  /** Not enough seats for the head (or sales closed): nobody behind it is served either. */
  | { kind: "wait" };

export function decideOffer(x: OfferContext): OfferDecision {
  const { config, head, now } = x;
  if (!salesOpen(config, now)) return { kind: "wait" };
  if (x.userQuantity + head.quantity > config.maxSeatsPerUser) {
    return { kind: "close", entry: { ...head, status: "expired", updatedAt: now } };
  }
  if (head.quantity > x.available) return { kind: "wait" };
  let wanted: Parameters<OfferContext["price"]>[0] = [{ ticketTypeId: DEFAULT_TYPE_ID, quantity: head.quantity }];
  if (config.seating === "reserved") {
    const free = x.seats.filter((s) => s.status === "available").slice(0, head.quantity);
    if (free.length < head.quantity) return { kind: "wait" };
    wanted = free.map((s) => ({ ticketTypeId: DEFAULT_TYPE_ID, quantity: 1, seatId: s.id, seatPriceCents: s.priceCents }));
  }
  const priced = x.price(wanted, null);
  if (!priced.ok) {
    // The head's quantity breaks the type's per-order limits: it could never be offered, and the
    // line is served strictly in order, so it ends (as for the per-user cap). Anything else (off
    // sale, hidden, quota used up) may pass: everyone waits, as the public cannot buy either.
    if (priced.code === "LIMIT_EXCEEDED") return { kind: "close", entry: { ...head, status: "expired", updatedAt: now } };
    return { kind: "wait" };
  }
  const { seats, totalCents, lines } = priced.value;
  const expiresAt = now + config.waitlistOfferSeconds * 1000;
  return {
    kind: "offer",
    changes: seats.map((s) => ({ id: s.id, status: "held" as const })),
    hold: {
      id: x.newHoldId,
      userId: head.userId,
      status: "active",
      seats,
      quantity: head.quantity,
      totalCents,
      expiresAt,
      createdAt: now,
      bookingId: null,
      idempotencyKey: null,
      // Never matches a client's request hash: an offered hold is not replayed by an Idempotency-Key.
      requestHash: `w:${head.id}`,
      lines,
      voucherId: null,
    },
    entry: { ...head, status: "offered", holdId: x.newHoldId, offeredAt: now, offerExpiresAt: expiresAt, updatedAt: now },
  };
}

/**
 * How an offered entry follows its hold: booked is converted; a lapse, or a failed payment after
 * the user began booking, is expired; the user letting the offer go (releasing the active hold,
 * or leaving the waitlist) is left. Null while the offer is still open (active or confirming).
 */
export function entryAfterHold(entry: WaitlistEntryRow, from: HoldStatus, to: HoldStatus, now: number): WaitlistEntryRow | null {
  if (entry.status !== "offered" || from === to) return null;
  let status: WaitlistStatus;
  if (to === "committed") status = "converted";
  else if (to === "expired") status = "expired";
  else if (to === "released") status = from === "active" ? "left" : "expired";
  else return null;
  return { ...entry, status, offerExpiresAt: null, updatedAt: now };
}

export type LeaveDecision =
  | { kind: "unchanged"; entry: WaitlistEntryRow }
  | { kind: "left"; entry: WaitlistEntryRow }
  /** Release the offered hold; the hold transition marks the entry left and offers the seats on. */
  | { kind: "release-offer"; holdId: string };

export function decideLeave(entry: WaitlistEntryRow, now: number): LeaveDecision {
  if (entry.status === "waiting") return { kind: "left", entry: { ...entry, status: "left", updatedAt: now } };
  if (entry.status === "offered" && entry.holdId) return { kind: "release-offer", holdId: entry.holdId };
  return { kind: "unchanged", entry };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function entryView(entry: WaitlistEntryRow, eventId: string, position: number | null): WaitlistEntryView {
  return {
    id: entry.id,
    eventId,
    userId: entry.userId,
    quantity: entry.quantity,
    status: entry.status,
    position: entry.status === "waiting" ? position : null,
    holdId: entry.holdId,
    offerExpiresAt: entry.status === "offered" ? iso(entry.offerExpiresAt) : null,
    joinedAt: new Date(entry.joinedAt).toISOString(),
    offeredAt: iso(entry.offeredAt),
  };
}

// ---------------------------------------------------------------------------------------------
// Outbox: what leaves the object, relayed by its alarm (at least once; receivers dedupe).

/** The Postgres `waitlist_entries` row, upserted by id; `updatedAt` orders replays. */
export interface WaitlistMirror {
  id: string;
  eventId: string;
  userId: string;
  quantity: number;
  status: WaitlistStatus;
  holdId: string | null;
  joinedAt: number;
  offeredAt: number | null;
  updatedAt: number;
}

export function mirrorOf(entry: WaitlistEntryRow, eventId: string): WaitlistMirror {
  return {
    id: entry.id,
    eventId,
    userId: entry.userId,
    quantity: entry.quantity,
    status: entry.status,
    holdId: entry.holdId,
    joinedAt: entry.joinedAt,
    offeredAt: entry.offeredAt,
    updatedAt: entry.updatedAt,
  };
}

/** Several states of one entry in one relay batch: only the last may be written (one upsert per row). */
export function latestMirrors(rows: WaitlistMirror[]): WaitlistMirror[] {
  const byId = new Map<string, WaitlistMirror>();
  for (const r of rows) byId.set(r.id, r);
  return [...byId.values()];
}

/** The event was cancelled: an entry still waiting (or offered, its hold not being booked) ends. */
export function cancelledEntry(entry: WaitlistEntryRow, now: number): WaitlistEntryRow {
  return { ...entry, status: "cancelled", offerExpiresAt: null, updatedAt: now };
}

/** The `notification.send` message telling a user who was waiting that the event was cancelled (once per entry). */
export function cancelledNotification(entry: WaitlistEntryRow, config: InventoryConfig) {
  return {
    type: "notification.send" as const,
    dedupeKey: `waitlist.event-cancelled:${entry.id}`,
    userId: entry.userId,
    kind: "waitlist.event-cancelled" as const,
    payload: { eventId: config.eventId, entryId: entry.id, quantity: entry.quantity },
  };
}

/** The `notification.send` message (src/queues/messages.ts) telling a user seats are held for them. */
export function offerNotification(entry: WaitlistEntryRow, hold: HoldRow, config: InventoryConfig) {
  return {
    type: "notification.send" as const,
    dedupeKey: `waitlist.offered:${entry.id}:${hold.id}`,
    userId: entry.userId,
    kind: "waitlist.offered" as const,
    payload: {
      eventId: config.eventId,
      entryId: entry.id,
      holdId: hold.id,
      quantity: hold.quantity,
      seatIds: hold.seats.map((s) => s.id),
      totalCents: hold.totalCents,
      currency: config.currency,
      offerExpiresAt: iso(hold.expiresAt),
    },
  };
}
