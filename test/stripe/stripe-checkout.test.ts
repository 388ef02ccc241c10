// Real money through Stripe (its wire-format fake, test/helpers/stripe-api-fake.ts): the Worker of
// this project runs with PAYMENT_PROVIDER=stripe (vitest.config.ts, workers-stripe). End to end
// through POST /v1/bookings, the signed webhook, the real saga queue, the event's object and Postgres.
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { bookings, notifications, payments } from "../../src/db/schema";
import { runScheduled } from "../../src/jobs/scheduled";
import { inventoryFor } from "../../src/services/booking-saga";
import { call, expectError, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { bookingRow, makeReservedEventOnSale, stepsOf, type TestEvent } from "../helpers/booking-fixtures";
import { TEST_STRIPE_KEYS } from "../helpers/stripe-signature";
import { failureReason } from "../../src/services/booking-failures";
import { eventually } from "../helpers/wait";

const apiBase = inject("stripeApiBase");

/** The fake, as the Worker's account (the same secret key the Worker calls it with). */
async function stripeApi(method: string, path: string, form?: Record<string, string>): Promise<any> {
  const res = await fetch(`${apiBase}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_STRIPE_KEYS.secretKey}`, ...(form && { "content-type": "application/x-www-form-urlencoded" }) },
    body: form && new URLSearchParams(form).toString(),
  });
  return res.json();
}
const intentOf = (id: string) => stripeApi("GET", `/v1/payment_intents/${id}`);
/** What the browser's Payment Element does with the client secret. */
const confirmIntent = (id: string, paymentMethod: string) => stripeApi("POST", `/v1/payment_intents/${id}/confirm`, { payment_method: paymentMethod });

/** Stripe's delivery of the intent's event of this type: the signed body the fake recorded, POSTed to our endpoint. */
async function deliverWebhook(intentId: string, type: string): Promise<Response> {
  const events: { data: { type: string; body: string; signature: string }[] } = await stripeApi("GET", "/_fake/events");
  const event = events.data.find((e) => e.type === type && JSON.parse(e.body).data.object.id === intentId);
  if (!event) throw new Error(`no ${type} event for ${intentId}`);
  return call("/v1/payments/stripe/webhook", { method: "POST", headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": event.signature }, body: event.body });
}

async function hold(ev: TestEvent, user: TestUser, seatIds: string[]): Promise<string> {
  const h = await inventoryFor(testEnv, ev.eventId).hold(user.id, { seatIds }, null);
  if (!h.ok) throw new Error(`hold: ${h.code} ${h.message}`);
  return h.value.id;
}

const post = (user: TestUser, holdId: string, key = crypto.randomUUID()) => call("/v1/bookings", { method: "POST", headers: { ...user.auth, "idempotency-key": key }, json: { holdId } });

async function book(ev: TestEvent, user: TestUser, seatIds = ["A-1-1"]): Promise<{ booking: any; intentId: string }> {
  const res = await post(user, await hold(ev, user, seatIds));
  const booking: any = await res.json();
  expect(res.status, JSON.stringify(booking)).toBe(202);
  const row = await bookingRow(booking.id);
  expect(row.paymentProvider).toBe("stripe");
  return { booking, intentId: row.paymentIntentId! };
}

const settled = (id: string, timeoutMs = 20_000) => eventually(async () => ((await bookingRow(id)).status !== "pending" ? bookingRow(id) : null), timeoutMs, `booking ${id} settled`);
const stepDone = (id: string, step: string, timeoutMs = 20_000) => eventually(async () => (await stepsOf(id))[step]?.status === "done", timeoutMs, `${step} of ${id}`);
const paymentsOf = (bookingId: string) => withDb((db) => db.select().from(payments).where(eq(payments.bookingId, bookingId)));
const noticesOf = (userId: string) => withDb((db) => db.select().from(notifications).where(eq(notifications.userId, userId)));

/** Whether the seats are free again in the event's object: a new hold on them succeeds. */
async function seatsFree(ev: TestEvent, seatIds: string[]): Promise<boolean> {
  const other = await makeUser();
  const h = await inventoryFor(testEnv, ev.eventId).hold(other.id, { seatIds }, null);
  return h.ok;
}

describe("Stripe checkout", () => {
  it("books, the browser authorizes, the webhook resumes the saga: confirmed, then captured", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user, ["A-1-1", "A-1-2"]);
    expect(booking.payment).toEqual({ provider: "stripe", clientSecret: expect.stringMatching(new RegExp(`^${intentId}_secret_`)), publishableKey: TEST_STRIPE_KEYS.publishableKey });
    const pi = await intentOf(intentId);
    expect(pi).toMatchObject({ capture_method: "manual", amount: 10000, currency: "eur", metadata: { bookingId: booking.id }, status: "requires_payment_method" });
    // Not paid yet: the saga waits (no sale without an authorization).
    await stepDone(booking.id, "begin-confirm");
    expect((await bookingRow(booking.id)).status).toBe("pending");

    expect((await confirmIntent(intentId, "pm_card_visa")).status).toBe("requires_capture");
    expect((await deliverWebhook(intentId, "payment_intent.amount_capturable_updated")).status).toBe(200);
    await stepDone(booking.id, "notify-confirmed");
    expect((await bookingRow(booking.id)).status).toBe("confirmed");
    expect((await intentOf(intentId)).status).toBe("succeeded");
    const steps = await stepsOf(booking.id);
    expect(steps.charge.detail).toEqual({ intentId, amountCents: 10000 });
    expect(steps.capture.status).toBe("done");
    const paid = await paymentsOf(booking.id);
    expect(paid).toHaveLength(1);
    expect(paid[0]).toMatchObject({ kind: "charge", status: "succeeded", provider: "stripe", providerRef: intentId, amountCents: 10000, idempotencyKey: `booking:${booking.id}:capture` });
  });

  it("a declined card fails the booking: seats back, the intent never captured", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user);
    const declined = await confirmIntent(intentId, "pm_card_chargeDeclined");
    expect(declined.error.code).toBe("card_declined");
    await deliverWebhook(intentId, "payment_intent.payment_failed");
    const b = await settled(booking.id);
    expect(b).toMatchObject({ status: "failed", failureReason: failureReason("PAYMENT_DECLINED") });
    await stepDone(booking.id, "notify-failed");
    expect(await seatsFree(ev, ["A-1-1"])).toBe(true);
    const pi = await intentOf(intentId);
    expect(pi.status).toBe("canceled");
    expect(pi.amount_received).toBe(0);
    expect(await paymentsOf(booking.id)).toEqual([]);
  });

  it("an authorization that lands after the payment deadline is released (intent cancelled), never sold", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user);
    await stepDone(booking.id, "begin-confirm");
    await withDb((db) => db.update(bookings).set({ paymentDeadline: new Date(Date.now() - 1000) }).where(eq(bookings.id, booking.id)));
    expect((await confirmIntent(intentId, "pm_card_visa")).status).toBe("requires_capture");
    await deliverWebhook(intentId, "payment_intent.amount_capturable_updated");
    const b = await settled(booking.id);
    expect(b).toMatchObject({ status: "failed", failureReason: failureReason("PAYMENT_DEADLINE_PASSED") });
    await stepDone(booking.id, "refund");
    expect((await stepsOf(booking.id)).refund.detail).toMatchObject({ outcome: "released", intentId });
    const pi = await intentOf(intentId);
    expect(pi.status).toBe("canceled");
    expect(pi.amount_received).toBe(0);
    expect(await paymentsOf(booking.id)).toEqual([]);
    expect(await seatsFree(ev, ["A-1-1"])).toBe(true);
  });

  it("a webhook that wakes the saga before the request stored the intent id: the same intent (same key), captured once", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user);
    // As if the create call had not returned yet when Stripe's webhook arrived: no intent id on the booking.
    await withDb((db) => db.update(bookings).set({ paymentIntentId: null }).where(eq(bookings.id, booking.id)));
    await confirmIntent(intentId, "pm_card_visa");
    const hooks = await Promise.all([deliverWebhook(intentId, "payment_intent.amount_capturable_updated"), deliverWebhook(intentId, "payment_intent.amount_capturable_updated")]);
    expect(hooks.map((r) => r.status)).toEqual([200, 200]);
    await stepDone(booking.id, "notify-confirmed");
    expect((await bookingRow(booking.id)).paymentIntentId).toBe(intentId);
    const pi = await intentOf(intentId);
    expect(pi).toMatchObject({ status: "succeeded", amount_received: 5000 });
    const paid = await paymentsOf(booking.id);
    expect(paid.map((p) => [p.kind, p.providerRef])).toEqual([["charge", intentId]]);
  });

  it("the same Idempotency-Key again answers the same booking with its payment", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const key = crypto.randomUUID();
    const holdId = await hold(ev, user, ["A-1-1"]);
    const first: any = await (await post(user, holdId, key)).json();
    const again = await post(user, holdId, key);
    const second: any = await again.json();
    expect(second.id).toBe(first.id);
    expect(second.payment.clientSecret).toBe(first.payment.clientSecret);
  });

  it("Stripe down at booking time: 503 with Retry-After, the booking kept pending, and the same request later gets its intent", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const key = crypto.randomUUID();
    const holdId = await hold(ev, user, ["A-1-1"]);
    await fetch(`${apiBase}/_fake/outage`, { method: "POST", headers: { authorization: `Bearer ${TEST_STRIPE_KEYS.secretKey}` }, body: JSON.stringify({ status: 503 }) });
    let res: Response;
    try {
      res = await post(user, holdId, key);
    } finally {
      await fetch(`${apiBase}/_fake/outage`, { method: "POST", headers: { authorization: `Bearer ${TEST_STRIPE_KEYS.secretKey}` }, body: JSON.stringify({ status: null }) });
    }
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expectError(await res.json(), "DEPENDENCY_UNAVAILABLE");
    const [row] = await withDb((db) => db.select().from(bookings).where(eq(bookings.holdId, holdId)));
    expect(row.status).toBe("pending");
    const later = await eventually(async () => {
      const r = await post(user, holdId, key);
      return r.status === 200 ? r.json() : null;
    }, 15_000, "the booking with its intent");
    expect((later as any).id).toBe(row.id);
    expect((later as any).payment.clientSecret).toMatch(/^pi_/);
  });

  it("a lost webhook: the cron re-drives the booking, which reads the authorization back and confirms", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user);
    // The request's own run and its safety-net message both found nothing authorized yet: the
    // saga's next try is at the deadline (10 minutes away).
    await eventually(async () => ((await stepsOf(booking.id)).charge?.attempts ?? 0) >= 2, 15_000, "both first runs");
    await confirmIntent(intentId, "pm_card_visa");
    // No webhook: only the cron can come sooner.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await bookingRow(booking.id)).status).toBe("pending");
    const result = await runScheduled(testEnv, new Date(Date.now() + 180_000));
    expect(result.sagaRedrive).toMatchObject({ ok: true });
    await stepDone(booking.id, "notify-confirmed");
    expect((await intentOf(intentId)).status).toBe("succeeded");
  });

  it("the cron settles an intent never authorized past its deadline: booking failed, intent cancelled", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user);
    await stepDone(booking.id, "begin-confirm");
    await withDb((db) => db.update(bookings).set({ paymentDeadline: new Date(Date.now() - 1000) }).where(eq(bookings.id, booking.id)));
    await runScheduled(testEnv, new Date(Date.now() + 180_000));
    const b = await settled(booking.id);
    expect(b.status).toBe("failed");
    await stepDone(booking.id, "notify-failed");
    expect((await intentOf(intentId)).status).toBe("canceled");
  });

  it("the owner cancels a confirmed booking: refunded through Stripe under its own key", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user);
    await confirmIntent(intentId, "pm_card_visa");
    await deliverWebhook(intentId, "payment_intent.amount_capturable_updated");
    await stepDone(booking.id, "notify-confirmed");
    expect((await call(`/v1/bookings/${booking.id}/cancel`, { method: "POST", headers: user.auth })).status).toBe(202);
    await stepDone(booking.id, "notify-refunded");
    const refund = (await paymentsOf(booking.id)).find((p) => p.kind === "refund")!;
    expect(refund).toMatchObject({ status: "succeeded", provider: "stripe", idempotencyKey: `booking:${booking.id}:refund`, amountCents: 5000 });
    expect((await stripeApi("GET", `/v1/refunds/${refund.providerRef}`)).status).toBe("succeeded");
  });

  it("a refund that goes pending then failed is followed, recorded as failed, and never told as refunded", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const { booking, intentId } = await book(ev, user);
    await confirmIntent(intentId, "pm_card_refundFail");
    await deliverWebhook(intentId, "payment_intent.amount_capturable_updated");
    await stepDone(booking.id, "notify-confirmed");
    expect((await call(`/v1/bookings/${booking.id}/cancel`, { method: "POST", headers: user.auth })).status).toBe(202);
    await stepDone(booking.id, "notify-cancelled");
    const steps = await stepsOf(booking.id);
    expect(steps.refund.detail).toMatchObject({ outcome: "refund_failed", failureReason: "expired_or_canceled_card" });
    expect(steps["notify-refunded"]).toBeUndefined();
    const refund = (await paymentsOf(booking.id)).find((p) => p.kind === "refund")!;
    expect(refund).toMatchObject({ status: "failed", provider: "stripe", error: "expired_or_canceled_card" });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await noticesOf(user.id)).map((n) => n.type)).not.toContain("booking.refunded");
  });

  it("cancelling the event refunds its confirmed Stripe bookings through Stripe", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const admin = await makeUser("admin");
    const { booking, intentId } = await book(ev, user);
    await confirmIntent(intentId, "pm_card_visa");
    await deliverWebhook(intentId, "payment_intent.amount_capturable_updated");
    await stepDone(booking.id, "notify-confirmed");
    const res = await call(`/v1/events/${ev.eventId}/cancel`, { method: "POST", headers: admin.auth });
    expect(res.status, await res.clone().text()).toBe(202);
    await stepDone(booking.id, "notify-refunded");
    expect((await bookingRow(booking.id)).status).toBe("cancelled");
    const refund = (await paymentsOf(booking.id)).find((p) => p.kind === "refund")!;
    expect(refund).toMatchObject({ status: "succeeded", provider: "stripe", idempotencyKey: `booking:${booking.id}:refund` });
    expect((await stripeApi("GET", `/v1/refunds/${refund.providerRef}`)).status).toBe("succeeded");
    const told = await noticesOf(user.id);
    expect(told.filter((n) => n.type === "booking.refunded")).toHaveLength(1);
  });
});
