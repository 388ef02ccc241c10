import { describe, expect, it } from "vitest";
import { createDb, closeDb } from "../../src/db/client";
import { bookings, sagaSteps } from "../../src/db/schema";
import { eq } from "drizzle-orm";
import { advanceBooking, inventoryFor, sagaDeps } from "../../src/services/booking-saga";
import { reconcile } from "../../src/jobs/reconciliation";
import { makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { makeReservedEventOnSale, type TestEvent } from "../helpers/booking-fixtures";

// Against the real EventInventory objects: every event of this file's database is on sale in one.
const inventory = (eventId: string) => inventoryFor(testEnv, eventId);

describe("reconciliation of inventories with Postgres", () => {
  it("reports no drift for a confirmed booking, then reports seats booked on one side only", async () => {
    const ev = await makeReservedEventOnSale();
    const inv = inventory(ev.eventId);
    const user = await makeUser();
    const hold = await inv.hold(user.id, { seatIds: ["A-1-1", "A-1-2"] }, null);
    if (!hold.ok) throw new Error(hold.message);
    const [b] = await withDb((db) =>
      db.insert(bookings).values({
        userId: user.id, eventId: ev.eventId, holdId: hold.value.id, quantity: 2, seats: hold.value.seats,
        totalAmountCents: hold.value.totalCents, currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
      }).returning(),
    );
    const db = createDb(testEnv);
    try {
      expect(await advanceBooking(sagaDeps(testEnv, db), b.id)).toEqual({ kind: "finished", status: "confirmed" });
      const clean = await reconcile(db, new Date(), inventory);
      expect(clean.drift.filter((d) => d.eventId === ev.eventId)).toEqual([]);

      // Drift: a seat booked in the object that no booking in Postgres knows of.
      const rogue = await inv.hold(user.id, { seatIds: ["A-2-5"] }, null);
      if (!rogue.ok) throw new Error(rogue.message);
      const ghost = crypto.randomUUID();
      expect((await inv.beginConfirm(rogue.value.id, ghost)).ok).toBe(true);
      expect((await inv.commit(rogue.value.id, ghost)).ok).toBe(true);
      const dirty = await reconcile(db, new Date(), inventory);
      expect(dirty.drift.filter((d) => d.eventId === ev.eventId)).toEqual([
        { eventId: ev.eventId, kind: "booked-in-inventory-only", seatIds: ["A-2-5"] },
        { eventId: ev.eventId, kind: "booked-count", inventory: 3, postgres: 2, inFlight: 0 },
      ]);
    } finally {
      await closeDb(db);
    }
  });

  it("does not count a booking between commit and confirm as drift", async () => {
    const ev = await makeReservedEventOnSale();
    const inv = inventory(ev.eventId);
    const user = await makeUser();
    const hold = await inv.hold(user.id, { seatIds: ["A-1-3"] }, null);
    if (!hold.ok) throw new Error(hold.message);
    const [b] = await withDb((db) =>
      db.insert(bookings).values({
        userId: user.id, eventId: ev.eventId, holdId: hold.value.id, quantity: 1, seats: hold.value.seats,
        totalAmountCents: hold.value.totalCents, currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
      }).returning(),
    );
    expect((await inv.beginConfirm(hold.value.id, b.id)).ok).toBe(true);
    expect((await inv.commit(hold.value.id, b.id)).ok).toBe(true);
    const report = await withDb((db) => reconcile(db, new Date(), inventory));
    expect(report.drift.filter((d) => d.eventId === ev.eventId)).toEqual([]);
  });

  it("returns to sale the seats the object still has booked for a booking Postgres failed, and reports nothing left", async () => {
    const ev = await makeReservedEventOnSale();
    const inv = inventory(ev.eventId);
    const user = await makeUser();
    const { booking, holdId } = await committedBooking(ev, user, ["A-2-1", "A-2-2"]);
    // Postgres failed the booking and its saga believes the seats went back; the object kept them.
    await withDb(async (db) => {
      await db.update(bookings).set({ status: "failed", failureReason: "test" }).where(eq(bookings.id, booking.id));
      await db.insert(sagaSteps).values([{ bookingId: booking.id, step: "fail", status: "done" }, { bookingId: booking.id, step: "release", status: "done" }]);
    });

    const report = await withDb((db) => reconcile(db, new Date(), inventory));
    expect(report.repaired.filter((r) => r.eventId === ev.eventId)).toEqual([
      { eventId: ev.eventId, bookingId: booking.id, kind: "seats-returned", seatIds: ["A-2-1", "A-2-2"], quantity: 2 },
    ]);
    expect(report.drift.filter((d) => d.eventId === ev.eventId)).toEqual([]);
    const seats = (await inv.snapshot()).seats!;
    expect(seats.filter((s) => s.id === "A-2-1" || s.id === "A-2-2").map((s) => s.status)).toEqual(["available", "available"]);
    expect((await inv.getHold(holdId)).ok && ((await inv.getHold(holdId)) as any).value.status).toBe("released");
  });

  it("books again the seats of a booking Postgres confirmed that the object let go, and reports nothing left", async () => {
    const ev = await makeReservedEventOnSale();
    const inv = inventory(ev.eventId);
    const user = await makeUser();
    const { booking, holdId } = await confirmedBooking(ev, user, ["A-1-4", "A-1-5"]);
    // The object gave the seats back although Postgres still has the booking confirmed and paid.
    expect((await inv.returnSeats(holdId, booking.id)).ok).toBe(true);

    const report = await withDb((db) => reconcile(db, new Date(), inventory));
    expect(report.repaired.filter((r) => r.eventId === ev.eventId)).toEqual([
      { eventId: ev.eventId, bookingId: booking.id, kind: "seats-rebooked", seatIds: ["A-1-4", "A-1-5"], quantity: 2 },
    ]);
    expect(report.drift.filter((d) => d.eventId === ev.eventId)).toEqual([]);
    const snap = await inv.snapshot();
    expect(snap.seats!.filter((s) => s.id === "A-1-4" || s.id === "A-1-5").map((s) => s.status)).toEqual(["booked", "booked"]);
    expect(snap.availability.booked).toBe(2);
  });

  it("reports, and leaves alone, a confirmed booking whose released seats another user now holds", async () => {
    const ev = await makeReservedEventOnSale();
    const inv = inventory(ev.eventId);
    const user = await makeUser();
    const { booking, holdId } = await confirmedBooking(ev, user, ["A-2-3"]);
    expect((await inv.returnSeats(holdId, booking.id)).ok).toBe(true);
    const other = await makeUser();
    const taken = await inv.hold(other.id, { seatIds: ["A-2-3"] }, null);
    if (!taken.ok) throw new Error(taken.message);

    const report = await withDb((db) => reconcile(db, new Date(), inventory));
    expect(report.repaired.filter((r) => r.eventId === ev.eventId)).toEqual([]);
    expect(report.drift.filter((d) => d.eventId === ev.eventId)).toEqual([
      { eventId: ev.eventId, kind: "booked-in-postgres-only", seatIds: ["A-2-3"] },
      { eventId: ev.eventId, kind: "booked-count", inventory: 0, postgres: 1, inFlight: 0 },
    ]);
    const mine = await inv.getHold(taken.value.id);
    expect(mine.ok && mine.value.status).toBe("active");
  });
});

/** A booking row and its hold committed in the object, as the saga leaves it between commit and confirm. */
async function committedBooking(ev: TestEvent, user: TestUser, seatIds: string[]) {
  const inv = inventory(ev.eventId);
  const hold = await inv.hold(user.id, { seatIds }, null);
  if (!hold.ok) throw new Error(hold.message);
  const [booking] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId: ev.eventId, holdId: hold.value.id, quantity: seatIds.length, seats: hold.value.seats,
      totalAmountCents: hold.value.totalCents, currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
    }).returning(),
  );
  expect((await inv.beginConfirm(hold.value.id, booking.id)).ok).toBe(true);
  expect((await inv.commit(hold.value.id, booking.id)).ok).toBe(true);
  return { booking, holdId: hold.value.id };
}

/** A booking confirmed by the real saga (charged, committed, confirmed in Postgres). */
async function confirmedBooking(ev: TestEvent, user: TestUser, seatIds: string[]) {
  const hold = await inventory(ev.eventId).hold(user.id, { seatIds }, null);
  if (!hold.ok) throw new Error(hold.message);
  const [booking] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId: ev.eventId, holdId: hold.value.id, quantity: seatIds.length, seats: hold.value.seats,
      totalAmountCents: hold.value.totalCents, currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
    }).returning(),
  );
  const db = createDb(testEnv);
  try {
    expect(await advanceBooking(sagaDeps(testEnv, db), booking.id)).toEqual({ kind: "finished", status: "confirmed" });
  } finally {
    await closeDb(db);
  }
  return { booking, holdId: hold.value.id };
}
