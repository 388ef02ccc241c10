import type { Database } from "../db/client";
import type { Env } from "../env";
import { refundEventBookings } from "./bookings";

/**
 * Hands the bookings of a cancelled event to the booking saga: confirmed ones are cancelled and
 * refunded, pending ones failed and compensated. Idempotent: a repeated cancel re-drives only the
 * sagas that have not finished.
 */
export async function requestEventRefunds(db: Database, env: Env, eventId: string): Promise<{ bookingIds: string[] }> {
  const { bookingIds } = await refundEventBookings(env, db, eventId);
  return { bookingIds };
}
