// One contract, two providers: the manual-capture port (src/services/payments/) against the
// sandbox card network and against Stripe through its official client and the wire-format fake
// (test/helpers/stripe-api-fake.ts). Where the two differ by nature, the case says so.
import { describe, expect, inject, it } from "vitest";
import { testEnv } from "../helpers/fixtures";
import { TEST_STRIPE_KEYS } from "../helpers/stripe-signature";
import {
  PaymentDeclinedError,
  PaymentInvalidRequestError,
  PaymentUnavailableError,
  providerFor,
  sandboxIntentProvider,
  stripeIntentProvider,
  type IntentProvider,
} from "../../src/services/payments/index";
import type { Env } from "../../src/env";

const apiBase = inject("stripeApiBase");
// An account of this file's own at the fake, so its outage knob touches no other file.
const fileKey = `sk_test_contract${crypto.randomUUID().replaceAll("-", "")}`;
const fake = (path: string, body?: unknown) =>
  fetch(`${apiBase}${path}`, { method: body === undefined ? "GET" : "POST", headers: { authorization: `Bearer ${fileKey}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

interface Case {
  name: string;
  provider: IntentProvider;
  authorizes: string;
  declines: string;
  /** A method whose refunds go pending, then fail; the sandbox's refunds cannot fail. */
  refundFails: string | null;
  outage(on: boolean): Promise<void>;
}

const cases: Case[] = [
  {
    name: "sandbox card network",
    provider: sandboxIntentProvider(testEnv),
    authorizes: "pm_card_ok",
    declines: "pm_card_declined",
    refundFails: null,
    outage: (on) => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network")).setOutage(on),
  },
  {
    name: "Stripe (wire-format fake)",
    provider: stripeIntentProvider({ secretKey: fileKey, webhookSecret: TEST_STRIPE_KEYS.webhookSecret, apiBase }),
    authorizes: "pm_card_visa",
    declines: "pm_card_chargeDeclined",
    refundFails: "pm_card_refundFail",
    outage: async (on) => {
      expect((await fake("/_fake/outage", { status: on ? 503 : null })).status).toBe(200);
    },
  },
];

describe.each(cases)("the payment port on the $name", ({ name, provider: p, authorizes, declines, refundFails, outage }) => {
  const booking = () => {
    const bookingId = crypto.randomUUID();
    return { bookingId, amountCents: 4200, currency: "eur", idempotencyKey: `booking:${bookingId}` };
  };
  const authorized = async () => {
    const req = booking();
    return { req, intent: await p.createIntent({ ...req, paymentMethod: authorizes }) };
  };

  it("creates one intent per idempotency key, waiting for a payment method", async () => {
    const req = booking();
    const first = await p.createIntent(req);
    const again = await p.createIntent(req);
    expect(again.id).toBe(first.id);
    expect(first).toMatchObject({ status: "requires_payment_method", amountCents: 4200, currency: "eur", bookingId: req.bookingId });
    expect((await p.createIntent({ ...booking() })).id).not.toBe(first.id);
    if (name.startsWith("Stripe")) {
      // The browser confirms with it; the sandbox has no browser step.
      expect(first.clientSecret).toMatch(new RegExp(`^${first.id}_secret_`));
      // Stripe remembers a key's parameters: the same key for another amount is a bug of ours.
      await expect(p.createIntent({ ...req, amountCents: 1 })).rejects.toMatchObject({ name: "PaymentInvalidRequestError", code: "idempotency_error" });
    }
  });

  it("authorizes with a good card: requires_capture, no money taken yet, read back the same", async () => {
    const { req, intent } = await authorized();
    expect(intent.status).toBe("requires_capture");
    expect(await p.readIntent(intent.id)).toMatchObject({ id: intent.id, status: "requires_capture", amountCents: 4200, bookingId: req.bookingId });
    // A retried create (the saga re-run) finds the same authorization, not a second one.
    expect((await p.createIntent({ ...req, paymentMethod: authorizes })).id).toBe(intent.id);
  });

  it("captures an authorized intent once; capturing again answers the captured intent; it can no longer be canceled", async () => {
    const { req, intent } = await authorized();
    expect((await p.capture(intent.id, `capture:${req.bookingId}`)).status).toBe("succeeded");
    expect((await p.capture(intent.id, `capture:${req.bookingId}`)).status).toBe("succeeded");
    expect((await p.capture(intent.id, `capture-again:${req.bookingId}`)).status).toBe("succeeded");
    expect((await p.readIntent(intent.id)).status).toBe("succeeded");
    await expect(p.cancel(intent.id, `cancel:${req.bookingId}`)).rejects.toBeInstanceOf(PaymentInvalidRequestError);
  });

  it("cancels an uncaptured intent (the authorization is released), after which it cannot be captured", async () => {
    const { req, intent } = await authorized();
    expect((await p.cancel(intent.id, `cancel:${req.bookingId}`)).status).toBe("canceled");
    expect((await p.readIntent(intent.id)).status).toBe("canceled");
    expect((await p.cancel(intent.id, `cancel-again:${req.bookingId}`)).status).toBe("canceled");
    await expect(p.capture(intent.id, `capture:${req.bookingId}`)).rejects.toMatchObject({ name: "PaymentInvalidRequestError" });
    expect((await p.readIntent(intent.id)).status).toBe("canceled");
  });

  it("refunds a captured intent under the refund's own key, idempotently, and reads the refund back", async () => {
    const { req, intent } = await authorized();
    await p.capture(intent.id, `capture:${req.bookingId}`);
    const refundKey = `refund:${crypto.randomUUID()}`;
    const refund = await p.refund({ intentId: intent.id, amountCents: 4200, idempotencyKey: refundKey });
    expect(refund).toMatchObject({ status: "succeeded", amountCents: 4200, intentId: intent.id });
    expect((await p.refund({ intentId: intent.id, amountCents: 4200, idempotencyKey: refundKey })).id).toBe(refund.id);
    expect(await p.readRefund(refund.id)).toMatchObject({ id: refund.id, status: "succeeded" });
    // Another refund key cannot give the money back twice: Stripe refuses, the sandbox answers the one refund.
    const second = p.refund({ intentId: intent.id, amountCents: 4200, idempotencyKey: `refund:${crypto.randomUUID()}` });
    if (name.startsWith("Stripe")) await expect(second).rejects.toMatchObject({ name: "PaymentInvalidRequestError", code: "amount_too_large" });
    else expect((await second).id).toBe(refund.id);
  });

  it("refuses to refund an intent that was never captured", async () => {
    const { intent } = await authorized();
    await expect(p.refund({ intentId: intent.id, amountCents: 4200, idempotencyKey: `refund:${crypto.randomUUID()}` })).rejects.toBeInstanceOf(PaymentInvalidRequestError);
  });

  it.skipIf(refundFails === null)("follows a refund that goes pending, then failed, with readRefund", async () => {
    const req = booking();
    const intent = await p.createIntent({ ...req, paymentMethod: refundFails! });
    await p.capture(intent.id, `capture:${req.bookingId}`);
    const refund = await p.refund({ intentId: intent.id, amountCents: 4200, idempotencyKey: `refund:${crypto.randomUUID()}` });
    expect(refund.status).toBe("pending");
    expect(await p.readRefund(refund.id)).toMatchObject({ id: refund.id, status: "failed", failureReason: "expired_or_canceled_card" });
  });

  it("reports a declined card as PaymentDeclinedError naming the intent, which waits for another method", async () => {
    const req = booking();
    const declined = await p.createIntent({ ...req, paymentMethod: declines }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(declined).toBeInstanceOf(PaymentDeclinedError);
    const e = declined as PaymentDeclinedError;
    expect(e.declineCode).toMatch(/decline/);
    expect((await p.readIntent(e.intentId!)).status).toBe("requires_payment_method");
  });

  it("reports an unknown intent as an invalid request", async () => {
    const id = name.startsWith("Stripe") ? "pi_doesnotexist" : "sbpi_bm90IGpzb24";
    await expect(p.readIntent(id)).rejects.toMatchObject({ name: "PaymentInvalidRequestError", code: "resource_missing" });
  });

  it("reports a provider that is down as PaymentUnavailableError, and works again after", async () => {
    const { intent } = await authorized();
    await outage(true);
    try {
      await expect(p.createIntent(booking())).rejects.toBeInstanceOf(PaymentUnavailableError);
      await expect(p.readIntent(intent.id)).rejects.toBeInstanceOf(PaymentUnavailableError);
    } finally {
      await outage(false);
    }
    expect((await p.readIntent(intent.id)).status).toBe("requires_capture");
  });
});

describe("the Stripe provider's transport", () => {
  it("reports an unreachable API (connection refused) as PaymentUnavailableError", async () => {
    const p = stripeIntentProvider({ secretKey: fileKey, webhookSecret: TEST_STRIPE_KEYS.webhookSecret, apiBase: "http://127.0.0.1:9" });
    await expect(p.readIntent("pi_any")).rejects.toBeInstanceOf(PaymentUnavailableError);
  });

  it("reports a rejected API key as unavailable (our configuration), not as the buyer's fault", async () => {
    const p = stripeIntentProvider({ secretKey: "sk_live_not_at_the_fake", webhookSecret: TEST_STRIPE_KEYS.webhookSecret, apiBase });
    await expect(p.readIntent("pi_any")).rejects.toThrow(/Stripe refused our API key/);
  });
});

describe("providerFor", () => {
  it("is the sandbox by default and Stripe with PAYMENT_PROVIDER=stripe, through STRIPE_API_BASE", async () => {
    expect(providerFor(testEnv).name).toBe("sandbox");
    const stripe = providerFor({ ...testEnv, PAYMENT_PROVIDER: "stripe" } as unknown as Env);
    expect(stripe).toMatchObject({ name: "stripe", publishableKey: TEST_STRIPE_KEYS.publishableKey });
    const bookingId = crypto.randomUUID();
    const intent = await stripe.createIntent({ bookingId, amountCents: 1000, currency: "EUR", idempotencyKey: `booking:${bookingId}` });
    expect(intent).toMatchObject({ status: "requires_payment_method", currency: "eur", bookingId });
  });
});
