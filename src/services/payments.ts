import type { Env } from "../env";
import { AppError } from "../lib/errors";
import type { Admission } from "../../durable-objects/circuit-breaker/contract";

/** The payment methods the sandbox understands (API.md). */
export const PAYMENT_METHODS = ["pm_card_ok", "pm_card_declined", "pm_card_slow", "pm_card_error"] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export interface ChargeRequest {
  /** The provider dedupes on it: the same key never charges twice. */
  idempotencyKey: string;
  /** Our booking id, shown on the provider's ledger. */
  reference: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
}

export type ChargeOutcome =
  | { status: "succeeded"; providerRef: string }
  | { status: "declined"; reason: string }
  /** Accepted but not settled yet: ask again later with the same key. */
  | { status: "processing" };

export type RefundOutcome =
  | { status: "refunded"; providerRef: string }
  /** No charge under that key (it is voided, so it can never land later) or it was declined. */
  | { status: "nothing_to_refund" }
  | { status: "processing" };

/** The provider did not answer (outage, timeout, open breaker): transient, retry later. */
export class PaymentUnavailableError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = "PaymentUnavailableError";
  }
}

/** The payment port: the saga talks to this, never to a provider's API directly. */
export interface PaymentProvider {
  readonly name: string;
  charge(req: ChargeRequest): Promise<ChargeOutcome>;
  /** Refunds the whole charge made under `chargeKey`; idempotent however often it is called. */
  refund(chargeKey: string): Promise<RefundOutcome>;
  /** `refund` for many charges in one call, outcomes in the order of the keys (a cancelled event's batch). */
  refundBatch(chargeKeys: string[]): Promise<RefundOutcome[]>;
}

/**
 * The sandbox "charges" any card without money moving, so a Worker configured for production (or
 * not saying what it is) must not use it unless ALLOW_SANDBOX_PAYMENTS=true says so explicitly.
 */
export function sandboxPaymentsAllowed(env: Env): boolean {
  if (env.ALLOW_SANDBOX_PAYMENTS === "true") return true;
  const environment: string | undefined = env.ENVIRONMENT;
  return environment !== undefined && environment !== "" && environment !== "production";
}

const SANDBOX_REFUSED = "Payments are not configured on this server: the sandbox card network is refused in production (set ALLOW_SANDBOX_PAYMENTS=true only for a staging deployment)";

/** Fails closed before a booking is taken when no payment provider may charge. */
export function assertPaymentsConfigured(env: Env): void {
  if (!sandboxPaymentsAllowed(env)) throw new AppError("DEPENDENCY_UNAVAILABLE", "Payments are not configured on this server; no booking can be taken");
}

/** The card-network test double (SandboxCardNetwork Durable Object) behind the port. */
export function sandboxProvider(env: Env): PaymentProvider {
  const network = () => env.PAYMENT_SANDBOX.get(env.PAYMENT_SANDBOX.idFromName("card-network"));
  return {
    name: "sandbox",
    async charge(req) {
      // Refunds stay allowed: giving back a sandbox charge never gives anything away.
      if (!sandboxPaymentsAllowed(env)) throw new PaymentUnavailableError(SANDBOX_REFUSED);
      const res = await network().charge(req);
      if (!res.ok) throw new PaymentUnavailableError(res.message);
      const c = res.value;
      if (c.status === "succeeded") return { status: "succeeded", providerRef: c.providerRef };
      if (c.status === "processing") return { status: "processing" };
      return { status: "declined", reason: c.status === "voided" ? "the charge was voided" : "card declined" };
    },
    async refund(chargeKey) {
      const res = await network().refund(chargeKey);
      if (!res.ok) throw new PaymentUnavailableError(res.message);
      return refundOutcome(res.value);
    },
    async refundBatch(chargeKeys) {
      const res = await network().refundMany(chargeKeys);
      if (!res.ok) throw new PaymentUnavailableError(res.message);
      return res.value.map(refundOutcome);
    },
  };
}

function refundOutcome(c: { status: string; refundRef: string | null } | null): RefundOutcome {
  if (c === null || c.status === "declined" || c.status === "voided") return { status: "nothing_to_refund" };
  if (c.status === "processing") return { status: "processing" };
  return { status: "refunded", providerRef: c.refundRef! };
}

export interface BreakerPort {
  acquire(): Promise<Admission>;
  report(success: boolean): Promise<unknown>;
}

export function breakerFor(env: Env, provider: string): BreakerPort {
  return env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(`payments:${provider}`));
}

/**
 * One call through the breaker: while it is open the call fails fast with PaymentUnavailableError
 * (the saga waits and retries); past `timeoutMs` it counts as no answer. `answered` says which
 * thrown errors are the provider answering (a decline, a refused request) rather than an outage.
 */
export async function throughBreaker<T>(breaker: BreakerPort, timeoutMs: () => number, what: string, fn: () => Promise<T>, answered: (e: unknown) => boolean = () => false): Promise<T> {
  const admission = await breaker.acquire();
  if (!admission.allowed) {
    throw new PaymentUnavailableError(`payment provider circuit is ${admission.state}`, admission.retryAfterMs);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const ms = Math.max(1, timeoutMs());
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PaymentUnavailableError(`${what} did not answer within ${ms} ms`)), ms);
    });
    const value = await Promise.race([fn(), timeout]);
    await breaker.report(true);
    return value;
  } catch (e) {
    const ok = answered(e);
    await breaker.report(ok);
    // Anything else thrown means the provider did not answer.
    throw ok || e instanceof PaymentUnavailableError ? e : new PaymentUnavailableError(String(e));
  } finally {
    clearTimeout(timer);
  }
}

/** Wraps a provider in a breaker; an answer of any kind, a decline included, counts as healthy (answers travel as values). */
export function guarded(provider: PaymentProvider, breaker: BreakerPort, timeoutMs: () => number): PaymentProvider {
  const through = <T>(what: string, fn: () => Promise<T>) => throughBreaker(breaker, timeoutMs, what, fn);
  return {
    name: provider.name,
    charge: (req) => through("charge", () => provider.charge(req)),
    refund: (key) => through("refund", () => provider.refund(key)),
    refundBatch: (keys) => through("refund", () => provider.refundBatch(keys)),
  };
}

/** The provider the Worker uses; only the sandbox exists so far (a real adapter implements the same port). */
export function paymentsFor(env: Env, timeoutMs: () => number = () => 10_000): PaymentProvider {
  const provider = sandboxProvider(env);
  return guarded(provider, breakerFor(env, provider.name), timeoutMs);
}
