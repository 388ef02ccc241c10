import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { holdHistory, waitlistEntries } from "../db/schema";
import type { InventoryOutbox } from "./messages";

/**
 * Writes one inventory outbox message to Postgres. Queues deliver at least once and out of order:
 * hold history is keyed by (hold, kind) and inserted once; a waitlist mirror is upserted by id and
 * never overwritten by an older state.
 */
export async function writeInventoryOutbox(db: Database, m: InventoryOutbox): Promise<void> {
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
