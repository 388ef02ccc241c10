import { and, eq, inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import { bookings } from "../db/schema";
import type { Env } from "../env";

/**
 * Hands the bookings of a cancelled event to the refund path. The booking saga owns refunds and
 * does not exist on this branch yet, so this only finds the bookings that need one and writes
 * nothing: the event's `status = 'cancelled'` (committed before this runs) is the durable mark the
 * saga picks them up by. When the saga lands, this is where it enqueues one refund per booking;
 * it must stay idempotent, because a repeated cancel calls it again.
 */
export async function requestEventRefunds(db: Database, _env: Env, eventId: string): Promise<{ bookingIds: string[] }> {
  const rows = await db
    .select({ id: bookings.id })
    .from(bookings)
    .where(and(eq(bookings.eventId, eventId), inArray(bookings.status, ["pending", "confirmed"])));
  return { bookingIds: rows.map((r) => r.id) };
}
