/**
 * The manual-capture port on the sandbox card network (the SandboxCardNetwork Durable Object).
 *
 * That object only knows one-step charges and whole refunds, and it is not ours to change here, so
 * the two-step flow is built honestly on top of its ledger:
 * - authorization = the object's charge under the intent's key (its money "moves" at once);
 * - capture = a zero-amount marker charge under `capture:<key>`: it records that we captured, and
 *   the ledger's first-write-wins rule makes capture and cancel exclusive (see `cancel`);
 * - cancel before capture = void the capture marker, then refund the authorization (or void it,
 *   when it never landed, so it cannot land later): the card holder ends where a released
 *   authorization would leave them;
 * - refunds are whole-charge only and complete at once (the object has no partial or failing refunds).
 * Intent and refund ids carry the ledger key, amount and booking, because the object keeps nothing
 * about an intent that has no charge yet. There are no webhooks: the sandbox answers synchronously.
 */
import type { Env } from "../../env";
import { sandboxPaymentsAllowed } from "../payments";
import {
  PaymentDeclinedError,
  PaymentInvalidRequestError,
  PaymentUnavailableError,
  WebhookSignatureError,
  type Intent,
  type IntentProvider,
  type IntentStatus,
  type Refund,
} from "./port";

type Charge = { status: "processing" | "succeeded" | "declined" | "voided"; refundRef: string | null; providerRef: string };
type Answer<T> = { ok: true; value: T } | { ok: false; message: string };

/** The part of the SandboxCardNetwork object this adapter uses (its RPC methods). */
export interface SandboxNetwork {
  charge(req: { idempotencyKey: string; reference: string; amountCents: number; currency: string; paymentMethod: string }): Promise<Answer<Charge>>;
  refund(chargeKey: string): Promise<Answer<Charge | null>>;
  lookup(chargeKey: string): Promise<Answer<Charge | null>>;
}

type IntentRef = { k: string; b: string; a: number; c: string };

const INTENT_PREFIX = "sbpi_";
const REFUND_PREFIX = "sbre_";
const captureKey = (key: string) => `capture:${key}`;

function encode(ref: IntentRef): string {
  const bytes = new TextEncoder().encode(JSON.stringify(ref));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

function decode(id: string, prefix: string): IntentRef {
  try {
    if (!id.startsWith(prefix)) throw new Error("prefix");
    const b64 = id.slice(prefix.length).replaceAll("-", "+").replaceAll("_", "/");
    const ref = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)))) as IntentRef;
    if (typeof ref.k !== "string" || typeof ref.a !== "number") throw new Error("shape");
    return ref;
  } catch {
    throw new PaymentInvalidRequestError(`No such sandbox object: ${id}`, "resource_missing");
  }
}

async function answer<T>(res: Promise<Answer<T>>): Promise<T> {
  const r = await res;
  if (!r.ok) throw new PaymentUnavailableError(r.message);
  return r.value;
}

/** Where the ledger says the intent stands; the capture marker decides first (see the module comment). */
function statusOf(main: Charge | null, marker: Charge | null): IntentStatus {
  if (marker?.status === "succeeded") return "succeeded";
  if (marker?.status === "voided" || main?.status === "voided") return "canceled";
  if (main === null || main.status === "declined") return "requires_payment_method";
  if (main.status === "processing") return "processing";
  return "requires_capture";
}

export function sandboxIntentProvider(env: Env, network: () => SandboxNetwork = () => env.PAYMENT_SANDBOX.get(env.PAYMENT_SANDBOX.idFromName("card-network"))): IntentProvider {
  const refused = () => {
    // Giving money back stays allowed; taking it (authorize, capture) is refused in production.
    if (!sandboxPaymentsAllowed(env)) throw new PaymentUnavailableError("the sandbox card network is refused in production (ALLOW_SANDBOX_PAYMENTS)");
  };

  async function read(id: string): Promise<Intent & { ref: IntentRef; main: Charge | null }> {
    const ref = decode(id, INTENT_PREFIX);
    const [main, marker] = await Promise.all([answer(network().lookup(ref.k)), answer(network().lookup(captureKey(ref.k)))]);
    return { id, status: statusOf(main, marker), amountCents: ref.a, currency: ref.c, bookingId: ref.b, ref, main };
  }
  const strip = ({ ref: _ref, main: _main, ...intent }: Intent & { ref: IntentRef; main: Charge | null }): Intent => intent;

  return {
    name: "sandbox",
    async createIntent(req) {
      const id = INTENT_PREFIX + encode({ k: req.idempotencyKey, b: req.bookingId, a: req.amountCents, c: req.currency.toLowerCase() });
      if (req.paymentMethod === undefined) return strip(await read(id));
      refused();
      const charge = await answer(
        network().charge({ idempotencyKey: req.idempotencyKey, reference: req.bookingId, amountCents: req.amountCents, currency: req.currency.toLowerCase(), paymentMethod: req.paymentMethod }),
      );
      if (charge.status === "declined") throw new PaymentDeclinedError("Your card was declined (sandbox).", "card_declined", id);
      return strip(await read(id));
    },
    readIntent: async (id) => strip(await read(id)),
    async capture(id) {
      refused();
      const intent = await read(id);
      if (intent.status === "succeeded") return strip(intent);
      if (intent.status !== "requires_capture") throw new PaymentInvalidRequestError(`This intent cannot be captured: it is ${intent.status}`, "payment_intent_unexpected_state");
      // A cancel that got in first voided the marker's key: this charge then answers "voided".
      const marker = await answer(network().charge({ idempotencyKey: captureKey(intent.ref.k), reference: intent.ref.b, amountCents: 0, currency: intent.currency, paymentMethod: "pm_card_ok" }));
      if (marker.status !== "succeeded") throw new PaymentInvalidRequestError("This intent was canceled", "payment_intent_unexpected_state");
      return strip(await read(id));
    },
    async cancel(id) {
      const intent = await read(id);
      if (intent.status === "canceled") return strip(intent);
      if (intent.status === "succeeded" || intent.status === "processing") {
        throw new PaymentInvalidRequestError(`This intent cannot be canceled: it is ${intent.status}`, "payment_intent_unexpected_state");
      }
      // Voiding the marker first: from here on a capture cannot land. A non-null answer means a
      // capture landed between our read and now.
      const marker = await answer(network().refund(captureKey(intent.ref.k)));
      if (marker !== null && marker.status === "succeeded") throw new PaymentInvalidRequestError("This intent was captured", "payment_intent_unexpected_state");
      await answer(network().refund(intent.ref.k));
      return strip(await read(id));
    },
    async refund(req) {
      const intent = await read(req.intentId);
      if (intent.status !== "succeeded") throw new PaymentInvalidRequestError(`Only a captured intent can be refunded; this one is ${intent.status}`, "charge_not_captured");
      if (req.amountCents !== intent.amountCents) throw new PaymentInvalidRequestError("The sandbox refunds whole charges only", "amount_invalid");
      const charge = await answer(network().refund(intent.ref.k));
      return refundOf(req.intentId, intent.ref, charge);
    },
    async readRefund(id) {
      const ref = decode(id, REFUND_PREFIX);
      const intentId = INTENT_PREFIX + encode(ref);
      return refundOf(intentId, ref, await answer(network().lookup(ref.k)));
    },
    async parseWebhook() {
      throw new WebhookSignatureError("the sandbox card network sends no webhooks");
    },
  };
}

function refundOf(intentId: string, ref: IntentRef, charge: Charge | null): Refund {
  if (charge === null) throw new PaymentInvalidRequestError("No such refund", "resource_missing");
  return { id: REFUND_PREFIX + encode(ref), status: charge.refundRef === null ? "pending" : "succeeded", amountCents: ref.a, intentId };
}
