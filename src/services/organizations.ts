// Organizations: personal ones (every organizer has one, created on first need), companies, their
// members. The permission checks are src/services/permissions.ts; invitations are invitations.ts.
import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { organizationMembers, organizations, users } from "../db/schema";

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

export async function isMember(db: Database, orgId: string, userId: string): Promise<boolean> {
  const [m] = await db.select({ role: organizationMembers.role }).from(organizationMembers).where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.userId, userId)));
  return m !== undefined;
}
