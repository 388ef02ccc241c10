import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import worker from "../../src/index";
import { bookings, events } from "../../src/db/schema";
import { runScheduled } from "../../src/jobs/scheduled";
import { inventoryFor } from "../../src/services/booking-saga";
import { makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { bookingRow, makeReservedEventOnSale, type TestEvent } from "../helpers/booking-fixtures";
import { expectInvariants } from "../helpers/invariants";
import { eventually } from "../helpers/wait";

// The cron through the Worker's real scheduled handler, the real booking-saga queue and objects.

/** A pending booking as POST /v1/bookings leaves it when the Worker dies before its message is sent, three minutes ago. */
async function bookingWithLostMessage(ev: TestEvent, user: TestUser, seatIds: string[]) {
  const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds }, null);
  if (!h.ok) throw new Error(h.message);
  const then = new Date(Date.now() - 180_000);
  const [b] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId: ev.eventId, holdId: h.value.id, quantity: h.value.quantity, seats: h.value.seats, totalAmountCents: h.value.totalCents,
      currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000), createdAt: then, updatedAt: then,
    }).returning(),
  );
  return b;
}

const confirmed = (id: string) => eventually(async () => ((await bookingRow(id)).status === "confirmed" ? true : null), 20_000, `booking ${id} confirmed`);

describe("cron recovery", () => {
  it("confirms a booking whose saga message was lost, once the scheduled handler has run", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const b = await bookingWithLostMessage(ev, user, ["A-1-1", "A-1-2"]);
    // Nothing moves it on its own.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await bookingRow(b.id)).status).toBe("pending");

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
    await confirmed(b.id);
    const seats = (await inventoryFor(testEnv, ev.eventId).snapshot()).seats!;
    expect(seats.filter((s) => s.status === "booked").map((s) => s.id).sort()).toEqual(["A-1-1", "A-1-2"]);
    await expectInvariants(ev.eventId, inventoryFor(testEnv, ev.eventId));
  });

  it("runs saga re-drive and the other stages when one stage throws, and reports that stage's error", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const b = await bookingWithLostMessage(ev, user, ["A-2-1"]);
    const ended = await makeReservedEventOnSale();
    await withDb((db) => db.update(events).set({ startTime: new Date(Date.now() - 7_200_000), endTime: new Date(Date.now() - 3_600_000) }).where(eq(events.id, ended.eventId)));

    // A real failure of the rollup stage: its table is gone for the duration of this run.
    await withDb((db) => db.execute(sql`alter table booking_daily_stats rename to booking_daily_stats_away`));
    let result;
    try {
      result = await runScheduled(testEnv, new Date());
    } finally {
      await withDb((db) => db.execute(sql`alter table booking_daily_stats_away rename to booking_daily_stats`));
    }
    expect(result.rollup).toMatchObject({ ok: false, error: expect.stringContaining("booking_daily_stats") });
    expect(result.sagaRedrive).toMatchObject({ ok: true, redriven: 1 });
    expect(result.eventsCompleted).toMatchObject({ ok: true, completed: 1 });
    expect(result.reconciliation).toMatchObject({ ok: true });
    expect(result.idempotencyKeys).toMatchObject({ ok: true });
    await confirmed(b.id);
    const [row] = await withDb((db) => db.select({ status: events.status }).from(events).where(eq(events.id, ended.eventId)));
    expect(row.status).toBe("completed");
  });
});
