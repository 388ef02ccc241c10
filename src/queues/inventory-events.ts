import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { auditLog, holdHistory, waitlistEntries } from "../db/schema";
import type { InventoryOutbox } from "./messages";

/** The driver's error under drizzle's wrapper: its SQLSTATE and constraint name. */
function pgError(e: unknown): { code?: string; constraint?: string } | undefined {
  for (let cur: any = e; cur; cur = cur.cause === cur ? undefined : cur.cause) if (typeof cur.code === "string") return cur;
  return undefined;
}

/**
 * Writes one inventory outbox message to Postgres, or records it as an orphan: an object whose
 * event Postgres does not know (a foreign-key violation: the event row is gone, or the object was
 * made outside the catalogue) will never be known by retrying, so the message is recorded once
 * (`inventory.outbox-orphaned` in the audit log, and a log line) and acked instead of running
 * through ten retries into the dead-letter queue with a raw driver error.
 */
export async function writeInventoryOutbox(db: Database, m: InventoryOutbox): Promise<"written" | "orphan"> {
  try {
    await writeRows(db, m);
    return "written";
  } catch (e) {
    const pg = pgError(e);
    if (pg?.code !== "23503") throw e;
    const detail = { constraint: pg.constraint ?? null, history: m.history.length, waitlist: m.waitlist.length, holdIds: [...new Set(m.history.map((h) => h.holdId))].slice(0, 50) };
    await db.insert(auditLog).values({ action: "inventory.outbox-orphaned", subjectId: m.eventId, detail });
    console.error(JSON.stringify({ level: "error", msg: "inventory outbox message orphaned: Postgres does not know its event (or a row it points at); recorded once, not retried", eventId: m.eventId, ...detail }));
    return "orphan";
  }
}

/**
 * Queues deliver at least once and out of order: hold history is keyed by (hold, kind) and
 * inserted once; a waitlist mirror is upserted by id and never overwritten by an older state.
 */
async function writeRows(db: Database, m: InventoryOutbox): Promise<void> {
  if (m.history.length > 0) {
    await db
      .insert(holdHistory)
      .values(m.history.map((h) => ({ holdId: h.holdId, kind: h.kind, eventId: m.eventId, userId: h.userId, quantity: h.quantity, at: new Date(h.at) })))
      .onConflictDoNothing();
  }
  if (m.waitlist.length > 0) {
    await db
      .insert(waitlistEntries)
      .values(
        m.waitlist.map((w) => ({
          id: w.id,
          eventId: w.eventId,
          userId: w.userId,
          quantity: w.quantity,
          status: w.status,
          holdId: w.holdId,
          joinedAt: new Date(w.joinedAt),
          offeredAt: w.offeredAt === null ? null : new Date(w.offeredAt),
          updatedAt: new Date(w.updatedAt),
        })),
      )
      .onConflictDoUpdate({
        target: waitlistEntries.id,
        set: {
          status: sql`excluded.status`,
          holdId: sql`excluded.hold_id`,
          offeredAt: sql`excluded.offered_at`,
          updatedAt: sql`excluded.updated_at`,
        },
        setWhere: sql`${waitlistEntries.updatedAt} <= excluded.updated_at`,
      });
  }
}
