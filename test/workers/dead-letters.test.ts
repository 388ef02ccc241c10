import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { auditLog, bookings, notifications } from "../../src/db/schema";
import { handleBatch, DEAD_LETTER_REASON } from "../../src/queues/consumer";
import { inventoryFor } from "../../src/services/booking-saga";
import { makeUser, testEnv, withDb } from "../helpers/fixtures";
import { bookingRow, makeReservedEvent, stepsOf } from "../helpers/booking-fixtures";
import { expectInvariants } from "../helpers/invariants";

// The dead-letter consumers get a message the way the runtime hands one over after its last retry.
async function deliver(queue: string, body: unknown, attempts = 1) {
  const batch = createMessageBatch(queue, [{ id: crypto.randomUUID(), timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await handleBatch(batch, testEnv, ctx);
  return getQueueResult(batch, ctx);
}

describe("dead-letter queues", () => {
  it("keeps the in-app notification of a dead-lettered email and records the loss", async () => {
    const u = await makeUser();
    const dedupeKey = `dlq:${crypto.randomUUID()}`;
    const result = await deliver("notifications-dlq", { type: "notification.send", dedupeKey, userId: u.id, kind: "booking.refunded", payload: { bookingId: "b" } });
    expect(result.explicitAcks).toHaveLength(1);
    const [stored, audit] = await withDb(async (db) => [
      await db.select().from(notifications).where(eq(notifications.dedupeKey, dedupeKey)),
      await db.select().from(auditLog).where(and(eq(auditLog.action, "notification.dead-lettered"), eq(auditLog.subjectId, dedupeKey))),
    ]);
    expect(stored).toHaveLength(1);
    expect(audit).toHaveLength(1);
  });

  it("compensates a booking whose saga message ran out of retries: hold released, booking failed, failure recorded", async () => {
    const ev = await makeReservedEvent();
    const inv = inventoryFor(testEnv, ev.eventId);
    expect((await inv.initialize(ev.init)).ok).toBe(true);
    const user = await makeUser();
    const hold = await inv.hold(user.id, { seatIds: ["A-1-1"] }, null);
    if (!hold.ok) throw new Error(hold.message);
    // A pending booking whose messages were all lost, as POST /v1/bookings would have left it.
    const [b] = await withDb((db) =>
      db.insert(bookings).values({
        userId: user.id, eventId: ev.eventId, holdId: hold.value.id, quantity: 1, seats: hold.value.seats, totalAmountCents: hold.value.totalCents,
        currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
      }).returning(),
    );
    expect((await inv.beginConfirm(hold.value.id, b.id)).ok).toBe(true);

    const result = await deliver("booking-saga-dlq", { type: "booking.requested", bookingId: b.id }, 11);
    expect(result.explicitAcks).toHaveLength(1);
    const row = await bookingRow(b.id);
    expect(row).toMatchObject({ status: "failed", failureReason: DEAD_LETTER_REASON });
    const steps = await stepsOf(b.id);
    expect(steps["dead-letter"]).toMatchObject({ status: "failed", detail: { message: "booking.requested", attempts: 11 } });
    expect(steps.release.status).toBe("done");
    expect(steps["notify-failed"].status).toBe("done");
    const after = await inv.getHold(hold.value.id);
    expect(after.ok && after.value.status).toBe("released");
    await expectInvariants(ev.eventId, inv);
  });
});
