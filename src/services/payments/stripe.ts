/**
 * Stripe behind the port, through the official client's Workers build (fetch for HTTP, WebCrypto
 * for webhook signatures). PaymentIntents use manual capture: the card is authorized when the buyer
 * confirms in the browser, and we capture only after the seats are committed.
 */
import Stripe from "stripe";
import {
  PaymentDeclinedError,
  PaymentInvalidRequestError,
  PaymentUnavailableError,
  WebhookSignatureError,
  INTENT_STATUSES,
  type Intent,
  type IntentStatus,
  type IntentProvider,
  type Refund,
  type VerifiedPaymentEvent,
} from "./port";

export interface StripeSettings {
  secretKey: string;
  webhookSecret: string;
  publishableKey?: string;
  /** `protocol://host:port` of the API; Stripe's own when absent (tests point it at the fake). */
  apiBase?: string;
  /** Below the saga's provider timeout (10 s), so the client gives up first and says why. */
  timeoutMs?: number;
}

/** Webhook deliveries older than this are refused (Stripe's own default): a replayed capture is worthless. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export function stripeClient(s: StripeSettings): Stripe {
  const base = s.apiBase ? new URL(s.apiBase) : undefined;
  return new Stripe(s.secretKey, {
    httpClient: Stripe.createFetchHttpClient(),
    timeout: s.timeoutMs ?? 8_000,
    // One quick retry of a network failure; the client resends our idempotency key, so it is safe.
    // More would outlast the saga's timeout; the saga's own retries take it from there.
    maxNetworkRetries: 1,
    ...(base && {
      protocol: base.protocol === "http:" ? ("http" as const) : ("https" as const),
      host: base.hostname,
      port: base.port || (base.protocol === "http:" ? 80 : 443),
    }),
  });
}

export function stripeIntentProvider(s: StripeSettings, client: Stripe = stripeClient(s)): IntentProvider {
  const crypto = Stripe.createSubtleCryptoProvider();
  return {
    name: "stripe",
    publishableKey: s.publishableKey,
    createIntent: (req) =>
      call(async () =>
        intentOf(
          await client.paymentIntents.create(
            {
              amount: req.amountCents,
              currency: req.currency.toLowerCase(),
              capture_method: "manual",
              metadata: { bookingId: req.bookingId },
              // A server-side confirmation (tests, a saved card) has no page to come back to.
              automatic_payment_methods: req.paymentMethod ? { enabled: true, allow_redirects: "never" } : { enabled: true },
              ...(req.paymentMethod && { payment_method: req.paymentMethod, confirm: true }),
            },
            { idempotencyKey: req.idempotencyKey },
          ),
        ),
      ),
    readIntent: (id) => call(async () => intentOf(await client.paymentIntents.retrieve(id))),
    capture: (id, idempotencyKey) =>
      call(async () => {
        try {
          return intentOf(await client.paymentIntents.capture(id, {}, { idempotencyKey }));
        } catch (e) {
          // A capture that landed under another request (a second saga run) is what we wanted.
          const current = await alreadyThere(e, id, "succeeded");
          if (current) return current;
          throw e;
        }
      }),
    cancel: (id, idempotencyKey) =>
      call(async () => {
        try {
          return intentOf(await client.paymentIntents.cancel(id, {}, { idempotencyKey }));
        } catch (e) {
          const current = await alreadyThere(e, id, "canceled");
          if (current) return current;
          throw e;
        }
      }),
    refund: (req) =>
      call(async () => refundOf(await client.refunds.create({ payment_intent: req.intentId, amount: req.amountCents }, { idempotencyKey: req.idempotencyKey }))),
    readRefund: (id) => call(async () => refundOf(await client.refunds.retrieve(id))),
    async parseWebhook(rawBody, signatureHeader): Promise<VerifiedPaymentEvent> {
      if (!signatureHeader) throw new WebhookSignatureError("No Stripe-Signature header");
      let event: Stripe.Event;
      try {
        event = await client.webhooks.constructEventAsync(rawBody, signatureHeader, s.webhookSecret, WEBHOOK_TOLERANCE_SECONDS, crypto);
      } catch (e) {
        throw new WebhookSignatureError(e instanceof Error ? e.message : String(e));
      }
      const object = event.data.object as { object?: string; id?: string; payment_intent?: string | { id: string } | null; metadata?: Record<string, string> | null };
      const intentId = object.object === "payment_intent" ? object.id : typeof object.payment_intent === "string" ? object.payment_intent : object.payment_intent?.id;
      const bookingId = object.object === "payment_intent" ? object.metadata?.bookingId : undefined;
      return { id: event.id, type: event.type, ...(intentId && { intentId }), ...(bookingId && { bookingId }) };
    },
  };

  /** When a capture or cancel is refused because the intent already is where we wanted it, that intent. */
  async function alreadyThere(e: unknown, id: string, want: "succeeded" | "canceled"): Promise<Intent | null> {
    if (!(e instanceof Stripe.errors.StripeInvalidRequestError) || e.code !== "payment_intent_unexpected_state") return null;
    const current = intentOf(await client.paymentIntents.retrieve(id));
    return current.status === want ? current : null;
  }
}

function intentOf(pi: Stripe.PaymentIntent): Intent {
  return {
    id: pi.id,
    // A status newer than this code: nothing to act on yet, so it reads as still in flight.
    status: (INTENT_STATUSES as readonly string[]).includes(pi.status) ? (pi.status as IntentStatus) : "processing",
    ...(pi.client_secret && { clientSecret: pi.client_secret }),
    amountCents: pi.amount,
    currency: pi.currency,
    ...(pi.metadata?.bookingId && { bookingId: pi.metadata.bookingId }),
    ...(pi.last_payment_error && { lastPaymentError: pi.last_payment_error.decline_code ?? pi.last_payment_error.code ?? "card_declined" }),
  };
}

function refundOf(r: Stripe.Refund): Refund {
  const intentId = typeof r.payment_intent === "string" ? r.payment_intent : (r.payment_intent?.id ?? "");
  // `requires_action` (some bank-transfer refunds) waits on the customer: still pending for us.
  const status = r.status === "succeeded" || r.status === "failed" || r.status === "canceled" ? r.status : "pending";
  return { id: r.id, status, amountCents: r.amount, intentId, ...(r.failure_reason && { failureReason: r.failure_reason }) };
}

/** Stripe's errors in the port's three kinds. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw portError(e);
  }
}

export function portError(e: unknown): Error {
  if (!(e instanceof Stripe.errors.StripeError)) return e instanceof Error ? e : new Error(String(e));
  if (e instanceof Stripe.errors.StripeCardError) {
    const pi = (e.raw as { payment_intent?: { id?: string } } | undefined)?.payment_intent;
    return new PaymentDeclinedError(e.message, e.decline_code ?? e.code ?? "card_declined", pi?.id);
  }
  // A rejected API key or missing permission is our configuration, not the buyer's fault: the
  // booking waits (unavailable) until it is fixed, rather than failing as if the card were bad.
  if (e instanceof Stripe.errors.StripeAuthenticationError || e instanceof Stripe.errors.StripePermissionError) {
    return new PaymentUnavailableError(`Stripe refused our API key: ${e.message}`);
  }
  if (e instanceof Stripe.errors.StripeInvalidRequestError || e instanceof Stripe.errors.StripeIdempotencyError) {
    return new PaymentInvalidRequestError(e.message, e.code ?? e.rawType ?? e.type);
  }
  // Connection failures, timeouts, 429, 5xx.
  const retryAfter = Number(e.headers?.["retry-after"]);
  return new PaymentUnavailableError(`Stripe did not answer: ${e.message}`, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
}
