import type { Env } from "../env";
import { closeDb, createDb, isConnectionError, type Database } from "../db/client";
import { and, eq } from "drizzle-orm";
import { auditLog, bookings, notifications, sagaSteps } from "../db/schema";
import { advanceBooking, failBooking, recordStep, sagaDeps } from "../services/booking-saga";
import { backoffSeconds } from "../services/booking-saga.logic";
import { failureReason } from "../services/booking-failures";
import { emailFor } from "../services/email";
import { runRefundJob } from "../services/event-cancellation";
import { deliverNotification, sendInvitationEmail } from "../services/notifications";
import { invitationEmailed, invitationEmailGivenUp, invitationEmailWanted } from "../services/invitations";
import { deliverUserStatus } from "../services/user-status";
import { pushOwedProducts } from "../services/products";
import { writeMetric } from "../lib/metrics";
import { writeInventoryOutbox } from "./inventory-events";
import { deliverWebhook } from "../services/webhooks";
import { QueueMessage } from "./messages";

export { backoffSeconds };

const log = (level: string, msg: string, extra: Record<string, unknown>) =>
  console[level === "error" ? "error" : "log"](JSON.stringify({ level, msg, ...extra }));

export const DEAD_LETTER_REASON = failureReason("PROCESSING_FAILED");

/** Messages of one batch handled at once: a saga message mostly waits (on the object, the card network, Postgres). */
export const BATCH_CONCURRENCY = 5;

/**
 * One Pool per batch (up to BATCH_CONCURRENCY connections); the messages run concurrently, and
 * every message is acked or retried on its own, because a thrown batch retries the messages that
 * already succeeded too.
 */
export async function handleBatch(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const saga = batch.queue === "booking-saga" || batch.queue === "booking-saga-dlq";
  const db = createDb(env, saga ? "saga" : "queue", { max: BATCH_CONCURRENCY });
  try {
    await eachBounded(batch.messages, BATCH_CONCURRENCY, async (msg) => {
      const parsed = QueueMessage.safeParse(msg.body);
      if (!parsed.success) {
        // A malformed message never becomes valid by retrying: record it and drop it.
        log("error", "invalid queue message dropped", { queue: batch.queue, id: msg.id, issues: parsed.error.issues });
        msg.ack();
        return;
      }
      try {
        const outcome = await handle(batch.queue, parsed.data, msg.attempts, env, db);
        if (outcome.kind === "retry") msg.retry({ delaySeconds: Math.min(outcome.delaySeconds, maxRetryDelay(env)) });
        else msg.ack();
      } catch (e) {
        log(isConnectionError(e) ? "warn" : "error", "queue message failed, retrying", { queue: batch.queue, id: msg.id, attempts: msg.attempts, error: String(e) });
        msg.retry({ delaySeconds: Math.min(backoffSeconds(msg.attempts), maxRetryDelay(env)) });
      }
    });
  } finally {
    ctx.waitUntil(closeDb(db));
  }
}

/** Runs `fn` over `items`, at most `limit` at a time; resolves when all have settled (`fn` handles its own errors). */
export async function eachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

type Outcome = { kind: "done" } | { kind: "retry"; delaySeconds: number };

async function handle(queue: string, m: QueueMessage, attempts: number, env: Env, db: Database): Promise<Outcome> {
  const dead = queue.endsWith("-dlq");
  if (m.type === "user.status-sync") {
    // Out of retries the row stays in the outbox and the cron keeps delivering it.
    if (!dead) await deliverUserStatus(env, db, m.userId);
    return { kind: "done" };
  }
  if (m.type === "products.sync") {
    // Out of retries the revision stays owed in `product_revisions` and the cron keeps pushing it.
    if (!dead) await pushOwedProducts(db, env, m.eventId);
    return { kind: "done" };
  }
  if (m.type === "notification.send") {
    if (!dead) {
      await deliverNotification(db, emailFor(env), m);
      return { kind: "done" };
    }
    // Out of retries (the email kept failing): keep the in-app notification and record the loss.
    await db.insert(notifications).values({ userId: m.userId, dedupeKey: m.dedupeKey, type: m.kind, payload: m.payload }).onConflictDoNothing();
    await db.insert(auditLog).values({ action: "notification.dead-lettered", subjectId: m.dedupeKey, detail: { kind: m.kind, userId: m.userId } });
    log("error", "notification dead-lettered", { dedupeKey: m.dedupeKey, kind: m.kind });
    return { kind: "done" };
  }
  if (m.type === "org.invitation") {
    // At least once (a repeated email is harmless); not for an invitation already emailed, accepted,
    // revoked or expired. Out of retries: logged, and the cron's sweep stops offering it.
    if (dead) {
      log("error", "invitation email dead-lettered", { invitationId: m.invitationId });
      await invitationEmailGivenUp(db, m.invitationId);
    } else if (await invitationEmailWanted(db, m.invitationId)) {
      await sendInvitationEmail(emailFor(env), m);
      await invitationEmailed(db, m.invitationId);
    }
    return { kind: "done" };
  }
  if (m.type === "inventory.outbox") {
    // Idempotent writes: the dead-letter queue simply tries once more, then the loss is logged.
    if (dead) log("error", "inventory outbox message dead-lettered, writing once more", { eventId: m.eventId, history: m.history.length, waitlist: m.waitlist.length });
    await writeInventoryOutbox(db, m);
    return { kind: "done" };
  }
  if (m.type === "webhook.deliver") return deliverWebhook(env, db, m.deliveryId, dead);
  // Out of retries, a refund job stays running: the cron re-drives it.
  if (m.type === "event.refund-batch") return dead ? { kind: "done" } : runRefundJob(env, db, m.eventId);
  const deps = sagaDeps(env, db);
  if (dead) {
    const [known] = await db.select().from(bookings).where(eq(bookings.id, m.bookingId));
    if (!known) return { kind: "done" };
    await recordStep(db, m.bookingId, "dead-letter", "failed", { message: m.type, attempts });
    // A paid booking is never given up: its seats are paid for, so the saga keeps moving it forward
    // (commit and confirm have no deadline; the cron re-drives it if this queue gives up too) and
    // it ends confirmed, or refunded if the seats really are gone. Only an unpaid one is failed here.
    if (await chargeSucceeded(db, m.bookingId)) {
      log("error", "booking saga message dead-lettered after the charge, still confirming", { bookingId: m.bookingId, message: m.type });
    } else {
      if (await failBooking(db, m.bookingId, DEAD_LETTER_REASON, deps.now())) {
        writeMetric(env, { kind: "booking", eventId: known.eventId, outcome: "ok", action: "failed", latencyMs: deps.now() - known.createdAt.getTime(), quantity: known.quantity, amountCents: known.totalAmountCents });
      }
      log("error", "booking saga message dead-lettered, compensating", { bookingId: m.bookingId, message: m.type });
    }
  }
  const outcome = await advanceBooking(deps, m.bookingId);
  return outcome.kind === "retry" ? { kind: "retry", delaySeconds: outcome.delaySeconds } : { kind: "done" };
}

async function chargeSucceeded(db: Database, bookingId: string): Promise<boolean> {
  const [row] = await db
    .select({ step: sagaSteps.step })
    .from(sagaSteps)
    .where(and(eq(sagaSteps.bookingId, bookingId), eq(sagaSteps.step, "charge"), eq(sagaSteps.status, "done")));
  return !!row;
}

/** `SAGA_RETRY_MAX_DELAY_SECONDS` caps every retry delay (tests lower it to exhaust retries in seconds). */
function maxRetryDelay(env: Env): number {
  const n = Number(env.SAGA_RETRY_MAX_DELAY_SECONDS);
  return Number.isInteger(n) && n >= 1 ? n : 300;
}
