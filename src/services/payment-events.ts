import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../db/client";
import { paymentEvents } from "../db/schema";
import type { Env } from "../env";
import type { BookingRequested } from "../queues/messages";
import type { VerifiedPaymentEvent } from "./payments/port";

/**
 * The events that may move a booking's payment: each only wakes the booking's saga, which reads
 * the intent back from the provider (the event's own status may be stale or out of order).
 */
export const SAGA_TRIGGER_EVENTS = new Set([
  "payment_intent.amount_capturable_updated",
  "payment_intent.payment_failed",
  "payment_intent.canceled",
  "payment_intent.succeeded",
  "payment_intent.processing",
]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type ReceivedPaymentEvent = { duplicate: boolean; enqueued: boolean };

/**
 * Records a verified provider event once and hands it to the saga queue. An event already
 * processed is a duplicate (nothing sent). One recorded but not processed (the send failed, the
 * provider redelivers) is processed again. Two deliveries of one event at the same moment may both
 * send: the saga reads its state per message, so a second `booking.requested` finds nothing to do.
 */
export async function receivePaymentEvent(env: Env, db: Database, provider: string, event: VerifiedPaymentEvent): Promise<ReceivedPaymentEvent> {
  const inserted = await db
    .insert(paymentEvents)
    .values({ id: event.id, provider, type: event.type, intentId: event.intentId ?? null, bookingId: event.bookingId ?? null })
    .onConflictDoNothing()
    .returning({ id: paymentEvents.id });
  if (inserted.length === 0) {
    const [seen] = await db.select({ processedAt: paymentEvents.processedAt }).from(paymentEvents).where(eq(paymentEvents.id, event.id));
    if (seen?.processedAt) return { duplicate: true, enqueued: false };
  }
  const bookingId = event.bookingId;
  const enqueue = SAGA_TRIGGER_EVENTS.has(event.type) && bookingId !== undefined && UUID.test(bookingId);
  if (enqueue) await env.BOOKING_SAGA.send({ type: "booking.requested", bookingId } satisfies BookingRequested);
  await db.update(paymentEvents).set({ processedAt: new Date() }).where(and(eq(paymentEvents.id, event.id), isNull(paymentEvents.processedAt)));
  return { duplicate: false, enqueued: enqueue };
}
