import { eq } from "drizzle-orm";
import { setUserStatus } from "../../durable-objects/user-sessions/client";
import type { Database } from "../db/client";
import { userStatusOutbox } from "../db/schema";
import type { Env } from "../env";
import type { UserStatusSync } from "../queues/messages";
import type { Role } from "../auth/tokens";

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

const log = (level: "warn" | "error", msg: string, extra: Record<string, unknown>) => console[level](JSON.stringify({ level, msg, ...extra }));

/** In the transaction that changes the user: the change the sessions object must still learn. */
export async function queueUserStatus(tx: Tx, userId: string, change: { role: Role; disabled: boolean }, changedAt: Date): Promise<void> {
  await tx
    .insert(userStatusOutbox)
    .values({ userId, ...change, changedAt })
    .onConflictDoUpdate({ target: userStatusOutbox.userId, set: { ...change, changedAt } });
}

/**
 * Hands the user's pending change to their sessions object, then forgets it; throws while the
 * object does not answer, leaving the row for the next attempt. The row stays locked meanwhile, so
 * a newer change (its transaction upserts the row) waits, and two deliveries never cross: the
 * object always ends with the newest change. Setting a status twice is harmless.
 */
export async function deliverUserStatus(env: Env, db: Database, userId: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [pending] = await tx.select().from(userStatusOutbox).where(eq(userStatusOutbox.userId, userId)).for("update");
    if (!pending) return false;
    await setUserStatus(env, userId, { role: pending.role, disabled: pending.disabled });
    await tx.delete(userStatusOutbox).where(eq(userStatusOutbox.userId, userId));
    return true;
  });
}

/**
 * After the commit: deliver now; if the object fails, a queue message retries until it answers,
 * and the cron drains whatever is left (even if the message could not be sent).
 */
export async function deliverUserStatusOrRetryLater(env: Env, db: Database, userId: string): Promise<void> {
  try {
    await deliverUserStatus(env, db, userId);
  } catch (e) {
    log("warn", "user status not delivered to the sessions object; retrying through the queue", { userId, error: String(e) });
    const message: UserStatusSync = { type: "user.status-sync", userId };
    await env.NOTIFICATIONS.send(message, { delaySeconds: 1 }).catch((err) => log("error", "user status retry not queued; the cron delivers it", { userId, error: String(err) }));
  }
}

/** Cron backstop: every change still waiting for its sessions object. */
export async function drainUserStatusOutbox(env: Env, db: Database): Promise<{ delivered: number; failed: number }> {
  const pending = await db.select({ userId: userStatusOutbox.userId }).from(userStatusOutbox).limit(500);
  let delivered = 0;
  let failed = 0;
  for (const { userId } of pending) {
    try {
      if (await deliverUserStatus(env, db, userId)) delivered++;
    } catch (e) {
      failed++;
      log("error", "user status still not delivered to the sessions object", { userId, error: String(e) });
    }
  }
  return { delivered, failed };
}
