/**
 * The payment port of the manual-capture flow (docs/bookings.md#taking-real-payments): the money is
 * authorized first, and captured only once the seats are committed, so a booking that loses its
 * seats releases the authorization (cancel) instead of refunding a charge.
 *
 * Every call that changes something carries OUR idempotency key: per booking for create, capture
 * and cancel (so a saga step re-run after a crash sends the same key and the provider replays its
 * first answer), per refund for refunds. Errors are typed so the saga can tell a declined card (the
 * booking fails) from an outage (retry later) from our own mistake (a bug or a state race).
 */
import { PaymentUnavailableError } from "../payments";

export { PaymentUnavailableError };

export const INTENT_STATUSES = [
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
  "processing",
  "requires_capture",
  "succeeded",
  "canceled",
] as const;
export type IntentStatus = (typeof INTENT_STATUSES)[number];

export interface CreateIntentRequest {
  bookingId: string;
  amountCents: number;
  /** ISO 4217, lower or upper case. */
  currency: string;
  /** Per booking: the same key always names the same intent. */
  idempotencyKey: string;
  /**
   * Authorize at once with this method (the sandbox's `pm_card_ok`…, a Stripe test `pm_card_visa`).
   * Absent with Stripe: the buyer's browser confirms with the Payment Element and `clientSecret`.
   */
  paymentMethod?: string;
}

export interface Intent {
  id: string;
  status: IntentStatus;
  /** What the browser needs to confirm this intent (Stripe only). Never log it. */
  clientSecret?: string;
  amountCents: number;
  currency: string;
  /** Our booking, as written on the intent when it was created. */
  bookingId?: string;
  /** Why the last attempt to pay failed (a decline code), when one did: `requires_payment_method` after an attempt. */
  lastPaymentError?: string;
}

export interface RefundRequest {
  intentId: string;
  amountCents: number;
  /** Per refund (not per booking): two partial refunds of one booking are two refunds. */
  idempotencyKey: string;
}

export type RefundStatus = "pending" | "succeeded" | "failed" | "canceled";

export interface Refund {
  id: string;
  status: RefundStatus;
  amountCents: number;
  intentId: string;
  /** Why a refund failed (`failed` only), e.g. Stripe's `expired_or_canceled_card`. */
  failureReason?: string;
}

/** A provider event whose signature was checked. A trigger only: read the intent back before acting. */
export interface VerifiedPaymentEvent {
  id: string;
  type: string;
  intentId?: string;
  /** The intent's `metadata.bookingId` as we wrote it (signed by the provider along with the event). */
  bookingId?: string;
}

export interface IntentProvider {
  readonly name: "sandbox" | "stripe";
  /** What the browser needs beside the client secret (Stripe's publishable key); absent for the sandbox. */
  readonly publishableKey?: string;
  createIntent(req: CreateIntentRequest): Promise<Intent>;
  readIntent(id: string): Promise<Intent>;
  /** Takes the authorized money. Only from `requires_capture`; an already captured intent is answered as it is. */
  capture(id: string, idempotencyKey: string): Promise<Intent>;
  /** Releases an authorization (or abandons an unpaid intent); no money moves, no refund is needed. */
  cancel(id: string, idempotencyKey: string): Promise<Intent>;
  refund(req: RefundRequest): Promise<Refund>;
  readRefund(id: string): Promise<Refund>;
  /** Verifies the signature of a webhook delivery over its raw body; throws WebhookSignatureError. */
  parseWebhook(rawBody: string, signatureHeader: string | null): Promise<VerifiedPaymentEvent>;
}

/** The card was declined (Stripe's `card_error`): the buyer must use another method; retrying will not help. */
export class PaymentDeclinedError extends Error {
  constructor(
    message: string,
    /** The issuer's reason (`card_declined`, `insufficient_funds`…). */
    readonly declineCode: string,
    /** The intent the decline happened on, when the provider says (it is now `requires_payment_method`). */
    readonly intentId?: string,
  ) {
    super(message);
    this.name = "PaymentDeclinedError";
  }
}

/**
 * The provider refused the request as such (wrong state, unknown id, an idempotency key reused
 * with other parameters). Retrying the same call cannot succeed: re-read the intent and decide again.
 */
export class PaymentInvalidRequestError extends Error {
  constructor(
    message: string,
    /** The provider's code, e.g. `payment_intent_unexpected_state`, `resource_missing`, `idempotency_error`. */
    readonly code: string,
  ) {
    super(message);
    this.name = "PaymentInvalidRequestError";
  }
}

/** A webhook delivery that is not provably the provider's: bad or missing signature, altered body, too old. */
export class WebhookSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookSignatureError";
  }
}
