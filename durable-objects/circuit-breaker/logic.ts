/**
 * The circuit breaker's pure state machine (no cloudflare:* imports): the CircuitBreaker Durable
 * Object stores this state so every isolate sees the same breaker for a provider.
 *
 * closed --(threshold consecutive failures)--> open --(cooldown elapsed)--> half-open
 * half-open lets exactly one probe through: success closes, failure opens again.
 */
import type { Admission, BreakerState } from "./contract";

export interface Breaker {
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened (ms); meaningful while open or half-open. */
  openedAt: number;
  /** While half-open: until when the single probe's lease runs (ms); 0 = no probe out. */
  probeUntil: number;
}

export interface BreakerPolicy {
  failureThreshold: number;
  cooldownMs: number;
  /** A probe that never reports back (its caller died) frees the slot after this long. */
  probeLeaseMs: number;
}

/** How soon a caller refused while the probe is out asks again. */
export const HALF_OPEN_RETRY_MS = 1_000;

export const CLOSED: Breaker = { state: "closed", consecutiveFailures: 0, openedAt: 0, probeUntil: 0 };

export function admit(b: Breaker, p: BreakerPolicy, now: number): { breaker: Breaker; admission: Admission } {
  if (b.state === "closed") return { breaker: b, admission: { allowed: true, probe: false } };
  if (b.state === "open") {
    const reopensAt = b.openedAt + p.cooldownMs;
    if (now < reopensAt) return { breaker: b, admission: { allowed: false, state: "open", retryAfterMs: reopensAt - now } };
    return { breaker: { ...b, state: "half-open", probeUntil: now + p.probeLeaseMs }, admission: { allowed: true, probe: true } };
  }
  // The probe usually answers within a second: callers waiting behind it ask again then, not at the end of its lease.
  if (b.probeUntil > now) return { breaker: b, admission: { allowed: false, state: "half-open", retryAfterMs: Math.min(b.probeUntil - now, HALF_OPEN_RETRY_MS) } };
  return { breaker: { ...b, probeUntil: now + p.probeLeaseMs }, admission: { allowed: true, probe: true } };
}

/** `success` means the provider answered (a declined card is an answer); failure means it did not. */
export function record(b: Breaker, p: BreakerPolicy, success: boolean, now: number): Breaker {
  if (success) return CLOSED;
  if (b.state === "half-open") return { state: "open", consecutiveFailures: b.consecutiveFailures + 1, openedAt: now, probeUntil: 0 };
  if (b.state === "open") return { ...b, consecutiveFailures: b.consecutiveFailures + 1 };
  const failures = b.consecutiveFailures + 1;
  if (failures >= p.failureThreshold) return { state: "open", consecutiveFailures: failures, openedAt: now, probeUntil: 0 };
  return { ...b, consecutiveFailures: failures };
}
