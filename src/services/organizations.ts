// Organizations: personal ones (every organizer has one, created on first need), companies, their
// members. What each role may do is src/services/permissions.ts; invitations are invitations.ts.
import { and, asc, desc, eq, inArray, isNull, lt, notInArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { auditLog, events, type OrgRole, organizationMembers, organizations, scanners, users } from "../db/schema";
import { AppError } from "../lib/errors";
import { audit } from "./audit";
import { roleAllows } from "./permissions";

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
type Caller = { id: string; role: string; org?: { role: string } };

/**
 * The caller's personal organization, created (with the caller as its owner) on first need: old
 * API calls that name no organization act in it, as the migration's backfill does for old data.
 */
export async function personalOrgId(db: Database, user: { id: string }): Promise<string> {
  const [found] = await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.personalOwnerId, user.id));
  if (found) return found.id;
  const [u] = await db.select({ name: users.name }).from(users).where(eq(users.id, user.id));
  await db
    .insert(organizations)
    .values({ name: u?.name ?? "Personal", personalOwnerId: user.id })
    .onConflictDoNothing({ target: organizations.personalOwnerId });
  const [org] = await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.personalOwnerId, user.id));
  await db.insert(organizationMembers).values({ orgId: org.id, userId: user.id, role: "owner" }).onConflictDoNothing();
  return org.id;
}

export interface OrgView {
  id: string;
  name: string;
  personal: boolean;
  createdAt: string;
}

const orgView = (o: typeof organizations.$inferSelect): OrgView => ({ id: o.id, name: o.name, personal: o.personalOwnerId !== null, createdAt: o.createdAt.toISOString() });

/** A company organization; its creator is its first owner. Organizers and admins may create them. */
export async function createOrg(db: Database, actor: Caller, name: string): Promise<OrgView & { role: OrgRole }> {
  if (actor.role !== "organizer" && actor.role !== "admin") throw new AppError("FORBIDDEN", "Creating an organization needs the organizer role");
  return db.transaction(async (tx) => {
    const [o] = await tx.insert(organizations).values({ name }).returning();
    await tx.insert(organizationMembers).values({ orgId: o.id, userId: actor.id, role: "owner" });
    await audit(tx, { action: "org.created", actorId: actor.id, subjectId: o.id, detail: { name } });
    return { ...orgView(o), role: "owner" as const };
  });
}

/** The caller's organizations with their role in each (the web page's "My organizations"). */
export async function myOrgs(db: Database, userId: string): Promise<(OrgView & { role: OrgRole; eventIds: string[] | null })[]> {
  const rows = await db
    .select({ org: organizations, role: organizationMembers.role, eventIds: organizationMembers.eventIds })
    .from(organizationMembers)
    .innerJoin(organizations, eq(organizations.id, organizationMembers.orgId))
    .where(eq(organizationMembers.userId, userId))
    .orderBy(asc(organizations.name), asc(organizations.id));
  return rows.map((r) => ({ ...orgView(r.org), role: r.role, eventIds: r.eventIds ?? null }));
}

export async function getOrg(db: Database, orgId: string): Promise<OrgView> {
  const [o] = await db.select().from(organizations).where(eq(organizations.id, orgId));
  if (!o) throw new AppError("NOT_FOUND", "No such organization");
  return orgView(o);
}

export async function renameOrg(db: Database, orgId: string, name: string): Promise<OrgView> {
  const [o] = await db.update(organizations).set({ name }).where(eq(organizations.id, orgId)).returning();
  if (!o) throw new AppError("NOT_FOUND", "No such organization");
  return orgView(o);
}

export interface MemberView {
  userId: string;
  name: string;
  email: string;
  role: OrgRole;
  eventIds: string[] | null;
  since: string;
}

export async function listMembers(db: Database, orgId: string): Promise<MemberView[]> {
  const rows = await db
    .select({ m: organizationMembers, name: users.name, email: users.email })
    .from(organizationMembers)
    .innerJoin(users, eq(users.id, organizationMembers.userId))
    .where(eq(organizationMembers.orgId, orgId))
    .orderBy(asc(organizationMembers.createdAt), asc(users.id));
  return rows.map((r) => ({ userId: r.m.userId, name: r.name, email: r.email, role: r.m.role, eventIds: r.m.eventIds ?? null, since: r.m.createdAt.toISOString() }));
}

/**
 * Locks the organization's row, so two changes to its owners (two owners removing each other, a
 * leave and a demotion) take turns and the count of owners each sees is the real one.
 */
async function lockedMember(tx: Tx, orgId: string, userId: string) {
  await tx.execute(sql`select 1 from ${organizations} where ${organizations.id} = ${orgId} for update`);
  const [m] = await tx.select().from(organizationMembers).where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.userId, userId)));
  if (!m) throw new AppError("NOT_FOUND", "No such member");
  return m;
}

async function assertNotLastOwner(tx: Tx, orgId: string): Promise<void> {
  const [{ owners }] = await tx
    .select({ owners: sql<number>`count(*)::int` })
    .from(organizationMembers)
    .where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.role, "owner")));
  if (owners <= 1) throw new AppError("LAST_OWNER", "The organization's last owner cannot leave, be removed or be demoted; make someone else an owner first");
}

/** Only an owner (or the platform admin) may make an owner or touch one. */
export function assertMayTouchOwners(actor: Caller): void {
  if (actor.role !== "admin" && actor.org?.role !== "owner") throw new AppError("FORBIDDEN", "Only an owner may make, demote or remove an owner");
}

export function checkEventScope(role: OrgRole, eventIds: string[] | null | undefined): string[] | null {
  if (role !== "event_manager") {
    if (eventIds?.length) throw new AppError("VALIDATION_FAILED", "Only an event manager is limited to chosen events", { issues: [{ path: "eventIds", message: "only for role event_manager" }] });
    return null;
  }
  return eventIds?.length ? [...new Set(eventIds)] : null;
}

export async function assertOrgEvents(db: Database | Tx, orgId: string, eventIds: string[] | null): Promise<void> {
  if (!eventIds) return;
  const found = await db.select({ id: events.id }).from(events).where(and(eq(events.orgId, orgId), inArray(events.id, eventIds)));
  if (found.length !== eventIds.length) throw new AppError("VALIDATION_FAILED", "Every chosen event must belong to the organization", { issues: [{ path: "eventIds", message: "not this organization's event" }] });
}

/**
 * Revokes the scanners `userId` created for the organization's events that a membership of `role`
 * with `eventIds` no longer covers for check-in: all of them for a role without `checkin.manage`
 * (or no role at all: removed), those outside `eventIds` for an event manager limited to some.
 */
async function revokeUncoveredScanners(tx: Tx, orgId: string, userId: string, role: OrgRole | null, eventIds: string[] | null): Promise<number> {
  if (role && roleAllows(role, "checkin.manage") && eventIds === null) return 0;
  const orgEvents = tx
    .select({ id: events.id })
    .from(events)
    .where(and(eq(events.orgId, orgId), role && roleAllows(role, "checkin.manage") && eventIds ? notInArray(events.id, eventIds) : undefined));
  const revoked = await tx
    .update(scanners)
    .set({ revokedAt: new Date() })
    .where(and(eq(scanners.createdBy, userId), isNull(scanners.revokedAt), inArray(scanners.eventId, orgEvents)))
    .returning({ id: scanners.id });
  return revoked.length;
}

/**
 * A new role takes effect on the member's next request (the guard reads the membership every time);
 * the scanners they made that the new role no longer covers stop in the same transaction.
 */
export async function changeRole(db: Database, actor: Caller, orgId: string, userId: string, role: OrgRole, eventIdsIn: string[] | null | undefined): Promise<MemberView> {
  const eventIds = checkEventScope(role, eventIdsIn);
  await assertOrgEvents(db, orgId, eventIds);
  await db.transaction(async (tx) => {
    const m = await lockedMember(tx, orgId, userId);
    if (m.role === "owner" || role === "owner") assertMayTouchOwners(actor);
    if (m.role === "owner" && role !== "owner") await assertNotLastOwner(tx, orgId);
    await tx.update(organizationMembers).set({ role, eventIds }).where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.userId, userId)));
    const scannersRevoked = await revokeUncoveredScanners(tx, orgId, userId, role, eventIds);
    await audit(tx, { action: "org.role_changed", actorId: actor.id, subjectId: orgId, detail: { userId, from: m.role, to: role, eventIds, scannersRevoked } });
  });
  return (await listMembers(db, orgId)).find((x) => x.userId === userId)!;
}

/**
 * Removes a member (or the caller leaves). Their access ends on their next request; the scanners
 * they created for the organization's events are revoked in the same transaction.
 */
export async function removeMember(db: Database, actor: Caller, orgId: string, userId: string): Promise<{ scannersRevoked: number }> {
  const leaving = actor.id === userId;
  return db.transaction(async (tx) => {
    const m = await lockedMember(tx, orgId, userId);
    if (m.role === "owner") {
      if (!leaving) assertMayTouchOwners(actor);
      await assertNotLastOwner(tx, orgId);
    }
    await tx.delete(organizationMembers).where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.userId, userId)));
    const scannersRevoked = await revokeUncoveredScanners(tx, orgId, userId, null, null);
    await audit(tx, { action: leaving ? "org.member_left" : "org.member_removed", actorId: actor.id, subjectId: orgId, detail: { userId, role: m.role, scannersRevoked } });
    return { scannersRevoked };
  });
}

export interface AuditView {
  id: number;
  action: string;
  actorId: string | null;
  detail: unknown;
  at: string;
}

/** The organization's membership history, newest first: who invited, accepted, changed a role, removed whom. */
export async function orgAudit(db: Database, orgId: string, limit: number, before?: number): Promise<{ data: AuditView[]; nextBefore: number | null }> {
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.subjectId, orgId), sql`${auditLog.action} like 'org.%'`, before !== undefined ? lt(auditLog.id, before) : undefined))
    .orderBy(desc(auditLog.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    data: page.map((r) => ({ id: r.id, action: r.action, actorId: r.actorId, detail: r.detail, at: r.at.toISOString() })),
    nextBefore: rows.length > limit ? page[page.length - 1].id : null,
  };
}
