/**
 * The contract of the EventInventory Durable Object (one per event, reached by name = event id).
 * The catalogue calls `initialize` on publish, the holds routes call `hold`/`release`/`getHold`,
 * the booking saga calls `beginConfirm`/`commit`/`release`/`returnSeats`. Every method is
 * idempotent, and expected failures come back as values (errors thrown across RPC lose fields).
 */

export interface SeatSpec {
  /** Stable id, section-row-number, e.g. `A-3-12`. */
  id: string;
  section: string;
  row: string;
  number: number;
  priceCents: number;
}

/** An event's per-buyer and timing limits (docs/catalogue.md), the same on the event, its publish message and the object. */
export interface SaleLimits {
  maxSeatsPerUser: number;
  holdTtlSeconds: number;
  paymentDeadlineSeconds: number;
  waitlistOfferSeconds: number;
}

/** What an event gets when its organizer leaves a limit out. */
export const SALE_LIMIT_DEFAULTS: Readonly<SaleLimits> = { maxSeatsPerUser: 8, holdTtlSeconds: 600, paymentDeadlineSeconds: 600, waitlistOfferSeconds: 900 };

/** Exactly the limits of `x`, nothing else of it. */
export const saleLimitsOf = (x: SaleLimits): SaleLimits => ({
  maxSeatsPerUser: x.maxSeatsPerUser,
  holdTtlSeconds: x.holdTtlSeconds,
  paymentDeadlineSeconds: x.paymentDeadlineSeconds,
  waitlistOfferSeconds: x.waitlistOfferSeconds,
});

export interface InventoryInit extends SaleLimits {
  eventId: string;
  seating: "reserved" | "general";
  /** Reserved seating: every seat of the event's layout. General admission: empty. */
  seats: SeatSpec[];
  /** Reserved: number of seats; general admission: what is sold. */
  capacity: number;
  /** General admission price per ticket (reserved seats carry their own). */
  priceCents: number;
  currency: string;
  /** ISO 8601; null = no bound. */
  salesStartAt: string | null;
  salesEndAt: string | null;
  startsAt: string;
}

/**
 * General admission: `quantity` (the default ticket type) or `items`; reserved: `seatIds` (the
 * default type) or `seats` naming a type per seat. Either may carry a voucher code.
 */
export type HoldRequest = (
  | { seatIds: string[] }
  | { quantity: number }
  | { items: { ticketTypeId: string; quantity: number }[] }
  | { seats: { id: string; ticketTypeId: string }[] }
) & { voucher?: string };

/** One priced line of a hold: a seat (quantity 1) or a number of GA tickets of one type. `discountCents` is for the whole line. */
export interface HoldLine {
  ticketTypeId: string;
  seatId?: string;
  quantity: number;
  unitCents: number;
  discountCents: number;
}

export type HoldStatus = "active" | "confirming" | "committed" | "released" | "expired";

export interface HoldView {
  id: string;
  eventId: string;
  userId: string;
  status: HoldStatus;
  /** Reserved seating: the seats; general admission: empty. */
  seats: { id: string; priceCents: number }[];
  quantity: number;
  totalCents: number;
  currency: string;
  lines: HoldLine[];
  /** The voucher whose usage this hold takes, or null. */
  voucherId: string | null;
  /** Clock expiry of an active hold (ISO); null once confirming or ended. */
  expiresAt: string | null;
  createdAt: string;
  bookingId: string | null;
}

export type SeatStatus = "available" | "held" | "booked";

export interface Availability {
  capacity: number;
  available: number;
  held: number;
  booked: number;
}

/** Availability plus how admitted buyers have been holding (docs/onsale.md). */
export interface AdmissionStats extends Availability {
  onSale: boolean;
  /** Distinct admissions, still in session, that made a hold. */
  admissionsUsed: number;
  /** Seats held per admitted buyer so far; null before any. */
  seatsPerBuyer: number | null;
  /** The event's cap per buyer. */
  maxSeatsPerUser: number;
  /**
   * Of `available`, the seats some ticket type can still sell now (in its window, within its pool's
   * quota; hidden only while an unlocking voucher has a usage left): the room admits against this,
   * and is sold out at 0 with nothing held.
   */
  sellable: number;
  /** The event was cancelled or its sales window has ended: nothing more can sell (the room ends itself). */
  salesOver?: boolean;
}

export interface Snapshot {
  version: number;
  seating: "reserved" | "general";
  seats?: (SeatSpec & { status: SeatStatus })[];
  availability: Availability;
}

export type InventoryErrorCode =
  | "NOT_INITIALIZED"
  | "VALIDATION_FAILED"
  | "SEAT_UNAVAILABLE"
  | "LIMIT_EXCEEDED"
  | "SALES_CLOSED"
  | "NOT_FOUND"
  | "HOLD_EXPIRED"
  | "INVALID_STATE"
  | "IDEMPOTENCY_CONFLICT"
  | "OVERLOADED"
  | "SEATS_AVAILABLE"
  | "QUOTA_EXHAUSTED"
  | "VOUCHER_EXHAUSTED"
  | "VOUCHER_INVALID"
  | "NOT_ADMITTED"
  | "ADMISSION_SUPERSEDED"
  | "WAITLIST_CLOSED";

export type InventoryResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: InventoryErrorCode; message: string; details?: unknown };

/** `cancelled`: the event was cancelled while the entry waited or its offer was open. */
export type WaitlistStatus = "waiting" | "offered" | "expired" | "converted" | "left" | "cancelled";

/** A user's place in an event's waitlist. `offered` carries the hold reserved for them. */
export interface WaitlistEntryView {
  id: string;
  eventId: string;
  userId: string;
  quantity: number;
  status: WaitlistStatus;
  /** 1 = next to be offered; null once the entry is no longer waiting. */
  position: number | null;
  holdId: string | null;
  /** While offered: when the reserved hold lapses (ISO). */
  offerExpiresAt: string | null;
  joinedAt: string;
  offeredAt: string | null;
}

/** What closing sales ended: every hold the closing released (the same list on every call). */
export interface ClosedSales {
  closedAt: string;
  releasedHolds: { holdId: string; userId: string; quantity: number; seats: string[] }[];
}

// ---------------------------------------------------------------------------------------------
// Ticket types and vouchers as the object knows them (docs/products.md)

/** The ticket type every event has: old hold bodies (`seatIds`, `quantity`) buy it (docs/products.md). */
export const DEFAULT_TYPE_ID = "tt_default";

/** A ticket type's settings when its organizer leaves them out; the implicit default type is exactly these. */
export const TICKET_TYPE_DEFAULTS = { name: "Standard", priceCents: null, quota: null, quotaPool: null, minPerOrder: 1, maxPerOrder: null, hidden: false, sections: null } as const;

export interface TicketTypeDef {
  id: string;
  name: string;
  /** Minor units; null = the seat's own price (reserved) or the event's price (general admission). */
  priceCents: number | null;
  /** Most tickets of this type's pool that may be held or sold; null = no quota of its own. */
  quota: number | null;
  /** Types naming the same pool count together against each one's quota. */
  quotaPool: string | null;
  minPerOrder: number;
  maxPerOrder: number | null;
  salesStartMs: number | null;
  salesEndMs: number | null;
  /** Sold only with a voucher that unlocks it. */
  hidden: boolean;
  /** Reserved seating: the sections (`A`) or rows (`A-3`) this type may sell; null = every seat. */
  sections: string[] | null;
}

export type DiscountKind = "percent" | "fixed" | "price";

export interface VoucherDef {
  id: string;
  /** Upper case; codes match case-insensitively. */
  code: string;
  discount: { kind: DiscountKind; value: number };
  /** Holds (orders) that may use it at once or after booking. */
  maxUsages: number;
  validFromMs: number | null;
  validUntilMs: number | null;
  /** The types it applies to (discount and unlocking); null = every type. */
  ticketTypeIds: string[] | null;
  unlocksHidden: boolean;
}

export interface ProductSet {
  /** Pushes carry a strictly rising revision; one not above the stored set is ignored (a stale read or a repeat). */
  revision: number;
  types: TicketTypeDef[];
  vouchers: VoucherDef[];
  /**
   * Kept by the object, never pushed: the shared quota pool (`quotaPool`) of each type a push
   * removed while holds or sales of it were live. Those still count in that pool, so deleting a
   * type (its route's "nothing held" check can race a hold) never frees its share of a pool.
   */
  retiredPools?: Record<string, string>;
}

export interface ProductStats {
  revision: number;
  types: { ticketTypeId: string; used: number; quota: number | null; available: number }[];
  vouchers: { voucherId: string; code: string; usages: number; maxUsages: number }[];
}

/** What the object's sales (committed holds) carry, per ticket type (seats or tickets) and per voucher (orders): reconciliation compares it with Postgres. */
export interface BookedProducts {
  types: Record<string, number>;
  vouchers: Record<string, number>;
}

export interface EventInventoryRpc {
  /** Idempotent: a second call with the same event is a no-op that reports `created: false`. */
  initialize(init: InventoryInit): Promise<InventoryResult<{ created: boolean; version: number }>>;
  /** All-or-nothing. SEAT_UNAVAILABLE carries `details.seatIds`. A retried idempotency key returns the same hold. */
  hold(userId: string, req: HoldRequest, idempotencyKey: string | null, admission?: string | null): Promise<InventoryResult<HoldView>>;
  getHold(holdId: string): Promise<InventoryResult<HoldView>>;
  /** `byUserId` null = the system (saga compensation). Releasing an ended hold returns it unchanged. */
  release(holdId: string, byUserId: string | null): Promise<InventoryResult<HoldView>>;
  /** active -> confirming: the clock expiry stops; the booking saga owns the deadline now. */
  beginConfirm(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>>;
  /** confirming -> committed: seats booked. HOLD_EXPIRED when the hold ended first (the saga refunds). */
  commit(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>>;
  /** committed -> seats available again (cancellation). */
  returnSeats(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>>;
  /** Reconciliation: a released/expired hold of a booking Postgres has confirmed is booked again if its seats are free (SEAT_UNAVAILABLE if not). */
  restoreBooking(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>>;
  /** `returnSeats` for many (a cancelled event's refund batch); unknown or foreign holds are skipped. */
  returnSeatsMany(pairs: { holdId: string; bookingId: string }[]): Promise<InventoryResult<{ returned: number }>>;
  /** The event was cancelled: no new holds from now on (SALES_CLOSED), every open hold released. Idempotent. */
  closeSales(): Promise<InventoryResult<ClosedSales>>;
  /**
   * Joins the queue for `quantity` seats. SEATS_AVAILABLE when that quantity can be held now; a
   * user with a waiting or offered entry gets that entry back (`created: false`).
   */
  joinWaitlist(userId: string, quantity: number): Promise<InventoryResult<{ entry: WaitlistEntryView; created: boolean }>>;
  /** Leaves the queue; an offered entry's hold is released and offered to the next. NOT_FOUND if never joined. */
  leaveWaitlist(userId: string): Promise<InventoryResult<WaitlistEntryView>>;
  /** The user's latest entry in this event's waitlist, or NOT_FOUND. */
  waitlistEntry(userId: string): Promise<InventoryResult<WaitlistEntryView>>;
  /** Replaces the event's ticket types and vouchers (the catalogue pushes them after every change); a revision not above the stored one is ignored. */
  setProducts(set: ProductSet): Promise<InventoryResult<{ revision: number; applied: boolean }>>;
  /** Per type held+sold and what is left; per voucher its usages (holds that count). */
  productStats(): Promise<InventoryResult<ProductStats>>;
  /** Per type and per voucher, what committed holds carry (reconciliation; holds in flight are not counted). */
  bookedProducts(): Promise<BookedProducts>;
  snapshot(): Promise<Snapshot>;
  /** The snapshot, or NOT_INITIALIZED for an event never published. */
  seatMap(): Promise<InventoryResult<Snapshot>>;
  stats(): Promise<Availability>;
  /** On-sale mode (docs/onsale.md): from now on a hold needs an admission token (`admission` of `hold`), or no longer. */
  setOnSale(on: boolean, generation?: number): Promise<InventoryResult<{ onSale: boolean; generation: number }>>;
  /** What the waiting room's coordinator reads every tick. */
  admissionStats(): Promise<InventoryResult<AdmissionStats>>;
  ping(): Promise<{ ok: true; schemaVersion: number; at: number }>;
  /** A relay's snapshot (the per-version cached frame); from then on that relay is fed every delta (live-relay/contract.ts). */
  relaySnapshot(relay: string): Promise<InventoryResult<{ version: number; frame: string }>>;
  /**
   * Tells the buyer a booking's status (API.md "Checkout"): a `booking` frame to each of the user's
   * authenticated sockets, here and on the event's relays, and an event to the booking's open
   * server-sent event streams (closed on a final status). Answers how many sockets got the frame.
   * A courtesy: Postgres is the truth, and a client that misses it reads the booking.
   */
  pushBooking(push: BookingPush): Promise<{ sockets: number }>;
}

// ---------------------------------------------------------------------------------------------
// A booking's outcome, pushed to its buyer (live socket `booking` frames, server-sent events)

export type BookingPushStatus = "pending" | "confirmed" | "failed" | "cancelled";

export interface BookingPush {
  /** The buyer: only their sockets and streams hear of it. */
  userId: string;
  /** The booking id. */
  id: string;
  status: BookingPushStatus;
  failureReason?: string | null;
}

/** Statuses a booking never leaves: a stream ends with one of them. */
export function isFinalBookingStatus(status: BookingPushStatus): boolean {
  return status !== "pending";
}

/** What the buyer is told: `{id,status,failureReason?}` (the reason only when there is one). */
function bookingBody(p: BookingPush): { id: string; status: BookingPushStatus; failureReason?: string } {
  return { id: p.id, status: p.status, ...(typeof p.failureReason === "string" ? { failureReason: p.failureReason } : {}) };
}

/** The live socket frame: `{"type":"booking","id","status","failureReason"?}`. */
export function bookingFrame(p: BookingPush): string {
  return JSON.stringify({ type: "booking", ...bookingBody(p) });
}

/** One server-sent event of `GET /v1/bookings/:id/events`. */
export function bookingEvent(p: BookingPush): string {
  return `event: booking\ndata: ${JSON.stringify(bookingBody(p))}\n\n`;
}

/** The comment line a booking stream sends between events, so proxies and clients keep it open. */
export const BOOKING_EVENTS_HEARTBEAT = ": ping\n\n";
export const BOOKING_EVENTS_HEARTBEAT_MS = 15_000;
/** Path of the Worker's internal request that opens a booking's stream on the event's object (body: the booking's current BookingPush). */
export const BOOKING_EVENTS_PATH = "/internal/booking-events";

// ---------------------------------------------------------------------------------------------
// Limits, id formats and header names shared by the object and the Worker

/** The most seats a single request may name, whatever an event's cap says. */
export const MAX_SEATS_PER_REQUEST = 50;

/** Header the Worker sets on a forwarded live upgrade (it strips any the client sent). */
export const LIVE_USER_HEADER = "x-evently-live-user";
/** Header of the inventory's answer to an upgrade when it serves enough sockets itself: the Worker sends it to a relay. */
export const LIVE_USE_RELAY_HEADER = "x-evently-live-use-relay";

// Seat labels and seat ids: one rule for the venue layout schema (src/services/layout.ts) and the
// object, so a layout the venue accepts always builds an inventory the object accepts.

/** A section name or row label: 1-24 letters, digits or `_`. No `-`: it separates the parts of a seat id. */
const LABEL = "[A-Za-z0-9_]{1,24}";
export const SEAT_LABEL = new RegExp(`^${LABEL}$`);
export const SEAT_LABEL_HINT = "use 1-24 letters, digits or _";

/** `section-row-number`, e.g. `A-3-12` (numbers start at 1; a venue has at most 100,000 seats). */
export const SEAT_ID = new RegExp(`^${LABEL}-${LABEL}-[1-9][0-9]{0,5}$`);

export function seatIdOf(section: string, row: string, number: number): string {
  return `${section}-${row}-${number}`;
}

export function isSeatId(id: unknown): id is string {
  return typeof id === "string" && SEAT_ID.test(id);
}

// Hold ids: they carry their event, so `GET /v1/holds/:id` reaches the right object without Postgres.

const HOLD_ID = /^hld_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([0-9a-z]{20})$/;

export function makeHoldId(eventId: string, random: string): string {
  return `hld_${eventId.toLowerCase()}_${random}`;
}

/** The event a hold id belongs to, or null for anything that is not a hold id. */
export function eventIdOfHold(holdId: string): string | null {
  const m = HOLD_ID.exec(holdId);
  return m ? m[1] : null;
}

