import { and, eq, sql } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { bookings, bookingSeats, events, payments, sagaSteps, seats, tickets as ticketsTable, users, webhookDeliveries, webhooks } from "../db/schema";
import type { EventInventoryRpc, HoldView, InventoryResult } from "../../durable-objects/inventory/contract";
import type { NotificationKind, NotificationMessage } from "../queues/messages";
import { decide, retryDelaySeconds, type SagaState, type SagaStep } from "./booking-saga.logic";
import { failureReason } from "./booking-failures";
import { paymentsFor, PaymentUnavailableError, type PaymentProvider } from "./payments";
import { PaymentInvalidRequestError, stripeFor, type Intent, type IntentProvider } from "./payments/index";
import { writeMetric } from "../lib/metrics";
import { audit } from "./audit";
import { inventoryFor } from "../../durable-objects/inventory/client";
import { ticketCodesOf, ticketKeysFor, ticketsFor } from "./tickets";
import { emitWebhook, sendDeliveries } from "./webhooks";
import { announceBookingOutcome, type BookingOutcome } from "./booking-events";

/** Kept here for callers that build saga dependencies; the stub itself comes from the inventory client. */
export { inventoryFor };

/** What the saga talks to; the consumer builds the real ones, so each step can be driven on its own. */
export interface SagaDeps {
  db: Database;
  inventory: (eventId: string) => EventInventoryRpc;
  /** The payment port; `timeoutMs` bounds a call (never past the payment deadline). */
  payments: (timeoutMs: () => number) => PaymentProvider;
  /** Stripe's port (bookings with payment_provider = 'stripe'), behind its breaker; `timeoutMs` as above. */
  stripe?: (timeoutMs: () => number) => IntentProvider;
  notify: (m: NotificationMessage) => Promise<void>;
  /** Organizers' webhooks (src/services/webhooks.ts); absent where none are sent. */
  webhook?: (m: Parameters<typeof emitWebhook>[2]) => Promise<void>;
  /** Tells the buyer's live sockets and event streams a booking settled (after Postgres committed it); never throws. */
  announce?: (b: BookingOutcome) => Promise<void>;
  /** Queues deliveries already written in Postgres (the confirm writes them with the sale). */
  sendWebhooks?: (deliveryIds: string[]) => Promise<void>;
  /** SECRETS_KEYS: opens the event's sealed ticket-signing key (src/lib/secret-box.ts). */
  secretsKeys?: string;
  /** Analytics Engine (src/lib/metrics.ts); absent where nothing is recorded. */
  ANALYTICS?: AnalyticsEngineDataset;
  now: () => number;
}

export function sagaDeps(env: Env, db: Database): SagaDeps {
  return {
    db,
    inventory: (eventId) => inventoryFor(env, eventId),
    payments: (timeoutMs) => paymentsFor(env, timeoutMs),
    stripe: (timeoutMs) => stripeFor(env, undefined, timeoutMs),
    notify: async (m) => {
      await env.NOTIFICATIONS.send(m);
    },
    webhook: async (m) => {
      await emitWebhook(env, db, m);
    },
    sendWebhooks: async (ids) => void (await sendDeliveries(env, db, ids)),
    announce: (b) => announceBookingOutcome(env, b),
    secretsKeys: env.SECRETS_KEYS,
    ANALYTICS: env.ANALYTICS,
    now: () => Date.now(),
  };
}

type Booking = typeof bookings.$inferSelect;

export type SagaOutcome = { kind: "finished"; status: Booking["status"] } | { kind: "retry"; delaySeconds: number; reason: string };

type StepResult =
  /** `recorded`: the step wrote its own record, and the run's unrecorded ones, in its statement. `status`: the booking's new status. */
  | { kind: "done"; detail?: Record<string, unknown>; recorded?: boolean; status?: Booking["status"] }
  | { kind: "retry"; reason: string; hintMs?: number }
  | { kind: "compensate"; reason: string }
  /** Someone else moved the booking on (a concurrent run): look again. */
  | { kind: "reload" };

const chargeKey = (bookingId: string) => `booking:${bookingId}:charge`;
/** Stripe's idempotency keys of a booking: one intent, one capture, one cancel, one refund. */
export const intentKey = (bookingId: string) => `booking:${bookingId}:intent`;
const captureKey = (bookingId: string) => `booking:${bookingId}:capture`;
const cancelKey = (bookingId: string) => `booking:${bookingId}:cancel`;
const refundKey = (bookingId: string) => `booking:${bookingId}:refund`;
/** The longest a single provider call may take, even with a far deadline. */
const PROVIDER_TIMEOUT_MS = 10_000;
const MAX_STEPS_PER_RUN = 24;

type EventStatus = (typeof events.$inferSelect)["status"];

/**
 * What one run knows about its booking: read once (one statement) at the start, then kept up to
 * date in memory as its own steps succeed. Step records of idempotent steps (begin-confirm, commit)
 * wait in `unrecorded` and are written with the next statement the run sends anyway; if the run
 * dies first, the next run repeats those steps (idempotent) and records them then.
 */
export interface SagaRun {
  booking: Booking;
  state: SagaState;
  eventStatus: EventStatus;
  unrecorded: { step: SagaStep; detail: Record<string, unknown> | null }[];
  /** Ticket codes issued by this run's confirm, for the confirmation message (no read back). */
  tickets?: { id: string; seatId: string | null; code: string }[];
  /** Webhook deliveries created by this run's confirm, sent after its commit. */
  deliveries?: string[];
}

/** A booking just written by POST /v1/bookings, whose hold the request already marked confirming. */
export function freshRun(booking: Booking, beganConfirm: boolean): SagaRun {
  const done = new Map<SagaStep, Record<string, unknown> | null>();
  if (beganConfirm) done.set("begin-confirm", null);
  return {
    booking,
    state: { status: booking.status, paymentDeadline: booking.paymentDeadline.getTime(), done, attempted: new Set(done.keys()), provider: booking.paymentProvider },
    eventStatus: "published",
    unrecorded: beganConfirm ? [{ step: "begin-confirm", detail: null }] : [],
  };
}

/**
 * Moves one booking as far as it can go now. Safe to run for the same booking any number of times,
 * concurrently too: each step is idempotent and recorded per (booking, step), and the booking's
 * status only moves through conditional UPDATEs. `known`: the state the caller already has (the
 * booking request), so the run reads nothing before its first step.
 */
export async function advanceBooking(deps: SagaDeps, bookingId: string, known?: SagaRun): Promise<SagaOutcome> {
  let run = known ?? (await load(deps.db, bookingId));
  if (!run) return { kind: "finished", status: "failed" };
  for (let i = 0; i < MAX_STEPS_PER_RUN; i++) {
    const { booking, state } = run;
    if (booking.status === "pending" && run.eventStatus === "cancelled") {
      // Never sold on a cancelled event: compensation releases the hold and refunds any charge.
      if (await failBooking(deps.db, booking.id, failureReason("EVENT_CANCELLED"), deps.now(), run.unrecorded)) await failed(deps, booking, failureReason("EVENT_CANCELLED"));
      if (!(run = await load(deps.db, bookingId))) return { kind: "finished", status: "failed" };
      continue;
    }
    const decision = decide(state, deps.now());
    if (decision.kind === "finished") {
      if (run.unrecorded.length) await recordSteps(deps.db, booking.id, run.unrecorded);
      return { kind: "finished", status: booking.status };
    }
    if (decision.kind === "compensate") {
      if (await failBooking(deps.db, booking.id, decision.reason, deps.now(), run.unrecorded)) await failed(deps, booking, decision.reason);
      if (!(run = await load(deps.db, bookingId))) return { kind: "finished", status: "failed" };
      continue;
    }
    const started = deps.now();
    let result: StepResult;
    try {
      result = await runStep(deps, run, decision.step);
    } catch (e) {
      result = { kind: "retry", reason: e instanceof Error ? e.message : String(e), hintMs: e instanceof PaymentUnavailableError ? e.retryAfterMs : undefined };
    }
    if (result.kind === "reload") {
      if (!(run = await load(deps.db, bookingId))) return { kind: "finished", status: "failed" };
      continue;
    }
    writeMetric(deps, { kind: "saga", eventId: booking.eventId, outcome: result.kind === "done" ? "ok" : result.kind.toUpperCase(), action: decision.step, latencyMs: deps.now() - started, quantity: booking.quantity, amountCents: booking.totalAmountCents });
    if (result.kind === "compensate") {
      if (await failBooking(deps.db, booking.id, result.reason, deps.now(), run.unrecorded)) await failed(deps, booking, result.reason);
      if (!(run = await load(deps.db, bookingId))) return { kind: "finished", status: "failed" };
      continue;
    }
    if (result.kind === "done") {
      const detail = result.detail ?? null;
      state.done = new Map(state.done).set(decision.step, detail);
      state.attempted = new Set(state.attempted).add(decision.step);
      if (result.recorded) run.unrecorded = [];
      else run.unrecorded.push({ step: decision.step, detail });
      if (result.status) state.status = booking.status = result.status;
      if (decision.step === "confirm") {
        bookingPoint(deps, booking, "confirmed");
        await deps.announce?.({ id: booking.id, userId: booking.userId, eventId: booking.eventId, status: "confirmed", failureReason: null });
      }
      continue;
    }
    const attempts = await recordSteps(deps.db, booking.id, run.unrecorded, { step: decision.step, detail: { error: result.reason } }).catch(() => 1);
    run.unrecorded = [];
    const delaySeconds = retryDelaySeconds(state, attempts, result.hintMs, deps.now());
    log("warn", "saga step will be retried", { bookingId, step: decision.step, attempts, delaySeconds, reason: result.reason });
    return { kind: "retry", delaySeconds, reason: `${decision.step}: ${result.reason}` };
  }
  throw new Error(`saga for booking ${bookingId} did not settle within ${MAX_STEPS_PER_RUN} steps`);
}

/** Thrown inside confirm's transaction to roll it back: the event was cancelled meanwhile. */
class EventCancelledMeanwhile extends Error {}

/** The booking, its step log and its event's status: one statement. */
async function load(db: Database, bookingId: string): Promise<SagaRun | null> {
  const [row] = await db
    .select({
      booking: bookings,
      eventStatus: events.status,
      steps: sql<{ step: SagaStep; status: "done" | "failed"; detail: Record<string, unknown> | null }[]>`coalesce((select json_agg(json_build_object('step', s.step, 'status', s.status, 'detail', s.detail)) from ${sagaSteps} s where s.booking_id = ${bookings.id}), '[]'::json)`,
    })
    .from(bookings)
    .innerJoin(events, eq(events.id, bookings.eventId))
    .where(eq(bookings.id, bookingId));
  if (!row) return null;
  const { booking, steps } = row;
  return {
    booking,
    eventStatus: row.eventStatus,
    unrecorded: [],
    state: {
      status: booking.status,
      paymentDeadline: booking.paymentDeadline.getTime(),
      done: new Map(steps.filter((s) => s.status === "done").map((s) => [s.step, s.detail ?? null])),
      attempted: new Set(steps.map((s) => s.step)),
      provider: booking.paymentProvider,
    },
  };
}

type Executor = Pick<Database, "execute">;

/**
 * Upserts step records in one statement: `done` ones (a done step stays done, with its first
 * detail), and optionally one `failed` step. Answers how many times the failed step has been tried
 * (1 when there is none).
 */
export async function recordSteps(db: Executor, bookingId: string, done: { step: SagaStep; detail: Record<string, unknown> | null }[], failed?: { step: SagaStep; detail: Record<string, unknown> }): Promise<number> {
  const rows = [...done.map((d) => ({ step: d.step, status: "done", detail: d.detail })), ...(failed ? [{ step: failed.step, status: "failed", detail: failed.detail }] : [])];
  if (!rows.length) return 1;
  const res = await db.execute<{ step: string; attempts: number }>(sql`
    insert into ${sagaSteps} (booking_id, step, status, detail)
    select ${bookingId}::uuid, r.step, r.status, r.detail from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(step text, status text, detail jsonb)
    on conflict (booking_id, step) do update set
      status = case when ${sagaSteps.status} = 'done' then 'done' else excluded.status end,
      detail = case when ${sagaSteps.status} = 'done' then ${sagaSteps.detail} else excluded.detail end,
      attempts = ${sagaSteps.attempts} + 1,
      updated_at = now()
    returning step, attempts`);
  return failed ? (res.rows.find((r) => r.step === failed.step)?.attempts ?? 1) : 1;
}

/** Upserts the step's row; returns how many times it has been tried. A done step stays done. */
export async function recordStep(db: Executor, bookingId: string, step: SagaStep, status: "done" | "failed", detail: Record<string, unknown> | null): Promise<number> {
  return status === "done" ? recordSteps(db, bookingId, [{ step, detail }]).then(() => 1) : recordSteps(db, bookingId, [], { step, detail: detail ?? {} });
}

/**
 * The point of no return: pending -> failed, with the step log's `fail` (and the run's unrecorded
 * steps) in the same statement. Only a pending booking can fail; a confirmed one is cancelled instead.
 */
export async function failBooking(db: Database, bookingId: string, reason: string, now: number, unrecorded: { step: SagaStep; detail: Record<string, unknown> | null }[] = []): Promise<boolean> {
  const rows = [...unrecorded, { step: "fail" as SagaStep, detail: { reason } }];
  const res = await db.execute<{ id: string }>(sql`
    with moved as (
      update ${bookings} set status = 'failed', failure_reason = ${reason}, updated_at = ${new Date(now).toISOString()}::timestamptz
      where id = ${bookingId} and status = 'pending'
      returning id
    ), steps as (
      insert into ${sagaSteps} (booking_id, step, status, detail)
      select m.id, r.step, 'done', r.detail from moved m, jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(step text, detail jsonb)
      on conflict (booking_id, step) do update set status = 'done', detail = case when ${sagaSteps.status} = 'done' then ${sagaSteps.detail} else excluded.detail end, attempts = ${sagaSteps.attempts} + 1, updated_at = now()
    )
    select id from moved`);
  return res.rows.length > 0;
}

async function runStep(deps: SagaDeps, run: SagaRun, step: SagaStep): Promise<StepResult> {
  const b = run.booking;
  const s = run.state;
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
      if (b.paymentProvider === "stripe") return authorized(deps, run);
      // Written before the call, with the run's unrecorded steps: a charge that was ever sent is
      // refunded if the saga fails later.
      if (!s.attempted.has("charge")) {
        await deps.db.execute(sql`
          with marker as (
            insert into ${sagaSteps} (booking_id, step, status, detail, attempts) values (${b.id}, 'charge', 'failed', '{"sent":true}'::jsonb, 0)
            on conflict do nothing
          )
          insert into ${sagaSteps} (booking_id, step, status, detail)
          select ${b.id}::uuid, r.step, 'done', r.detail from jsonb_to_recordset(${JSON.stringify(run.unrecorded)}::jsonb) as r(step text, detail jsonb)
          on conflict (booking_id, step) do update set status = 'done', detail = case when ${sagaSteps.status} = 'done' then ${sagaSteps.detail} else excluded.detail end, attempts = ${sagaSteps.attempts} + 1, updated_at = now()`);
        run.unrecorded = [];
        s.attempted = new Set(s.attempted).add("charge");
      }
      const timeout = () => Math.min(PROVIDER_TIMEOUT_MS, b.paymentDeadline.getTime() - deps.now());
      if (timeout() <= 0) return { kind: "reload" };
      const out = await deps.payments(timeout).charge({ idempotencyKey: chargeKey(b.id), reference: b.id, amountCents: b.totalAmountCents, currency: b.currency, paymentMethod: b.paymentMethod });
      if (out.status === "declined") {
        log("info", "payment declined", { bookingId: b.id, providerReason: out.reason });
        return { kind: "compensate", reason: failureReason("PAYMENT_DECLINED") };
      }
      if (out.status === "processing") return { kind: "retry", reason: "the payment is still processing", hintMs: 1000 };
      // The payment row and the step record in one statement.
      const detail = { providerRef: out.providerRef };
      await deps.db.execute(sql`
        with paid as (
          insert into ${payments} (booking_id, kind, status, amount_cents, currency, provider, provider_ref, idempotency_key)
          values (${b.id}, 'charge', 'succeeded', ${b.totalAmountCents}, ${b.currency}, 'sandbox', ${out.providerRef}, ${chargeKey(b.id)})
          on conflict (idempotency_key) do nothing
        )
        insert into ${sagaSteps} (booking_id, step, status, detail) values (${b.id}, 'charge', 'done', ${JSON.stringify(detail)}::jsonb)
        on conflict (booking_id, step) do update set
          status = 'done',
          detail = case when ${sagaSteps.status} = 'done' then ${sagaSteps.detail} else excluded.detail end,
          attempts = ${sagaSteps.attempts} + 1,
          updated_at = now()`);
      return { kind: "done", detail, recorded: true };
    }
    case "commit": {
      const r = await inv().commit(b.holdId, b.id);
      if (r.ok) return { kind: "done", detail: { seats: r.value.seats.map((x) => x.id) } };
      // A payment that lands after its hold was released is refunded, never turned into a sale.
      return holdGone(r);
    }
    case "confirm":
      return confirm(deps, run);
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
    case "capture":
      return capture(deps, run);
    case "refund": {
      if (b.paymentProvider === "stripe") return settleIntent(deps, run);
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
      return notify(deps, run, "booking.confirmed");
    case "notify-failed":
      return notify(deps, run, "booking.failed");
    case "notify-cancelled":
      return notify(deps, run, "booking.cancelled");
    case "notify-refunded":
      return notify(deps, run, "booking.refunded");
    case "fail":
    case "cancel":
    case "dead-letter":
      return { kind: "reload" };
  }
}

function stripeOf(deps: SagaDeps, timeoutMs: () => number): IntentProvider {
  if (!deps.stripe) throw new PaymentUnavailableError("no Stripe port in this saga's dependencies");
  return deps.stripe(timeoutMs);
}

/**
 * Stripe's `charge`: has the buyer authorized the money? The intent is read back from Stripe (a
 * webhook only wakes the saga; its payload is never trusted). Authorized: done, recorded with the
 * confirm. Declined or cancelled: the booking fails. Not yet: try again no later than the deadline.
 * A booking whose intent could not be created in its request gets it created here (same key).
 */
async function authorized(deps: SagaDeps, run: SagaRun): Promise<StepResult> {
  const b = run.booking;
  const timeout = () => Math.min(PROVIDER_TIMEOUT_MS, b.paymentDeadline.getTime() - deps.now());
  if (timeout() <= 0) return { kind: "reload" };
  const port = stripeOf(deps, timeout);
  const intentId = b.paymentIntentId ?? (await createBookingIntent(deps.db, port, b)).id;
  const pi = await port.readIntent(intentId);
  if (pi.status === "requires_capture" || pi.status === "succeeded") {
    if (pi.amountCents !== b.totalAmountCents) {
      log("error", "the intent's amount is not the booking's: no sale", { bookingId: b.id, intentId, intentAmount: pi.amountCents, bookingAmount: b.totalAmountCents });
      return { kind: "compensate", reason: failureReason("PAYMENT_DECLINED") };
    }
    return { kind: "done", detail: { intentId, amountCents: pi.amountCents } };
  }
  if (pi.status === "canceled" || (pi.status === "requires_payment_method" && pi.lastPaymentError)) {
    log("info", "payment declined", { bookingId: b.id, intentId, status: pi.status, providerReason: pi.lastPaymentError });
    return { kind: "compensate", reason: failureReason("PAYMENT_DECLINED") };
  }
  // The buyer has not confirmed yet (or their bank is still deciding): the webhook wakes us earlier.
  return { kind: "retry", reason: `waiting for the buyer to authorize (intent ${pi.status})`, hintMs: Math.max(1000, b.paymentDeadline.getTime() - deps.now()) };
}

/**
 * The booking's PaymentIntent (manual capture), created under the booking's key: a repeat (the
 * request, then the saga) answers the same intent. Its id is stored on the booking.
 */
export async function createBookingIntent(db: Database, port: IntentProvider, b: Booking): Promise<Intent> {
  const intent = await port.createIntent({ bookingId: b.id, amountCents: b.totalAmountCents, currency: b.currency, idempotencyKey: intentKey(b.id) });
  if (b.paymentIntentId !== intent.id) {
    await db.update(bookings).set({ paymentIntentId: intent.id }).where(and(eq(bookings.id, b.id), sql`${bookings.paymentIntentId} is null`));
    b.paymentIntentId = intent.id;
  }
  return intent;
}

/** Stripe, after the confirm: take the money. The payment row and the step record in one statement. */
async function capture(deps: SagaDeps, run: SagaRun): Promise<StepResult> {
  const b = run.booking;
  const port = stripeOf(deps, () => PROVIDER_TIMEOUT_MS);
  const intentId = b.paymentIntentId ?? (run.state.done.get("charge")?.intentId as string | undefined);
  if (!intentId) throw new Error(`confirmed Stripe booking ${b.id} without an intent`);
  let pi: Intent;
  try {
    pi = await port.capture(intentId, captureKey(b.id));
  } catch (e) {
    if (!(e instanceof PaymentInvalidRequestError)) throw e;
    pi = await port.readIntent(intentId);
    if (pi.status === "canceled") {
      // The authorization lapsed (or was released by hand) after the sale: seats sold, no money. A human decides.
      log("error", "ALERT: a confirmed booking's authorization is gone, nothing was captured", { bookingId: b.id, intentId, error: String(e) });
      return { kind: "done", detail: { outcome: "authorization_lost", intentId } };
    }
    throw e;
  }
  if (pi.status !== "succeeded") return { kind: "retry", reason: `capture left the intent ${pi.status}` };
  const detail = { intentId, amountCents: pi.amountCents };
  await deps.db.execute(sql`
    with paid as (
      insert into ${payments} (booking_id, kind, status, amount_cents, currency, provider, provider_ref, idempotency_key)
      values (${b.id}, 'charge', 'succeeded', ${pi.amountCents}, ${b.currency}, 'stripe', ${intentId}, ${captureKey(b.id)})
      on conflict (idempotency_key) do nothing
    )
    insert into ${sagaSteps} (booking_id, step, status, detail)
    select ${b.id}::uuid, r.step, 'done', r.detail from jsonb_to_recordset(${JSON.stringify([...run.unrecorded, { step: "capture", detail }])}::jsonb) as r(step text, detail jsonb)
    on conflict (booking_id, step) do update set status = 'done', detail = case when ${sagaSteps.status} = 'done' then ${sagaSteps.detail} else excluded.detail end, attempts = ${sagaSteps.attempts} + 1, updated_at = now()`);
  return { kind: "done", detail, recorded: true };
}

export type IntentSettlement =
  | { outcome: "released" | "not_charged"; intentId: string | null }
  | { outcome: "refunded"; intentId: string; refundId: string }
  | { outcome: "refund_failed"; intentId: string; refundId: string; failureReason: string }
  | { outcome: "pending"; intentId: string; refundId: string };

/**
 * Stripe's `refund` step of a failed or cancelled booking: an intent not captured is cancelled
 * (the authorization released, nothing to refund); a captured one is refunded under the booking's
 * refund key and the refund followed: pending is retried, failed is recorded and alerted, and
 * only a succeeded refund is `refunded`.
 */
async function settleIntent(deps: SagaDeps, run: SagaRun): Promise<StepResult> {
  const b = run.booking;
  const out = await settleStripeBooking(deps.db, stripeOf(deps, () => PROVIDER_TIMEOUT_MS), b);
  if (out.outcome === "pending") return { kind: "retry", reason: `refund ${out.refundId} is pending`, hintMs: 30_000 };
  return { kind: "done", detail: out };
}

/** Settles a Stripe booking's money as `settleIntent` says; shared with the event's refund job. */
export async function settleStripeBooking(db: Database, port: IntentProvider, b: Booking): Promise<IntentSettlement> {
  // No id stored: the create may have reached Stripe without its answer reaching us. The same key
  // names the same intent (a fresh one if it never did), which is then cancelled.
  const intentId = b.paymentIntentId ?? (await createBookingIntent(db, port, b)).id;
  const pi = await port.readIntent(intentId);
  if (pi.status === "canceled") return { outcome: "not_charged", intentId };
  if (pi.status !== "succeeded") {
    const c = await port.cancel(intentId, cancelKey(b.id));
    if (c.status !== "canceled") throw new Error(`cancelling intent ${intentId} left it ${c.status}`);
    return { outcome: "released", intentId };
  }
  let r = await port.refund({ intentId, amountCents: pi.amountCents, idempotencyKey: refundKey(b.id) });
  // The same key replays the refund's first answer: its status now is read back.
  if (r.status === "pending") r = await port.readRefund(r.id);
  if (r.status === "pending") return { outcome: "pending", intentId, refundId: r.id };
  const ok = r.status === "succeeded";
  const recorded = await db
    .insert(payments)
    .values({ bookingId: b.id, kind: "refund", status: ok ? "succeeded" : "failed", amountCents: r.amountCents, currency: b.currency, provider: "stripe", providerRef: r.id, idempotencyKey: refundKey(b.id), error: ok ? null : (r.failureReason ?? r.status) })
    .onConflictDoNothing({ target: payments.idempotencyKey })
    .returning({ id: payments.id });
  if (!ok) {
    log("error", "ALERT: a Stripe refund failed; the buyer still has to be paid back by hand", { bookingId: b.id, intentId, refundId: r.id, status: r.status, failureReason: r.failureReason });
    return { outcome: "refund_failed", intentId, refundId: r.id, failureReason: r.failureReason ?? r.status };
  }
  if (recorded.length) await audit(db, { action: "booking.refunded", subjectId: b.id, detail: { status: b.status, amountCents: r.amountCents, currency: b.currency, providerRef: r.id } });
  return { outcome: "refunded", intentId, refundId: r.id };
}

function holdGone(r: InventoryResult<HoldView> & { ok: false }): StepResult {
  if (r.code === "HOLD_EXPIRED" || r.code === "NOT_FOUND" || r.code === "INVALID_STATE") return { kind: "compensate", reason: failureReason("HOLD_ENDED") };
  return { kind: "retry", reason: `${r.code}: ${r.message}` };
}

/**
 * Postgres: booking confirmed, its seats active (the partial unique index guards them), the
 * event's count up, its tickets issued, the webhook deliveries of `booking.confirmed` queued in
 * Postgres, and the step records of this run: one statement, so one round trip and the event's row
 * lock held for no round trip at all (every confirm of a hot event takes that lock).
 *
 * Order inside it: the booking row is locked first (FOR UPDATE: a concurrent confirm of the same
 * booking waits, then finds it no longer pending and does nothing), then the event's row (which
 * orders this against the event's cancellation, which counts the bookings to refund under the same
 * lock): a cancelled event leaves the booking pending and the saga compensates.
 */
async function confirm(deps: SagaDeps, run: SagaRun): Promise<StepResult> {
  const b = run.booking;
  const now = new Date(deps.now());
  // Signed outside: signing is JavaScript, and a key made inside a statement that fails would live
  // on in the isolate's cache.
  const keys = await ticketKeysFor(deps.db, { SECRETS_KEYS: deps.secretsKeys }, b.eventId);
  const tickets = await ticketsFor(keys, b);
  const steps = [...run.unrecorded, { step: "confirm", detail: null }];
  const seatsJson = JSON.stringify(b.seats.map((x) => ({ id: x.id, price_cents: x.priceCents })));
  const hook = { dedupeKey: `booking:${b.id}:booking.confirmed`, data: confirmationData(b) };
  try {
    const res = await deps.db.execute<{ pending: number; sold: number; deliveries: string[] }>(sql`
      with b as (
        select id from ${bookings} where id = ${b.id} and status = 'pending' for update
      ), ev as (
        update ${events} set seats_sold = seats_sold + ${b.quantity}
        where id = ${b.eventId} and status <> 'cancelled' and exists (select 1 from b)
        returning id, organizer_id
      ), moved as (
        update ${bookings} set status = 'confirmed', confirmed_at = ${now.toISOString()}::timestamptz, updated_at = ${now.toISOString()}::timestamptz
        where id in (select id from b) and exists (select 1 from ev)
        returning id
      ), booked_seats as (
        insert into ${bookingSeats} (booking_id, event_id, seat_id, price_cents)
        select m.id, ${b.eventId}::uuid, x.id, x.price_cents from moved m, jsonb_to_recordset(${seatsJson}::jsonb) as x(id text, price_cents int)
      ), seat_rows as (
        update ${seats} set status = 'booked'
        where event_id = ${b.eventId} and seat_id in (select x.id from jsonb_to_recordset(${seatsJson}::jsonb) as x(id text)) and exists (select 1 from moved)
      ), issued as (
        insert into ${ticketsTable} (id, booking_id, event_id, holder_id, slot, seat_id, ticket_type_id, holder_name, code, created_at, updated_at)
        select t.id, m.id, ${b.eventId}::uuid, ${b.userId}::uuid, t.slot, t.seat_id, t.ticket_type_id,
               coalesce((select name from ${users} where id = ${b.userId}), ''), t.code, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
        from moved m, jsonb_to_recordset(${JSON.stringify(tickets.rows)}::jsonb) as t(id uuid, slot int, seat_id text, ticket_type_id text, code text)
      ), step_rows as (
        insert into ${sagaSteps} (booking_id, step, status, detail)
        select m.id, r.step, 'done', r.detail from moved m, jsonb_to_recordset(${JSON.stringify(steps)}::jsonb) as r(step text, detail jsonb)
        on conflict (booking_id, step) do update set status = 'done', detail = case when ${sagaSteps.status} = 'done' then ${sagaSteps.detail} else excluded.detail end, attempts = ${sagaSteps.attempts} + 1, updated_at = now()
      ), hooks as (
        insert into ${webhookDeliveries} (webhook_id, dedupe_key, type, payload)
        select w.id, ${hook.dedupeKey}, 'booking.confirmed', ${JSON.stringify(hook.data)}::jsonb
        from ${webhooks} w join ${users} u on u.id = w.owner_id, ev
        where exists (select 1 from moved) and w.deleted_at is null and u.disabled_at is null and w.types ? 'booking.confirmed'
          and (w.event_id = ev.id or (w.event_id is null and (u.role = 'admin' or w.owner_id = ev.organizer_id)))
        on conflict do nothing
        returning id
      )
      select (select count(*)::int from b) as pending, (select count(*)::int from moved) as sold,
             coalesce((select json_agg(id) from hooks), '[]'::json) as deliveries`);
    const row = res.rows[0];
    if (row.sold === 0) {
      if (row.pending === 0) return { kind: "reload" };
      throw new EventCancelledMeanwhile();
    }
    run.tickets = tickets.codes;
    run.deliveries = row.deliveries;
    return { kind: "done", recorded: true, status: "confirmed" };
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

const confirmationData = (b: Booking) => ({ bookingId: b.id, eventId: b.eventId, userId: b.userId, seats: b.seats.map((x) => x.id), quantity: b.quantity, amountCents: b.totalAmountCents, currency: b.currency });

async function notify(deps: SagaDeps, run: SagaRun, kind: NotificationKind): Promise<StepResult> {
  const b = run.booking;
  if (kind === "booking.confirmed") {
    // Deliveries were written by the confirm; a later run (this one died after it) sends the pending ones again.
    if (run.deliveries) await deps.sendWebhooks?.(run.deliveries);
    else await deps.webhook?.({ type: kind, eventId: b.eventId, dedupeKey: `booking:${b.id}:${kind}`, data: confirmationData(b) });
  }
  if (kind === "booking.cancelled") await deps.webhook?.({ type: kind, eventId: b.eventId, dedupeKey: `booking:${b.id}:${kind}`, data: confirmationData(b) });
  await deps.notify({
    type: "notification.send",
    dedupeKey: `${b.id}:${kind}`,
    userId: b.userId,
    kind,
    payload: { bookingId: b.id, eventId: b.eventId, seats: b.seats.map((x) => x.id), quantity: b.quantity, lines: b.lines, amountCents: b.totalAmountCents, currency: b.currency, ...(b.failureReason ? { reason: b.failureReason } : {}), ...(kind === "booking.confirmed" ? { tickets: run.tickets ?? (await ticketCodesOf(deps.db, b.id)) } : {}) },
  });
  return { kind: "done" };
}

/** The booking just failed (this run moved it): measured, and its buyer told. */
async function failed(deps: SagaDeps, b: Booking, reason: string): Promise<void> {
  bookingPoint(deps, b, "failed");
  await deps.announce?.({ id: b.id, userId: b.userId, eventId: b.eventId, status: "failed", failureReason: reason });
}

/** A booking reached a final state: latency is from the request to here. */
function bookingPoint(deps: SagaDeps, b: Booking, action: "confirmed" | "failed"): void {
  writeMetric(deps, { kind: "booking", eventId: b.eventId, outcome: "ok", action, latencyMs: deps.now() - b.createdAt.getTime(), quantity: b.quantity, amountCents: b.totalAmountCents });
}

const log = (level: string, msg: string, extra: Record<string, unknown>) => console.log(JSON.stringify({ level, msg, ...extra }));
