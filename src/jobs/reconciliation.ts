import { and, eq, gt, inArray, lt, sql } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { bookings, bookingSeats, events, sagaSteps } from "../db/schema";
import { DEFAULT_TYPE_ID, type BookedProducts, type EventInventoryRpc } from "../../durable-objects/inventory/contract";
import type { SagaMessage } from "../queues/messages";
import { inventoryFor } from "../../durable-objects/inventory/client";
import { writeReconciliationMetric } from "../lib/metrics";

export type Drift =
  | { eventId: string; kind: "booked-in-inventory-only" | "booked-in-postgres-only"; seatIds: string[] }
  | { eventId: string; kind: "booked-count"; inventory: number; postgres: number; inFlight: number }
  /** Seats or tickets of a ticket type sold in the object and in Postgres (confirmed bookings' lines). */
  | { eventId: string; kind: "type-booked-count"; ticketTypeId: string; inventory: number; postgres: number; inFlight: number }
  /** Orders that used a voucher: committed holds in the object, confirmed bookings in Postgres. */
  | { eventId: string; kind: "voucher-usages"; voucherId: string; inventory: number; postgres: number; inFlight: number }
  | { eventId: string; kind: "inventory-unreachable"; error: string };

/** A difference reconciliation fixed: the object now agrees with Postgres for this booking. */
export type Repair = { eventId: string; bookingId: string; kind: "seats-returned" | "seats-rebooked"; seatIds: string[]; quantity: number };

const EVENTS_PER_RUN = 200;
const REPAIRS_PER_EVENT = 100;

type ActiveEvent = { id: string; seating: "reserved" | "general"; seatsSold: number };
type Snap = Awaited<ReturnType<EventInventoryRpc["snapshot"]>> & { products: BookedProducts };

/**
 * Compares each active event's object with Postgres, repairs what Postgres settles beyond doubt
 * and reports every difference left. Postgres is the record of sale: seats the object still has
 * booked for a booking Postgres failed or cancelled are returned to sale; seats of a booking
 * Postgres has confirmed that the object let go are booked again if nobody else has them. Anything
 * else (a seat booked in the object for no known booking, a seat now taken by another hold) is
 * reported, never guessed at. Bookings whose saga is between the two (committed in the object but
 * not yet confirmed in Postgres, cancelled in Postgres but seats not yet returned) are in flight.
 *
 * Seats alone can agree while the bookings behind them do not (general admission counts only; a
 * seat the object booked for a failed booking that Postgres sold to another): per ticket type and
 * per voucher, what the object's sales carry is compared with Postgres's confirmed bookings, and a
 * difference beyond the bookings in flight repairs every settled booking whose hold disagrees. The
 * object derives quota use and voucher usages from its holds (no counter of their own), so the same
 * two repairs put them right.
 */
export async function reconcile(db: Database, now: Date, inventory: (eventId: string) => EventInventoryRpc): Promise<{ eventsChecked: number; drift: Drift[]; repaired: Repair[] }> {
  const active = await db
    .select({ id: events.id, seating: events.seating, seatsSold: events.seatsSold })
    .from(events)
    .where(and(eq(events.status, "published"), gt(events.endTime, now)))
    .orderBy(events.startTime)
    .limit(EVENTS_PER_RUN);
  const drift: Drift[] = [];
  const repaired: Repair[] = [];
  for (const e of active) {
    // An object that does not answer is drift of its own; a Postgres failure fails the run.
    const snapshot = () => Promise.all([inventory(e.id).snapshot(), inventory(e.id).bookedProducts()]).then(([snap, products]): Snap => ({ ...snap, products })).catch((err) => {
      drift.push({ eventId: e.id, kind: "inventory-unreachable", error: String(err) });
      return null;
    });
    const snap = await snapshot();
    if (!snap) continue;
    let found = await compare(db, e, snap);
    if (found.drift.length === 0) continue;
    const fixed = await repair(db, e, found, inventory(e.id)).catch((err) => {
      console.warn(JSON.stringify({ level: "warn", msg: "inventory repair failed", eventId: e.id, error: String(err) }));
      return [];
    });
    if (fixed.length) {
      repaired.push(...fixed);
      const again = await snapshot();
      if (!again) continue;
      found = await compare(db, { ...e, seatsSold: await seatsSoldOf(db, e.id) }, again);
    }
    drift.push(...found.drift);
  }
  for (const r of repaired) console.warn(JSON.stringify({ level: "warn", msg: "inventory drift repaired", ...r }));
  for (const d of drift) console.warn(JSON.stringify({ level: "warn", msg: "inventory drift", ...d }));
  return { eventsChecked: active.length, drift, repaired };
}

type Comparison = { drift: Drift[]; invOnly: string[]; pgOnly: string[]; invMore: boolean; pgMore: boolean; productsDiffer: boolean };

async function compare(db: Database, e: ActiveEvent, snap: Snap): Promise<Comparison> {
  const drift: Drift[] = [];
  const inFlight = await inFlightBookings(db, e.id);
  const inFlightSeats = new Set(inFlight.flatMap((b) => b.seats.map((s) => s.id)));
  const inFlightQuantity = inFlight.reduce((n, b) => n + b.quantity, 0);
  let invOnly: string[] = [];
  let pgOnly: string[] = [];
  if (snap.seats) {
    const pg = new Set((await db.select({ seatId: bookingSeats.seatId }).from(bookingSeats).where(and(eq(bookingSeats.eventId, e.id), eq(bookingSeats.active, true)))).map((r) => r.seatId));
    const inv = new Set(snap.seats.filter((s) => s.status === "booked").map((s) => s.id));
    invOnly = [...inv].filter((id) => !pg.has(id) && !inFlightSeats.has(id)).sort();
    pgOnly = [...pg].filter((id) => !inv.has(id) && !inFlightSeats.has(id)).sort();
    if (invOnly.length) drift.push({ eventId: e.id, kind: "booked-in-inventory-only", seatIds: invOnly });
    if (pgOnly.length) drift.push({ eventId: e.id, kind: "booked-in-postgres-only", seatIds: pgOnly });
  }
  const booked = snap.availability.booked;
  let invMore = booked > e.seatsSold + inFlightQuantity;
  let pgMore = booked < e.seatsSold - inFlightQuantity;
  if (invMore || pgMore) drift.push({ eventId: e.id, kind: "booked-count", inventory: booked, postgres: e.seatsSold, inFlight: inFlightQuantity });
  const pg = await confirmedProducts(db, e.id);
  const flying = productsOf(inFlight);
  let productsDiffer = false;
  const differ = (inventory: number, postgres: number, inFlight: number) => {
    const more = inventory > postgres + inFlight;
    const less = inventory < postgres - inFlight;
    invMore ||= more;
    pgMore ||= less;
    productsDiffer ||= more || less;
    return more || less;
  };
  for (const id of keysOf(snap.products.types, pg.types)) {
    const [i, p, f] = [snap.products.types[id] ?? 0, pg.types[id] ?? 0, flying.types[id] ?? 0];
    if (differ(i, p, f)) drift.push({ eventId: e.id, kind: "type-booked-count", ticketTypeId: id, inventory: i, postgres: p, inFlight: f });
  }
  for (const id of keysOf(snap.products.vouchers, pg.vouchers)) {
    const [i, p, f] = [snap.products.vouchers[id] ?? 0, pg.vouchers[id] ?? 0, flying.vouchers[id] ?? 0];
    if (differ(i, p, f)) drift.push({ eventId: e.id, kind: "voucher-usages", voucherId: id, inventory: i, postgres: p, inFlight: f });
  }
  return { drift, invOnly, pgOnly, invMore: invMore || invOnly.length > 0, pgMore: pgMore || pgOnly.length > 0, productsDiffer };
}

const keysOf = (...maps: Record<string, number>[]) => [...new Set(maps.flatMap((m) => Object.keys(m)))].sort();

type ProductLines = { quantity: number; lines: { ticketTypeId: string; quantity: number }[]; voucherId: string | null };

/** Per type and per voucher, what bookings carry; a booking from before ticket types (no lines) is the default type. */
function productsOf(rows: ProductLines[]): BookedProducts {
  const out: BookedProducts = { types: {}, vouchers: {} };
  for (const b of rows) {
    const lines = b.lines.length ? b.lines : [{ ticketTypeId: DEFAULT_TYPE_ID, quantity: b.quantity }];
    for (const l of lines) out.types[l.ticketTypeId] = (out.types[l.ticketTypeId] ?? 0) + l.quantity;
    if (b.voucherId) out.vouchers[b.voucherId] = (out.vouchers[b.voucherId] ?? 0) + 1;
  }
  return out;
}

/** Per type and per voucher, what the event's confirmed bookings carry, summed by Postgres. */
async function confirmedProducts(db: Database, eventId: string): Promise<BookedProducts> {
  const types = await db.execute(sql`
    select l->>'ticketTypeId' as id, sum((l->>'quantity')::int)::int as n
      from ${bookings} b,
           jsonb_array_elements(case when jsonb_array_length(b.lines) = 0
             then jsonb_build_array(jsonb_build_object('ticketTypeId', ${DEFAULT_TYPE_ID}::text, 'quantity', b.quantity))
             else b.lines end) l
     where b.event_id = ${eventId} and b.status = 'confirmed'
     group by 1`);
  const vouchers = await db
    .select({ id: bookings.voucherId, n: sql<number>`count(*)::int` })
    .from(bookings)
    .where(and(eq(bookings.eventId, eventId), eq(bookings.status, "confirmed"), sql`${bookings.voucherId} is not null`))
    .groupBy(bookings.voucherId);
  const out: BookedProducts = { types: {}, vouchers: {} };
  for (const r of types.rows as { id: string; n: number }[]) out.types[r.id] = Number(r.n);
  for (const r of vouchers) out.vouchers[r.id!] = Number(r.n);
  return out;
}

/** Bookings Postgres has settled whose hold the object disagrees with, repaired one by one. */
async function repair(db: Database, e: ActiveEvent, c: Comparison, inv: EventInventoryRpc): Promise<Repair[]> {
  const repaired: Repair[] = [];
  // A ticket type's or a voucher's count differs: the seats may agree, so every settled booking whose hold disagrees is a candidate.
  const touches = (seatIds: string[]) => (b: { seats: { id: string }[] }) => e.seating === "general" || c.productsDiffer || b.seats.some((s) => seatIds.includes(s.id));
  const candidates = (statuses: Array<"failed" | "cancelled" | "confirmed">) =>
    db
      .select({ id: bookings.id, holdId: bookings.holdId, seats: bookings.seats, quantity: bookings.quantity })
      .from(bookings)
      .where(and(eq(bookings.eventId, e.id), inArray(bookings.status, statuses)))
      .orderBy(sql`${bookings.updatedAt} desc`)
      .limit(REPAIRS_PER_EVENT);
  if (c.invMore) {
    // Postgres failed or cancelled the booking (its money refunded): the object must not keep the seats.
    for (const b of (await candidates(["failed", "cancelled"])).filter(touches(c.invOnly))) {
      const h = await inv.getHold(b.holdId);
      if (!h.ok || h.value.status !== "committed" || h.value.bookingId !== b.id) continue;
      const back = await inv.returnSeats(b.holdId, b.id);
      if (back.ok) repaired.push({ eventId: e.id, bookingId: b.id, kind: "seats-returned", seatIds: b.seats.map((s) => s.id), quantity: b.quantity });
    }
  }
  if (c.pgMore) {
    // Postgres confirmed (and was paid for) the booking: the object books its seats again if they are free.
    for (const b of (await candidates(["confirmed"])).filter(touches(c.pgOnly))) {
      const h = await inv.getHold(b.holdId);
      if (!h.ok || h.value.status === "committed") continue;
      const again = await inv.restoreBooking(b.holdId, b.id);
      if (again.ok) repaired.push({ eventId: e.id, bookingId: b.id, kind: "seats-rebooked", seatIds: b.seats.map((s) => s.id), quantity: b.quantity });
    }
  }
  return repaired;
}

async function seatsSoldOf(db: Database, eventId: string): Promise<number> {
  const [row] = await db.select({ n: events.seatsSold }).from(events).where(eq(events.id, eventId));
  return row?.n ?? 0;
}

async function inFlightBookings(db: Database, eventId: string) {
  const done = (step: string) => sql`exists (select 1 from ${sagaSteps} where ${sagaSteps.bookingId} = ${bookings.id} and ${sagaSteps.step} = ${step} and ${sagaSteps.status} = 'done')`;
  return db
    .select({ id: bookings.id, seats: bookings.seats, quantity: bookings.quantity, lines: bookings.lines, voucherId: bookings.voucherId })
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
  // A Stripe sale whose capture never ran (its messages lost): confirmed, but the money is only authorized.
  const captured = sql`exists (select 1 from ${sagaSteps} where ${sagaSteps.bookingId} = ${bookings.id} and ${sagaSteps.status} = 'done' and ${sagaSteps.step} = 'capture')`;
  const stalled = await db
    .select({ id: bookings.id, status: bookings.status })
    .from(bookings)
    .where(and(lt(bookings.updatedAt, before), sql`(${bookings.status} = 'pending' or (${inArray(bookings.status, ["failed", "cancelled"])} and not ${finished}) or (${bookings.status} = 'confirmed' and ${bookings.paymentProvider} = 'stripe' and not ${captured}))`))
    .limit(500);
  const messages: SagaMessage[] = stalled.map((b) => ({ type: b.status === "cancelled" ? "booking.cancel-requested" : "booking.requested", bookingId: b.id }));
  for (let i = 0; i < messages.length; i += 100) await env.BOOKING_SAGA.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
  return messages.length;
}

export async function runReconciliation(env: Env, db: Database, now: Date): Promise<{ eventsChecked: number; drift: number; repaired: number }> {
  const { eventsChecked, drift, repaired } = await reconcile(db, now, (id) => inventoryFor(env, id));
  const result = { eventsChecked, drift: drift.length, repaired: repaired.length };
  writeReconciliationMetric(env, result);
  return result;
}
