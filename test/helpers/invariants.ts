import { and, eq, inArray } from "drizzle-orm";
import { expect } from "vitest";
import { bookings, bookingSeats, events, payments } from "../../src/db/schema";
import type { EventInventoryRpc } from "../../durable-objects/inventory/contract";
import { testEnv, withDb } from "./fixtures";

const cardNetwork = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));

/**
 * The promises of DESIGN.md, checked for one event once its bookings have settled: no seat sold
 * twice; every paid booking confirmed exactly once; every failed or cancelled one refunded (the
 * card network's own ledger is the witness); the event's object and Postgres agree on every seat.
 */
export async function expectInvariants(eventId: string, inventory: EventInventoryRpc): Promise<void> {
  const { rows, active, sold } = await withDb(async (db) => ({
    rows: await db.select().from(bookings).where(eq(bookings.eventId, eventId)),
    active: await db.select().from(bookingSeats).where(and(eq(bookingSeats.eventId, eventId), eq(bookingSeats.active, true))),
    sold: (await db.select({ n: events.seatsSold }).from(events).where(eq(events.id, eventId)))[0].n,
  }));
  expect(rows.filter((b) => b.status === "pending"), "every booking has settled").toEqual([]);

  // No seat sold twice, and every active seat belongs to a confirmed booking.
  const activeIds = active.map((s) => s.seatId);
  expect(new Set(activeIds).size, "no seat in two active bookings").toBe(activeIds.length);
  const confirmed = rows.filter((b) => b.status === "confirmed");
  expect(new Set(active.map((s) => s.bookingId))).toEqual(new Set(confirmed.filter((b) => b.seats.length).map((b) => b.id)));
  expect(sold, "seats_sold counts the confirmed bookings").toBe(confirmed.reduce((n, b) => n + b.quantity, 0));

  for (const b of rows) {
    const statement = await cardNetwork().statement(b.id);
    const kept = statement.filter((c) => c.status === "succeeded" && c.refundRef === null);
    if (b.status === "confirmed") {
      expect(kept.length, `confirmed booking ${b.id} paid exactly once`).toBe(1);
      expect(kept[0].amountCents).toBe(b.totalAmountCents);
      const mine = active.filter((s) => s.bookingId === b.id).map((s) => s.seatId).sort();
      expect(mine, `confirmed booking ${b.id} holds its seats`).toEqual(b.seats.map((s) => s.id).sort());
    } else {
      expect(kept, `${b.status} booking ${b.id} keeps no money`).toEqual([]);
      const hold = await inventory.getHold(b.holdId);
      if (hold.ok) expect(["released", "expired"], `${b.status} booking ${b.id} holds nothing in the inventory`).toContain(hold.value.status);
    }
    const paid = await withDb((db) => db.select().from(payments).where(and(eq(payments.bookingId, b.id), inArray(payments.kind, ["charge", "refund"]))));
    const charges = paid.filter((p) => p.kind === "charge").length;
    expect(charges, `booking ${b.id} has at most one charge row`).toBeLessThanOrEqual(1);
  }

  // The inventory and Postgres agree seat by seat.
  const snap = await inventory.snapshot();
  const bookedInDo = (snap.seats ?? []).filter((s) => s.status === "booked").map((s) => s.id).sort();
  expect(bookedInDo, "booked seats in the inventory = active booking seats in Postgres").toEqual([...activeIds].sort());
  expect(snap.availability.booked, "booked count agrees").toBe(sold);
}
