import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { bookings, notifications } from "../../src/db/schema";
import { inventoryFor } from "../../src/services/booking-saga";
import { reconcile } from "../../src/jobs/reconciliation";
import { call, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { bookingRow, makeReservedEventOnSale, refuseConfirmOf, stepsOf, type TestEvent } from "../helpers/booking-fixtures";
import { expectInvariants } from "../helpers/invariants";
import { eventually } from "../helpers/wait";

// End to end through the real booking-saga and notifications queues and the real EventInventory object.

const cardNetwork = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));
const inventory = (ev: TestEvent) => inventoryFor(testEnv, ev.eventId);

async function hold(ev: TestEvent, user: TestUser, seatIds: string[]): Promise<string> {
  const h = await inventory(ev).hold(user.id, { seatIds }, null);
  if (!h.ok) throw new Error(`hold: ${h.code} ${h.message}`);
  return h.value.id;
}

const post = (user: TestUser, body: unknown, key?: string) =>
  call("/v1/bookings", { method: "POST", headers: { ...user.auth, ...(key ? { "idempotency-key": key } : {}) }, json: body });

async function settled(user: TestUser, bookingId: string, timeoutMs = 20_000): Promise<any> {
  return eventually(async () => {
    const b: any = await (await call(`/v1/bookings/${bookingId}`, { headers: user.auth })).json();
    return b.status !== "pending" ? b : null;
  }, timeoutMs, `booking ${bookingId} settled`);
}

/** A saga is finished when its last notification step is recorded. */
async function sagaFinished(bookingId: string, lastStep: string, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => (await stepsOf(bookingId))[lastStep]?.status === "done", timeoutMs, `${lastStep} of ${bookingId}`);
}

const noticesOf = (userId: string) => withDb((db) => db.select().from(notifications).where(eq(notifications.userId, userId)));

describe("booking saga through the real queues", () => {
  it("confirms a booking end to end: seats booked in the inventory and in Postgres, notification stored", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-1-1", "A-1-2"]);
    const res = await post(user, { holdId }, crypto.randomUUID());
    expect(res.status).toBe(202);
    const created: any = await res.json();
    expect(created).toMatchObject({ status: "pending", holdId, totalCents: 10_000, seats: [{ id: "A-1-1" }, { id: "A-1-2" }] });
    expect((await (await call(`/v1/bookings/${created.id}`, { headers: user.auth })).json() as any).status).toBe("pending");

    const done = await settled(user, created.id);
    expect(done.status).toBe("confirmed");
    const seats = (await inventory(ev).snapshot()).seats!;
    expect(seats.filter((s) => s.status === "booked").map((s) => s.id).sort()).toEqual(["A-1-1", "A-1-2"]);
    await sagaFinished(created.id, "notify-confirmed");
    await eventually(async () => (await noticesOf(user.id)).some((n) => n.type === "booking.confirmed"), 10_000, "confirmation stored");
    const listed: any = await (await call("/v1/notifications", { headers: user.auth })).json();
    expect(listed.data[0]).toMatchObject({ type: "booking.confirmed", payload: { bookingId: created.id } });
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("answers the same hold again with 200 and the same booking", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-2-1"]);
    const first: any = await (await post(user, { holdId })).json();
    const again = await post(user, { holdId });
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).id).toBe(first.id);
    await settled(user, first.id);
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("fails a declined card, gives the seats back and tells the user", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-1-3"]);
    const b: any = await (await post(user, { holdId, paymentMethod: "pm_card_declined" })).json();
    expect((await settled(user, b.id)).status).toBe("failed");
    await sagaFinished(b.id, "notify-failed");
    expect((await inventory(ev).snapshot()).seats!.find((s) => s.id === "A-1-3")!.status).toBe("available");
    await eventually(async () => (await noticesOf(user.id)).some((n) => n.type === "booking.failed"), 10_000, "failure stored");
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("answers ten concurrent requests with one key with one booking, charged once", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-2-2", "A-2-3"]);
    const key = crypto.randomUUID();
    const replies = await Promise.all(Array.from({ length: 10 }, () => post(user, { holdId }, key)));
    const bodies: any[] = await Promise.all(replies.map((r) => r.json()));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(202));
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(await withDb((db) => db.select().from(bookings).where(eq(bookings.holdId, holdId)))).toHaveLength(1);
    expect((await settled(user, bodies[0].id)).status).toBe("confirmed");
    expect(await cardNetwork().statement(bodies[0].id)).toHaveLength(1);
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("refuses another body under the same key with 409 IDEMPOTENCY_CONFLICT", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const [h1, h2] = [await hold(ev, user, ["A-1-4"]), await hold(ev, user, ["A-1-5"])];
    const key = crypto.randomUUID();
    const first = await post(user, { holdId: h1 }, key);
    expect(first.status).toBe(202);
    const other = await post(user, { holdId: h2 }, key);
    expect(other.status).toBe(409);
    expect(((await other.json()) as any).error.code).toBe("IDEMPOTENCY_CONFLICT");
    await settled(user, ((await first.json()) as any).id);
  });

  it("releases the seats of a payment slower than the deadline and refunds the late charge", async () => {
    // Deadline 3 s: the queue delivers within it, the card network answers after 5 s.
    const ev = await makeReservedEventOnSale({ paymentDeadlineSeconds: 3 });
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-1-1"]);
    const b: any = await (await post(user, { holdId, paymentMethod: "pm_card_slow" })).json();
    const done = await settled(user, b.id);
    expect(done.status).toBe("failed");
    expect(done.failureReason).toMatch(/deadline/);
    await eventually(async () => (await cardNetwork().statement(b.id))[0]?.refundRef, 20_000, "late charge refunded");
    await sagaFinished(b.id, "notify-refunded");
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("delivers every saga message twice and still confirms, cancels and refunds exactly once", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-2-4"]);
    const b: any = await (await post(user, { holdId })).json();
    await testEnv.BOOKING_SAGA.send({ type: "booking.requested", bookingId: b.id });
    await testEnv.BOOKING_SAGA.send({ type: "booking.requested", bookingId: b.id });
    expect((await settled(user, b.id)).status).toBe("confirmed");
    await sagaFinished(b.id, "notify-confirmed");
    const cancel = await call(`/v1/bookings/${b.id}/cancel`, { method: "POST", headers: user.auth });
    expect(cancel.status).toBe(202);
    await testEnv.BOOKING_SAGA.send({ type: "booking.cancel-requested", bookingId: b.id });
    await testEnv.BOOKING_SAGA.send({ type: "booking.cancel-requested", bookingId: b.id });
    await sagaFinished(b.id, "notify-refunded");
    await new Promise((r) => setTimeout(r, 1_500)); // the duplicates land too
    const statement = await cardNetwork().statement(b.id);
    expect(statement).toHaveLength(1);
    expect(statement[0].refundRef).not.toBeNull();
    const kinds = (await noticesOf(user.id)).map((n) => n.type).sort();
    expect(kinds).toEqual(["booking.cancelled", "booking.confirmed", "booking.refunded"]);
    expect((await inventory(ev).snapshot()).seats!.find((s) => s.id === "A-2-4")!.status).toBe("available");
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("ignores a cancel message before confirmation and a booking message after cancellation (out of order)", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-2-5"]);
    const b: any = await (await post(user, { holdId })).json();
    // Nobody asked to cancel: a stray early cancel message must not cancel anything.
    await testEnv.BOOKING_SAGA.send({ type: "booking.cancel-requested", bookingId: b.id });
    expect((await settled(user, b.id)).status).toBe("confirmed");
    expect((await call(`/v1/bookings/${b.id}/cancel`, { method: "POST", headers: user.auth })).status).toBe(202);
    await sagaFinished(b.id, "notify-refunded");
    // A stale booking.requested after everything: nothing is charged or committed again.
    await testEnv.BOOKING_SAGA.send({ type: "booking.requested", bookingId: b.id });
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await bookingRow(b.id)).status).toBe("cancelled");
    expect(await cardNetwork().statement(b.id)).toHaveLength(1);
    expect((await inventory(ev).snapshot()).seats!.find((s) => s.id === "A-2-5")!.status).toBe("available");
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("finishes the saga when every Durable Object is aborted between its steps", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-1-2", "A-1-3"]);
    const b: any = await (await post(user, { holdId })).json();
    const seen = new Set<string>();
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const steps = await stepsOf(b.id);
      const done = Object.keys(steps).filter((s) => steps[s].status === "done");
      if (done.some((s) => !seen.has(s))) {
        done.forEach((s) => seen.add(s));
        await abortAllDurableObjects();
      }
      if (steps["notify-confirmed"]?.status === "done") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await bookingRow(b.id)).status).toBe("confirmed");
    expect(seen.size).toBeGreaterThanOrEqual(3);
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("retries while Postgres refuses the confirm and confirms once it is back", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const holdId = await hold(ev, user, ["A-1-4"]);
    // Refused before the booking exists: the queue may run the whole saga before the POST answers.
    const allow = await refuseConfirmOf({ holdId });
    let b: any;
    try {
      b = await (await post(user, { holdId })).json();
      // Paid and committed in the object, but Postgres cannot record it.
      await eventually(async () => (await stepsOf(b.id)).confirm?.status === "failed", 20_000, "confirm refused");
      expect((await stepsOf(b.id)).commit.status).toBe("done");
    } finally {
      await allow();
    }
    expect((await settled(user, b.id)).status).toBe("confirmed");
    expect(await cardNetwork().statement(b.id)).toHaveLength(1);
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("cancels a confirmed booking: seats back in the inventory, refunded once, user told twice", async () => {
    const ev = await makeReservedEventOnSale();
    const [user, admin] = [await makeUser(), await makeUser("admin")];
    const holdId = await hold(ev, user, ["A-1-5"]);
    const b: any = await (await post(user, { holdId })).json();
    await settled(user, b.id);
    const res = await call(`/v1/bookings/${b.id}/cancel`, { method: "POST", headers: admin.auth });
    expect(res.status).toBe(202);
    expect(((await res.json()) as any).status).toBe("cancelled");
    await sagaFinished(b.id, "notify-refunded");
    expect((await call(`/v1/bookings/${b.id}/cancel`, { method: "POST", headers: user.auth })).status).toBe(202);
    const seat = (await inventory(ev).snapshot()).seats!.find((s) => s.id === "A-1-5")!;
    expect(seat.status).toBe("available");
    await eventually(async () => (await noticesOf(user.id)).filter((n) => n.type.match(/cancelled|refunded/)).length === 2, 10_000, "both notices");
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("refunds every booking of a cancelled event: confirmed ones by its refund job, a pending one by its saga", async () => {
    const ev = await makeReservedEventOnSale();
    const [u1, u2, u3] = [await makeUser(), await makeUser(), await makeUser()];
    const b1: any = await (await post(u1, { holdId: await hold(ev, u1, ["A-1-1"]) })).json();
    const b2: any = await (await post(u2, { holdId: await hold(ev, u2, ["A-1-2", "A-1-3"]) })).json();
    await settled(u1, b1.id);
    await settled(u2, b2.id);
    const b3: any = await (await post(u3, { holdId: await hold(ev, u3, ["A-2-1"]), paymentMethod: "pm_card_slow" })).json();
    const admin = await makeUser("admin");
    const res = await call(`/v1/events/${ev.eventId}/cancel`, { method: "POST", headers: admin.auth });
    expect(res.status).toBe(202);
    expect(((await res.json()) as any).refundsRequested).toBe(2);
    for (const b of [b1, b2]) {
      await sagaFinished(b.id, "notify-refunded");
      expect((await bookingRow(b.id)).status).toBe("cancelled");
    }
    await eventually(async () => ["cancelled", "failed"].includes((await bookingRow(b3.id)).status), 20_000, "slow booking settled");
    await eventually(async () => {
      const st = await stepsOf(b3.id);
      return st["notify-failed"]?.status === "done" || st["notify-cancelled"]?.status === "done";
    }, 20_000, "slow booking finished");
    await eventually(async () => (await cardNetwork().statement(b3.id)).every((c) => c.status !== "succeeded" || c.refundRef), 20_000, "slow charge refunded");
    await expectInvariants(ev.eventId, inventory(ev));
  });

  it("reports drift when the inventory books a seat Postgres knows nothing of", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const b: any = await (await post(user, { holdId: await hold(ev, user, ["A-1-1"]) })).json();
    await settled(user, b.id);
    const clean = await withDb((db) => reconcile(db, new Date(), (id) => inventoryFor(testEnv, id)));
    expect(clean.drift.filter((d) => d.eventId === ev.eventId)).toEqual([]);
    const rogue = await hold(ev, user, ["A-2-2"]);
    const ghost = crypto.randomUUID();
    expect((await inventory(ev).beginConfirm(rogue, ghost)).ok).toBe(true);
    expect((await inventory(ev).commit(rogue, ghost)).ok).toBe(true);
    const dirty = await withDb((db) => reconcile(db, new Date(), (id) => inventoryFor(testEnv, id)));
    expect(dirty.drift.filter((d) => d.eventId === ev.eventId)).toEqual([
      { eventId: ev.eventId, kind: "booked-in-inventory-only", seatIds: ["A-2-2"] },
      { eventId: ev.eventId, kind: "booked-count", inventory: 2, postgres: 1, inFlight: 0 },
      { eventId: ev.eventId, kind: "type-booked-count", ticketTypeId: "tt_default", inventory: 2, postgres: 1, inFlight: 0 },
    ]);
  });
});

describe("card network outage through the real queues", () => {
  it("keeps bookings pending while the breaker is open and confirms them after recovery", async () => {
    const ev = await makeReservedEventOnSale();
    const users = [await makeUser(), await makeUser(), await makeUser()];
    const breaker = testEnv.CIRCUIT_BREAKER.get(testEnv.CIRCUIT_BREAKER.idFromName("payments:sandbox"));
    await cardNetwork().setOutage(true);
    const ids: string[] = [];
    try {
      for (const [i, u] of users.entries()) ids.push(((await (await post(u, { holdId: await hold(ev, u, [`A-1-${i + 1}`]) })).json()) as any).id);
      await eventually(async () => (await breaker.current()).state === "open", 20_000, "breaker open");
      for (const id of ids) expect((await bookingRow(id)).status).toBe("pending");
    } finally {
      await cardNetwork().setOutage(false);
    }
    for (const [i, id] of ids.entries()) expect((await settled(users[i], id, 30_000)).status).toBe("confirmed");
    expect((await breaker.current()).state).toBe("closed");
    await expectInvariants(ev.eventId, inventory(ev));
  });
});
