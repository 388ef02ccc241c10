// Who may read or manage an event: the one place organizer routes look an event up and check the
// caller against it (products, check-in, exports, on-sale, analytics, the event routes themselves).
import { eq } from "drizzle-orm";
import { assertManager } from "../auth/guards";
import type { AuthUser } from "../auth/tokens";
import type { Database } from "../db/client";
import { events } from "../db/schema";
import { AppError } from "../lib/errors";
import { isUuid } from "../lib/ids";
import type { Actor } from "./venues";

export type EventRow = typeof events.$inferSelect;

export async function getEventRow(db: Database, id: string): Promise<EventRow> {
  const [row] = isUuid(id) ? await db.select().from(events).where(eq(events.id, id)) : [];
  if (!row) throw new AppError("NOT_FOUND", "No such event");
  return row;
}

/** A draft is visible to its owner and admins only; anyone else is told it does not exist. */
export function assertVisible(e: { status: string; organizerId: string }, viewer: Actor | undefined): void {
  if (e.status === "draft" && (!viewer || (viewer.role !== "admin" && viewer.id !== e.organizerId))) {
    throw new AppError("NOT_FOUND", "No such event");
  }
}

/**
 * Owner or admin only. Another organizer is refused with 403 once the event is public, but a draft
 * answers 404 as it does on GET, so its id cannot be probed through the write routes.
 */
export function assertEventManager(actor: Actor, e: { status: string; organizerId: string }): void {
  assertVisible(e, actor);
  assertManager(actor as AuthUser, e.organizerId);
}

/** The event, looked up and checked for a manager (owner or admin); `open`: not cancelled or completed either. */
export async function managedEvent(db: Database, actor: Actor, eventId: string, opts: { open?: boolean } = {}): Promise<EventRow> {
  const e = await getEventRow(db, eventId);
  assertEventManager(actor, e);
  if (opts.open && (e.status === "cancelled" || e.status === "completed")) throw new AppError("INVALID_STATE", `The event is ${e.status}`);
  return e;
}
