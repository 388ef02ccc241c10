/**
 * Why a booking failed, as a stable code and the one plain sentence a buyer sees for it (in the
 * API's `failureReason` and in the email). Internal detail (provider answers, Postgres errors)
 * never goes here: it goes to the logs and the saga's step log. No imports: the pure saga logic uses it.
 */
export const BOOKING_FAILURES = {
  PAYMENT_DECLINED: "Your payment was declined, so nothing was charged and the seats were released.",
  PAYMENT_DEADLINE_PASSED: "The payment did not complete before the payment deadline, so the seats were released. Anything charged is refunded.",
  HOLD_EXPIRED: "Your hold on these seats expired before the booking was made. Nothing was charged.",
  HOLD_ENDED: "Your hold on these seats ended before the payment went through. Anything charged is refunded.",
  SEATS_UNAVAILABLE: "These seats could not be sold to you after all. Anything charged is refunded.",
  EVENT_CANCELLED: "The event was cancelled. Anything charged is refunded.",
  PROCESSING_FAILED: "We could not complete this booking. Anything charged is refunded.",
} as const;

export type BookingFailure = keyof typeof BOOKING_FAILURES;

/** The `failureReason` stored on a failed booking: always one of BOOKING_FAILURES' sentences. */
export function failureReason(code: BookingFailure): string {
  return BOOKING_FAILURES[code];
}
