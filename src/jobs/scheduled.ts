import { and, eq, lt } from "drizzle-orm";
import type { Env } from "../env";
import { createDb, type Database, closeDb } from "../db/client";
import { events, idempotencyKeys } from "../db/schema";
import { retryPendingInventories } from "../services/events";
import { refreshDailyStats } from "../services/analytics";
import { redriveStalledSagas, runReconciliation } from "./reconciliation";
import { drainUserStatusOutbox } from "../services/user-status";
import { sweepOwedProducts } from "../services/products";
import { sweepCancelledEvents } from "../services/event-cancellation";
import { rewrapWebhookSecrets, sweepWebhookOutbox } from "../services/webhooks";
import { rewrapEventKeys } from "../services/ticket-codes";
import { rewrapInvitationLinks, sweepInvitationEmails } from "../services/invitations";

/** Rows a run of `secretsRewrap` seals again at most, per kind. */
const REWRAP_BATCH = 200;

/** One cron stage: does its work and returns the figures it reports. */
export type Stage = (env: Env, db: Database, now: Date) => Promise<Record<string, unknown>>;

export type StageResult = { ok: true; ms: number } & Record<string, unknown> | { ok: false; ms: number; error: string };

/**
 * The cron's stages, in order. Each is isolated: a stage that throws (a rollup timing out, a
 * missing table) is reported and the others still run, so a booking whose saga message was lost
 * never waits on an unrelated failure.
 */
export const STAGES: Record<string, Stage> = {
  idempotencyKeys: async (_env, db, now) => ({ deleted: (await db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, now)).returning({ key: idempotencyKeys.key })).length }),
  // Role changes and disables the sessions objects missed (see services/user-status.ts).
  userStatus: async (env, db) => ({ ...(await drainUserStatusOutbox(env, db)) }),
  // Product sets whose push to the event's object failed (see services/products.ts).
  products: async (env, db) => ({ ...(await sweepOwedProducts(env, db)) }),
  eventsCompleted: async (_env, db, now) => {
    const done = await db
      .update(events)
      .set({ status: "completed", updatedAt: now })
      .where(and(eq(events.status, "published"), lt(events.endTime, now)))
      .returning({ id: events.id });
    return { completed: done.length };
  },
  inventories: async (env, db, now) => ({ ready: await retryPendingInventories(db, env, now) }),
  rollup: async (_env, db, now) => {
    const r = await refreshDailyStats(db, now);
    return { rows: r.rows, changed: r.changed, durationMs: r.durationMs };
  },
  reconciliation: async (env, db, now) => ({ ...(await runReconciliation(env, db, now)) }),
  sagaRedrive: async (env, db, now) => ({ redriven: await redriveStalledSagas(env, db, now) }),
  // Webhook deliveries written with their change whose queue send failed or never ran (the outbox).
  webhookOutbox: async (env, db, now) => ({ ...(await sweepWebhookOutbox(env, db, now)) }),
  // Invitation emails written with their invitation whose queue send failed or never ran (the outbox).
  invitationEmails: async (env, db, now) => ({ ...(await sweepInvitationEmails(env, db, now)) }),
  // Secrets at rest still clear or under an older key, sealed with the newest (key rotation).
  secretsRewrap: async (env, db) => ({
    webhookSecrets: await rewrapWebhookSecrets(env, db, REWRAP_BATCH),
    eventKeys: await rewrapEventKeys(db, env, REWRAP_BATCH),
    invitationLinks: await rewrapInvitationLinks(env, db, REWRAP_BATCH),
  }),
  // Refund jobs of cancelled events that stalled, and confirmed bookings left on a cancelled event.
  cancelledEvents: async (env, db, now) => ({ ...(await sweepCancelledEvents(env, db, now)) }),
};

/** Runs every stage on its own; the result has one entry per stage: `ok` and its figures, or the error. */
export async function runScheduled(env: Env, now: Date, stages: Record<string, Stage> = STAGES): Promise<Record<string, StageResult>> {
  const db = createDb(env, "job");
  const result: Record<string, StageResult> = {};
  try {
    for (const [name, stage] of Object.entries(stages)) {
      const started = Date.now();
      try {
        result[name] = { ok: true, ...(await stage(env, db, now)), ms: Date.now() - started };
      } catch (e) {
        result[name] = { ok: false, ms: Date.now() - started, error: e instanceof Error ? e.message : String(e) };
        console.error(JSON.stringify({ level: "error", msg: "scheduled stage failed", stage: name, error: result[name].error }));
      }
    }
    const failed = Object.keys(result).filter((k) => !result[k].ok);
    console.log(JSON.stringify({ level: failed.length ? "error" : "info", msg: "scheduled maintenance", failed, stages: result }));
    return result;
  } finally {
    await closeDb(db);
  }
}
