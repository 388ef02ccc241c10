import { eq, sql } from "drizzle-orm";
import { bookings, events, seats, venues } from "../../src/db/schema";
import { SALE_LIMIT_DEFAULTS, type InventoryInit, type SeatSpec } from "../../durable-objects/inventory/contract";
import { inventoryFor } from "../../src/services/booking-saga";
import { call, makeUser, orgOf, testEnv, withDb, type TestUser } from "./fixtures";
import { eventually } from "./wait";

export interface TestEvent {
  eventId: string;
  seatIds: string[];
  init: InventoryInit;
}

/** A published reserved-seating event in Postgres (rows A.. of `perRow` seats) and the init for its inventory. */
export async function makeReservedEvent(opts: { rows?: number; perRow?: number; priceCents?: number; paymentDeadlineSeconds?: number; startsInSeconds?: number } = {}): Promise<TestEvent> {
  const { rows = 2, perRow = 5, priceCents = 5000, paymentDeadlineSeconds = 600, startsInSeconds = 30 * 86_400 } = opts;
  const organizer = await makeUser("organizer");
  const specs: SeatSpec[] = [];
  for (let r = 0; r < rows; r++) for (let n = 1; n <= perRow; n++) specs.push({ id: `A-${r + 1}-${n}`, section: "A", row: String(r + 1), number: n, priceCents });
  const startsAt = new Date(Date.now() + startsInSeconds * 1000);
  const eventId = await withDb(async (db) => {
    const orgId = await orgOf(db, organizer.id);
    const [v] = await db.insert(venues).values({ ownerId: organizer.id, orgId, name: "Test hall", city: "Lisbon", address: "Rua 1", timezone: "Europe/Lisbon", capacity: specs.length }).returning();
    const [e] = await db
      .insert(events)
      .values({
        venueId: v.id, orgId, organizerId: organizer.id, name: "Saga test night", category: "music", city: "Lisbon", timezone: "Europe/Lisbon",
        status: "published", seating: "reserved", startTime: startsAt, endTime: new Date(startsAt.getTime() + 3 * 3600_000),
        capacity: specs.length, priceCents, currency: "EUR", paymentDeadlineSeconds, publishedAt: new Date(),
      })
      .returning();
    await db.insert(seats).values(specs.map((s) => ({ eventId: e.id, seatId: s.id, section: s.section, row: s.row, seatNumber: s.number, priceCents: s.priceCents })));
    return e.id;
  });
  const init: InventoryInit = {
    eventId, seating: "reserved", seats: specs, capacity: specs.length, priceCents, currency: "EUR",
    ...SALE_LIMIT_DEFAULTS, paymentDeadlineSeconds, salesStartAt: null, salesEndAt: null, startsAt: startsAt.toISOString(),
  };
  return { eventId, seatIds: specs.map((s) => s.id), init };
}

/** `makeReservedEvent`, then its EventInventory object initialized as publishing does: on sale. */
export async function makeReservedEventOnSale(opts: Parameters<typeof makeReservedEvent>[0] = {}): Promise<TestEvent> {
  const ev = await makeReservedEvent(opts);
  const init = await inventoryFor(testEnv, ev.eventId).initialize(ev.init);
  if (!init.ok) throw new Error(`initialize: ${init.message}`);
  return ev;
}

export async function setEventStart(eventId: string, startsAt: Date): Promise<void> {
  await withDb((db) => db.update(events).set({ startTime: startsAt, endTime: new Date(startsAt.getTime() + 3600_000) }).where(eq(events.id, eventId)));
}

export async function bookingRow(id: string) {
  return withDb(async (db) => (await db.select().from(bookings).where(eq(bookings.id, id)))[0]);
}

export async function stepsOf(bookingId: string): Promise<Record<string, { status: string; attempts: number; detail: unknown }>> {
  return withDb(async (db) => {
    const rows = await db.execute(sql`select step, status, attempts, detail from saga_steps where booking_id = ${bookingId}`);
    return Object.fromEntries((rows.rows as any[]).map((r) => [r.step, { status: r.status, attempts: r.attempts, detail: r.detail }]));
  });
}

/**
 * Makes Postgres refuse to confirm one booking the way a held row lock does (SQLSTATE 55P03,
 * lock_not_available), until the returned function is called. A trigger rather than a second session
 * holding the row: the embedded Postgres is one session, where an open blocking transaction would
 * stall every query, the saga's included. Pass `{ holdId }` to install the refusal before the
 * booking exists: a saga driven by the queue may confirm before POST /v1/bookings has answered.
 */
export async function refuseConfirmOf(booking: string | { holdId: string }): Promise<() => Promise<void>> {
  const [column, value] = typeof booking === "string" ? ["id", booking] : ["hold_id", booking.holdId];
  if (!/^[0-9a-zA-Z_-]{1,80}$/.test(value)) throw new Error(`not a booking or hold id: ${value}`);
  const fn = `refuse_confirm_${value.replace(/[^0-9a-zA-Z]/g, "").toLowerCase().slice(-40)}`;
  await withDb((db) =>
    db.execute(
      sql.raw(`
        create function ${fn}() returns trigger language plpgsql as $$
        begin
          if new.status = 'confirmed' then
            raise exception 'could not obtain lock on row in relation "bookings"' using errcode = '55P03';
          end if;
          return new;
        end $$;
        create trigger ${fn} before update on bookings for each row when (new.${column} = '${value}') execute function ${fn}();`),
    ),
  );
  return () => withDb(async (db) => void (await db.execute(sql.raw(`drop trigger if exists ${fn} on bookings; drop function if exists ${fn}();`))));
}

/** Holds `seatIds` for `user` and books them through POST /v1/bookings; answers once the saga confirmed it. */
export async function confirmedBooking(ev: TestEvent, user: TestUser, seatIds: string[], paymentMethod = "pm_card_ok"): Promise<string> {
  const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds }, null);
  if (!h.ok) throw new Error(`hold: ${h.code}`);
  const b: any = await (await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: h.value.id, paymentMethod } })).json();
  await eventually(async () => {
    const now: any = await (await call(`/v1/bookings/${b.id}`, { headers: user.auth })).json();
    if (now.status === "failed") throw new Error(`booking failed: ${now.failureReason}`);
    return now.status === "confirmed";
  }, 20_000, `booking ${b.id} confirmed`);
  return b.id;
}
