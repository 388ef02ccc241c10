// Opt-in: the Stripe provider against Stripe's real test mode, from Node (docs/bookings.md#taking-real-payments):
//   STRIPE_TEST_SECRET_KEY=sk_test_… npx vitest run --project unit test/unit/stripe-test-mode.test.ts
// Without the key only the same cases against the wire-format fake run, which keeps these cases honest
// (they cannot rot unseen while nobody has a key at hand).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaymentDeclinedError, PaymentInvalidRequestError, stripeIntentProvider, type IntentProvider } from "../../src/services/payments/index";
import { startStripeApiFake } from "../helpers/stripe-api-fake";

const realKey = process.env.STRIPE_TEST_SECRET_KEY;
let fake: Awaited<ReturnType<typeof startStripeApiFake>> | undefined;
beforeAll(async () => {
  fake = await startStripeApiFake();
});
afterAll(async () => {
  await fake?.close();
});

const targets = [
  { name: "Stripe's test mode", skip: !realKey, provider: (): IntentProvider => stripeIntentProvider({ secretKey: realKey!, webhookSecret: "whsec_not_used_here" }) },
  { name: "the Stripe fake", skip: false, provider: (): IntentProvider => stripeIntentProvider({ secretKey: "sk_test_optin_check", webhookSecret: "whsec_not_used_here", apiBase: fake!.url }) },
];

for (const target of targets) {
  describe.skipIf(target.skip)(`the Stripe provider against ${target.name}`, () => {
    const run = crypto.randomUUID();
    const booking = () => {
      const bookingId = crypto.randomUUID();
      return { bookingId, amountCents: 1234, currency: "eur", idempotencyKey: `evently-test:${run}:${bookingId}` };
    };

    it("creates one intent per key, authorizes, captures and refunds under the refund's own key", { timeout: 30_000 }, async () => {
      const p = target.provider();
      const req = booking();
      const open = await p.createIntent(req);
      expect(open).toMatchObject({ status: "requires_payment_method", amountCents: 1234, bookingId: req.bookingId });
      expect(open.clientSecret).toBeTruthy();
      expect((await p.createIntent(req)).id).toBe(open.id);

      const paid = booking();
      const intent = await p.createIntent({ ...paid, paymentMethod: "pm_card_visa" });
      expect(intent.status).toBe("requires_capture");
      expect((await p.capture(intent.id, `capture:${paid.idempotencyKey}`)).status).toBe("succeeded");
      const refundKey = `refund:${paid.idempotencyKey}`;
      const refund = await p.refund({ intentId: intent.id, amountCents: 1234, idempotencyKey: refundKey });
      expect(["pending", "succeeded"]).toContain(refund.status);
      expect((await p.refund({ intentId: intent.id, amountCents: 1234, idempotencyKey: refundKey })).id).toBe(refund.id);
      expect((await p.readRefund(refund.id)).id).toBe(refund.id);
    });

    it("cancels an authorization, which can then not be captured", { timeout: 30_000 }, async () => {
      const p = target.provider();
      const req = booking();
      const intent = await p.createIntent({ ...req, paymentMethod: "pm_card_visa" });
      expect((await p.cancel(intent.id, `cancel:${req.idempotencyKey}`)).status).toBe("canceled");
      await expect(p.capture(intent.id, `capture:${req.idempotencyKey}`)).rejects.toBeInstanceOf(PaymentInvalidRequestError);
    });

    it("reports Stripe's declining test card as PaymentDeclinedError", { timeout: 30_000 }, async () => {
      const p = target.provider();
      await expect(p.createIntent({ ...booking(), paymentMethod: "pm_card_chargeDeclined" })).rejects.toBeInstanceOf(PaymentDeclinedError);
    });
  });
}
