// POST /v1/payments/stripe/webhook: signature over the raw body, dedupe by event id in Postgres,
// and the hand-off to the saga queue (asserted on what the Worker sends to BOOKING_SAGA).
import { env } from "cloudflare:test";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { createApp } from "../../src/app";
import { closeDb, createDb } from "../../src/db/client";
import { paymentEvents } from "../../src/db/schema";
import type { Env } from "../../src/env";
import { stripeSignatureHeader, TEST_STRIPE_KEYS } from "../helpers/stripe-signature";

const apiBase = inject("stripeApiBase");
// This file's own account at the fake; its events are signed with the Worker's STRIPE_WEBHOOK_SECRET.
const fileKey = `sk_test_webhook${crypto.randomUUID().replaceAll("-", "")}`;
const PATH = "/v1/payments/stripe/webhook";

async function stripeApi(method: string, path: string, form?: Record<string, string>): Promise<any> {
  const res = await fetch(`${apiBase}${path}`, {
    method,
    headers: { authorization: `Bearer ${fileKey}`, ...(form && { "content-type": "application/x-www-form-urlencoded" }) },
    body: form && new URLSearchParams(form).toString(),
  });
  return res.json();
}

/** A booking's intent authorized the way the browser does it, and the signed event Stripe sends for it. */
async function authorizedEvent(bookingId = crypto.randomUUID()): Promise<{ bookingId: string; body: string; signature: string; id: string }> {
  const pi = await stripeApi("POST", "/v1/payment_intents", { amount: "2500", currency: "eur", capture_method: "manual", "metadata[bookingId]": bookingId, "automatic_payment_methods[enabled]": "true" });
  await stripeApi("POST", `/v1/payment_intents/${pi.id}/confirm`, { payment_method: "pm_card_visa" });
  const events: { data: { id: string; type: string; body: string; signature: string }[] } = await stripeApi("GET", "/_fake/events");
  const event = events.data.find((e) => e.type === "payment_intent.amount_capturable_updated" && JSON.parse(e.body).data.object.id === pi.id)!;
  return { bookingId, ...event };
}

type Sent = unknown[];
/** The app with BOOKING_SAGA recording what is sent (and failing the first `failures` sends). */
async function post(body: string, signature: string | null, opts: { sent?: Sent; failures?: number; bindings?: Partial<Env> } = {}) {
  const sent = opts.sent ?? [];
  let failures = opts.failures ?? 0;
  const queue = {
    send: async (m: unknown) => {
      if (failures-- > 0) throw new Error("queue unavailable");
      sent.push(m);
    },
    sendBatch: async () => {
      throw new Error("not expected");
    },
  };
  const ctx = createExecutionContext();
  const res = await createApp().request(
    PATH,
    { method: "POST", headers: { "content-type": "application/json; charset=utf-8", ...(signature !== null && { "stripe-signature": signature }) }, body },
    { ...env, BOOKING_SAGA: queue, ...opts.bindings },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { res, json: (await res.json()) as any, sent };
}

async function storedEvent(id: string) {
  const db = createDb(env as unknown as Env);
  try {
    return (await db.select().from(paymentEvents).where(eq(paymentEvents.id, id)))[0];
  } finally {
    await closeDb(db);
  }
}

describe("the Stripe webhook endpoint", () => {
  it("accepts a signed event, records it and wakes the booking's saga with booking.requested", async () => {
    const e = await authorizedEvent();
    const { res, json, sent } = await post(e.body, e.signature);
    expect(res.status, JSON.stringify(json)).toBe(200);
    expect(json).toEqual({ received: true, duplicate: false });
    expect(sent).toEqual([{ type: "booking.requested", bookingId: e.bookingId }]);
    const row = await storedEvent(e.id);
    expect(row).toMatchObject({ id: e.id, provider: "stripe", type: "payment_intent.amount_capturable_updated", bookingId: e.bookingId });
    expect(row.intentId).toMatch(/^pi_/);
    expect(row.processedAt).toBeInstanceOf(Date);
  });

  it("processes the same event id once: a redelivery answers 200 and sends nothing", async () => {
    const e = await authorizedEvent();
    const sent: Sent = [];
    expect((await post(e.body, e.signature, { sent })).res.status).toBe(200);
    const again = await post(e.body, await stripeSignatureHeader(e.body, TEST_STRIPE_KEYS.webhookSecret), { sent });
    expect(again.res.status).toBe(200);
    expect(again.json).toEqual({ received: true, duplicate: true });
    expect(sent).toHaveLength(1);
  });

  it("processes again an event whose hand-off to the queue failed, when Stripe redelivers it", async () => {
    const e = await authorizedEvent();
    const sent: Sent = [];
    const first = await post(e.body, e.signature, { sent, failures: 1 });
    expect(first.res.status).toBe(500);
    expect((await storedEvent(e.id)).processedAt).toBeNull();
    const redelivered = await post(e.body, e.signature, { sent });
    expect(redelivered.json).toEqual({ received: true, duplicate: false });
    expect(sent).toEqual([{ type: "booking.requested", bookingId: e.bookingId }]);
  });

  it("refuses an altered body under a good signature with 400 VALIDATION_FAILED, recording nothing", async () => {
    const e = await authorizedEvent();
    const altered = e.body.replace('"amount":2500', '"amount":1');
    expect(altered).not.toBe(e.body);
    const { res, json, sent } = await post(altered, e.signature);
    expect(res.status).toBe(400);
    expect(json.error).toMatchObject({ code: "VALIDATION_FAILED", requestId: expect.any(String) });
    expect(sent).toEqual([]);
    expect(await storedEvent(e.id)).toBeUndefined();
  });

  it("refuses a body signed with another secret, and one with no signature", async () => {
    const e = await authorizedEvent();
    expect((await post(e.body, await stripeSignatureHeader(e.body, "whsec_someone_else"))).res.status).toBe(400);
    const missing = await post(e.body, null);
    expect(missing.res.status).toBe(400);
    expect(missing.json.error.code).toBe("VALIDATION_FAILED");
    expect(await storedEvent(e.id)).toBeUndefined();
  });

  it("refuses a signature more than 5 minutes old (a replay) and accepts one within the tolerance", async () => {
    const e = await authorizedEvent();
    const now = Math.floor(Date.now() / 1000);
    const old = await post(e.body, await stripeSignatureHeader(e.body, TEST_STRIPE_KEYS.webhookSecret, now - 301));
    expect(old.res.status).toBe(400);
    expect(old.json.error.message).toMatch(/tolerance/i);
    const recent = await post(e.body, await stripeSignatureHeader(e.body, TEST_STRIPE_KEYS.webhookSecret, now - 240));
    expect(recent.res.status).toBe(200);
  });

  it("records an event type it does not act on, answers 200 and sends nothing", async () => {
    const body = JSON.stringify({ id: `evt_${crypto.randomUUID().replaceAll("-", "")}`, object: "event", type: "customer.created", created: 1, livemode: false, data: { object: { id: "cus_1", object: "customer" } } });
    const { res, sent } = await post(body, await stripeSignatureHeader(body, TEST_STRIPE_KEYS.webhookSecret));
    expect(res.status).toBe(200);
    expect(sent).toEqual([]);
    expect(await storedEvent(JSON.parse(body).id)).toMatchObject({ type: "customer.created", intentId: null, bookingId: null });
  });

  it("answers 404 where Stripe is not configured", async () => {
    const e = await authorizedEvent();
    const none = { STRIPE_SECRET_KEY: "", STRIPE_WEBHOOK_SECRET: "", STRIPE_PUBLISHABLE_KEY: "", STRIPE_API_BASE: "" };
    const { res, json } = await post(e.body, e.signature, { bindings: none });
    expect(res.status).toBe(404);
    expect(json.error.code).toBe("NOT_FOUND");
  });
});
