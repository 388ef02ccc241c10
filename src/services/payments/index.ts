/**
 * The one door to the manual-capture payment port (docs/bookings.md#taking-real-payments):
 * `providerFor(env)` is the provider PAYMENT_PROVIDER names, behind the payment circuit breaker.
 * The one-step `paymentsFor` of ../payments.ts stays as it is for the saga of today.
 */
import { parseConfig, type Config, type Env } from "../../env";
import { breakerFor, sandboxPaymentsAllowed, throughBreaker, type BreakerPort } from "../payments";
import { PaymentDeclinedError, PaymentInvalidRequestError, PaymentUnavailableError, type IntentProvider } from "./port";
import { sandboxIntentProvider } from "./sandbox";
import { stripeIntentProvider } from "./stripe";

export * from "./port";
export { sandboxIntentProvider } from "./sandbox";
export { stripeIntentProvider, stripeClient, WEBHOOK_TOLERANCE_SECONDS } from "./stripe";

/** The Stripe client gives up before the saga's 10 s provider timeout, so its own error says why. */
const STRIPE_TIMEOUT_MS = 8_000;

/** The configured provider, unguarded (for the webhook route, which must not trip the breaker on a forged request). */
export function rawProviderFor(env: Env, config: Config = parseConfig(env)): IntentProvider {
  if (config.paymentProvider === "stripe") {
    // parseConfig refuses stripe without its settings; this only narrows the type.
    if (!config.stripe) throw new Error("PAYMENT_PROVIDER=stripe without Stripe settings");
    return stripeIntentProvider({ ...config.stripe, timeoutMs: STRIPE_TIMEOUT_MS });
  }
  return sandboxIntentProvider(env);
}

/**
 * What checks Stripe's webhook signatures: there whenever STRIPE_WEBHOOK_SECRET is set, whichever
 * provider takes new payments, so events of intents created before a switch still arrive.
 */
export function stripeWebhookVerifier(config: Config): IntentProvider | null {
  return config.stripe ? stripeIntentProvider({ ...config.stripe, timeoutMs: STRIPE_TIMEOUT_MS }) : null;
}

/** The provider the saga calls: PAYMENT_PROVIDER's, behind the breaker `payments:<name>`. */
export function providerFor(env: Env, config: Config = parseConfig(env), timeoutMs: () => number = () => 10_000): IntentProvider {
  const provider = rawProviderFor(env, config);
  return guardedIntents(provider, breakerFor(env, provider.name), timeoutMs);
}

/**
 * Stripe behind its breaker, whatever PAYMENT_PROVIDER says now: a booking taken through Stripe is
 * settled through Stripe (its intent lives there) even after a switch back to the sandbox.
 */
export function stripeFor(env: Env, config: Config = parseConfig(env), timeoutMs: () => number = () => 10_000): IntentProvider {
  if (!config.stripe) throw new PaymentUnavailableError("a Stripe booking, but STRIPE_* is not configured on this server");
  return guardedIntents(stripeIntentProvider({ ...config.stripe, timeoutMs: STRIPE_TIMEOUT_MS }), breakerFor(env, "stripe"), timeoutMs);
}

/**
 * Whether a booking may be taken at all: Stripe when configured (parseConfig already refused a
 * half-configured Stripe), the sandbox only where it may charge (not production, unless
 * ALLOW_SANDBOX_PAYMENTS=true). The saga's `assertPaymentsConfigured` counterpart for this port.
 */
export function intentPaymentsConfigured(env: Env, config: Config = parseConfig(env)): boolean {
  return config.paymentProvider === "stripe" || sandboxPaymentsAllowed(env);
}

/** What POST /v1/bookings answers in `payment` (API.md, Checkout) for an intent. */
export function checkoutPayment(provider: IntentProvider, intent: { clientSecret?: string }): { provider: "sandbox" | "stripe"; clientSecret?: string; publishableKey?: string } {
  return {
    provider: provider.name,
    ...(intent.clientSecret && { clientSecret: intent.clientSecret }),
    ...(provider.publishableKey && { publishableKey: provider.publishableKey }),
  };
}

/**
 * The breaker around the port: while open, calls fail fast with PaymentUnavailableError. Only an
 * outage counts as a failure; a decline or a refused request is the provider answering.
 */
export function guardedIntents(provider: IntentProvider, breaker: BreakerPort, timeoutMs: () => number): IntentProvider {
  const answered = (e: unknown) => e instanceof PaymentDeclinedError || e instanceof PaymentInvalidRequestError;
  const through = <T>(what: string, fn: () => Promise<T>) => throughBreaker(breaker, timeoutMs, what, fn, answered);
  return {
    name: provider.name,
    publishableKey: provider.publishableKey,
    createIntent: (req) => through("createIntent", () => provider.createIntent(req)),
    readIntent: (id) => through("readIntent", () => provider.readIntent(id)),
    capture: (id, key) => through("capture", () => provider.capture(id, key)),
    cancel: (id, key) => through("cancel", () => provider.cancel(id, key)),
    refund: (req) => through("refund", () => provider.refund(req)),
    readRefund: (id) => through("readRefund", () => provider.readRefund(id)),
    // Verifying a signature is local work: no breaker, no timeout.
    parseWebhook: (body, sig) => provider.parseWebhook(body, sig),
  };
}
