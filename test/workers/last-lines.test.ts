import { describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { bookings, bookingSeats, events } from "../../src/db/schema";
import { inventoryFor } from "../../src/services/booking-saga";
import { BOOKING_FAILURES } from "../../src/services/booking-failures";
import { call, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { bookingRow, makeReservedEvent, makeReservedEventOnSale, stepsOf, type TestEvent } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// The layers behind the object, exercised by going around it: Postgres's partial unique index on
// active booking seats and the seats_sold CHECK, then the 410 of a late booking request.

const cardNetwork = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));

async function holdAndBook(ev: TestEvent, user: TestUser, seatIds: string[]): Promise<string> {
  const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds }, null);
  if (!h.ok) throw new Error(h.message);
  const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: h.value.id } });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** Waits for the saga to finish compensating and returns the booking. */
async function compensated(id: string) {
  await eventually(async () => ((await stepsOf(id))["notify-refunded"]?.status === "done" ? true : null), 20_000, `booking ${id} refunded and told`);
  return bookingRow(id);
}

async function expectRefundedOnce(bookingId: string) {
  const statement = await cardNetwork().statement(bookingId);
  expect(statement.filter((c) => c.status === "succeeded")).toHaveLength(1);
  expect(statement.filter((c) => c.status === "succeeded" && c.refundRef === null), "no money kept").toEqual([]);
}

const activeSeats = (eventId: string, seatId: string) =>
  withDb((db) => db.select().from(bookingSeats).where(and(eq(bookingSeats.eventId, eventId), eq(bookingSeats.seatId, seatId), eq(bookingSeats.active, true))));

describe("Postgres as the last line behind the object", () => {
  it("refunds and fails a booking whose seat Postgres already has in another active booking, and sells the seat once", async () => {
    const ev = await makeReservedEventOnSale();
    const other = await makeUser();
    // A sale the object never saw: an active booking seat for A-1-1 written straight into Postgres.
    await withDb(async (db) => {
      const [rogue] = await db.insert(bookings).values({
        userId: other.id, eventId: ev.eventId, holdId: `rogue-${crypto.randomUUID()}`, status: "confirmed", quantity: 1, seats: [{ id: "A-1-1", priceCents: 5000 }],
        totalAmountCents: 5000, currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
      }).returning();
      await db.insert(bookingSeats).values({ bookingId: rogue.id, eventId: ev.eventId, seatId: "A-1-1", priceCents: 5000 });
    });
    const user = await makeUser();
    const id = await holdAndBook(ev, user, ["A-1-1", "A-1-2"]);

    const b = await compensated(id);
    expect(b.status).toBe("failed");
    // The sentence of a sale Postgres refused (only the confirm step's 23505/23514 path gives it).
    expect(b.failureReason).toBe(BOOKING_FAILURES.SEATS_UNAVAILABLE);
    await expectRefundedOnce(id);
    const active = await activeSeats(ev.eventId, "A-1-1");
    expect(active).toHaveLength(1);
    expect(active[0].bookingId).not.toBe(id);
    expect(await activeSeats(ev.eventId, "A-1-2")).toEqual([]);
    // The object gave back the seats it had committed for the refused sale.
    const seats = (await inventoryFor(testEnv, ev.eventId).snapshot()).seats!;
    expect(seats.filter((s) => ["A-1-1", "A-1-2"].includes(s.id)).map((s) => s.status)).toEqual(["available", "available"]);
  });

  it("refunds and fails a booking that would sell more seats than capacity, and seats_sold never passes it", async () => {
    const ev = await makeReservedEventOnSale();
    // Postgres counts every seat as sold already; the object does not know.
    await withDb((db) => db.update(events).set({ seatsSold: ev.seatIds.length }).where(eq(events.id, ev.eventId)));
    const user = await makeUser();
    const id = await holdAndBook(ev, user, ["A-2-1"]);

    const b = await compensated(id);
    expect(b.status).toBe("failed");
    expect(b.failureReason).toBe(BOOKING_FAILURES.SEATS_UNAVAILABLE);
    await expectRefundedOnce(id);
    const [row] = await withDb((db) => db.select({ sold: events.seatsSold, capacity: events.capacity }).from(events).where(eq(events.id, ev.eventId)));
    expect(row.sold).toBe(row.capacity);
    expect(await withDb((db) => db.select().from(bookingSeats).where(eq(bookingSeats.bookingId, id)))).toEqual([]);
    expect((await inventoryFor(testEnv, ev.eventId).snapshot()).seats!.find((s) => s.id === "A-2-1")!.status).toBe("available");
  });
});

describe("POST /v1/bookings on a hold that is over", () => {
  it("answers 410 HOLD_EXPIRED for an expired hold and writes no booking", async () => {
    const ev = await makeReservedEvent();
    const init = await inventoryFor(testEnv, ev.eventId).initialize({ ...ev.init, holdTtlSeconds: 1 });
    expect(init.ok).toBe(true);
    const user = await makeUser();
    const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds: ["A-1-1"] }, null);
    if (!h.ok) throw new Error(h.message);
    await new Promise((r) => setTimeout(r, 1_300));

    const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: h.value.id } });
    expect(res.status).toBe(410);
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error).toMatchObject({ code: "HOLD_EXPIRED", requestId: res.headers.get("x-request-id") });
    expect(await withDb((db) => db.select().from(bookings).where(eq(bookings.holdId, h.value.id)))).toEqual([]);
    expect((await inventoryFor(testEnv, ev.eventId).snapshot()).seats!.find((s) => s.id === "A-1-1")!.status).toBe("available");
  });

  it("answers 410 HOLD_EXPIRED for a hold its owner released", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds: ["A-2-5"] }, null);
    if (!h.ok) throw new Error(h.message);
    expect((await inventoryFor(testEnv, ev.eventId).release(h.value.id, user.id)).ok).toBe(true);
    const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: h.value.id } });
    expect(res.status).toBe(410);
    expect(((await res.json()) as any).error.code).toBe("HOLD_EXPIRED");
  });
});
