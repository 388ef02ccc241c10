// Who may read or manage an event: the one place organizer routes look an event up and check the
// caller against it (products, check-in, exports, on-sale, analytics, the event routes themselves).
// An event belongs to an organization; the route's guard (src/auth/org-guard.ts) checked the
// caller's membership and role, and the checks here confirm that grant is for this event's
// organization (or make the check themselves where no guard ran).
import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { events } from "../db/schema";
import { AppError } from "../lib/errors";
import { isUuid } from "../lib/ids";
import { type Action, assertGranted, authorize } from "./permissions";
import type { Actor } from "./venues";

export type EventRow = typeof events.$inferSelect;

export async function getEventRow(db: Database, id: string): Promise<EventRow> {
  const [row] = isUuid(id) ? await db.select().from(events).where(eq(events.id, id)) : [];
  if (!row) throw new AppError("NOT_FOUND", "No such event");
  return row;
}

const granted = (viewer: Actor | undefined, e: { orgId: string }) => viewer !== undefined && (viewer.role === "admin" || viewer.org?.orgId === e.orgId);

/** A draft is visible to its organization's members and admins only; anyone else is told it does not exist. */
export function assertVisible(e: { status: string; orgId: string }, viewer: Actor | undefined): void {
  if (e.status === "draft" && !granted(viewer, e)) throw new AppError("NOT_FOUND", "No such event");
}

/** True when the viewer reads as a member of the event's organization (hidden ticket types, drafts). */
export function readsAsMember(e: { orgId: string }, viewer: Actor | undefined): boolean {
  return granted(viewer, e);
}

/**
 * A member granted the route's action in the event's organization, or an admin. Anyone else is
 * refused with 403 once the event is public, but a draft answers 404 as it does on GET, so its id
 * cannot be probed through the write routes.
 */
export function assertEventManager(actor: Actor, e: { status: string; orgId: string }): void {
  assertVisible(e, actor);
  assertGranted(actor, e.orgId);
}

/**
 * The event, looked up and checked; `open`: not cancelled or completed either. Where the route's
 * guard granted nothing for this event's organization (routes reached by scanners too), the
 * membership check is made here, for `action`.
 */
export async function managedEvent(db: Database, actor: Actor, eventId: string, opts: { open?: boolean; action?: Action } = {}): Promise<EventRow> {
  const e = await getEventRow(db, eventId);
  if (!granted(actor, e)) {
    const org = await authorize(db, actor, opts.action ?? actor.org?.action ?? "event.manage", { orgId: e.orgId, eventId: e.id, hidden: e.status === "draft", what: "event" });
    actor = { ...actor, org };
  }
  assertEventManager(actor, e);
  if (opts.open && (e.status === "cancelled" || e.status === "completed")) throw new AppError("INVALID_STATE", `The event is ${e.status}`);
  return e;
}
