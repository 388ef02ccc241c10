import { and, eq, gt, inArray, lt, sql } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { bookings, bookingSeats, events, sagaSteps } from "../db/schema";
import type { EventInventoryRpc } from "../../durable-objects/event-inventory.types";
import type { SagaMessage } from "../queues/messages";
import { inventoryFor } from "./booking-saga";

export type Drift =
  | { eventId: string; kind: "booked-in-inventory-only" | "booked-in-postgres-only"; seatIds: string[] }
  | { eventId: string; kind: "booked-count"; inventory: number; postgres: number; inFlight: number }
  | { eventId: string; kind: "inventory-unreachable"; error: string };

const EVENTS_PER_RUN = 200;

/**
 * Compares each active event's object with Postgres and reports every difference. Bookings whose
 * saga is between the two (committed in the object but not yet confirmed in Postgres, cancelled in
 * Postgres but seats not yet returned) are in flight, not drift.
 */
export async function reconcile(db: Database, now: Date, inventory: (eventId: string) => EventInventoryRpc): Promise<{ eventsChecked: number; drift: Drift[] }> {
  const active = await db
    .select({ id: events.id, seating: events.seating, seatsSold: events.seatsSold })
    .from(events)
    .where(and(eq(events.status, "published"), gt(events.endTime, now)))
    .orderBy(events.startTime)
    .limit(EVENTS_PER_RUN);
  const drift: Drift[] = [];
  for (const e of active) {
    let snap;
    try {
      snap = await inventory(e.id).snapshot();
    } catch (err) {
      drift.push({ eventId: e.id, kind: "inventory-unreachable", error: String(err) });
      continue;
    }
    const inFlight = await inFlightBookings(db, e.id);
    const inFlightSeats = new Set(inFlight.flatMap((b) => b.seats.map((s) => s.id)));
    const inFlightQuantity = inFlight.reduce((n, b) => n + b.quantity, 0);
    if (snap.seats) {
      const pg = new Set((await db.select({ seatId: bookingSeats.seatId }).from(bookingSeats).where(and(eq(bookingSeats.eventId, e.id), eq(bookingSeats.active, true)))).map((r) => r.seatId));
      const inv = new Set(snap.seats.filter((s) => s.status === "booked").map((s) => s.id));
      const invOnly = [...inv].filter((id) => !pg.has(id) && !inFlightSeats.has(id)).sort();
      const pgOnly = [...pg].filter((id) => !inv.has(id) && !inFlightSeats.has(id)).sort();
      if (invOnly.length) drift.push({ eventId: e.id, kind: "booked-in-inventory-only", seatIds: invOnly });
      if (pgOnly.length) drift.push({ eventId: e.id, kind: "booked-in-postgres-only", seatIds: pgOnly });
    }
    const booked = snap.availability.booked;
    if (booked < e.seatsSold - inFlightQuantity || booked > e.seatsSold + inFlightQuantity) {
      drift.push({ eventId: e.id, kind: "booked-count", inventory: booked, postgres: e.seatsSold, inFlight: inFlightQuantity });
    }
  }
  for (const d of drift) console.warn(JSON.stringify({ level: "warn", msg: "inventory drift", ...d }));
  return { eventsChecked: active.length, drift };
}

async function inFlightBookings(db: Database, eventId: string) {
  const done = (step: string) => sql`exists (select 1 from ${sagaSteps} where ${sagaSteps.bookingId} = ${bookings.id} and ${sagaSteps.step} = ${step} and ${sagaSteps.status} = 'done')`;
  return db
    .select({ id: bookings.id, seats: bookings.seats, quantity: bookings.quantity })
    .from(bookings)
    .where(
      and(
        eq(bookings.eventId, eventId),
        sql`((${bookings.status} = 'pending')
          or (${bookings.status} = 'cancelled' and not ${done("return-seats")})
          or (${bookings.status} = 'failed' and not ${done("release")}))`,
      ),
    );
}

/**
 * The relay for sagas whose message was lost (a crash between the booking row and the send, or a
 * message that ran out of retries): every booking not settled after a while gets its message
 * again. Duplicates are harmless, the saga repeats nothing.
 */
export async function redriveStalledSagas(env: Env, db: Database, now: Date, olderThanSeconds = 120): Promise<number> {
  const before = new Date(now.getTime() - olderThanSeconds * 1000);
  const finished = sql`exists (select 1 from ${sagaSteps} where ${sagaSteps.bookingId} = ${bookings.id} and ${sagaSteps.status} = 'done' and ${sagaSteps.step} in ('notify-failed', 'notify-cancelled'))`;
  const stalled = await db
    .select({ id: bookings.id, status: bookings.status })
    .from(bookings)
    .where(and(lt(bookings.updatedAt, before), sql`(${bookings.status} = 'pending' or (${inArray(bookings.status, ["failed", "cancelled"])} and not ${finished}))`))
    .limit(500);
  const messages: SagaMessage[] = stalled.map((b) => ({ type: b.status === "cancelled" ? "booking.cancel-requested" : "booking.requested", bookingId: b.id }));
  for (let i = 0; i < messages.length; i += 100) await env.BOOKING_SAGA.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
  return messages.length;
}

export async function runReconciliation(env: Env, db: Database, now: Date): Promise<{ eventsChecked: number; drift: number }> {
  const { eventsChecked, drift } = await reconcile(db, now, (id) => inventoryFor(env, id));
  env.ANALYTICS?.writeDataPoint({ indexes: ["reconciliation"], blobs: ["reconciliation", drift.length ? "drift" : "clean"], doubles: [eventsChecked, drift.length, 0] });
  return { eventsChecked, drift: drift.length };
}
