// Analytics Engine data points: one dataset (`evently_events`, binding ANALYTICS), told apart by
// blob1. Positions are the schema: SQL queries in docs/operations.md read them as blob1..,
// double1.., index1, so append new fields at the end and never reorder.
//
//   kind "request" (one per HTTP request, written by src/app.ts)
//     blobs   [ "request", method, route template, status, colo ]
//     doubles [ latencyMs, status ]
//     indexes [ "request" ]
//
//   kind "hold" | "booking" | "waitlist" | "saga" (one per operation, written by writeMetric)
//     blobs   [ kind, eventId, outcome, action, colo ]
//     doubles [ latencyMs, quantity, amountCents ]
//     indexes [ eventId ]
//
// `outcome` is "ok" or the error code (SEAT_UNAVAILABLE is a hold conflict, LIMIT_EXCEEDED a cap,
// HOLD_EXPIRED a late booking, ...). `action` names the step: hold created/released/expired,
// booking requested/confirmed/failed/cancelled, waitlist joined/offered/converted/left, saga
// begin-confirm/charge/commit/confirm/release/refund/notify-* (outcome "ok", "RETRY" or
// "COMPENSATE"). The index is the sampling key: per event, so a storm on one event is sampled
// without drowning every other event.
//
//   kind "reconciliation" (one per cron run, written by writeReconciliationMetric)
//     blobs   [ "reconciliation", "clean" | "drift" ]
//     doubles [ eventsChecked, drift, repaired ]
//     indexes [ "reconciliation" ]

/** The part of Env this module needs, so callers without the full Env (DOs, queue consumers) can pass theirs. */
export interface MetricsEnv {
  ANALYTICS?: AnalyticsEngineDataset;
}

export type MetricKind = "hold" | "booking" | "waitlist" | "saga";

export interface Metric {
  kind: MetricKind;
  eventId: string;
  /** "ok" or an error code such as SEAT_UNAVAILABLE. */
  outcome: string;
  action: string;
  latencyMs?: number;
  quantity?: number;
  amountCents?: number;
  /** Cloudflare location that served the call (request.cf.colo), when known. */
  colo?: string;
}

/** Writes one operation data point; never throws (metrics must not fail a booking). */
export function writeMetric(env: MetricsEnv, m: Metric): void {
  try {
    env.ANALYTICS?.writeDataPoint({
      blobs: [m.kind, m.eventId, m.outcome, m.action, m.colo ?? ""],
      doubles: [m.latencyMs ?? 0, m.quantity ?? 0, m.amountCents ?? 0],
      indexes: [m.eventId],
    });
  } catch (e) {
    console.warn(JSON.stringify({ level: "warn", msg: "analytics engine write failed", kind: m.kind, error: String(e) }));
  }
}

export interface RequestMetric {
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  colo?: string;
}

export function writeRequestMetric(env: MetricsEnv, r: RequestMetric): void {
  try {
    env.ANALYTICS?.writeDataPoint({
      blobs: ["request", r.method, r.route, String(r.status), r.colo ?? ""],
      doubles: [r.latencyMs, r.status],
      indexes: ["request"],
    });
  } catch (e) {
    console.warn(JSON.stringify({ level: "warn", msg: "analytics engine write failed", kind: "request", error: String(e) }));
  }
}

/** The Cloudflare location that served a request, when the runtime says. */
export const coloOf = (req: Request): string | undefined => (req as { cf?: { colo?: string } }).cf?.colo;

/** Runs `call` and writes one point for it: outcome "ok", or the AppError code it threw (rethrown). */
export async function measured<T>(env: MetricsEnv, m: Omit<Metric, "outcome" | "latencyMs">, call: () => Promise<T>, figures?: (value: T) => Partial<Metric>): Promise<T> {
  const started = Date.now();
  try {
    const value = await call();
    writeMetric(env, { ...m, ...figures?.(value), outcome: "ok", latencyMs: Date.now() - started });
    return value;
  } catch (e) {
    const code = typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "INTERNAL";
    writeMetric(env, { ...m, outcome: code, latencyMs: Date.now() - started });
    throw e;
  }
}

export function writeReconciliationMetric(env: MetricsEnv, r: { eventsChecked: number; drift: number; repaired: number }): void {
  try {
    env.ANALYTICS?.writeDataPoint({ blobs: ["reconciliation", r.drift ? "drift" : "clean"], doubles: [r.eventsChecked, r.drift, r.repaired], indexes: ["reconciliation"] });
  } catch (e) {
    console.warn(JSON.stringify({ level: "warn", msg: "analytics engine write failed", kind: "reconciliation", error: String(e) }));
  }
}
