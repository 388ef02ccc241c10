import { and, eq, lt } from "drizzle-orm";
import type { Env } from "../env";
import { createDb } from "../db/client";
import { events, idempotencyKeys } from "../db/schema";
import { retryPendingInventories } from "./events";
import { refreshDailyStats } from "./analytics";
import { runReconciliation } from "./reconciliation";
import { drainUserStatusOutbox } from "./user-status";
import { sweepCancelledEvents } from "./event-cancellation";

/** Cron work: forget expired idempotency keys, move finished events to `completed`, finish interrupted publishes, rebuild the analytics rollup, reconcile inventories with Postgres, deliver role changes and disables the sessions objects missed, re-drive cancelled events' refunds. */
export async function runScheduled(env: Env, now: Date) {
  const db = createDb(env);
  try {
    const keys = await db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, now)).returning({ key: idempotencyKeys.key });
    const userStatus = await drainUserStatusOutbox(env, db);
    const done = await db
      .update(events)
      .set({ status: "completed", updatedAt: now })
      .where(and(eq(events.status, "published"), lt(events.endTime, now)))
      .returning({ id: events.id });
    const inventoriesReady = await retryPendingInventories(db, env, now);
    const rollup = await refreshDailyStats(db, now);
    const reconciliation = await runReconciliation(env, db, now);
    const cancelledEvents = await sweepCancelledEvents(env, db, now);
    const result = { keysDeleted: keys.length, userStatus, eventsCompleted: done.length, inventoriesReady, rollupRows: rollup.rows, rollupChanged: rollup.changed, rollupMs: rollup.durationMs, reconciliation, cancelledEvents };
    console.log(JSON.stringify({ level: "info", msg: "scheduled maintenance", ...result }));
    return result;
  } finally {
    await db.$client.end().catch(() => undefined);
  }
}
