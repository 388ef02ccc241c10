import type { Env } from "../env";
import { createDb, isConnectionError, type Database } from "../db/client";
import { notifications } from "../db/schema";
import { QueueMessage, type NotificationMessage } from "./messages";

const log = (level: string, msg: string, extra: Record<string, unknown>) =>
  console[level === "error" ? "error" : "log"](JSON.stringify({ level, msg, ...extra }));

/** Backoff per attempt: 2, 4, 8 … seconds, capped at 5 minutes. */
export const backoffSeconds = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));

async function storeNotification(db: Database, m: NotificationMessage): Promise<void> {
  await db
    .insert(notifications)
    .values({ userId: m.userId, dedupeKey: m.dedupeKey, type: m.kind, payload: m.payload })
    .onConflictDoNothing({ target: notifications.dedupeKey });
}

/**
 * One Pool per batch; every message is acked or retried on its own, because a thrown batch
 * retries the messages that already succeeded too.
 */
export async function handleBatch(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const db = createDb(env);
  try {
    for (const msg of batch.messages) {
      const parsed = QueueMessage.safeParse(msg.body);
      if (!parsed.success) {
        // A malformed message never becomes valid by retrying: record it and drop it.
        log("error", "invalid queue message dropped", { queue: batch.queue, id: msg.id, issues: parsed.error.issues });
        msg.ack();
        continue;
      }
      try {
        if (parsed.data.type === "notification.send") await storeNotification(db, parsed.data);
        msg.ack();
      } catch (e) {
        log(isConnectionError(e) ? "warn" : "error", "queue message failed, retrying", { queue: batch.queue, id: msg.id, attempts: msg.attempts, error: String(e) });
        msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
      }
    }
  } finally {
    ctx.waitUntil(db.$client.end().catch(() => undefined));
  }
}
