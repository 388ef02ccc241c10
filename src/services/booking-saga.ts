import { and, eq, inArray, ne, sql } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { bookings, bookingSeats, events, payments, sagaSteps, seats } from "../db/schema";
import type { EventInventoryRpc, HoldView, InventoryResult } from "../../durable-objects/inventory/contract";
import type { NotificationKind, NotificationMessage } from "../queues/messages";
import { decide, retryDelaySeconds, type SagaState, type SagaStep } from "./booking-saga.logic";
import { failureReason } from "./booking-failures";
import { paymentsFor, PaymentUnavailableError, type PaymentProvider } from "./payments";
import { writeMetric } from "../lib/metrics";
import { audit } from "./audit";
import { inventoryFor } from "../../durable-objects/inventory/client";
import { issueTickets, ticketCodesOf, ticketKeysFor } from "./tickets";
import { emitWebhook } from "./webhooks";

/** Kept here for callers that build saga dependencies; the stub itself comes from the inventory client. */
export { inventoryFor };

/** What the saga talks to; the consumer builds the real ones, so each step can be driven on its own. */
export interface SagaDeps {
  db: Database;
  inventory: (eventId: string) => EventInventoryRpc;
  /** The payment port; `timeoutMs` bounds a call (never past the payment deadline). */
  payments: (timeoutMs: () => number) => PaymentProvider;
  notify: (m: NotificationMessage) => Promise<void>;
  /** Organizers' webhooks (src/services/webhooks.ts); absent where none are sent. */
  webhook?: (m: Parameters<typeof emitWebhook>[2]) => Promise<void>;
  /** Analytics Engine (src/lib/metrics.ts); absent where nothing is recorded. */
  ANALYTICS?: AnalyticsEngineDataset;
  now: () => number;
}

export function sagaDeps(env: Env, db: Database): SagaDeps {
  return {
    db,
    inventory: (eventId) => inventoryFor(env, eventId),
    payments: (timeoutMs) => paymentsFor(env, timeoutMs),
    notify: async (m) => {
      await env.NOTIFICATIONS.send(m);
    },
    webhook: async (m) => {
      await emitWebhook(env, db, m);
    },
    ANALYTICS: env.ANALYTICS,
    now: () => Date.now(),
  };
}

type Booking = typeof bookings.$inferSelect;

export type SagaOutcome = { kind: "finished"; status: Booking["status"] } | { kind: "retry"; delaySeconds: number; reason: string };

type StepResult =
  | { kind: "done"; detail?: Record<string, unknown>; recorded?: boolean }
  | { kind: "retry"; reason: string; hintMs?: number }
  | { kind: "compensate"; reason: string }
  /** Someone else moved the booking on (a concurrent run): look again. */
  | { kind: "reload" };

const chargeKey = (bookingId: string) => `booking:${bookingId}:charge`;
/** The longest a single provider call may take, even with a far deadline. */
const PROVIDER_TIMEOUT_MS = 10_000;
const MAX_STEPS_PER_RUN = 24;

/**
 * Moves one booking as far as it can go now. Safe to run for the same booking any number of times,
 * concurrently too: each step is idempotent and recorded per (booking, step), and the booking's
 * status only moves through conditional UPDATEs.
 */
export async function advanceBooking(deps: SagaDeps, bookingId: string): Promise<SagaOutcome> {
  for (let i = 0; i < MAX_STEPS_PER_RUN; i++) {
    const loaded = await load(deps.db, bookingId);
    if (!loaded) return { kind: "finished", status: "failed" };
    const { booking, state } = loaded;
    if (booking.status === "pending" && (await eventCancelled(deps.db, booking.eventId))) {
      // Never sold on a cancelled event: compensation releases the hold and refunds any charge.
      if (await failBooking(deps.db, booking.id, failureReason("EVENT_CANCELLED"), deps.now())) bookingPoint(deps, booking, "failed");
      continue;
    }
    const decision = decide(state, deps.now());
    if (decision.kind === "finished") return { kind: "finished", status: booking.status };
    if (decision.kind === "compensate") {
      if (await failBooking(deps.db, booking.id, decision.reason, deps.now())) bookingPoint(deps, booking, "failed");
      continue;
    }
    const started = deps.now();
    let result: StepResult;
    try {
      result = await runStep(deps, booking, state, decision.step);
    } catch (e) {
      result = { kind: "retry", reason: e instanceof Error ? e.message : String(e), hintMs: e instanceof PaymentUnavailableError ? e.retryAfterMs : undefined };
    }
    if (result.kind === "reload") continue;
    writeMetric(deps, { kind: "saga", eventId: booking.eventId, outcome: result.kind === "done" ? "ok" : result.kind.toUpperCase(), action: decision.step, latencyMs: deps.now() - started, quantity: booking.quantity, amountCents: booking.totalAmountCents });
    if (result.kind === "compensate") {
      if (await failBooking(deps.db, booking.id, result.reason, deps.now())) bookingPoint(deps, booking, "failed");
      continue;
    }
    if (result.kind === "done") {
      if (!result.recorded) await recordStep(deps.db, booking.id, decision.step, "done", result.detail ?? null);
      if (decision.step === "confirm") bookingPoint(deps, booking, "confirmed");
      continue;
    }
    const attempts = await recordStep(deps.db, booking.id, decision.step, "failed", { error: result.reason }).catch(() => 1);
    const delaySeconds = retryDelaySeconds(state, attempts, result.hintMs, deps.now());
    log("warn", "saga step will be retried", { bookingId, step: decision.step, attempts, delaySeconds, reason: result.reason });
    return { kind: "retry", delaySeconds, reason: `${decision.step}: ${result.reason}` };
  }
  throw new Error(`saga for booking ${bookingId} did not settle within ${MAX_STEPS_PER_RUN} steps`);
}

async function eventCancelled(db: Database, eventId: string): Promise<boolean> {
  const [e] = await db.select({ status: events.status }).from(events).where(eq(events.id, eventId));
  return e?.status === "cancelled";
}

/** Thrown inside confirm's transaction to roll it back: the event was cancelled meanwhile. */
class EventCancelledMeanwhile extends Error {}

async function load(db: Database, bookingId: string): Promise<{ booking: Booking; state: SagaState } | null> {
  const [booking] = await db.select().from(bookings).where(eq(bookings.id, bookingId));
  if (!booking) return null;
  const steps = await db.select().from(sagaSteps).where(eq(sagaSteps.bookingId, bookingId));
  return {
    booking,
    state: {
      status: booking.status,
      paymentDeadline: booking.paymentDeadline.getTime(),
      done: new Map(steps.filter((s) => s.status === "done").map((s) => [s.step as SagaStep, (s.detail as Record<string, unknown>) ?? null])),
      attempted: new Set(steps.map((s) => s.step as SagaStep)),
    },
  };
}

/** Upserts the step's row; returns how many times it has been tried. A done step stays done. */
export async function recordStep(db: Database | Parameters<Parameters<Database["transaction"]>[0]>[0], bookingId: string, step: SagaStep, status: "done" | "failed", detail: Record<string, unknown> | null): Promise<number> {
  const [row] = await db
    .insert(sagaSteps)
    .values({ bookingId, step, status, detail })
    .onConflictDoUpdate({
      target: [sagaSteps.bookingId, sagaSteps.step],
      set: {
        status: sql`case when ${sagaSteps.status} = 'done' then 'done' else excluded.status end`,
        detail: sql`case when ${sagaSteps.status} = 'done' then ${sagaSteps.detail} else excluded.detail end`,
        attempts: sql`${sagaSteps.attempts} + 1`,
        updatedAt: sql`now()`,
      },
    })
    .returning({ attempts: sagaSteps.attempts });
  return row.attempts;
}

/** The point of no return: pending -> failed. Only a pending booking can fail; a confirmed one is cancelled instead. */
export async function failBooking(db: Database, bookingId: string, reason: string, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const moved = await tx
      .update(bookings)
      .set({ status: "failed", failureReason: reason, updatedAt: new Date(now) })
      .where(and(eq(bookings.id, bookingId), eq(bookings.status, "pending")))
      .returning({ id: bookings.id });
    if (moved.length) await recordStep(tx, bookingId, "fail", "done", { reason });
    return moved.length > 0;
  });
}

async function runStep(deps: SagaDeps, b: Booking, s: SagaState, step: SagaStep): Promise<StepResult> {
  const inv = () => deps.inventory(b.eventId);
  switch (step) {
    case "begin-confirm": {
      const r = await inv().beginConfirm(b.holdId, b.id);
      if (r.ok) return { kind: "done" };
      if (r.code === "INVALID_STATE") {
        const h = await inv().getHold(b.holdId);
        if (h.ok && h.value.bookingId === b.id && (h.value.status === "confirming" || h.value.status === "committed")) return { kind: "done" };
      }
      return holdGone(r);
    }
    case "charge": {
      // Written before the call: a charge that was ever sent is refunded if the saga fails later.
      await deps.db.insert(sagaSteps).values({ bookingId: b.id, step: "charge", status: "failed", detail: { sent: true }, attempts: 0 }).onConflictDoNothing();
      const timeout = () => Math.min(PROVIDER_TIMEOUT_MS, b.paymentDeadline.getTime() - deps.now());
      if (timeout() <= 0) return { kind: "reload" };
      const out = await deps.payments(timeout).charge({ idempotencyKey: chargeKey(b.id), reference: b.id, amountCents: b.totalAmountCents, currency: b.currency, paymentMethod: b.paymentMethod });
      if (out.status === "declined") {
        log("info", "payment declined", { bookingId: b.id, providerReason: out.reason });
        return { kind: "compensate", reason: failureReason("PAYMENT_DECLINED") };
      }
      if (out.status === "processing") return { kind: "retry", reason: "the payment is still processing", hintMs: 1000 };
      await deps.db
        .insert(payments)
        .values({ bookingId: b.id, kind: "charge", status: "succeeded", amountCents: b.totalAmountCents, currency: b.currency, provider: "sandbox", providerRef: out.providerRef, idempotencyKey: chargeKey(b.id) })
        .onConflictDoNothing({ target: payments.idempotencyKey });
      return { kind: "done", detail: { providerRef: out.providerRef } };
    }
    case "commit": {
      const r = await inv().commit(b.holdId, b.id);
      if (r.ok) return { kind: "done", detail: { seats: r.value.seats.map((x) => x.id) } };
      // A payment that lands after its hold was released is refunded, never turned into a sale.
      return holdGone(r);
    }
    case "confirm":
      return confirm(deps, b);
    case "release": {
      const r = await inv().release(b.holdId, null);
      if (!r.ok) return r.code === "NOT_FOUND" ? { kind: "done", detail: { note: "no such hold" } } : { kind: "retry", reason: `${r.code}: ${r.message}` };
      if (r.value.status === "committed") {
        // The DO committed but Postgres never confirmed (a failure raced the commit): give the seats back.
        const back = await inv().returnSeats(b.holdId, b.id);
        if (!back.ok) return { kind: "retry", reason: `${back.code}: ${back.message}` };
        return { kind: "done", detail: { returned: true } };
      }
      return { kind: "done", detail: { holdStatus: r.value.status } };
    }
    case "return-seats": {
      const r = await inv().returnSeats(b.holdId, b.id);
      if (r.ok) return { kind: "done" };
      if (r.code === "NOT_FOUND" || r.code === "INVALID_STATE") return { kind: "done", detail: { note: `${r.code}: ${r.message}` } };
      return { kind: "retry", reason: `${r.code}: ${r.message}` };
    }
    case "refund": {
      if (!s.attempted.has("charge")) return { kind: "done", detail: { outcome: "not_charged" } };
      const out = await deps.payments(() => PROVIDER_TIMEOUT_MS).refund(chargeKey(b.id));
      if (out.status === "processing") return { kind: "retry", reason: "the charge has not settled yet", hintMs: 1000 };
      if (out.status === "nothing_to_refund") return { kind: "done", detail: { outcome: "nothing_to_refund" } };
      const recorded = await deps.db
        .insert(payments)
        .values({ bookingId: b.id, kind: "refund", status: "succeeded", amountCents: b.totalAmountCents, currency: b.currency, provider: "sandbox", providerRef: out.providerRef, idempotencyKey: `booking:${b.id}:refund` })
        .onConflictDoNothing({ target: payments.idempotencyKey })
        .returning({ id: payments.id });
      // Once per refund, however often the step runs.
      if (recorded.length) await audit(deps.db, { action: "booking.refunded", subjectId: b.id, detail: { status: b.status, amountCents: b.totalAmountCents, currency: b.currency, providerRef: out.providerRef } });
      return { kind: "done", detail: { outcome: "refunded", providerRef: out.providerRef } };
    }
    case "notify-confirmed":
      return notify(deps, b, "booking.confirmed");
    case "notify-failed":
      return notify(deps, b, "booking.failed");
    case "notify-cancelled":
      return notify(deps, b, "booking.cancelled");
    case "notify-refunded":
      return notify(deps, b, "booking.refunded");
    case "fail":
    case "cancel":
    case "dead-letter":
      return { kind: "reload" };
  }
}

function holdGone(r: InventoryResult<HoldView> & { ok: false }): StepResult {
  if (r.code === "HOLD_EXPIRED" || r.code === "NOT_FOUND" || r.code === "INVALID_STATE") return { kind: "compensate", reason: failureReason("HOLD_ENDED") };
  return { kind: "retry", reason: `${r.code}: ${r.message}` };
}

/** Postgres: booking confirmed, its seats active (the partial unique index guards them), counts up. */
async function confirm(deps: SagaDeps, b: Booking): Promise<StepResult> {
  try {
    // Outside the transaction: a key made inside one that rolls back would live on in the isolate's cache.
    const ticketKeys = await ticketKeysFor(deps.db, b.eventId);
    return await deps.db.transaction(async (tx) => {
      // A consumer never waits long on a lock: it retries later instead.
      await tx.execute(sql`set local lock_timeout = '3s'`);
      const moved = await tx
        .update(bookings)
        .set({ status: "confirmed", confirmedAt: new Date(deps.now()), updatedAt: new Date(deps.now()) })
        .where(and(eq(bookings.id, b.id), eq(bookings.status, "pending")))
        .returning({ id: bookings.id });
      if (!moved.length) return { kind: "reload" } as const;
      if (b.seats.length) {
        await tx.insert(bookingSeats).values(b.seats.map((x) => ({ bookingId: b.id, eventId: b.eventId, seatId: x.id, priceCents: x.priceCents })));
        await tx.update(seats).set({ status: "booked" }).where(and(eq(seats.eventId, b.eventId), inArray(seats.seatId, b.seats.map((x) => x.id))));
      }
      // The event's row lock orders this against its cancellation, which counts the bookings to refund.
      const open = await tx
        .update(events)
        .set({ seatsSold: sql`${events.seatsSold} + ${b.quantity}` })
        .where(and(eq(events.id, b.eventId), ne(events.status, "cancelled")))
        .returning({ id: events.id });
      if (!open.length) throw new EventCancelledMeanwhile();
      // Tickets exist exactly when the booking is confirmed: same transaction.
      await issueTickets(tx, ticketKeys, b, new Date(deps.now()));
      await recordStep(tx, b.id, "confirm", "done", null);
      return { kind: "done", recorded: true } as const;
    });
  } catch (e) {
    if (e instanceof EventCancelledMeanwhile) return { kind: "compensate", reason: failureReason("EVENT_CANCELLED") };
    const code = pgCode(e);
    // 23505: a seat already in another active booking; 23514: more sold than capacity. Never a sale.
    if (code === "23505" || code === "23514") {
      log("error", "Postgres refused the sale", { bookingId: b.id, pgCode: code, error: String(e) });
      return { kind: "compensate", reason: failureReason("SEATS_UNAVAILABLE") };
    }
    throw e;
  }
}

function pgCode(e: unknown): string | undefined {
  for (let cur: any = e; cur; cur = cur.cause) if (typeof cur.code === "string") return cur.code;
  return undefined;
}

async function notify(deps: SagaDeps, b: Booking, kind: NotificationKind): Promise<StepResult> {
  if (kind === "booking.confirmed" || kind === "booking.cancelled") {
    const data = { bookingId: b.id, eventId: b.eventId, userId: b.userId, seats: b.seats.map((x) => x.id), quantity: b.quantity, amountCents: b.totalAmountCents, currency: b.currency };
    await deps.webhook?.({ type: kind, eventId: b.eventId, dedupeKey: `booking:${b.id}:${kind}`, data });
  }
  await deps.notify({
    type: "notification.send",
    dedupeKey: `${b.id}:${kind}`,
    userId: b.userId,
    kind,
    payload: { bookingId: b.id, eventId: b.eventId, seats: b.seats.map((x) => x.id), quantity: b.quantity, lines: b.lines, amountCents: b.totalAmountCents, currency: b.currency, ...(b.failureReason ? { reason: b.failureReason } : {}), ...(kind === "booking.confirmed" ? { tickets: await ticketCodesOf(deps.db, b.id) } : {}) },
  });
  return { kind: "done" };
}

/** A booking reached a final state: latency is from the request to here. */
function bookingPoint(deps: SagaDeps, b: Booking, action: "confirmed" | "failed"): void {
  writeMetric(deps, { kind: "booking", eventId: b.eventId, outcome: "ok", action, latencyMs: deps.now() - b.createdAt.getTime(), quantity: b.quantity, amountCents: b.totalAmountCents });
}

const log = (level: string, msg: string, extra: Record<string, unknown>) => console.log(JSON.stringify({ level, msg, ...extra }));
