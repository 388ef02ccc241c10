import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { bookings } from "../../src/db/schema";
import { advanceBooking, inventoryFor, sagaDeps } from "../../src/services/booking-saga";
import { reconcile } from "../../src/services/reconciliation";
import { makeUser, testEnv, withDb } from "../helpers/fixtures";
import { makeReservedEventOnSale } from "../helpers/booking-fixtures";

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
      await db.$client.end();
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
});
