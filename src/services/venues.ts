import { and, eq, sql } from "drizzle-orm";
import type { AuthUser } from "../auth/tokens";
import type { Database } from "../db/client";
import { events, venues } from "../db/schema";
import { audit } from "./audit";
import { assertGranted } from "./permissions";
import { keyset } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { isTimeZone } from "./event-rules";
import { type Layout, LayoutSchema, layoutProblems, layoutSeatCount } from "./layout";

export type Actor = Pick<AuthUser, "id" | "role" | "org">;
export type VenueRow = typeof venues.$inferSelect;

/** Above this a general-admission capacity is a typo, not a venue. */
export const MAX_GENERAL_CAPACITY = 1_000_000;

export interface VenueInput {
  name: string;
  city: string;
  address: string;
  timezone: string;
  layout?: Layout | null;
  capacity?: number;
}

/** Validates the merged venue and derives its capacity: the given one, else the layout's seat count. */
function resolveVenue(v: VenueInput): { layout: Layout | null; capacity: number } {
  const problems: { path: string; message: string }[] = [];
  if (!isTimeZone(v.timezone)) problems.push({ path: "timezone", message: `unknown IANA time zone "${v.timezone}"` });
  const layout = v.layout ?? null;
  if (layout) problems.push(...layoutProblems(LayoutSchema.parse(layout)));
  if (!layout && v.capacity === undefined) problems.push({ path: "capacity", message: "give a seat layout, or a capacity for general admission" });
  if (v.capacity !== undefined && (!Number.isInteger(v.capacity) || v.capacity < 1 || v.capacity > MAX_GENERAL_CAPACITY)) {
    problems.push({ path: "capacity", message: `capacity must be an integer from 1 to ${MAX_GENERAL_CAPACITY}` });
  }
  if (problems.length) throw new AppError("VALIDATION_FAILED", problems.map((p) => p.message).join("; "), { issues: problems });
  return { layout, capacity: v.capacity ?? layoutSeatCount(layout!) };
}

/** Into the organization the route's guard granted (the caller's personal one when the call names none). */
export async function createVenue(db: Database, actor: Actor, input: VenueInput, now: Date): Promise<VenueRow> {
  const { layout, capacity } = resolveVenue(input);
  if (!actor.org) throw new AppError("FORBIDDEN", "No organization to create the venue in");
  const [row] = await db
    .insert(venues)
    .values({ ownerId: actor.id, orgId: actor.org.orgId, name: input.name, city: input.city, address: input.address, timezone: input.timezone, layout, capacity, createdAt: now, updatedAt: now })
    .returning();
  await audit(db, { action: "venue.created", actorId: actor.id, subjectId: row.id, detail: { actorRole: actor.role, orgId: row.orgId, name: row.name, capacity } });
  return row;
}

export async function getVenue(db: Database, id: string): Promise<VenueRow> {
  const [row] = await db.select().from(venues).where(eq(venues.id, id));
  if (!row) throw new AppError("NOT_FOUND", "No such venue");
  return row;
}

/**
 * Published events keep the layout they copied, so a venue edit never touches them. A new layout
 * without a capacity resets the capacity to the new seat count.
 */
export async function updateVenue(db: Database, actor: Actor, id: string, patch: Partial<VenueInput>, now: Date): Promise<VenueRow> {
  const current = await getVenue(db, id);
  assertGranted(actor, current.orgId);
  const merged: VenueInput = {
    name: patch.name ?? current.name,
    city: patch.city ?? current.city,
    address: patch.address ?? current.address,
    timezone: patch.timezone ?? current.timezone,
    layout: patch.layout !== undefined ? patch.layout : (current.layout as Layout | null),
    capacity: patch.capacity ?? (patch.layout !== undefined && patch.layout !== null ? undefined : current.capacity),
  };
  const { layout, capacity } = resolveVenue(merged);
  const [row] = await db
    .update(venues)
    .set({ name: merged.name, city: merged.city, address: merged.address, timezone: merged.timezone, layout, capacity, updatedAt: now })
    .where(eq(venues.id, id))
    .returning();
  await audit(db, { action: "venue.updated", actorId: actor.id, subjectId: id, detail: { actorRole: actor.role, fields: Object.keys(patch).sort() } });
  return row;
}

export async function deleteVenue(db: Database, actor: Actor, id: string): Promise<void> {
  const current = await getVenue(db, id);
  assertGranted(actor, current.orgId);
  const [used] = await db.select({ id: events.id }).from(events).where(eq(events.venueId, id)).limit(1);
  if (used) throw new AppError("CONFLICT", "The venue has events; cancel or move them first");
  await db.delete(venues).where(eq(venues.id, id));
  await audit(db, { action: "venue.deleted", actorId: actor.id, subjectId: id, detail: { actorRole: actor.role, name: current.name } });
}

/** Oldest first, keyed by (created_at, id): a page never repeats or skips a venue while others are added. */
const venuePages = keyset("venues", venues.createdAt, venues.id, "asc");

export async function listVenues(db: Database, q: { city?: string; orgId?: string; limit: number; cursor?: string }): Promise<{ data: VenueRow[]; nextCursor: string | null }> {
  const rows = await db
    .select({ venue: venues, at: venuePages.at })
    .from(venues)
    .where(and(q.city ? sql`lower(${venues.city}) = lower(${q.city})` : undefined, q.orgId ? eq(venues.orgId, q.orgId) : undefined, venuePages.after(q.cursor)))
    .orderBy(...venuePages.order)
    .limit(q.limit + 1);
  return { data: rows.slice(0, q.limit).map((r) => r.venue), nextCursor: venuePages.next(rows, q.limit, (r) => ({ at: r.at, id: r.venue.id })) };
}

export function venueJson(v: VenueRow) {
  return {
    id: v.id,
    orgId: v.orgId,
    ownerId: v.ownerId,
    name: v.name,
    city: v.city,
    address: v.address,
    timezone: v.timezone,
    layout: (v.layout as Layout | null) ?? null,
    capacity: v.capacity,
    seatCount: v.layout ? layoutSeatCount(v.layout as Layout) : null,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  };
}


