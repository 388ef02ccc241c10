import { describe, expect, it } from "vitest";
import { createDb, closeDb } from "../../src/db/client";
import { bookings, events, sagaSteps } from "../../src/db/schema";
import { eq } from "drizzle-orm";
import { advanceBooking, inventoryFor, sagaDeps } from "../../src/services/booking-saga";
import { reconcile } from "../../src/jobs/reconciliation";
import { makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { makeReservedEventOnSale, type TestEvent } from "../helpers/booking-fixtures";
import { publishedEvent } from "../helpers/inventory";
import type { HoldRequest, ProductSet } from "../../durable-objects/inventory/contract";

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
        { eventId: ev.eventId, kind: "type-booked-count", ticketTypeId: "tt_default", inventory: 3, postgres: 2, inFlight: 0 },
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
      { eventId: ev.eventId, kind: "type-booked-count", ticketTypeId: "tt_default", inventory: 0, postgres: 1, inFlight: 0 },
    ]);
    const mine = await inv.getHold(taken.value.id);
    expect(mine.ok && mine.value.status).toBe("active");
  });
});

describe("reconciliation × ticket types and vouchers", () => {
  const products: ProductSet = {
    revision: 1,
    types: [{ id: "tt_early", name: "Early bird", priceCents: 3000, quota: 2, quotaPool: null, minPerOrder: 1, maxPerOrder: null, salesStartMs: null, salesEndMs: null, hidden: false, sections: null }],
    vouchers: [{ id: "vch_early", code: "EARLY", discount: { kind: "percent", value: 10 }, maxUsages: 1, validFromMs: null, validUntilMs: null, ticketTypeIds: ["tt_early"], unlocksHidden: false }],
  };

  it("books again the booking Postgres confirmed when the object kept another one's seats instead (equal seat counts): the early-bird quota and the voucher are not sold twice", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 4, maxSeatsPerUser: 4 });
    const inv = inventory(ev.id);
    expect((await inv.setProducts(products)).ok).toBe(true);
    const [a, b, c] = [await makeUser(), await makeUser(), await makeUser()];
    const early = await sagaBooking(ev.id, a, { items: [{ ticketTypeId: "tt_early", quantity: 2 }], voucher: "EARLY" }, "confirmed");
    const plain = await sagaBooking(ev.id, b, { quantity: 2 }, "committed");
    // Postgres failed the plain booking (its saga believes the seats went back) and the object let
    // the early-bird booking's seats go: 2 seats booked on each side, for different bookings.
    await withDb(async (db) => {
      await db.update(bookings).set({ status: "failed", failureReason: "test" }).where(eq(bookings.id, plain.booking.id));
      await db.insert(sagaSteps).values([{ bookingId: plain.booking.id, step: "fail", status: "done" }, { bookingId: plain.booking.id, step: "release", status: "done" }]);
    });
    expect((await inv.returnSeats(early.holdId, early.booking.id)).ok).toBe(true);
    expect(await inv.stats()).toMatchObject({ booked: 2 });

    const report = await withDb((db) => reconcile(db, new Date(), inventory));
    expect(report.repaired.filter((r) => r.eventId === ev.id)).toEqual([
      { eventId: ev.id, bookingId: plain.booking.id, kind: "seats-returned", seatIds: [], quantity: 2 },
      { eventId: ev.id, bookingId: early.booking.id, kind: "seats-rebooked", seatIds: [], quantity: 2 },
    ]);
    expect(report.drift.filter((d) => d.eventId === ev.id)).toEqual([]);
    const got = await inv.productStats();
    if (!got.ok) throw new Error(got.message);
    const stats = got.value;
    expect(stats.types.find((t) => t.ticketTypeId === "tt_early")).toMatchObject({ used: 2, quota: 2, available: 0 });
    expect(stats.vouchers).toEqual([{ voucherId: "vch_early", code: "EARLY", usages: 1, maxUsages: 1 }]);
    // The early-bird quota and the voucher stay sold: nobody gets them a second time.
    expect(await inv.hold(c.id, { items: [{ ticketTypeId: "tt_early", quantity: 1 }] }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED" });
    expect(await inv.hold(c.id, { quantity: 1, voucher: "EARLY" }, null)).toMatchObject({ ok: false });
  });

  it("counts a booking of a type with a voucher between commit and confirm as in flight, not drift, and reports a voucher used on one side only", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 4, maxSeatsPerUser: 4 });
    const inv = inventory(ev.id);
    expect((await inv.setProducts(products)).ok).toBe(true);
    const pending = await sagaBooking(ev.id, await makeUser(), { items: [{ ticketTypeId: "tt_early", quantity: 1 }], voucher: "EARLY" }, "committed");
    const quiet = await withDb((db) => reconcile(db, new Date(), inventory));
    expect(quiet.drift.filter((d) => d.eventId === ev.id)).toEqual([]);
    expect(quiet.repaired.filter((r) => r.eventId === ev.id)).toEqual([]);
    // Postgres confirms it without the voucher (as if the row were edited by hand): the seat counts
    // and types agree, the voucher's usage does not, and no booking's hold disagrees to repair.
    await withDb((db) => db.update(bookings).set({ status: "confirmed", voucherId: null }).where(eq(bookings.id, pending.booking.id)));
    await withDb((db) => db.update(events).set({ seatsSold: 1 }).where(eq(events.id, ev.id)));
    const report = await withDb((db) => reconcile(db, new Date(), inventory));
    expect(report.repaired.filter((r) => r.eventId === ev.id)).toEqual([]);
    expect(report.drift.filter((d) => d.eventId === ev.id)).toEqual([{ eventId: ev.id, kind: "voucher-usages", voucherId: "vch_early", inventory: 1, postgres: 0, inFlight: 0 }]);
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

/** A GA booking with the hold's lines and voucher, confirmed by the real saga, or left committed in the object (between commit and confirm). */
async function sagaBooking(eventId: string, user: TestUser, req: HoldRequest, until: "confirmed" | "committed") {
  const inv = inventory(eventId);
  const hold = await inv.hold(user.id, req, null);
  if (!hold.ok) throw new Error(hold.message);
  const h = hold.value;
  const [booking] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId, holdId: h.id, quantity: h.quantity, seats: h.seats, lines: h.lines, voucherId: h.voucherId ?? null,
      totalAmountCents: h.totalCents, currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
    }).returning(),
  );
  if (until === "committed") {
    expect((await inv.beginConfirm(h.id, booking.id)).ok).toBe(true);
    expect((await inv.commit(h.id, booking.id)).ok).toBe(true);
  } else {
    const db = createDb(testEnv);
    try {
      expect(await advanceBooking(sagaDeps(testEnv, db), booking.id)).toEqual({ kind: "finished", status: "confirmed" });
    } finally {
      await closeDb(db);
    }
  }
  return { booking, holdId: h.id };
}
