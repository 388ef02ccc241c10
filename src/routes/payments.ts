import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../lib/errors";
import { errors, json, router } from "../lib/openapi";
import { receivePaymentEvent } from "../services/payment-events";
import { stripeWebhookVerifier, WebhookSignatureError } from "../services/payments/index";

export const paymentRoutes = router().openapi(
  createRoute({
    method: "post",
    path: "/v1/payments/stripe/webhook",
    tags: ["payments"],
    description:
      "Stripe's webhook endpoint (docs/bookings.md#taking-real-payments). The `Stripe-Signature` is checked over the raw body with STRIPE_WEBHOOK_SECRET, 5 minutes of tolerance. Each event id is processed once; a payment_intent event wakes the saga of the booking in the intent's metadata.bookingId. 404 when Stripe is not configured.",
    request: {
      headers: z.object({ "stripe-signature": z.string().optional().openapi({ description: "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">" }) }),
      body: { content: { "application/json": { schema: z.object({ id: z.string(), type: z.string() }).passthrough().openapi("StripeEvent") } }, required: true },
    },
    responses: {
      200: json(z.object({ received: z.literal(true), duplicate: z.boolean() }).openapi("PaymentEventReceipt"), "Recorded (or already recorded)"),
      ...errors(400, 404),
    },
  }),
  async (c) => {
    const verifier = stripeWebhookVerifier(c.var.config);
    if (!verifier) throw new AppError("NOT_FOUND", "Stripe is not configured on this server");
    // The signature covers the bytes Stripe sent: read them as they came, never re-serialized JSON.
    const raw = new TextDecoder().decode(await c.req.arrayBuffer());
    let event;
    try {
      event = await verifier.parseWebhook(raw, c.req.header("stripe-signature") ?? null);
    } catch (e) {
      if (e instanceof WebhookSignatureError) throw new AppError("VALIDATION_FAILED", `The Stripe signature does not verify: ${e.message}`);
      throw e;
    }
    const received = await receivePaymentEvent(c.env, c.var.db(), verifier.name, event);
    return c.json({ received: true as const, duplicate: received.duplicate }, 200);
  },
);
