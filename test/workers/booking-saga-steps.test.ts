import { abortAllDurableObjects } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb, closeDb } from "../../src/db/client";
import { bookings } from "../../src/db/schema";
import { advanceBooking, inventoryFor, sagaDeps, type SagaDeps, type SagaOutcome } from "../../src/services/booking-saga";
import { failureReason } from "../../src/services/booking-failures";
import { makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { bookingRow, makeReservedEventOnSale, refuseConfirmOf, stepsOf, type TestEvent } from "../helpers/booking-fixtures";
import { expectInvariants } from "../helpers/invariants";

// The saga driven step by step (no queue), so each fault lands exactly between two steps.

const cardNetwork = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));
const inventory = (ev: TestEvent) => inventoryFor(testEnv, ev.eventId);

async function setup(opts: Parameters<typeof makeReservedEventOnSale>[0] = {}): Promise<{ ev: TestEvent; user: TestUser }> {
  return { ev: await makeReservedEventOnSale(opts), user: await makeUser() };
}

/** What POST /v1/bookings writes, on a hold taken in the event's object. */
async function book(ev: TestEvent, user: TestUser, seatIds: string[], paymentMethod = "pm_card_ok", deadlineMs = 600_000) {
  const hold = await inventory(ev).hold(user.id, { seatIds }, null);
  if (!hold.ok) throw new Error(hold.message);
  const h = hold.value;
  const [b] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId: ev.eventId, holdId: h.id, quantity: h.quantity, seats: h.seats, totalAmountCents: h.totalCents,
      currency: h.currency, paymentMethod, paymentDeadline: new Date(Date.now() + deadlineMs),
    }).returning(),
  );
  return b;
}

async function drive(bookingId: string, tweak: (d: SagaDeps) => SagaDeps = (d) => d): Promise<SagaOutcome> {
  const db = createDb(testEnv);
  try {
    return await advanceBooking(tweak(sagaDeps(testEnv, db)), bookingId);
  } finally {
    await closeDb(db);
  }
}

async function driveUntilFinished(bookingId: string, tweak?: (d: SagaDeps) => SagaDeps): Promise<SagaOutcome> {
  for (let i = 0; i < 30; i++) {
    const out = await drive(bookingId, tweak);
    if (out.kind === "finished") return out;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("saga did not finish");
}

describe("booking saga, step by step", () => {
  beforeAll(async () => {
    await cardNetwork().setOutage(false);
  });

  it("charges, commits, confirms and notifies a booking paid with pm_card_ok", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-1-1", "A-1-2"]);
    expect(await drive(b.id)).toEqual({ kind: "finished", status: "confirmed" });
    const row = await bookingRow(b.id);
    expect(row.status).toBe("confirmed");
    expect(Object.keys(await stepsOf(b.id)).sort()).toEqual(["begin-confirm", "charge", "commit", "confirm", "notify-confirmed"]);
    expect(await inventory(ev).getHold(b.holdId)).toMatchObject({ ok: true, value: { status: "committed", bookingId: b.id } });
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("fails a declined card, releases its seats and charges nothing", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-1-1"], "pm_card_declined");
    expect(await drive(b.id)).toEqual({ kind: "finished", status: "failed" });
    expect((await bookingRow(b.id)).failureReason).toBe(failureReason("PAYMENT_DECLINED"));
    expect((await inventory(ev).stats()).available).toBe(ev.seatIds.length);
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("runs five concurrent sagas of one booking into one charge and one confirmation", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-2-1", "A-2-2", "A-2-3"]);
    await Promise.all(Array.from({ length: 5 }, () => driveUntilFinished(b.id)));
    expect((await cardNetwork().statement(b.id)).length).toBe(1);
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("refunds a payment that completes after its hold was released, and never sells the seats", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-1-3"]);
    // The hold ends (an operator, an event cancellation) while the card is being charged.
    const out = await driveUntilFinished(b.id, (d) => ({
      ...d,
      payments: (t) => {
        const p = d.payments(t);
        return { ...p, charge: async (req) => { const r = await p.charge(req); await inventory(ev).release(b.holdId, null); return r; } };
      },
    }));
    expect(out).toEqual({ kind: "finished", status: "failed" });
    const statement = await cardNetwork().statement(b.id);
    expect(statement).toHaveLength(1);
    expect(statement[0].refundRef).not.toBeNull();
    expect((await stepsOf(b.id)).refund.detail).toMatchObject({ outcome: "refunded" });
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("releases the seats of a payment slower than the deadline and refunds the late charge", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-1-4"], "pm_card_slow", 1_000);
    const first = await drive(b.id);
    expect(first.kind).toBe("retry");
    await new Promise((r) => setTimeout(r, 1_100));
    const second = await drive(b.id);
    expect((await bookingRow(b.id)).status).toBe("failed");
    // Seats come back at once, while the late charge has not settled yet.
    expect((await inventory(ev).snapshot()).seats!.find((s) => s.id === "A-1-4")!.status).toBe("available");
    expect(second.kind).toBe("retry");
    await driveUntilFinished(b.id);
    expect((await cardNetwork().statement(b.id))[0]).toMatchObject({ status: "succeeded", refundRef: expect.any(String) });
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("retries when the inventory object is reset between charge and commit, then confirms", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-1-5"]);
    // One stub for the whole run, as a consumer holds it; every object restarts once the card is charged.
    const stub = inventory(ev);
    const first = await drive(b.id, (d) => ({
      ...d,
      inventory: () => stub,
      payments: (t) => {
        const p = d.payments(t);
        return { ...p, charge: async (req) => { const r = await p.charge(req); await abortAllDurableObjects(); return r; } };
      },
    }));
    expect(first.kind).toBe("retry");
    const steps = await stepsOf(b.id);
    expect(steps.charge.status).toBe("done");
    expect(steps.commit.status).toBe("failed");
    expect(await inventory(ev).getHold(b.holdId)).toMatchObject({ ok: true, value: { status: "confirming" } });
    expect(await drive(b.id)).toEqual({ kind: "finished", status: "confirmed" });
    expect(await cardNetwork().statement(b.id)).toHaveLength(1);
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("retries while Postgres refuses the confirm and confirms once it answers again", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-2-4"]);
    // Postgres refuses the confirm as it does when another session holds the booking row's lock.
    const allow = await refuseConfirmOf(b.id);
    try {
      const out = await drive(b.id);
      expect(out.kind).toBe("retry");
      const steps = await stepsOf(b.id);
      expect(steps.commit.status).toBe("done");
      expect(steps.confirm).toMatchObject({ status: "failed" });
      expect((await bookingRow(b.id)).status).toBe("pending");
    } finally {
      await allow();
    }
    expect(await drive(b.id)).toEqual({ kind: "finished", status: "confirmed" });
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("waits while the card network is down (breaker open) and confirms after it recovers", async () => {
    const { ev, user } = await setup();
    const b = await book(ev, user, ["A-2-5"]);
    await cardNetwork().setOutage(true);
    try {
      for (let i = 0; i < 3; i++) expect((await drive(b.id)).kind).toBe("retry");
      const breaker = testEnv.CIRCUIT_BREAKER.get(testEnv.CIRCUIT_BREAKER.idFromName("payments:sandbox"));
      expect((await breaker.current()).state).toBe("open");
      expect((await bookingRow(b.id)).status).toBe("pending");
    } finally {
      await cardNetwork().setOutage(false);
    }
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await driveUntilFinished(b.id)).toEqual({ kind: "finished", status: "confirmed" });
    await expectInvariants(ev.eventId, inventory(ev));
  });
});
