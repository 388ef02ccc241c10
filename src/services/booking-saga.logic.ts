/**
 * Where a booking's saga goes next, decided purely from the booking's status and its step log
 * (saga_steps). Every message for a booking runs this again, so a duplicate, late or
 * out-of-order message finds the same answer and repeats nothing that is already done.
 */

import { failureReason } from "./booking-failures";

export type BookingStatus = "pending" | "confirmed" | "failed" | "cancelled";

export type SagaStep =
  // forward
  | "begin-confirm"
  | "charge"
  | "commit"
  | "confirm"
  // Stripe only: take the authorized money once the sale is in Postgres
  | "capture"
  | "notify-confirmed"
  // compensation (booking failed)
  | "fail"
  | "release"
  | "refund"
  | "notify-failed"
  | "notify-refunded"
  // cancellation (booking cancelled by its owner, an admin or the event's cancellation)
  | "cancel"
  | "return-seats"
  | "notify-cancelled"
  // a log entry, not a step: a message ran out of retries and reached the dead-letter queue
  | "dead-letter";

export interface SagaState {
  status: BookingStatus;
  paymentDeadline: number;
  /** Steps recorded as done, with what they recorded. */
  done: ReadonlyMap<SagaStep, Record<string, unknown> | null>;
  /** Steps tried at least once (done or not): a charge that was ever sent may need a refund. */
  attempted: ReadonlySet<SagaStep>;
  /**
   * Who takes the money (bookings.payment_provider; absent: the sandbox). With Stripe, `charge`
   * means "authorized" (the buyer's browser confirmed the intent), `capture` follows `confirm`, and
   * a failed booking always settles its intent in `refund` (cancelled, or refunded if captured):
   * the buyer may authorize at any moment, whether or not the saga ever looked.
   */
  provider?: "sandbox" | "stripe";
}

export type Decision =
  | { kind: "run"; step: SagaStep }
  /** Mark the booking failed (the saga's point of no return), then run the compensation steps. */
  | { kind: "compensate"; reason: string }
  | { kind: "finished" };

export const DEADLINE_PASSED = failureReason("PAYMENT_DEADLINE_PASSED");

export function decide(s: SagaState, now: number): Decision {
  const has = (step: SagaStep) => s.done.has(step);
  const refunded = s.done.get("refund")?.outcome === "refunded";
  switch (s.status) {
    case "pending":
      // After the charge went through the seats are paid for: commit and confirm have no deadline.
      if (!has("charge") && now >= s.paymentDeadline) return { kind: "compensate", reason: DEADLINE_PASSED };
      if (!has("begin-confirm")) return { kind: "run", step: "begin-confirm" };
      if (!has("charge")) return { kind: "run", step: "charge" };
      if (!has("commit")) return { kind: "run", step: "commit" };
      return { kind: "run", step: "confirm" };
    case "confirmed":
      if (s.provider === "stripe" && !has("capture")) return { kind: "run", step: "capture" };
      return has("notify-confirmed") ? { kind: "finished" } : { kind: "run", step: "notify-confirmed" };
    case "failed":
      // Seats first: they must not wait for a payment provider that may be down.
      if (!has("release")) return { kind: "run", step: "release" };
      if (!has("refund") && (s.attempted.has("charge") || s.provider === "stripe")) return { kind: "run", step: "refund" };
      if (!has("notify-failed")) return { kind: "run", step: "notify-failed" };
      if (refunded && !has("notify-refunded")) return { kind: "run", step: "notify-refunded" };
      return { kind: "finished" };
    case "cancelled":
      // A cancelled event's refund job returns the seats, refunds and notifies its bookings in
      // batches (event-cancellation.ts) and counts them: a late saga message leaves them to it.
      if (s.done.get("cancel")?.by === "event-cancellation") return { kind: "finished" };
      if (!has("return-seats")) return { kind: "run", step: "return-seats" };
      if (!has("refund")) return { kind: "run", step: "refund" };
      if (!has("notify-cancelled")) return { kind: "run", step: "notify-cancelled" };
      if (refunded && !has("notify-refunded")) return { kind: "run", step: "notify-refunded" };
      return { kind: "finished" };
  }
}

/** Backoff per attempt: 2, 4, 8 … seconds, capped at 5 minutes. */
export const backoffSeconds = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));

/**
 * How long to wait before trying again. Before the charge went through, never past the payment
 * deadline: the next try after it compensates, so seats are never locked for longer.
 */
export function retryDelaySeconds(s: SagaState, attempts: number, hintMs: number | undefined, now: number): number {
  let delay = Math.max(backoffSeconds(attempts), Math.ceil((hintMs ?? 0) / 1000));
  if (s.status === "pending" && !s.done.has("charge")) delay = Math.min(delay, Math.ceil((s.paymentDeadline - now) / 1000));
  return Math.max(1, Math.min(300, delay));
}
