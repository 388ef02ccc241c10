/**
 * Pure decisions of the EventInventory Durable Object. No `cloudflare:*` imports: the object reads
 * rows, asks a function here what to do, then writes the answer synchronously. Unit-tested in Node.
 */
import type {
  Availability,
  HoldLine,
  HoldRequest,
  HoldStatus,
  HoldView,
  InventoryErrorCode,
  InventoryInit,
  InventoryResult,
  SaleLimits,
  SeatSpec,
  SeatStatus,
} from "../contract";
import { DEFAULT_TYPE_ID, MAX_SEATS_PER_REQUEST, isSeatId, saleLimitsOf } from "../contract";
export { eventIdOfHold, makeHoldId } from "../contract";

export type Failure = { ok: false; code: InventoryErrorCode; message: string; details?: unknown };
export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const fail = (code: InventoryErrorCode, message: string, details?: unknown): Failure =>
  details === undefined ? { ok: false, code, message } : { ok: false, code, message, details };

export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// Configuration

export interface InventoryConfig extends SaleLimits {
  eventId: string;
  seating: "reserved" | "general";
  capacity: number;
  priceCents: number;
  currency: string;
  /** Epoch ms; null = no bound. */
  salesStartMs: number | null;
  /** Epoch ms; sales end at the event's start when the event gives no end. */
  salesEndMs: number;
  /** Epoch ms the event's cancellation closed the object (closeSales); absent while not cancelled. */
  cancelledMs?: number;
}

function parseTime(s: string | null | undefined, what: string): number | null | Failure {
  if (s === null || s === undefined) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : fail("VALIDATION_FAILED", `${what} is not an ISO 8601 time`);
}

const isFailure = (x: unknown): x is Failure => typeof x === "object" && x !== null && (x as Failure).ok === false;
const positiveInt = (n: unknown) => Number.isInteger(n) && (n as number) > 0;

/** Checks what the catalogue sends on publish and turns it into the object's configuration. */
export function validateInit(init: InventoryInit): InventoryResult<{ config: InventoryConfig; seats: SeatSpec[] }> {
  if (!init || typeof init !== "object") return fail("VALIDATION_FAILED", "init is required");
  if (typeof init.eventId !== "string" || !UUID.test(init.eventId)) return fail("VALIDATION_FAILED", "eventId must be a uuid");
  if (init.seating !== "reserved" && init.seating !== "general") return fail("VALIDATION_FAILED", "seating must be reserved or general");
  for (const k of ["maxSeatsPerUser", "holdTtlSeconds", "paymentDeadlineSeconds", "waitlistOfferSeconds"] as const) {
    if (!positiveInt(init[k])) return fail("VALIDATION_FAILED", `${k} must be a positive integer`);
  }
  if (!Number.isInteger(init.priceCents) || init.priceCents < 0) return fail("VALIDATION_FAILED", "priceCents must be >= 0");
  if (typeof init.currency !== "string" || !/^[A-Z]{3}$/.test(init.currency)) return fail("VALIDATION_FAILED", "currency must be ISO 4217");
  const start = parseTime(init.salesStartAt, "salesStartAt");
  const end = parseTime(init.salesEndAt, "salesEndAt");
  const startsAt = parseTime(init.startsAt, "startsAt");
  for (const t of [start, end, startsAt]) if (isFailure(t)) return t;
  if (startsAt === null) return fail("VALIDATION_FAILED", "startsAt is required");
  const salesEndMs = (end as number | null) ?? (startsAt as number);

  let seats: SeatSpec[] = [];
  let capacity = init.capacity;
  if (init.seating === "reserved") {
    if (!Array.isArray(init.seats) || init.seats.length === 0) return fail("VALIDATION_FAILED", "reserved seating needs seats");
    const ids = new Set<string>();
    for (const s of init.seats) {
      if (!isSeatId(s?.id)) return fail("VALIDATION_FAILED", `bad seat id ${JSON.stringify(s?.id)}`);
      if (ids.has(s.id)) return fail("VALIDATION_FAILED", `seat ${s.id} appears twice`);
      if (!Number.isInteger(s.priceCents) || s.priceCents < 0) return fail("VALIDATION_FAILED", `seat ${s.id} has a bad price`);
      ids.add(s.id);
    }
    seats = init.seats.map((s) => ({ id: s.id, section: String(s.section), row: String(s.row), number: Number(s.number), priceCents: s.priceCents }));
    capacity = seats.length;
  } else {
    if (!positiveInt(capacity)) return fail("VALIDATION_FAILED", "capacity must be a positive integer");
    if (Array.isArray(init.seats) && init.seats.length > 0) return fail("VALIDATION_FAILED", "general admission has no seats");
  }
  return ok({
    config: {
      eventId: init.eventId,
      seating: init.seating,
      capacity,
      priceCents: init.priceCents,
      currency: init.currency,
      ...saleLimitsOf(init),
      salesStartMs: start as number | null,
      salesEndMs,
    },
    seats,
  });
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// Holds

export interface HoldRow {
  id: string;
  userId: string;
  status: HoldStatus;
  seats: { id: string; priceCents: number }[];
  quantity: number;
  totalCents: number;
  /** Epoch ms of the clock expiry; null once confirming or ended. */
  expiresAt: number | null;
  createdAt: number;
  bookingId: string | null;
  idempotencyKey: string | null;
  requestHash: string;
  /** Priced lines (docs/products.md); absent on holds made before ticket types (and on waitlist offers made before offers were priced): the default type. */
  lines?: HoldLine[] | null;
  /** The voucher whose usage this hold takes while it counts. */
  voucherId?: string | null;
}

/** `types` runs beside `seatIds` (reserved) / `items` sum to `quantity` (general admission); the default type when the body named none. */
export type NormalizedHoldRequest = (
  | { kind: "seats"; seatIds: string[]; types: string[] }
  | { kind: "quantity"; quantity: number; items: { ticketTypeId: string; quantity: number }[] }
) & { voucher: string | null };

const DEFAULT_TYPE = DEFAULT_TYPE_ID;
const TYPE_ID = /^tt_[0-9a-z_]{1,40}$/;
const MAX_VOUCHER_LENGTH = 64;

/** Shape checks that need no rows; the object then reads only the seats named here. */
export function parseHoldRequest(req: HoldRequest, config: InventoryConfig, idempotencyKey: string | null): InventoryResult<NormalizedHoldRequest> {
  if (idempotencyKey !== null && (typeof idempotencyKey !== "string" || idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
    return fail("VALIDATION_FAILED", `Idempotency-Key must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  const r = req as Record<string, unknown> | null;
  if (!r || typeof r !== "object") return fail("VALIDATION_FAILED", "a hold needs seatIds or quantity");
  const given = (["seatIds", "quantity", "items", "seats"] as const).filter((k) => k in r && r[k] !== undefined);
  if (given.length !== 1) return fail("VALIDATION_FAILED", "a hold needs exactly one of seatIds, seats, quantity or items");
  let voucher: string | null = null;
  if (r.voucher !== undefined && r.voucher !== null) {
    if (typeof r.voucher !== "string" || r.voucher.trim().length === 0 || r.voucher.length > MAX_VOUCHER_LENGTH) {
      return fail("VALIDATION_FAILED", `voucher must be a code of 1-${MAX_VOUCHER_LENGTH} characters`);
    }
    voucher = r.voucher.trim().toUpperCase();
  }
  const kind = given[0];
  if (config.seating === "reserved") {
    if (kind !== "seatIds" && kind !== "seats") return fail("VALIDATION_FAILED", "this event has reserved seating: name seatIds or seats");
    const list = r[kind];
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_SEATS_PER_REQUEST) {
      return fail("VALIDATION_FAILED", `${kind} must list 1-${MAX_SEATS_PER_REQUEST} seats`);
    }
    let ids: unknown[] = list;
    let types: string[] = list.map(() => DEFAULT_TYPE);
    if (kind === "seats") {
      if (!list.every((x) => x && typeof x === "object" && TYPE_ID.test((x as { ticketTypeId?: unknown }).ticketTypeId as string))) {
        return fail("VALIDATION_FAILED", "seats must be {id, ticketTypeId} with ticket type ids");
      }
      ids = list.map((x) => (x as { id: unknown }).id);
      types = list.map((x) => (x as { ticketTypeId: string }).ticketTypeId);
    }
    if (!ids.every(isSeatId)) return fail("VALIDATION_FAILED", `${kind} must name seat ids`);
    if (new Set(ids).size !== ids.length) return fail("VALIDATION_FAILED", `${kind} lists a seat twice`);
    return ok({ kind: "seats", seatIds: ids as string[], types, voucher });
  }
  if (kind !== "quantity" && kind !== "items") return fail("VALIDATION_FAILED", "this event is general admission: give a quantity or items");
  const validQuantity = (q: unknown) => Number.isInteger(q) && (q as number) >= 1 && (q as number) <= MAX_SEATS_PER_REQUEST;
  let items: { ticketTypeId: string; quantity: number }[];
  if (kind === "quantity") {
    if (!validQuantity(r.quantity)) return fail("VALIDATION_FAILED", `quantity must be an integer 1-${MAX_SEATS_PER_REQUEST}`);
    items = [{ ticketTypeId: DEFAULT_TYPE, quantity: r.quantity as number }];
  } else {
    const list = r.items;
    if (!Array.isArray(list) || list.length === 0 || list.length > 20) return fail("VALIDATION_FAILED", "items must list 1-20 ticket types");
    if (!list.every((x) => x && typeof x === "object" && TYPE_ID.test((x as { ticketTypeId?: unknown }).ticketTypeId as string) && validQuantity((x as { quantity?: unknown }).quantity))) {
      return fail("VALIDATION_FAILED", `items must be {ticketTypeId, quantity 1-${MAX_SEATS_PER_REQUEST}}`);
    }
    items = list.map((x) => ({ ticketTypeId: (x as { ticketTypeId: string }).ticketTypeId, quantity: (x as { quantity: number }).quantity }));
    if (new Set(items.map((i) => i.ticketTypeId)).size !== items.length) return fail("VALIDATION_FAILED", "items lists a ticket type twice");
  }
  const quantity = items.reduce((n, i) => n + i.quantity, 0);
  if (quantity > MAX_SEATS_PER_REQUEST) return fail("VALIDATION_FAILED", `at most ${MAX_SEATS_PER_REQUEST} tickets per hold`);
  return ok({ kind: "quantity", quantity, items, voucher });
}

/** Same seats in any order, or the same quantity, is the same request for idempotency. */
export function requestHash(req: NormalizedHoldRequest): string {
  const plain = req.voucher === null && (req.kind === "seats" ? req.types : req.items.map((i) => i.ticketTypeId)).every((t) => t === DEFAULT_TYPE);
  // Bodies without types or voucher hash as before ticket types existed, so stored keys still replay.
  if (plain) return req.kind === "seats" ? `s:${[...req.seatIds].sort().join(",")}` : `q:${req.quantity}`;
  const parts = req.kind === "seats" ? req.seatIds.map((id, i) => `${id}=${req.types[i]}`) : req.items.map((i) => `${i.ticketTypeId}=${i.quantity}`);
  return `${req.kind === "seats" ? "s" : "q"}:${parts.sort().join(",")}|v:${req.voucher ?? ""}`;
}

export interface SeatRow {
  id: string;
  priceCents: number;
  status: SeatStatus;
}

export interface HoldContext {
  config: InventoryConfig;
  now: number;
  userId: string;
  req: NormalizedHoldRequest;
  idempotencyKey: string | null;
  /** The hold this user made earlier with the same idempotency key, if any. */
  previous: HoldRow | null;
  /** Seats: the rows of the requested seats that exist. General admission: empty. */
  seats: SeatRow[];
  /** Quantity this user holds or bought in this event (active, confirming, committed). */
  userQuantity: number;
  /** General admission: what is neither held nor booked. */
  available: number;
  newHoldId: string;
  /** Ticket types and vouchers (inventory/engine/products.ts): prices the hold's lines or refuses it. */
  price: (wanted: { ticketTypeId: string; quantity: number; seatId?: string; seatPriceCents?: number }[], voucher: string | null) => InventoryResult<{
    lines: HoldLine[];
    totalCents: number;
    voucherId: string | null;
    seats: { id: string; priceCents: number }[];
  }>;
}

export interface SeatChange {
  id: string;
  status: SeatStatus;
}

export type HoldDecision =
  | { kind: "replay"; hold: HoldRow }
  | { kind: "create"; hold: HoldRow; changes: SeatChange[] };

export function decideHold(x: HoldContext): InventoryResult<HoldDecision> {
  const hash = requestHash(x.req);
  if (x.previous) {
    if (x.previous.requestHash !== hash) {
      return fail("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was used with another request");
    }
    return ok({ kind: "replay", hold: x.previous });
  }
  const { config } = x;
  if (config.salesStartMs !== null && x.now < config.salesStartMs) return fail("SALES_CLOSED", "Sales have not opened yet");
  if (x.now >= config.salesEndMs) return fail("SALES_CLOSED", "Sales have closed");

  const quantity = x.req.kind === "seats" ? x.req.seatIds.length : x.req.quantity;
  if (x.userQuantity + quantity > config.maxSeatsPerUser) {
    return fail("LIMIT_EXCEEDED", `At most ${config.maxSeatsPerUser} seats per user for this event`, {
      maxSeatsPerUser: config.maxSeatsPerUser,
      alreadyHeldOrBooked: x.userQuantity,
    });
  }

  let changes: SeatChange[] = [];
  let wanted: { ticketTypeId: string; quantity: number; seatId?: string; seatPriceCents?: number }[];
  if (x.req.kind === "seats") {
    const byId = new Map(x.seats.map((s) => [s.id, s]));
    const unknown = x.req.seatIds.filter((id) => !byId.has(id));
    if (unknown.length) return fail("VALIDATION_FAILED", "Some seats do not exist in this event", { seatIds: unknown });
    const taken = x.req.seatIds.filter((id) => byId.get(id)!.status !== "available");
    if (taken.length) return fail("SEAT_UNAVAILABLE", "Some seats are no longer available", { seatIds: taken });
    const types = x.req.types;
    wanted = x.req.seatIds.map((id, i) => ({ ticketTypeId: types[i], quantity: 1, seatId: id, seatPriceCents: byId.get(id)!.priceCents }));
    changes = x.req.seatIds.map((id) => ({ id, status: "held" as const }));
  } else {
    if (quantity > x.available) {
      return fail("SEAT_UNAVAILABLE", `Only ${x.available} tickets are available`, { seatIds: [], available: x.available });
    }
    wanted = x.req.items;
  }
  const priced = x.price(wanted, x.req.voucher);
  if (!priced.ok) return priced;
  const { seats, totalCents, lines, voucherId } = priced.value;
  return ok({
    kind: "create",
    changes,
    hold: {
      id: x.newHoldId,
      userId: x.userId,
      status: "active",
      seats,
      quantity,
      totalCents,
      expiresAt: x.now + config.holdTtlSeconds * 1000,
      createdAt: x.now,
      bookingId: null,
      idempotencyKey: x.idempotencyKey,
      requestHash: hash,
      lines,
      voucherId,
    },
  });
}

/** A transition of one hold: the row after, the seats that change, the history kind to record. */
export interface Transition {
  hold: HoldRow;
  /** Unchanged holds (idempotent repeats) have no changes and no history. */
  changed: boolean;
  changes: SeatChange[];
  history: HistoryKind | null;
}

export type HistoryKind = "created" | "released" | "expired" | "committed";

const unchanged = (hold: HoldRow): Transition => ({ hold, changed: false, changes: [], history: null });
const seatsTo = (hold: HoldRow, status: SeatStatus): SeatChange[] => hold.seats.map((s) => ({ id: s.id, status }));
const ended = (s: HoldStatus) => s === "released" || s === "expired";

/** An active hold whose clock ran out is expired, whether or not the alarm has fired yet. */
export function isOverdue(hold: HoldRow, now: number): boolean {
  return hold.status === "active" && hold.expiresAt !== null && hold.expiresAt <= now;
}

export function decideExpire(hold: HoldRow, now: number): Transition {
  if (!isOverdue(hold, now)) return unchanged(hold);
  return { hold: { ...hold, status: "expired", expiresAt: null }, changed: true, changes: seatsTo(hold, "available"), history: "expired" };
}

/** `byUserId` null is the system (saga compensation); a user may not pull a hold out of a running booking. */
export function decideRelease(hold: HoldRow, byUserId: string | null): InventoryResult<Transition> {
  if (byUserId !== null && hold.userId !== byUserId) return fail("NOT_FOUND", "No such hold");
  if (hold.status === "released" || hold.status === "expired" || hold.status === "committed") return ok(unchanged(hold));
  if (hold.status === "confirming" && byUserId !== null) {
    return fail("INVALID_STATE", "This hold is being booked; cancel the booking instead");
  }
  return ok({ hold: { ...hold, status: "released", expiresAt: null }, changed: true, changes: seatsTo(hold, "available"), history: "released" });
}

export function decideBeginConfirm(hold: HoldRow, bookingId: string): InventoryResult<Transition> {
  if (ended(hold.status)) return fail("HOLD_EXPIRED", `The hold has ${hold.status === "expired" ? "expired" : "been released"}`);
  if (hold.status === "confirming" || hold.status === "committed") {
    return hold.bookingId === bookingId ? ok(unchanged(hold)) : fail("INVALID_STATE", "The hold belongs to another booking");
  }
  return ok({ hold: { ...hold, status: "confirming", expiresAt: null, bookingId }, changed: true, changes: [], history: null });
}

export function decideCommit(hold: HoldRow, bookingId: string): InventoryResult<Transition> {
  if (ended(hold.status) && hold.bookingId !== bookingId) {
    return fail("HOLD_EXPIRED", `The hold has ${hold.status === "expired" ? "expired" : "been released"}`);
  }
  if (hold.bookingId !== bookingId) return fail("INVALID_STATE", "The hold is not being confirmed by this booking");
  if (hold.status === "committed") return ok(unchanged(hold));
  // Released by the saga's own compensation (or returned after cancellation): too late to commit.
  if (ended(hold.status)) return fail("HOLD_EXPIRED", "The hold was released before it could be committed");
  if (hold.status !== "confirming") return fail("INVALID_STATE", "Only a confirming hold can be committed");
  return ok({ hold: { ...hold, status: "committed" }, changed: true, changes: seatsTo(hold, "booked"), history: "committed" });
}

/**
 * Reconciliation's repair when Postgres has the booking confirmed but this object let its hold go:
 * the hold's seats are booked for it again, if they are still free (`seats` are the hold's seat
 * rows now; `available` the general-admission places). Anything else is left for a human.
 */
export function decideRestore(hold: HoldRow, bookingId: string, seats: SeatRow[], available: number, seating: "reserved" | "general"): InventoryResult<Transition> {
  if (hold.bookingId !== bookingId) return fail("INVALID_STATE", "The hold does not belong to this booking");
  if (hold.status === "committed") return ok(unchanged(hold));
  if (hold.status === "confirming") return decideCommit(hold, bookingId);
  if (hold.status === "active") return fail("INVALID_STATE", "The hold is still active");
  const free = seating === "reserved" ? seats.length === hold.seats.length && seats.every((x) => x.status === "available") : available >= hold.quantity;
  if (!free) return fail("SEAT_UNAVAILABLE", "The seats of this booking are taken by another hold");
  return ok({ hold: { ...hold, status: "committed", expiresAt: null }, changed: true, changes: seatsTo(hold, "booked"), history: "committed" });
}

/** A cancelled booking gives its seats back; the hold ends as released (once). */
export function decideReturnSeats(hold: HoldRow, bookingId: string): InventoryResult<Transition> {
  if (hold.bookingId !== bookingId) return fail("INVALID_STATE", "The hold does not belong to this booking");
  if (hold.status === "released") return ok(unchanged(hold));
  if (hold.status !== "committed") return fail("INVALID_STATE", "Only booked seats can be returned");
  return ok({ hold: { ...hold, status: "released" }, changed: true, changes: seatsTo(hold, "available"), history: "released" });
}

/** How the held/booked counters move when a hold goes from one status to another. */
export function counterDelta(from: HoldStatus | null, to: HoldStatus, quantity: number): { held: number; booked: number } {
  const weight = (s: HoldStatus | null) => ({
    held: s === "active" || s === "confirming" ? quantity : 0,
    booked: s === "committed" ? quantity : 0,
  });
  const a = weight(from);
  const b = weight(to);
  return { held: b.held - a.held, booked: b.booked - a.booked };
}

export function availability(capacity: number, held: number, booked: number): Availability {
  return { capacity, available: capacity - held - booked, held, booked };
}

/** Lines of a hold made before ticket types existed (or an offer made before offers were priced): the default type. */
export function linesOf(hold: Pick<HoldRow, "lines" | "seats" | "quantity" | "totalCents">): HoldLine[] {
  if (hold.lines && hold.lines.length) return hold.lines;
  if (hold.seats.length) return hold.seats.map((s) => ({ ticketTypeId: DEFAULT_TYPE_ID, seatId: s.id, quantity: 1, unitCents: s.priceCents, discountCents: 0 }));
  return [{ ticketTypeId: DEFAULT_TYPE_ID, quantity: hold.quantity, unitCents: hold.quantity ? Math.round(hold.totalCents / hold.quantity) : 0, discountCents: 0 }];
}

export function toView(hold: HoldRow, config: InventoryConfig): HoldView {
  return {
    id: hold.id,
    eventId: config.eventId,
    userId: hold.userId,
    status: hold.status,
    seats: hold.seats,
    quantity: hold.quantity,
    totalCents: hold.totalCents,
    currency: config.currency,
    lines: linesOf(hold),
    voucherId: hold.voucherId ?? null,
    expiresAt: hold.expiresAt === null ? null : new Date(hold.expiresAt).toISOString(),
    createdAt: new Date(hold.createdAt).toISOString(),
    bookingId: hold.bookingId,
  };
}

// ---------------------------------------------------------------------------------------------
// Alarm: one alarm at the earliest thing due.

export const RELAY_DELAY_MS = 250;
const RELAY_MAX_BACKOFF_MS = 60_000;

/** After `failures` failed relays in a row, how long to wait before the next try. */
export function relayBackoffMs(failures: number): number {
  return failures <= 0 ? RELAY_DELAY_MS : Math.min(RELAY_MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1));
}

/**
 * Each relay opens a Postgres connection, which costs tens of milliseconds of the object's CPU:
 * under a steady stream of holds, relays start at most this often, so that cost stays a small
 * fixed share instead of recurring every RELAY_DELAY_MS.
 */
export const RELAY_MIN_INTERVAL_MS = 2000;

/** When the next relay is due: soon after a quiet spell, never sooner than the minimum interval after the last one. */
export function relayDueAt(now: number, lastRelayAt: number | null, failures: number): number {
  const soonest = now + relayBackoffMs(failures);
  return lastRelayAt === null ? soonest : Math.max(soonest, lastRelayAt + RELAY_MIN_INTERVAL_MS);
}

export function nextAlarmAt(earliestExpiry: number | null, outboxDueAt: number | null): number | null {
  if (earliestExpiry === null) return outboxDueAt;
  if (outboxDueAt === null) return earliestExpiry;
  return Math.min(earliestExpiry, outboxDueAt);
}

// ---------------------------------------------------------------------------------------------
// Live seat map: deltas batched per window, versions rise by one per delta frame.

export const BATCH_WINDOW_MS = 50;

/** Collects seat changes between flushes; the last status of a seat wins. */
export class ChangeBatch {
  private readonly seats = new Map<string, SeatStatus>();
  private dirty = false;

  add(changes: SeatChange[]): void {
    for (const c of changes) this.seats.set(c.id, c.status);
    this.dirty = true;
  }

  get pending(): boolean {
    return this.dirty;
  }

  take(): SeatChange[] {
    const out = [...this.seats].map(([id, status]) => ({ id, status }));
    this.seats.clear();
    this.dirty = false;
    return out;
  }
}

/** When to flush a new batch: at once after a quiet spell, else one window after the last flush. */
export function flushDelayMs(now: number, lastFlushAt: number): number {
  return Math.max(0, BATCH_WINDOW_MS - (now - lastFlushAt));
}
