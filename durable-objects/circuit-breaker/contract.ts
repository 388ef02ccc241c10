/** The contract of the CircuitBreaker object (one per payment provider). Imports nothing local. */

export type BreakerState = "closed" | "open" | "half-open";

export type Admission =
  | { allowed: true; probe: boolean }
  | { allowed: false; state: BreakerState; retryAfterMs: number };
