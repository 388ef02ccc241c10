import { eq } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { bookings } from "../db/schema";
import { AppError } from "../lib/errors";
import { inventory, pushBookingOutcome } from "../../durable-objects/inventory/client";
import { bookingEvent, isFinalBookingStatus, type BookingPush } from "../../durable-objects/inventory/contract";

/** A booking as its buyer is told it, and the event whose object carries the pushes. */
export interface BookingOutcome {
  id: string;
  userId: string;
  eventId: string;
  status: BookingPush["status"];
  failureReason: string | null;
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" };

/** The caller's own booking (by primary key), or 404: the same answer for someone else's as for none. */
async function ownBooking(db: Database, userId: string, id: string): Promise<BookingOutcome> {
  const [b] = await db
    .select({ id: bookings.id, userId: bookings.userId, eventId: bookings.eventId, status: bookings.status, failureReason: bookings.failureReason })
    .from(bookings)
    .where(eq(bookings.id, id));
  if (!b || b.userId !== userId) throw new AppError("NOT_FOUND", "No such booking");
  return b;
}

const pushOf = (b: BookingOutcome): BookingPush => ({ userId: b.userId, id: b.id, status: b.status, failureReason: b.failureReason });

/** A stream that is already complete: these events, then the end. */
function finished(...events: BookingOutcome[]): Response {
  return new Response(events.map((b) => bookingEvent(pushOf(b))).join(""), { headers: SSE_HEADERS });
}

/**
 * GET /v1/bookings/:id/events (docs/bookings.md): the booking's status at once, then its outcome
 * when it settles, then the end. A settled booking answers from Postgres alone; a pending one gets
 * a stream held by its event's object, which `pushBooking` writes to. The booking may settle (and
 * its push pass by) between the first read and the object registering the stream, so once the
 * object has answered, Postgres is read once more: a final status there ends the stream here.
 */
export async function bookingEventStream(env: Env, db: Database, userId: string, id: string): Promise<Response> {
  const first = await ownBooking(db, userId, id);
  if (isFinalBookingStatus(first.status)) return finished(first);
  const res = await inventory(env, first.eventId).openBookingEvents(pushOf(first));
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new AppError("DEPENDENCY_UNAVAILABLE", "The booking's event stream could not be opened; read the booking instead", undefined, { "Retry-After": "1" });
  }
  const again = await ownBooking(db, userId, id);
  if (isFinalBookingStatus(again.status)) {
    await res.body.cancel();
    return finished(first, again);
  }
  return new Response(res.body, { headers: SSE_HEADERS });
}

/**
 * The booking reached `booking.status` in Postgres: tell its buyer (live sockets, relays, event
 * streams). Call it after the status is committed, never before; it never throws.
 */
export function announceBookingOutcome(env: Env, booking: BookingOutcome): Promise<void> {
  return pushBookingOutcome(env, booking.eventId, pushOf(booking));
}
