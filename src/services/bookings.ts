import { and, eq, inArray, sql } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { bookings, bookingSeats, checkins, events, sagaSteps, seats, tickets } from "../db/schema";
import { audit } from "./audit";
import type { AuthUser } from "../auth/tokens";
import { AppError } from "../lib/errors";
import { keyset } from "../lib/cursor";
import type { SagaMessage } from "../queues/messages";
import { advanceBooking, createBookingIntent, failBooking, freshRun, sagaDeps } from "./booking-saga";
import { parseConfig } from "../env";
import { checkoutPayment, stripeFor } from "./payments/index";
import { announceBookingOutcome } from "./booking-events";
import { inventoryFor } from "../../durable-objects/inventory/client";
import { eventIdOfHold } from "../../durable-objects/inventory/contract";
import { failureReason } from "./booking-failures";
import { cancelTicketsOf } from "./tickets";
import type { BookingStatus } from "./booking-saga.logic";
import { assertPaymentsConfigured, type PaymentMethod } from "./payments";

type Booking = typeof bookings.$inferSelect;

export interface BookingView {
  id: string;
  eventId: string;
  holdId: string;
  status: BookingStatus;
  seats: { id: string; priceCents: number }[];
  /** Priced by the event's object when the hold was made (docs/products.md). */
  lines: Booking["lines"];
  voucherId: string | null;
  quantity: number;
  totalCents: number;
  currency: string;
  paymentMethod: string;
  paymentDeadline: string;
  failureReason: string | null;
  createdAt: string;
  confirmedAt: string | null;
  cancelledAt: string | null;
}

/** What the buyer's page needs to pay (POST /v1/bookings only): the sandbox takes cards by name, Stripe by its Payment Element. */
export interface CheckoutPayment {
  provider: "sandbox" | "stripe";
  clientSecret?: string;
  publishableKey?: string;
}

export function bookingView(b: Booking): BookingView {
  return {
    id: b.id,
    eventId: b.eventId,
    holdId: b.holdId,
    status: b.status,
    seats: b.seats,
    lines: b.lines,
    voucherId: b.voucherId,
    quantity: b.quantity,
    totalCents: b.totalAmountCents,
    currency: b.currency,
    paymentMethod: b.paymentMethod,
    paymentDeadline: b.paymentDeadline.toISOString(),
    failureReason: b.failureReason,
    createdAt: b.createdAt.toISOString(),
    confirmedAt: b.confirmedAt?.toISOString() ?? null,
    cancelledAt: b.cancelledAt?.toISOString() ?? null,
  };
}


const noSuchHold = () => new AppError("NOT_FOUND", "No such hold");

async function sendSaga(env: Env, messages: SagaMessage[], delaySeconds?: number): Promise<void> {
  for (let i = 0; i < messages.length; i += 100) {
    await env.BOOKING_SAGA.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })), delaySeconds ? { delaySeconds } : undefined);
  }
}

/**
 * A booking's saga first runs in its request's waitUntil; its queue message is the safety net (the
 * isolate died, the provider was down), delivered this much later so the two rarely overlap. They
 * may: every step is idempotent (docs/bookings.md).
 */
export const SAGA_SAFETY_NET_DELAY_SECONDS = 2;

/**
 * POST /v1/bookings: a pending booking (one per hold), the hold marked confirming in its event's
 * object, and the saga started at once (`background`: the request's waitUntil), with a
 * booking.requested message behind it. The same hold again answers the same booking (200); a
 * pending one gets its message sent again, so a client's retry also re-drives a stalled saga.
 */
export async function requestBooking(
  env: Env,
  db: Database,
  user: AuthUser,
  input: { holdId: string; paymentMethod: PaymentMethod },
  now: Date,
  background?: (work: Promise<unknown>) => void,
): Promise<{ status: 200 | 202; booking: BookingView; payment: CheckoutPayment }> {
  const config = parseConfig(env);
  // Stripe is configured whenever chosen (parseConfig refuses it half set); the sandbox only where it may charge.
  if (config.paymentProvider === "sandbox") assertPaymentsConfigured(env);
  const eventId = eventIdOfHold(input.holdId);
  if (!eventId) throw noSuchHold();
  // The event and any booking of this hold: one statement.
  const [found] = await db
    .select({ status: events.status, paymentDeadlineSeconds: events.paymentDeadlineSeconds, booking: bookings })
    .from(events)
    .leftJoin(bookings, eq(bookings.holdId, input.holdId))
    .where(eq(events.id, eventId));
  if (!found) throw noSuchHold();
  if (found.booking) return again(env, db, user, found.booking);
  if (found.status === "cancelled") throw new AppError("EVENT_CANCELLED", "The event was cancelled; nothing can be booked", { eventId });

  const inventory = inventoryFor(env, eventId);
  const hold = await inventory.getHold(input.holdId);
  if (!hold.ok) {
    if (hold.code === "NOT_FOUND" || hold.code === "NOT_INITIALIZED") throw noSuchHold();
    throw new AppError(hold.code === "OVERLOADED" ? "OVERLOADED" : "INTERNAL", hold.message);
  }
  const h = hold.value;
  if (h.userId !== user.id) throw noSuchHold();
  if (h.status === "expired" || h.status === "released") throw new AppError("HOLD_EXPIRED", "The hold has expired or was released");
  if (h.status !== "active") {
    // Confirming or committed without a booking row of ours: a concurrent request is creating it.
    const raced = await existing(env, db, user, input.holdId);
    if (raced) return raced;
    throw new AppError("INVALID_STATE", "The hold is already being booked");
  }

  const [created] = await db
    .insert(bookings)
    .values({
      userId: user.id,
      eventId,
      holdId: h.id,
      quantity: h.quantity,
      seats: h.seats,
      lines: h.lines,
      voucherId: h.voucherId,
      totalAmountCents: h.totalCents,
      currency: h.currency,
      paymentMethod: input.paymentMethod,
      paymentProvider: config.paymentProvider,
      paymentDeadline: new Date(now.getTime() + found.paymentDeadlineSeconds * 1000),
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing({ target: bookings.holdId })
    .returning();
  if (!created) {
    const raced = await existing(env, db, user, input.holdId);
    if (raced) return raced;
    throw noSuchHold();
  }
  // The message goes first: if anything below fails, the saga still finishes (or compensates) the booking.
  await sendSaga(env, [{ type: "booking.requested", bookingId: created.id }], background ? SAGA_SAFETY_NET_DELAY_SECONDS : undefined);
  const confirming = await inventory.beginConfirm(h.id, created.id).catch((e: unknown) => {
    console.warn(JSON.stringify({ level: "warn", msg: "beginConfirm failed, the saga will retry it", bookingId: created.id, error: String(e) }));
    return null;
  });
  if (confirming && !confirming.ok && (confirming.code === "HOLD_EXPIRED" || confirming.code === "NOT_FOUND")) {
    await failBooking(db, created.id, failureReason("HOLD_EXPIRED"), now.getTime());
    throw new AppError("HOLD_EXPIRED", "The hold has expired");
  }
  // Stripe: the PaymentIntent the buyer's browser confirms, after the booking row (its metadata names the booking).
  let payment: CheckoutPayment | Error = { provider: "sandbox" };
  if (config.paymentProvider === "stripe") payment = await stripePayment(env, db, created);
  // The saga's first run, after the answer: it knows the booking already, so it reads nothing first.
  background?.(
    advanceBooking(sagaDeps(env, db), created.id, freshRun(created, confirming?.ok === true)).catch((e: unknown) => {
      console.warn(JSON.stringify({ level: "warn", msg: "first saga run failed, the queue message will re-drive it", bookingId: created.id, error: String(e) }));
    }),
  );
  // No intent: the booking stays pending (its saga creates the intent, same key); the client asks again.
  if (payment instanceof Error) throw paymentUnavailable();
  return { status: 202, booking: bookingView(created), payment };
}

const paymentUnavailable = () =>
  new AppError("DEPENDENCY_UNAVAILABLE", "The booking is made but the payment provider did not answer; repeat the request to pay", undefined, { "Retry-After": "2" });

/** The booking's intent (created, or the one its key already names) as the page needs it; an Error if Stripe did not answer. */
async function stripePayment(env: Env, db: Database, b: Booking): Promise<CheckoutPayment | Error> {
  try {
    const port = stripeFor(env);
    return checkoutPayment(port, await createBookingIntent(db, port, b));
  } catch (e) {
    console.warn(JSON.stringify({ level: "warn", msg: "creating the booking's payment intent failed, the saga will retry it", bookingId: b.id, error: String(e) }));
    return e instanceof Error ? e : new Error(String(e));
  }
}

async function existing(env: Env, db: Database, user: AuthUser, holdId: string): Promise<{ status: 200; booking: BookingView; payment: CheckoutPayment } | null> {
  const [b] = await db.select().from(bookings).where(eq(bookings.holdId, holdId));
  return b ? again(env, db, user, b) : null;
}

/** The booking of a hold asked for again: the same answer (200), and a pending one's saga re-driven. */
async function again(env: Env, db: Database, user: AuthUser, b: typeof bookings.$inferSelect): Promise<{ status: 200; booking: BookingView; payment: CheckoutPayment }> {
  if (b.userId !== user.id) throw noSuchHold();
  if (b.status === "pending") await sendSaga(env, [{ type: "booking.requested", bookingId: b.id }]);
  let payment: CheckoutPayment | Error = { provider: b.paymentProvider };
  // A pending Stripe booking still needs paying: its intent again (or at last).
  if (b.paymentProvider === "stripe" && b.status === "pending") payment = await stripePayment(env, db, b);
  if (payment instanceof Error) throw paymentUnavailable();
  return { status: 200, booking: bookingView(b), payment };
}

export async function getBooking(db: Database, user: AuthUser, id: string): Promise<BookingView> {
  const [b] = await db.select().from(bookings).where(eq(bookings.id, id));
  if (!b || (b.userId !== user.id && user.role !== "admin")) throw new AppError("NOT_FOUND", "No such booking");
  return bookingView(b);
}

/** Newest first, keyed by (created_at, id). */
const bookingPages = keyset("bookings", bookings.createdAt, bookings.id, "desc");

export async function listBookings(db: Database, userId: string, q: { status?: BookingStatus; limit: number; cursor?: string }): Promise<{ data: BookingView[]; nextCursor: string | null }> {
  const rows = await db
    .select({ booking: bookings, at: bookingPages.at })
    .from(bookings)
    .where(and(eq(bookings.userId, userId), q.status ? eq(bookings.status, q.status) : undefined, bookingPages.after(q.cursor)))
    .orderBy(...bookingPages.order)
    .limit(q.limit + 1);
  return { data: rows.slice(0, q.limit).map((r) => bookingView(r.booking)), nextCursor: bookingPages.next(rows, q.limit, (r) => ({ at: r.at, id: r.booking.id })) };
}

/**
 * Cancels confirmed bookings in Postgres first (seats inactive, counts down), in one transaction:
 * the seats can then be given back to the event's object without ever being sold twice. The saga
 * returns them, refunds and notifies.
 */
/** Tickets of a booking that left its buyer (transferred away) and entries made with its tickets. */
async function ticketsInUse(db: Database, bookingId: string): Promise<{ transferred: number; checkedIn: number }> {
  const res = await db.execute<{ transferred: number; checked_in: number }>(sql`
    select (select count(*)::int from ${tickets} where booking_id = ${bookingId} and status = 'transferred') as transferred,
           (select count(*)::int from ${checkins} c join ${tickets} t on t.id = c.ticket_id where t.booking_id = ${bookingId} and c.direction = 'entry') as checked_in`);
  return { transferred: res.rows[0].transferred, checkedIn: res.rows[0].checked_in };
}

async function cancelConfirmed(db: Database, where: { bookingId: string }, by: string, now: Date, opts: { refuseInUse?: boolean } = {}): Promise<string[]> {
  return db.transaction(async (tx) => {
    // Refusing: the check again inside the update, so a transfer or entry that landed after the
    // check above still stops it (a transfer locks the booking row: tickets.ts).
    const inUse = opts.refuseInUse
      ? sql`not exists (select 1 from ${tickets} where booking_id = ${bookings.id} and status = 'transferred') and not exists (select 1 from ${checkins} c join ${tickets} t on t.id = c.ticket_id where t.booking_id = ${bookings.id} and c.direction = 'entry')`
      : sql`true`;
    const moved = await tx
      .update(bookings)
      .set({ status: "cancelled", cancelledAt: now, updatedAt: now })
      .where(and(eq(bookings.id, where.bookingId), eq(bookings.status, "confirmed"), inUse))
      .returning({ id: bookings.id, eventId: bookings.eventId, quantity: bookings.quantity });
    if (!moved.length) return [];
    const ids = moved.map((m) => m.id);
    await cancelTicketsOf(tx, ids, now);
    const freed = await tx.update(bookingSeats).set({ active: false }).where(inArray(bookingSeats.bookingId, ids)).returning({ eventId: bookingSeats.eventId, seatId: bookingSeats.seatId });
    for (const eventId of new Set(moved.map((m) => m.eventId))) {
      const seatIds = freed.filter((f) => f.eventId === eventId).map((f) => f.seatId);
      if (seatIds.length) await tx.update(seats).set({ status: "available" }).where(and(eq(seats.eventId, eventId), inArray(seats.seatId, seatIds)));
      const sold = moved.filter((m) => m.eventId === eventId).reduce((n, m) => n + m.quantity, 0);
      await tx.update(events).set({ seatsSold: sql`${events.seatsSold} - ${sold}` }).where(eq(events.id, eventId));
    }
    await tx.insert(sagaSteps).values(ids.map((bookingId) => ({ bookingId, step: "cancel", status: "done" as const, detail: { by } }))).onConflictDoNothing();
    return ids;
  });
}

/** How long before its event starts a booking stops being cancellable (`BOOKING_CANCEL_CUTOFF_SECONDS`, default 0). */
export function cancelCutoffSeconds(env: { BOOKING_CANCEL_CUTOFF_SECONDS?: string }): number {
  const n = Number(env.BOOKING_CANCEL_CUTOFF_SECONDS ?? 0);
  if (!Number.isInteger(n) || n < 0) throw new Error(`invalid Worker configuration: BOOKING_CANCEL_CUTOFF_SECONDS=${env.BOOKING_CANCEL_CUTOFF_SECONDS}`);
  return n;
}

/** POST /v1/bookings/:id/cancel: owner or admin, confirmed bookings, until the event's start minus the cutoff. */
export async function cancelBooking(env: Env, db: Database, user: AuthUser, id: string, cutoffSeconds: number, now: Date): Promise<BookingView> {
  const [b] = await db.select().from(bookings).where(eq(bookings.id, id));
  if (!b || (b.userId !== user.id && user.role !== "admin")) throw new AppError("NOT_FOUND", "No such booking");
  if (b.status !== "cancelled") {
    if (b.status !== "confirmed") throw new AppError("INVALID_STATE", `A ${b.status} booking cannot be cancelled`, { status: b.status });
    const [event] = await db.select({ startTime: events.startTime }).from(events).where(eq(events.id, b.eventId));
    const closesAt = event.startTime.getTime() - cutoffSeconds * 1000;
    if (now.getTime() >= closesAt) {
      throw new AppError("CANCELLATION_CLOSED", "This booking can no longer be cancelled", { closedAt: new Date(closesAt).toISOString() });
    }
    // The buyer cannot take a refund for tickets someone else now holds or that got someone in
    // (docs/seams.md); an admin's cancellation cancels every ticket of the booking, said in the audit.
    const byBuyer = user.id === b.userId;
    const inUse = await ticketsInUse(db, id);
    if (byBuyer && (inUse.transferred || inUse.checkedIn)) {
      throw new AppError("TICKETS_IN_USE", "A ticket of this booking was transferred or used at the door, so it cannot be cancelled", inUse);
    }
    const moved = await cancelConfirmed(db, { bookingId: id }, user.id, now, { refuseInUse: byBuyer });
    if (!moved.length) return cancelBooking(env, db, user, id, cutoffSeconds, now);
    // An admin's cancellation also cancels tickets transferred away or used: the log says how many.
    await audit(db, { action: "booking.cancelled", actorId: user.id, subjectId: id, detail: { actorRole: user.role, ownerId: b.userId, amountCents: b.totalAmountCents, ticketsTransferred: inUse.transferred, ticketsCheckedIn: inUse.checkedIn } });
  }
  // Sent again for an already cancelled booking too: a retried cancel re-drives its saga.
  await sendSaga(env, [{ type: "booking.cancel-requested", bookingId: id }]);
  const [after] = await db.select().from(bookings).where(eq(bookings.id, id));
  if (b.status !== "cancelled") await announceBookingOutcome(env, { id, userId: after.userId, eventId: after.eventId, status: "cancelled", failureReason: null });
  return bookingView(after);
}

/**
 * Event cancellation, the part that cannot wait for the refund job: every pending booking fails
 * (its hold released, any charge refunded by its saga), and failed sagas that have not finished
 * get their message again. Confirmed bookings are the refund job's (event-cancellation.ts).
 * Idempotent; `failed` are the bookings this call failed.
 */
export async function failPendingEventBookings(env: Env, db: Database, eventId: string, now = new Date()): Promise<{ failed: string[] }> {
  const pending = await db.select({ id: bookings.id, userId: bookings.userId }).from(bookings).where(and(eq(bookings.eventId, eventId), eq(bookings.status, "pending")));
  const failed: string[] = [];
  for (const p of pending) {
    if (!(await failBooking(db, p.id, failureReason("EVENT_CANCELLED"), now.getTime()))) continue;
    failed.push(p.id);
    await announceBookingOutcome(env, { id: p.id, userId: p.userId, eventId, status: "failed", failureReason: failureReason("EVENT_CANCELLED") });
  }
  const unfinished = await db
    .select({ id: bookings.id })
    .from(bookings)
    .where(
      and(
        eq(bookings.eventId, eventId),
        eq(bookings.status, "failed"),
        sql`not exists (select 1 from ${sagaSteps} where ${sagaSteps.bookingId} = ${bookings.id} and ${sagaSteps.step} = 'notify-failed' and ${sagaSteps.status} = 'done')`,
      ),
    );
  await sendSaga(env, unfinished.map((b) => ({ type: "booking.requested", bookingId: b.id })));
  return { failed };
}
