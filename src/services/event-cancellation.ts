import { and, eq, gt, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { bookings, eventRefundJobs, events, sagaSteps } from "../db/schema";
import type { Env } from "../env";
import type { EventRefundBatch } from "../queues/messages";
import type { EventInventoryRpc } from "../../durable-objects/inventory/contract";
import { inventoryFor } from "../../durable-objects/inventory/client";
import { failureReason } from "./booking-failures";
import { paymentsFor, type RefundOutcome } from "./payments";
import { stripeFor } from "./payments/index";
import { settleStripeBooking } from "./booking-saga";

/**
 * A cancelled event's refunds run as a job, not inside the cancel request: one row per event in
 * `event_refund_jobs`, worked through in keyset order of booking id by `event.refund-batch`
 * messages on the saga queue. Each batch cancels its confirmed bookings in Postgres, refunds them
 * through the payment port in one call, records the saga steps and moves the cursor, all
 * idempotently, so a batch that crashed half-way is simply done again. The cron re-drives a job
 * that stalled and reopens one when a booking still ended confirmed on the cancelled event.
 */

export const REFUND_BATCH_SIZE = 2000;
/** How long one message keeps working before it hands the rest of the job to the next message. */
const RUN_BUDGET_MS = 8_000;
/** A running job untouched for this long lost its message: the cron sends another. */
const STALLED_AFTER_MS = 60_000;
const START = "00000000-0000-0000-0000-000000000000";

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
export type RefundJob = typeof eventRefundJobs.$inferSelect;

/**
 * Bookings the job still owes a refund: confirmed ones, and cancelled ones not refunded yet (by
 * this job after a crash, or by their owner just before the event was cancelled: the provider
 * refunds a charge once, whoever asks twice).
 */
const owed = (eventId: string) => sql`${bookings.eventId} = ${eventId} and (${bookings.status} = 'confirmed' or (${bookings.status} = 'cancelled'
  and not exists (select 1 from ${sagaSteps} where ${sagaSteps.bookingId} = ${bookings.id} and ${sagaSteps.step} = 'refund' and ${sagaSteps.status} = 'done')))`;

/**
 * Inside the cancel transaction, which holds the event's row lock: no confirmation can land
 * between the count and the job (the saga's confirm updates the same row and refuses a cancelled event).
 */
export async function openRefundJob(tx: Tx | Database, eventId: string, now: Date): Promise<void> {
  const [{ n }] = (await tx.execute(sql`select count(*)::int as n from ${bookings} where ${owed(eventId)}`)).rows as { n: number }[];
  await tx
    .insert(eventRefundJobs)
    .values({ eventId, total: n, status: n > 0 ? "running" : "done", createdAt: now, updatedAt: now, finishedAt: n > 0 ? null : now })
    .onConflictDoNothing();
}

export async function sendRefundBatch(env: Env, eventId: string): Promise<void> {
  const m: EventRefundBatch = { type: "event.refund-batch", eventId };
  await env.BOOKING_SAGA.send(m);
}

export async function refundJobOf(db: Database, eventId: string): Promise<RefundJob | null> {
  const [job] = await db.select().from(eventRefundJobs).where(eq(eventRefundJobs.eventId, eventId));
  return job ?? null;
}

/** What `GET /v1/events/:id` shows the organizer. */
export function refundProgress(job: RefundJob | null): { done: number; total: number; status: "running" | "done" } | null {
  return job && { done: job.done, total: job.total, status: job.status };
}

/**
 * The `event.refund-batch` handler: batches until the job is done or the time budget is spent,
 * then hands over to a new message. A throw (payment provider down, Postgres lost) retries the
 * message, which resumes from the stored cursor.
 */
export async function runRefundJob(env: Env, db: Database, eventId: string, budgetMs = RUN_BUDGET_MS): Promise<{ kind: "done" } | { kind: "retry"; delaySeconds: number }> {
  const started = Date.now();
  const pay = paymentsFor(env);
  for (;;) {
    const job = await refundJobOf(db, eventId);
    if (!job || job.status === "done") return { kind: "done" };
    const step = await refundBatch(db, job, inventoryFor(env, eventId), (keys) => pay.refundBatch(keys), new Date(), (ids) => refundStripeBookings(env, db, ids));
    // Another run moved the job on (a duplicate message): it carries on, this one stops.
    if (step === "finished" || step === "lost") return { kind: "done" };
    if (step === "unsettled") return { kind: "retry", delaySeconds: 2 };
    if (Date.now() - started > budgetMs) {
      await sendRefundBatch(env, eventId);
      return { kind: "done" };
    }
  }
}

type BatchOutcome = "advanced" | "finished" | "lost" | "unsettled";

/** One batch of at most REFUND_BATCH_SIZE bookings after the job's cursor. */
export async function refundBatch(
  db: Database,
  job: RefundJob,
  inventory: Pick<EventInventoryRpc, "returnSeatsMany">,
  refund: (chargeKeys: string[]) => Promise<RefundOutcome[]>,
  now: Date,
  /** Stripe bookings of the batch, by id: refunded one by one through the port (each with its own refund key). */
  refundStripe: (bookingIds: string[]) => Promise<BatchRefund[]> = async (ids) => ids.map(() => ({ status: "processing" as const })),
): Promise<BatchOutcome> {
  const eventId = job.eventId;
  const from = job.cursor ?? START;
  const rows = await db
    .select({ id: bookings.id, holdId: bookings.holdId, userId: bookings.userId, amountCents: bookings.totalAmountCents, currency: bookings.currency, seats: bookings.seats, quantity: bookings.quantity, provider: bookings.paymentProvider })
    .from(bookings)
    .where(and(gt(bookings.id, from), owed(eventId)))
    .orderBy(bookings.id)
    .limit(REFUND_BATCH_SIZE);
  if (!rows.length) {
    const closed = await db
      .update(eventRefundJobs)
      .set({ status: "done", finishedAt: now, updatedAt: now })
      .where(and(eq(eventRefundJobs.eventId, eventId), eq(eventRefundJobs.status, "running"), job.cursor ? eq(eventRefundJobs.cursor, job.cursor) : sql`${eventRefundJobs.cursor} is null`))
      .returning({ eventId: eventRefundJobs.eventId });
    return closed.length ? "finished" : "lost";
  }
  const last = rows[rows.length - 1].id;

  // Postgres first, as for a single cancellation: the bookings stop being sold before any money moves.
  await db.execute(sql`
    with moved as (
      update ${bookings} set status = 'cancelled', cancelled_at = ${now}, updated_at = ${now}
      where ${bookings.eventId} = ${eventId} and ${bookings.id} > ${from} and ${bookings.id} <= ${last} and ${bookings.status} = 'confirmed'
      returning id, quantity),
    cancel_steps as (
      insert into saga_steps (booking_id, step, status, detail)
      select id, 'cancel', 'done', '{"by":"event-cancellation"}'::jsonb from moved
      on conflict (booking_id, step) do nothing),
    freed as (
      update booking_seats set active = false where booking_id in (select id from moved) and active returning seat_id),
    tickets_off as (
      update tickets set status = 'cancelled', updated_at = ${now} where booking_id in (select id from moved) and status = 'valid'),
    seats_back as (
      update seats set status = 'available' where event_id = ${eventId} and seat_id in (select seat_id from freed))
    update ${events} set seats_sold = seats_sold - (select coalesce(sum(quantity), 0) from moved)
    where ${events.id} = ${eventId} and exists (select 1 from moved)`);

  // Then the seats go back to the event's object (its sales are closed, so nobody can take them).
  const back = await inventory.returnSeatsMany(rows.map((r) => ({ holdId: r.holdId, bookingId: r.id })));
  if (!back.ok && back.code !== "NOT_INITIALIZED") throw new Error(`returning seats of ${eventId}: ${back.code} ${back.message}`);

  // The sandbox's bookings in one call; Stripe's one by one (they were recorded by settleStripeBooking).
  const sandboxRows = rows.filter((r) => r.provider !== "stripe");
  const stripeRows = rows.filter((r) => r.provider === "stripe");
  const sandboxOutcomes: BatchRefund[] = sandboxRows.length ? await refund(sandboxRows.map((r) => chargeKey(r.id))) : [];
  const stripeOutcomes = stripeRows.length ? await refundStripe(stripeRows.map((r) => r.id)) : [];
  const outcomeOf = new Map<string, BatchRefund>([...sandboxRows.map((r, i) => [r.id, sandboxOutcomes[i]] as const), ...stripeRows.map((r, i) => [r.id, stripeOutcomes[i]] as const)]);
  const settled = rows.map((r) => ({ ...r, outcome: outcomeOf.get(r.id)! })).filter((r) => r.outcome.status !== "processing");

  // One statement records the batch, its rows passed as one JSON parameter (cheap to bind for a thousand bookings).
  const settledJson = JSON.stringify(
    settled.map((r) => ({
      id: r.id, user_id: r.userId, outcome: r.outcome.status, provider_ref: "providerRef" in r.outcome ? r.outcome.providerRef : null, provider: r.provider,
      amount_cents: r.amountCents, currency: r.currency, quantity: r.quantity, seats: r.seats.map((x) => x.id),
    })),
  );
  const allSettled = settled.length === rows.length;
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(eventRefundJobs).where(eq(eventRefundJobs.eventId, eventId)).for("update");
    if (!current || current.status !== "running" || current.cursor !== job.cursor) return "lost" as const;
    await tx.execute(sql`
      with r as (
        select * from jsonb_to_recordset(${settledJson}::jsonb)
          as x(id uuid, user_id uuid, outcome text, provider_ref text, provider text, amount_cents int, currency text, quantity int, seats jsonb)),
      paid as (
        insert into payments (booking_id, kind, status, amount_cents, currency, provider, provider_ref, idempotency_key)
        select id, 'refund', 'succeeded', amount_cents, currency, provider, provider_ref, 'booking:' || id || ':refund' from r where outcome = 'refunded' and provider = 'sandbox'
        on conflict (idempotency_key) do nothing),
      later_steps as (
        insert into saga_steps (booking_id, step, status, detail)
        select r.id, s.step, 'done', '{"by":"event-cancellation"}'::jsonb from r cross join (values ('return-seats'), ('notify-cancelled')) s(step)
        union all select id, 'notify-refunded', 'done', '{"by":"event-cancellation"}'::jsonb from r where outcome = 'refunded'
        on conflict (booking_id, step) do nothing),
      told as (
        insert into notifications (user_id, dedupe_key, type, payload)
        select r.user_id, r.id || ':' || k.kind, k.kind, jsonb_build_object('bookingId', r.id, 'eventId', ${eventId}::uuid, 'seats', r.seats,
          'quantity', r.quantity, 'amountCents', r.amount_cents, 'currency', r.currency, 'reason', ${failureReason("EVENT_CANCELLED")}::text)
        from r cross join (values ('booking.cancelled'), ('booking.refunded')) k(kind)
        where k.kind = 'booking.cancelled' or r.outcome = 'refunded'
        on conflict (dedupe_key) do nothing),
      refunded as (
        insert into saga_steps (booking_id, step, status, detail)
        select id, 'refund', 'done', jsonb_strip_nulls(jsonb_build_object('outcome', outcome, 'providerRef', provider_ref, 'by', 'event-cancellation')) from r
        on conflict (booking_id, step) do update set status = 'done', detail = excluded.detail, updated_at = now() where saga_steps.status <> 'done'
        returning booking_id)
      update ${eventRefundJobs} set done = done + (select count(*) from refunded), updated_at = ${now}
        ${allSettled ? sql`, cursor = ${last}::uuid` : sql``}
      where ${eventRefundJobs.eventId} = ${eventId}`);
    return allSettled ? ("advanced" as const) : ("unsettled" as const);
  });
}

const chargeKey = (bookingId: string) => `booking:${bookingId}:charge`;

/** A booking's refund in a batch: the sandbox's outcomes, and Stripe's refund that failed (recorded, never told as refunded). */
export type BatchRefund = RefundOutcome | { status: "refund_failed"; providerRef: string };

/**
 * Stripe bookings of a cancelled event, one by one through the port as the saga's refund step does
 * (settleStripeBooking: an intent never captured is cancelled, a captured one refunded under
 * `booking:<id>:refund` and followed). A pending refund leaves the batch unsettled (retried).
 */
async function refundStripeBookings(env: Env, db: Database, ids: string[]): Promise<BatchRefund[]> {
  const port = stripeFor(env);
  const rows = await db.select().from(bookings).where(inArray(bookings.id, ids));
  const byId = new Map(rows.map((b) => [b.id, b]));
  const out: BatchRefund[] = [];
  for (const id of ids) {
    const s = await settleStripeBooking(db, port, byId.get(id)!);
    if (s.outcome === "refunded") out.push({ status: "refunded", providerRef: s.refundId });
    else if (s.outcome === "refund_failed") out.push({ status: "refund_failed", providerRef: s.refundId });
    else if (s.outcome === "pending") out.push({ status: "processing" });
    else out.push({ status: "nothing_to_refund" });
  }
  return out;
}

/**
 * Cron: a running job whose messages were lost gets a new one; a cancelled event on which a
 * booking still ended confirmed (whatever let it through) gets its job reopened for it.
 */
export async function sweepCancelledEvents(env: Env, db: Database, now: Date): Promise<{ redriven: number; reopened: number }> {
  const stalled = await db
    .update(eventRefundJobs)
    .set({ updatedAt: now })
    .where(and(eq(eventRefundJobs.status, "running"), lt(eventRefundJobs.updatedAt, new Date(now.getTime() - STALLED_AFTER_MS))))
    .returning({ eventId: eventRefundJobs.eventId });
  const escaped = (
    await db.execute(sql`select e.id from ${events} e where e.status = 'cancelled'
      and exists (select 1 from ${bookings} b where b.event_id = e.id and b.status = 'confirmed') limit 50`)
  ).rows as { id: string }[];
  for (const { id } of escaped) {
    await db.transaction(async (tx) => {
      await openRefundJob(tx, id, now);
      const [{ n }] = (await tx.execute(sql`select count(*)::int as n from ${bookings} where ${owed(id)}`)).rows as { n: number }[];
      await tx
        .update(eventRefundJobs)
        .set({ status: "running", cursor: null, total: sql`${eventRefundJobs.done} + ${n}`, finishedAt: null, updatedAt: now })
        .where(eq(eventRefundJobs.eventId, id));
    });
    console.warn(JSON.stringify({ level: "warn", msg: "confirmed bookings on a cancelled event, refund job reopened", eventId: id }));
  }
  const ids = new Set([...stalled.map((s) => s.eventId), ...escaped.map((e) => e.id)]);
  for (const id of ids) await sendRefundBatch(env, id);
  return { redriven: stalled.length, reopened: escaped.length };
}
