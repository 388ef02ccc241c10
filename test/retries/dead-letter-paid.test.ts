import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { inventoryFor } from "../../src/services/booking-saga";
import { runScheduled } from "../../src/jobs/scheduled";
import { call, makeUser, testEnv, withDb } from "../helpers/fixtures";
import { bookingRow, makeReservedEventOnSale, stepsOf } from "../helpers/booking-fixtures";
import { expectInvariants } from "../helpers/invariants";
import { eventually } from "../helpers/wait";

// Real retry exhaustion: this project's booking-saga queue retries twice, one second apart, then
// hands the message to the real booking-saga-dlq (see vitest.config.ts, project workers-retries).

const cardNetwork = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));

/** Postgres refuses every confirmation (as under a long lock or outage) until `heal` is called. */
async function refuseConfirmations(): Promise<{ heal: () => Promise<void> }> {
  await withDb(async (db) => {
    await db.execute(sql`create or replace function test_refuse_confirm() returns trigger language plpgsql as $$
      begin raise exception 'confirmations refused by the test' using errcode = '55P03'; end $$`);
    await db.execute(sql`create trigger test_refuse_confirm before update on bookings for each row when (new.status = 'confirmed') execute function test_refuse_confirm()`);
  });
  return { heal: () => withDb(async (db) => void (await db.execute(sql`drop trigger if exists test_refuse_confirm on bookings`))) };
}

describe("a saga message that runs out of retries after the charge", () => {
  it("ends the paid booking confirmed, never failed with its seats given back and no refund", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds: ["A-1-1", "A-1-2"] }, null);
    if (!h.ok) throw new Error(h.message);
    const outage = await refuseConfirmations();
    try {
      const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: h.value.id } });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      // The charge goes through, then every delivery fails on confirm until the message dead-letters.
      const steps = await eventually(async () => {
        const s = await stepsOf(id);
        return s["dead-letter"] ? s : null;
      }, 20_000, "the message reached the dead-letter queue");
      expect(steps.charge.status).toBe("done");
      expect(steps.confirm).toMatchObject({ status: "failed" });
      expect(steps.confirm.attempts).toBeGreaterThanOrEqual(3);
      await outage.heal();

      await eventually(async () => ((await bookingRow(id)).status !== "pending" ? true : null), 20_000, "booking settled");
      expect((await bookingRow(id)).status).toBe("confirmed");
      const statement = await cardNetwork().statement(id);
      expect(statement.filter((c) => c.status === "succeeded" && c.refundRef === null)).toHaveLength(1);
      const seats = (await inventoryFor(testEnv, ev.eventId).snapshot()).seats!;
      expect(seats.filter((s) => s.status === "booked").map((s) => s.id).sort()).toEqual(["A-1-1", "A-1-2"]);
      await eventually(async () => (await stepsOf(id))["notify-confirmed"]?.status === "done", 10_000, "confirmation sent");
      await expectInvariants(ev.eventId, inventoryFor(testEnv, ev.eventId));
    } finally {
      await outage.heal();
    }
  });

  it("keeps the paid booking pending when the dead-letter queue gives up too, and the cron confirms it", { timeout: 60_000 }, async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds: ["A-2-1"] }, null);
    if (!h.ok) throw new Error(h.message);
    const outage = await refuseConfirmations();
    try {
      const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: h.value.id } });
      const { id } = (await res.json()) as { id: string };
      // The first run in the request's waitUntil, then 3 deliveries on booking-saga and 4 on
      // booking-saga-dlq (max_retries 3): every one tries to confirm.
      await eventually(async () => ((await stepsOf(id)).confirm?.attempts ?? 0) >= 8, 40_000, "both queues exhausted");
      await new Promise((r) => setTimeout(r, 3_000));
      const steps = await stepsOf(id);
      expect(steps.confirm.attempts, "no delivery is left").toBe(8);
      expect(steps["dead-letter"]).toBeDefined();
      expect((await bookingRow(id)).status).toBe("pending");
      expect((await cardNetwork().statement(id)).filter((c) => c.status === "succeeded" && c.refundRef === null)).toHaveLength(1);

      await outage.heal();
      // The next cron run after the two-minute grace re-drives every unsettled booking.
      const report = await runScheduled(testEnv, new Date(Date.now() + 180_000));
      expect(report.sagaRedrive).toMatchObject({ ok: true });
      await eventually(async () => ((await bookingRow(id)).status === "confirmed" ? true : null), 20_000, "booking confirmed");
      await expectInvariants(ev.eventId, inventoryFor(testEnv, ev.eventId));
    } finally {
      await outage.heal();
    }
  });
});
