// The route side of the permissions table: every organizer route spreads `guarded(action, target)`
// into its createRoute, which signs the caller in, finds the organization that owns the route's
// resource, and checks the caller's membership of it (src/services/permissions.ts). The action is
// also written into the OpenAPI operation (`x-evently-action`), so the role x route matrix test
// reads every route's rule from /openapi.json.
import { eq } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import type { Database } from "../db/client";
import { events, organizationMembers, venues, webhooks } from "../db/schema";
import { AppError } from "../lib/errors";
import { isUuid } from "../lib/ids";
import { personalOrgId } from "../services/organizations";
import { type Action, type Target, authorize, roleAllows } from "../services/permissions";
import { requireUser } from "./guards";

/**
 * Where the route's organization comes from: the event, venue, organization or webhook named by the
 * `id` path parameter; or, for something new, `orgId` in the query or body, else the organization of
 * the venue (`venueId`) or event (`eventId`) the body names, else the caller's personal organization
 * (a plain account: the only organization where its role allows the action).
 */
export type TargetKind = "event" | "venue" | "org" | "webhook" | "new";

export const ACTION_EXTENSION = "x-evently-action";

async function eventTarget(db: Database, id: string): Promise<Target> {
  const [e] = isUuid(id) ? await db.select({ orgId: events.orgId, status: events.status }).from(events).where(eq(events.id, id)) : [];
  if (!e) throw new AppError("NOT_FOUND", "No such event");
  return { orgId: e.orgId, eventId: id, hidden: e.status === "draft", what: "event" };
}

async function venueOrg(db: Database, id: string, missing: () => AppError): Promise<string> {
  const [v] = isUuid(id) ? await db.select({ orgId: venues.orgId }).from(venues).where(eq(venues.id, id)) : [];
  if (!v) throw missing();
  return v.orgId;
}

async function bodyOf(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  if (!/^application\/json/i.test(c.req.header("content-type") ?? "")) return {};
  const body = await c.req.json().catch(() => null);
  return body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** A webhook's organization; null for a platform admin's global hook (no organization's business). */
async function webhookTarget(db: Database, id: string): Promise<Target | null> {
  const [h] = await db.select({ orgId: webhooks.orgId, eventId: webhooks.eventId, deletedAt: webhooks.deletedAt }).from(webhooks).where(eq(webhooks.id, id));
  if (!h || h.deletedAt) throw new AppError("NOT_FOUND", "No such webhook");
  if (!h.orgId) return null;
  return { orgId: h.orgId, eventId: h.eventId ?? undefined, hidden: true, what: "webhook" };
}

/** The one organization where a plain account's role allows the action; none or several: it must name one. */
async function onlyOrgFor(db: Database, userId: string, action: Action): Promise<string> {
  const mine = await db.select({ orgId: organizationMembers.orgId, role: organizationMembers.role }).from(organizationMembers).where(eq(organizationMembers.userId, userId));
  const allowed = mine.filter((m) => roleAllows(m.role, action));
  if (allowed.length !== 1) throw new AppError("FORBIDDEN", "Name the organization (orgId) this belongs to");
  return allowed[0].orgId;
}

/** The organization a new venue, event, webhook or invitation goes into (see TargetKind). */
async function newTarget(c: Context<AppEnv>, action: Action): Promise<Target> {
  const db = c.var.db();
  const body = await bodyOf(c);
  const named = c.req.query("orgId") ?? (typeof body.orgId === "string" ? body.orgId : undefined);
  if (named !== undefined) {
    if (!isUuid(named)) throw new AppError("VALIDATION_FAILED", "orgId must be a UUID", { issues: [{ path: "orgId", message: "not a UUID" }] });
    return { orgId: named, hidden: true, what: "organization" };
  }
  if (typeof body.venueId === "string") {
    // An unknown venue is the service's validation error; the caller's own organization stands in.
    const orgId = await venueOrg(db, body.venueId, () => new AppError("VALIDATION_FAILED", "No such venue", { issues: [{ path: "venueId", message: "no such venue" }] }));
    return { orgId };
  }
  if (typeof body.eventId === "string") return eventTarget(db, body.eventId);
  const user = c.var.user;
  if (user.role !== "organizer" && user.role !== "admin") return { orgId: await onlyOrgFor(db, user.id, action) };
  return { orgId: await personalOrgId(db, user) };
}

async function targetOf(c: Context<AppEnv>, kind: TargetKind, action: Action): Promise<Target | null> {
  const db = c.var.db();
  const id = c.req.param("id") ?? "";
  switch (kind) {
    case "event":
      return eventTarget(db, id);
    case "venue":
      return { orgId: await venueOrg(db, id, () => new AppError("NOT_FOUND", "No such venue")) };
    case "org":
      if (!isUuid(id)) throw new AppError("NOT_FOUND", "No such organization");
      return { orgId: id, hidden: true, what: "organization" };
    case "webhook":
      return webhookTarget(db, id);
    case "new":
      return newTarget(c, action);
  }
}

/** Checks the signed-in caller (requireUser ran) and hands the grant on with the user. */
export async function grant(c: Context<AppEnv>, action: Action, kind: TargetKind): Promise<void> {
  const target = await targetOf(c, kind, action);
  if (!target) {
    // The platform's own (a global webhook): its admins only, hidden from everyone else.
    if (c.var.user.role !== "admin") throw new AppError("NOT_FOUND", "No such webhook");
    return;
  }
  const org = await authorize(c.var.db(), c.var.user, action, target);
  c.set("user", { ...c.var.user, org });
}

export function orgGuard(action: Action, kind: TargetKind): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    // An id that is no UUID names nothing: the route's own validation answers (400 or 404), and
    // with no grant the service refuses anyway.
    if (kind !== "new" && !isUuid(c.req.param("id") ?? "")) return next();
    await grant(c, action, kind);
    await next();
  });
}

/** For a createRoute: sign-in, the organization check, and the action in the OpenAPI document. */
export function guarded(action: Action, kind: TargetKind): { middleware: MiddlewareHandler<AppEnv>[]; [ACTION_EXTENSION]: Action } {
  return { middleware: [requireUser, orgGuard(action, kind)], [ACTION_EXTENSION]: action };
}

/**
 * For public reads (an event, its ticket types): a signed-in member of the owning organization is
 * granted `event.read` (drafts, hidden types); anyone else reads as the public does.
 */
export const peekEvent = createMiddleware<AppEnv>(async (c, next) => {
  if (c.var.user) {
    try {
      await grant(c, "event.read", "event");
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
    }
  }
  await next();
});
