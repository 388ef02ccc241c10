// Who may do what in an organization: the one role x action table (docs/organizations.md), and the
// one check every organizer route makes through it. The platform admin passes every check.
import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { ORG_ROLES, type OrgRole, organizationMembers } from "../db/schema";
import { AppError } from "../lib/errors";

export { ORG_ROLES, type OrgRole };

export const ACTIONS = [
  "org.read",
  "org.update",
  "members.manage",
  "invitations.manage",
  "audit.read",
  "venue.manage",
  "event.read",
  "event.manage",
  "product.manage",
  "voucher.read",
  "onsale.manage",
  "onsale.stats",
  "sales.export",
  "checkin.manage",
  "analytics.read",
  "webhook.manage",
] as const;
export type Action = (typeof ACTIONS)[number];

const ALL = ORG_ROLES;
const MANAGERS = ["owner", "admin"] as const;
const EVENT_STAFF = ["owner", "admin", "event_manager"] as const;

/** The table. A role not listed for an action is refused it (403). */
export const PERMISSIONS: Record<Action, readonly OrgRole[]> = {
  "org.read": ALL,
  "org.update": MANAGERS,
  "members.manage": MANAGERS,
  "invitations.manage": MANAGERS,
  "audit.read": MANAGERS,
  "venue.manage": MANAGERS,
  "event.read": ALL,
  "event.manage": EVENT_STAFF,
  "product.manage": EVENT_STAFF,
  "voucher.read": [...EVENT_STAFF, "box_office"],
  "onsale.manage": EVENT_STAFF,
  "onsale.stats": [...EVENT_STAFF, "box_office", "viewer"],
  "sales.export": [...EVENT_STAFF, "box_office"],
  "checkin.manage": [...EVENT_STAFF, "door"],
  "analytics.read": [...EVENT_STAFF, "box_office", "viewer"],
  "webhook.manage": MANAGERS,
};

export function roleAllows(role: OrgRole, action: Action): boolean {
  return PERMISSIONS[action].includes(role);
}

/** What the guard found: the caller may do `action` in `orgId` (role "platform_admin": the platform's admin). */
export interface OrgGrant {
  orgId: string;
  role: OrgRole | "platform_admin";
  action: Action;
}

export interface Membership {
  role: OrgRole;
  eventIds: string[] | null;
}

/** One primary-key lookup, made on every guarded request: a removed member is refused on the next one. */
export async function membershipOf(db: Database, orgId: string, userId: string): Promise<Membership | null> {
  const [m] = await db
    .select({ role: organizationMembers.role, eventIds: organizationMembers.eventIds })
    .from(organizationMembers)
    .where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.userId, userId)));
  return m ?? null;
}

async function inAnyOrg(db: Database, userId: string): Promise<boolean> {
  const [m] = await db.select({ orgId: organizationMembers.orgId }).from(organizationMembers).where(eq(organizationMembers.userId, userId)).limit(1);
  return m !== undefined;
}

/** An event manager limited to chosen events reaches only those, and nothing organization-wide. */
export function membershipCovers(m: Membership, eventId: string | undefined): boolean {
  if (m.role !== "event_manager" || m.eventIds === null) return true;
  return eventId !== undefined && m.eventIds.includes(eventId);
}

export interface Target {
  orgId: string;
  /** Set when the action is on one event (scoped event managers). */
  eventId?: string;
  /** A draft event (or anything else whose existence is private): a caller who may not read it is told 404. */
  hidden?: boolean;
  /** The 404 message when hidden. */
  what?: string;
}

/**
 * The guard: the caller's membership of the target's organization, checked against the table.
 * Not a member (or a removed one): 403, or 404 where the target is hidden. A member whose role
 * lacks the action: 403 naming the action.
 */
export async function authorize(db: Database, actor: { id: string; role: string }, action: Action, target: Target): Promise<OrgGrant> {
  if (actor.role === "admin") return { orgId: target.orgId, role: "platform_admin", action };
  const m = await membershipOf(db, target.orgId, actor.id);
  if (!m || !membershipCovers(m, target.eventId)) {
    // A plain account in no organization at all is refused by function, as before organizations (403).
    if (!m && actor.role === "user" && !(await inAnyOrg(db, actor.id))) throw new AppError("FORBIDDEN", "This needs a role in an organization");
    if (target.hidden) throw new AppError("NOT_FOUND", `No such ${target.what ?? "resource"}`);
    throw new AppError("FORBIDDEN", "You are not a member of the organization that owns this");
  }
  if (!roleAllows(m.role, action)) {
    if (target.hidden && !roleAllows(m.role, "event.read")) throw new AppError("NOT_FOUND", `No such ${target.what ?? "resource"}`);
    throw new AppError("FORBIDDEN", `Your role (${m.role}) may not do ${action} in this organization`, { action, role: m.role });
  }
  return { orgId: target.orgId, role: m.role, action };
}

/** For services handed an actor the route guard already checked: the grant must be for this resource's organization. */
export function assertGranted(actor: { role: string; org?: OrgGrant }, orgId: string): void {
  if (actor.role === "admin") return;
  if (actor.org?.orgId === orgId) return;
  throw new AppError("FORBIDDEN", "You are not a member of the organization that owns this");
}
