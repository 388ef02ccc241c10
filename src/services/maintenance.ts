import { and, eq, lt } from "drizzle-orm";
import type { Env } from "../env";
import { createDb } from "../db/client";
import { events, idempotencyKeys } from "../db/schema";
import { retryPendingInventories } from "./events";
import { runReconciliation } from "./reconciliation";

/** Cron work: forget expired idempotency keys, move finished events to `completed`, finish interrupted publishes, reconcile inventories with Postgres. */
export async function runScheduled(env: Env, now: Date): Promise<{ keysDeleted: number; eventsCompleted: number; inventoriesReady: number; reconciliation: Awaited<ReturnType<typeof runReconciliation>> }> {
  const db = createDb(env);
  try {
    const keys = await db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, now)).returning({ key: idempotencyKeys.key });
    const done = await db
      .update(events)
      .set({ status: "completed", updatedAt: now })
      .where(and(eq(events.status, "published"), lt(events.endTime, now)))
      .returning({ id: events.id });
    const inventoriesReady = await retryPendingInventories(db, env, now);
    const reconciliation = await runReconciliation(env, db, now);
    const result = { keysDeleted: keys.length, eventsCompleted: done.length, inventoriesReady, reconciliation };
    console.log(JSON.stringify({ level: "info", msg: "scheduled maintenance", ...result }));
    return result;
  } finally {
    await db.$client.end().catch(() => undefined);
  }
}
