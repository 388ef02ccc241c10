import { type SQL, and, eq, isNull, sql } from "drizzle-orm";
import type { PgDatabase } from "drizzle-orm/pg-core";
import type { AuthUser } from "../auth/tokens";
import type { Database } from "../db/client";
import { events, seats, venues, waitlistEntries } from "../db/schema";
import { audit } from "./audit";
import type { Env } from "../env";
import { keyset } from "../lib/cursor";
import { AppError } from "../lib/errors";
import { isUuid } from "../lib/ids";
import type { ClosedSales } from "../../durable-objects/inventory/contract";
import type { NotificationMessage } from "../queues/messages";
import { failPendingEventBookings } from "./bookings";
import { openRefundJob, refundJobOf, refundProgress, sendRefundBatch } from "./event-cancellation";
import {
  EVENT_DEFAULTS,
  type EventStatus,
  type Seating,
  buildInventoryInit,
  cancelTransition,
  localIso,
  publishTransition,
  refusedFields,
  timeProblems,
} from "./event-rules";
import { availabilityFromPostgres, checkInventoryInit, closeInventorySales, initializeInventory, readAvailability } from "../../durable-objects/inventory/client";
import { type Layout, expandSeats, layoutSeatCount, priceRange } from "./layout";
import { pushProducts } from "./products";
import { type Actor, type VenueRow, getVenue } from "./venues";
import { insertDeliveries, sendDeliveries } from "./webhooks";

import { type EventRow, assertEventManager, assertVisible, getEventRow } from "./event-access";
import { assertGranted } from "./permissions";

export interface EventInput {
  venueId: string;
  name: string;
  description: string;
  category: string;
  startsAt: Date;
  endsAt: Date;
  seating: Seating;
  capacity?: number;
  priceCents: number;
  currency: string;
  salesStartAt?: Date | null;
  salesEndAt?: Date | null;
  maxSeatsPerUser?: number;
  holdTtlSeconds?: number;
  paymentDeadlineSeconds?: number;
  waitlistOfferSeconds?: number;
}

const invalid = (issues: { path: string; message: string }[]) => new AppError("VALIDATION_FAILED", issues.map((i) => i.message).join("; "), { issues });

/** Reserved seating sells the venue's seats; general admission sells the event's capacity, at most the venue's. */
function resolveCapacity(seating: Seating, capacity: number | undefined, venue: VenueRow): number {
  if (seating === "reserved") {
    if (!venue.layout) throw invalid([{ path: "seating", message: "the venue has no seat layout; use general admission or add a layout" }]);
    const seatCount = layoutSeatCount(venue.layout as Layout);
    if (capacity !== undefined && capacity !== seatCount) {
      throw invalid([{ path: "capacity", message: `a reserved event sells the venue's ${seatCount} seats; leave capacity out` }]);
    }
    return seatCount;
  }
  if (capacity === undefined) throw invalid([{ path: "capacity", message: "general admission needs a capacity" }]);
  if (capacity > venue.capacity) throw invalid([{ path: "capacity", message: `capacity ${capacity} exceeds the venue's ${venue.capacity}` }]);
  return capacity;
}

async function managedVenue(db: Database, actor: Actor, venueId: string): Promise<VenueRow> {
  const venue = await getVenue(db, venueId).catch((e) => {
    if (e instanceof AppError && e.code === "NOT_FOUND") throw invalid([{ path: "venueId", message: "no such venue" }]);
    throw e;
  });
  assertGranted(actor, venue.orgId);
  return venue;
}

export async function createEvent(db: Database, actor: Actor, input: EventInput, now: Date): Promise<EventRow> {
  const venue = await managedVenue(db, actor, input.venueId);
  const capacity = resolveCapacity(input.seating, input.capacity, venue);
  const problems = timeProblems({ startsAt: input.startsAt, endsAt: input.endsAt, salesStartAt: input.salesStartAt ?? null, salesEndAt: input.salesEndAt ?? null }, now);
  if (problems.length) throw invalid(problems);
  const [row] = await db
    .insert(events)
    .values({
      venueId: venue.id,
      // The event belongs to its venue's organization; organizerId records who created it.
      orgId: venue.orgId,
      organizerId: actor.id,
      name: input.name,
      description: input.description,
      category: input.category.toLowerCase(),
      city: venue.city,
      timezone: venue.timezone,
      status: "draft",
      seating: input.seating,
      startTime: input.startsAt,
      endTime: input.endsAt,
      salesStartAt: input.salesStartAt ?? null,
      salesEndAt: input.salesEndAt ?? null,
      capacity,
      priceCents: input.priceCents,
      currency: input.currency.toUpperCase(),
      maxSeatsPerUser: input.maxSeatsPerUser ?? EVENT_DEFAULTS.maxSeatsPerUser,
      holdTtlSeconds: input.holdTtlSeconds ?? EVENT_DEFAULTS.holdTtlSeconds,
      paymentDeadlineSeconds: input.paymentDeadlineSeconds ?? EVENT_DEFAULTS.paymentDeadlineSeconds,
      waitlistOfferSeconds: input.waitlistOfferSeconds ?? EVENT_DEFAULTS.waitlistOfferSeconds,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return row;
}

export async function updateEvent(db: Database, actor: Actor, id: string, patch: Partial<EventInput>, now: Date): Promise<EventRow> {
  const current = await getEventRow(db, id);
  assertEventManager(actor, current);
  const refused = refusedFields(current.status, patch);
  if (refused.length) {
    throw new AppError("INVALID_STATE", `A ${current.status} event cannot change ${refused.join(", ")}`, { status: current.status, fields: refused });
  }
  const set: Partial<typeof events.$inferInsert> = { updatedAt: now };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.category !== undefined) set.category = patch.category.toLowerCase();
  if (current.status === "draft") {
    const venue = patch.venueId !== undefined && patch.venueId !== current.venueId ? await managedVenue(db, actor, patch.venueId) : await getVenue(db, current.venueId);
    const seating = patch.seating ?? current.seating;
    // Switching to reserved drops a GA capacity; the layout decides it.
    const capacityIn = patch.capacity ?? (seating === "reserved" ? undefined : current.capacity);
    const times = {
      startsAt: patch.startsAt ?? current.startTime,
      endsAt: patch.endsAt ?? current.endTime,
      salesStartAt: patch.salesStartAt !== undefined ? patch.salesStartAt : current.salesStartAt,
      salesEndAt: patch.salesEndAt !== undefined ? patch.salesEndAt : current.salesEndAt,
    };
    const problems = timeProblems(times, now);
    if (problems.length) throw invalid(problems);
    Object.assign(set, {
      venueId: venue.id,
      city: venue.city,
      timezone: venue.timezone,
      seating,
      capacity: resolveCapacity(seating, capacityIn, venue),
      startTime: times.startsAt,
      endTime: times.endsAt,
      salesStartAt: times.salesStartAt,
      salesEndAt: times.salesEndAt,
      ...(patch.priceCents !== undefined && { priceCents: patch.priceCents }),
      ...(patch.currency !== undefined && { currency: patch.currency.toUpperCase() }),
      ...(patch.maxSeatsPerUser !== undefined && { maxSeatsPerUser: patch.maxSeatsPerUser }),
      ...(patch.holdTtlSeconds !== undefined && { holdTtlSeconds: patch.holdTtlSeconds }),
      ...(patch.paymentDeadlineSeconds !== undefined && { paymentDeadlineSeconds: patch.paymentDeadlineSeconds }),
      ...(patch.waitlistOfferSeconds !== undefined && { waitlistOfferSeconds: patch.waitlistOfferSeconds }),
    });
  }
  // Conditional on the state we checked, so a publish racing this edit cannot be overwritten by it.
  const [row] = await db.update(events).set(set).where(and(eq(events.id, id), eq(events.status, current.status))).returning();
  if (!row) throw new AppError("INVALID_STATE", "The event changed state meanwhile; read it again");
  return row;
}

const SEAT_INSERT_CHUNK = 2_000;

/**
 * draft -> published in one transaction: freezes the venue's layout into the event and writes its
 * seats. Then the event's inventory object is initialized from the frozen event (idempotent), so a
 * publish that failed half-way is finished by publishing again.
 */
export async function publishEvent(db: Database, env: Env, actor: Actor, id: string, now: Date): Promise<EventRow> {
  const published = await db.transaction(async (tx) => {
    const [e] = isUuid(id) ? await tx.select().from(events).where(eq(events.id, id)).for("update") : [];
    if (!e) throw new AppError("NOT_FOUND", "No such event");
    assertEventManager(actor, e);
    const t = publishTransition(e.status);
    if (t.kind === "refuse") throw new AppError("INVALID_STATE", t.message, { status: e.status });
    if (t.kind === "already") return e;

    const [venue] = await tx.select().from(venues).where(eq(venues.id, e.venueId));
    const problems = timeProblems({ startsAt: e.startTime, endsAt: e.endTime, salesStartAt: e.salesStartAt, salesEndAt: e.salesEndAt }, now);
    if (problems.length) throw new AppError("INVALID_STATE", `The event cannot be published: ${problems.map((p) => p.message).join("; ")}`, { issues: problems });
    let layout: Layout | null = null;
    let capacity = e.capacity;
    if (e.seating === "reserved") {
      if (!venue.layout) throw new AppError("INVALID_STATE", "The venue no longer has a seat layout");
      layout = venue.layout as Layout;
      const all = expandSeats(layout, e.priceCents);
      capacity = all.length;
      for (let i = 0; i < all.length; i += SEAT_INSERT_CHUNK) {
        const chunk = all.slice(i, i + SEAT_INSERT_CHUNK).map((s) => ({ eventId: e.id, seatId: s.id, section: s.section, row: s.row, seatNumber: s.number, priceCents: s.priceCents }));
        await tx.insert(seats).values(chunk).onConflictDoNothing();
      }
    } else if (e.capacity > venue.capacity) {
      throw new AppError("INVALID_STATE", `The event's capacity ${e.capacity} exceeds the venue's ${venue.capacity}`);
    }
    // The object's own check, before anything is committed: an event it would refuse stays a draft
    // instead of being published with no inventory behind it.
    const init = checkInventoryInit(buildInventoryInit({ ...e, layout, capacity }));
    if (!init.ok) {
      throw new AppError("INVALID_STATE", `The event cannot be published: its seat inventory cannot be built (${init.message})`, { reason: init.message });
    }
    const [row] = await tx
      .update(events)
      .set({ status: "published", layout, capacity, city: venue.city, timezone: venue.timezone, publishedAt: now, updatedAt: now })
      .where(eq(events.id, e.id))
      .returning();
    await audit(tx, { action: "event.published", actorId: actor.id, subjectId: e.id, detail: { actorRole: actor.role, capacity } });
    return row;
  });
  return ensureInventory(db, env, published, now);
}

/** Initializes the published event's inventory unless it is known to be ready; records readiness. */
export async function ensureInventory(db: Database, env: Env, e: EventRow, now: Date): Promise<EventRow> {
  if (e.inventoryReadyAt) return e;
  let outcome;
  try {
    outcome = await initializeInventory(env, buildInventoryInit({ ...e, layout: e.layout as Layout | null }));
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "inventory initialization failed", eventId: e.id, error: String(err) }));
    throw new AppError("DEPENDENCY_UNAVAILABLE", "The event is published but its inventory is not ready yet; publish again to retry", { eventId: e.id }, { "Retry-After": "2" });
  }
  if (!outcome.ready) return e;
  // Ticket types and vouchers set up on the draft reach the object before the event counts as ready.
  try {
    await pushProducts(db, env, e.id);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "products push at publish failed", eventId: e.id, error: String(err) }));
    throw new AppError("DEPENDENCY_UNAVAILABLE", "The event is published but its inventory is not ready yet; publish again to retry", { eventId: e.id }, { "Retry-After": "2" });
  }
  const [row] = await db.update(events).set({ inventoryReadyAt: now }).where(and(eq(events.id, e.id), isNull(events.inventoryReadyAt))).returning();
  return row ?? (await getEventRow(db, e.id));
}

/** Cron: finishes publishes whose inventory step failed (or ran on a build without it). */
export async function retryPendingInventories(db: Database, env: Env, now: Date, limit = 20): Promise<number> {
  const pending = await db.select().from(events).where(and(eq(events.status, "published"), isNull(events.inventoryReadyAt))).limit(limit);
  let ready = 0;
  for (const e of pending) {
    const row = await ensureInventory(db, env, e, now).catch(() => e);
    if (row.inventoryReadyAt) ready++;
  }
  return ready;
}

/**
 * draft/published -> cancelled, answered at once. In the same transaction the event's refund job
 * is opened; then every open hold ends (holders told), pending bookings fail, and the job's first
 * batch is queued. Everything after the transaction runs again on a repeated cancel, so a
 * cancel that failed half-way is finished by the retry (and by the cron's sweep).
 */
export async function cancelEvent(db: Database, env: Env, actor: Actor, id: string, now: Date): Promise<{ event: EventRow; refundsRequested: number }> {
  const { event, deliveries } = await db.transaction(async (tx) => {
    const [e] = isUuid(id) ? await tx.select().from(events).where(eq(events.id, id)).for("update") : [];
    if (!e) throw new AppError("NOT_FOUND", "No such event");
    assertEventManager(actor, e);
    const t = cancelTransition(e.status);
    if (t.kind === "refuse") throw new AppError("INVALID_STATE", t.message, { status: e.status });
    if (t.kind === "already") return { event: e, deliveries: [] };
    const [row] = await tx.update(events).set({ status: "cancelled", cancelledAt: now, updatedAt: now }).where(eq(events.id, e.id)).returning();
    await audit(tx, { action: "event.cancelled", actorId: actor.id, subjectId: e.id, detail: { actorRole: actor.role, from: e.status } });
    await openRefundJob(tx, e.id, now);
    // Announced once, with the cancellation (outbox): queued below, or by the cron's sweep.
    const deliveries = await insertDeliveries(tx, { type: "event.cancelled", eventId: e.id, dedupeKey: `event:${e.id}:cancelled`, data: { eventId: e.id, cancelledAt: now.toISOString() } });
    return { event: row, deliveries };
  });
  if (event.publishedAt) {
    const released = await closeInventorySales(env, event.id);
    await notifyHolders(env, event.id, released);
  }
  await failPendingEventBookings(env, db, event.id, now);
  await sendDeliveries(env, db, deliveries);
  // An event cancelled before refund jobs existed gets one now.
  await openRefundJob(db, event.id, now);
  const job = await refundJobOf(db, event.id);
  if (job?.status === "running") await sendRefundBatch(env, event.id);
  return { event, refundsRequested: job?.total ?? 0 };
}

async function notifyHolders(env: Env, eventId: string, holds: ClosedSales["releasedHolds"]): Promise<void> {
  const messages: NotificationMessage[] = holds.map((h) => ({
    type: "notification.send",
    dedupeKey: `${h.holdId}:hold.event-cancelled`,
    userId: h.userId,
    kind: "hold.event-cancelled",
    payload: { eventId, holdId: h.holdId, seats: h.seats, quantity: h.quantity },
  }));
  for (let i = 0; i < messages.length; i += 100) await env.NOTIFICATIONS.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
}

export async function getEventDetail(db: Database, env: Env, viewer: Actor | undefined, id: string) {
  const e = await getEventRow(db, id);
  assertVisible(e, viewer);
  const [venue] = await db.select().from(venues).where(eq(venues.id, e.venueId));
  const { availability } = await readAvailability(env, e);
  const refunds = e.status === "cancelled" ? refundProgress(await refundJobOf(db, e.id)) : null;
  return {
    ...eventJson(e),
    priceFromCents: priceFromCents(e),
    refunds,
    layout: (e.layout as Layout | null) ?? null,
    venue: { id: venue.id, name: venue.name, city: venue.city, address: venue.address, timezone: venue.timezone },
    availability,
  };
}

export interface ListQuery {
  q?: string;
  orgId?: string;
  category?: string;
  city?: string;
  from?: Date;
  to?: Date;
  status?: EventStatus;
  limit: number;
  cursor?: string;
}

/** Words of `q` as prefix terms ANDed together (`rock conc` finds "Rock Concert"); at most 8. */
export function toPrefixQuery(q: string): string | null {
  const words = (q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 8);
  return words.length ? words.map((w) => `${w}:*`).join(" & ") : null;
}

/**
 * The WHERE of the listing. Published events are public and default to upcoming ones; any other
 * status needs a member of the event's organization (who sees their organizations' only) or an admin.
 */
export function listingConditions(q: ListQuery, viewer: Actor | undefined, now: Date): SQL[] {
  const status = q.status ?? "published";
  const conds: SQL[] = [eq(events.status, status)];
  if (status !== "published") {
    if (!viewer) throw new AppError("UNAUTHENTICATED", `Listing ${status} events needs a token`, undefined, { "WWW-Authenticate": 'Bearer realm="evently"' });
    // Members see their organizations' events (a scoped event manager: their events only); admins all.
    if (viewer.role !== "admin") {
      conds.push(sql`exists (select 1 from organization_members m where m.org_id = ${events.orgId} and m.user_id = ${viewer.id}
        and (m.role <> 'event_manager' or m.event_ids is null or m.event_ids ? ${events.id}::text))`);
    }
  }
  if (q.orgId) conds.push(eq(events.orgId, q.orgId));
  const from = q.from ?? (status === "published" ? now : undefined);
  if (from) conds.push(sql`${events.startTime} >= ${from.toISOString()}::timestamptz`);
  if (q.to) conds.push(sql`${events.startTime} < ${q.to.toISOString()}::timestamptz`);
  if (q.category) conds.push(eq(events.category, q.category.toLowerCase()));
  if (q.city) conds.push(sql`lower(${events.city}) = lower(${q.city})`);
  const tsq = q.q ? toPrefixQuery(q.q) : null;
  if (tsq) conds.push(sql`to_tsvector('simple', ${events.name} || ' ' || ${events.description}) @@ to_tsquery('simple', ${tsq})`);
  const after = eventPages.after(q.cursor);
  if (after) conds.push(after);
  return conds;
}

/** Soonest first, keyed by (start_time, id): stable, and a page is one range of the matching index. */
const eventPages = keyset("events", events.startTime, events.id, "asc");

/** People waiting for seats (or holding an offer) on the event's waitlist, as mirrored to Postgres. */
const waitingCount = sql<number>`(select count(*)::int from ${waitlistEntries} where ${waitlistEntries.eventId} = ${events.id} and ${waitlistEntries.status} in ('waiting', 'offered'))`;

export function listingQuery(db: PgDatabase<any, any, any>, conds: SQL[], limit: number) {
  return db
    .select({ event: events, at: eventPages.at, venueName: venues.name, waiting: waitingCount })
    .from(events)
    .innerJoin(venues, eq(venues.id, events.venueId))
    .where(and(...conds))
    .orderBy(...eventPages.order)
    .limit(limit + 1);
}

export async function listEvents(db: Database, viewer: Actor | undefined, q: ListQuery, now: Date) {
  const rows = await listingQuery(db, listingConditions(q, viewer, now), q.limit);
  return {
    data: rows.slice(0, q.limit).map((r) => ({
      ...eventJson(r.event),
      venueName: r.venueName,
      priceFromCents: priceFromCents(r.event),
      availability: availabilityFromPostgres(r.event),
      waitlist: { waiting: Number(r.waiting) },
    })),
    nextCursor: eventPages.next(rows, q.limit, (r) => ({ at: r.at, id: r.event.id })),
  };
}

/** The cheapest ticket: the lowest seat price of the frozen layout, or the event's price. */
export function priceFromCents(e: Pick<EventRow, "layout" | "priceCents">): number {
  return e.layout ? priceRange(e.layout as Layout, e.priceCents).min : e.priceCents;
}

export function eventJson(e: EventRow) {
  return {
    id: e.id,
    venueId: e.venueId,
    orgId: e.orgId,
    organizerId: e.organizerId,
    name: e.name,
    description: e.description,
    category: e.category,
    city: e.city,
    timezone: e.timezone,
    status: e.status,
    seating: e.seating,
    startsAt: e.startTime.toISOString(),
    endsAt: e.endTime.toISOString(),
    startsAtLocal: localIso(e.startTime, e.timezone),
    endsAtLocal: localIso(e.endTime, e.timezone),
    salesStartAt: e.salesStartAt?.toISOString() ?? null,
    salesEndAt: e.salesEndAt?.toISOString() ?? null,
    capacity: e.capacity,
    priceCents: e.priceCents,
    currency: e.currency,
    maxSeatsPerUser: e.maxSeatsPerUser,
    holdTtlSeconds: e.holdTtlSeconds,
    paymentDeadlineSeconds: e.paymentDeadlineSeconds,
    waitlistOfferSeconds: e.waitlistOfferSeconds,
    inventoryReady: e.inventoryReadyAt !== null,
    publishedAt: e.publishedAt?.toISOString() ?? null,
    cancelledAt: e.cancelledAt?.toISOString() ?? null,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}
