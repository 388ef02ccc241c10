// Invitations to an organization: by email, a signed single-use expiring link (the token is stored
// hashed), sent through the notifications queue; accepted with that link by a signed-in account with
// that email. The link is the proof: accounts' emails are not verified, so nothing is offered or
// shown to an account on the strength of its email alone.
import { and, desc, eq, gt, isNull, sql } from "drizzle-orm";
import { hashInvitationToken, signInvitationToken, verifyInvitationToken } from "../auth/invitation-tokens";
import type { Database } from "../db/client";
import { type OrgRole, organizationInvitations, organizationMembers, organizations, users } from "../db/schema";
import type { Config, Env } from "../env";
import { AppError } from "../lib/errors";
import type { OrgInvitationMessage } from "../queues/messages";
import { audit } from "./audit";
import { assertMayTouchOwners, assertOrgEvents, checkEventScope } from "./organizations";

/** How long an invitation link works. */
export const INVITATION_TTL_SECONDS = 7 * 86_400;

type Invitation = typeof organizationInvitations.$inferSelect;
type Caller = { id: string; role: string; org?: { role: string } };

export interface InvitationView {
  id: string;
  orgId: string;
  email: string;
  role: OrgRole;
  eventIds: string[] | null;
  status: "pending" | "accepted" | "revoked" | "expired";
  expiresAt: string;
  createdAt: string;
}

function statusOf(i: Invitation, now: Date): InvitationView["status"] {
  if (i.acceptedAt) return "accepted";
  if (i.revokedAt) return "revoked";
  return i.expiresAt <= now ? "expired" : "pending";
}

const view = (i: Invitation, now: Date): InvitationView => ({
  id: i.id,
  orgId: i.orgId,
  email: i.email,
  role: i.role,
  eventIds: i.eventIds ?? null,
  status: statusOf(i, now),
  expiresAt: i.expiresAt.toISOString(),
  createdAt: i.createdAt.toISOString(),
});

/**
 * Writes the invitation and queues its email. The link's token is returned once, to the inviter,
 * as well (for copying it by hand); Postgres keeps only its hash.
 */
export async function invite(
  env: Env,
  config: Config,
  db: Database,
  actor: Caller,
  orgId: string,
  input: { email: string; role: OrgRole; eventIds?: string[] | null },
  linkBase: string,
  now = new Date(),
): Promise<InvitationView & { token: string }> {
  if (input.role === "owner") assertMayTouchOwners(actor);
  const eventIds = checkEventScope(input.role, input.eventIds);
  await assertOrgEvents(db, orgId, eventIds);
  const email = input.email.trim().toLowerCase();
  const [already] = await db
    .select({ userId: organizationMembers.userId })
    .from(organizationMembers)
    .innerJoin(users, eq(users.id, organizationMembers.userId))
    .where(and(eq(organizationMembers.orgId, orgId), sql`lower(${users.email}) = ${email}`));
  if (already) throw new AppError("ALREADY_MEMBER", "That account is already a member");
  const id = crypto.randomUUID();
  const expiresAt = new Date(now.getTime() + INVITATION_TTL_SECONDS * 1000);
  const token = await signInvitationToken(env, config, id, expiresAt);
  const [org] = await db.select({ name: organizations.name }).from(organizations).where(eq(organizations.id, orgId));
  const row = await db.transaction(async (tx) => {
    const [i] = await tx
      .insert(organizationInvitations)
      .values({ id, orgId, email, role: input.role, eventIds, tokenHash: await hashInvitationToken(token), invitedBy: actor.id, expiresAt, createdAt: now })
      .returning();
    await audit(tx, { action: "org.invited", actorId: actor.id, subjectId: orgId, detail: { invitationId: id, email, role: input.role } });
    return i;
  });
  const message: OrgInvitationMessage = {
    type: "org.invitation",
    invitationId: id,
    email,
    orgName: org?.name ?? "",
    role: input.role,
    link: `${linkBase}/?invite=${encodeURIComponent(token)}`,
    expiresAt: expiresAt.toISOString(),
  };
  await env.NOTIFICATIONS.send(message);
  return { ...view(row, now), token };
}

export async function listInvitations(db: Database, orgId: string, now = new Date()): Promise<InvitationView[]> {
  const rows = await db.select().from(organizationInvitations).where(eq(organizationInvitations.orgId, orgId)).orderBy(desc(organizationInvitations.createdAt));
  return rows.map((i) => view(i, now));
}

export async function revokeInvitation(db: Database, actor: Caller, orgId: string, invitationId: string, now = new Date()): Promise<void> {
  const done = await db
    .update(organizationInvitations)
    .set({ revokedAt: now })
    .where(and(eq(organizationInvitations.id, invitationId), eq(organizationInvitations.orgId, orgId), isNull(organizationInvitations.acceptedAt), isNull(organizationInvitations.revokedAt)))
    .returning({ id: organizationInvitations.id });
  if (!done.length) throw new AppError("NOT_FOUND", "No such open invitation");
  await audit(db, { action: "org.invitation_revoked", actorId: actor.id, subjectId: orgId, detail: { invitationId } });
}

function refusal(i: Invitation, now: Date): AppError | null {
  if (i.acceptedAt) return new AppError("INVITATION_USED", "The invitation was already accepted");
  if (i.revokedAt) return new AppError("INVITATION_REVOKED", "The invitation was revoked");
  if (i.expiresAt <= now) return new AppError("INVITATION_EXPIRED", "The invitation has expired; ask for a new one");
  return null;
}

/** The open invitation a link names, or why it cannot be accepted (forged, used, revoked, expired). */
async function openInvitation(env: Env, config: Config, db: Database, token: string, now: Date): Promise<Invitation> {
  const id = await verifyInvitationToken(env, config, token);
  const [row] = await db.select().from(organizationInvitations).where(and(eq(organizationInvitations.id, id), eq(organizationInvitations.tokenHash, await hashInvitationToken(token))));
  if (!row) throw new AppError("INVITATION_INVALID", "The invitation link is not valid");
  const refused = refusal(row, now);
  if (refused) throw refused;
  return row;
}

async function isInvitedAccount(db: Database, userId: string, row: Invitation): Promise<boolean> {
  const [account] = await db.select({ email: users.email }).from(users).where(eq(users.id, userId));
  return !!account && account.email.toLowerCase() === row.email.toLowerCase();
}

export interface InvitationPreview {
  orgId: string;
  orgName: string;
  email: string;
  role: OrgRole;
  eventIds: string[] | null;
  expiresAt: string;
  /** Whether the signed-in account has the invited email (else accepting answers INVITATION_WRONG_ACCOUNT). */
  forYou: boolean;
}

/** What an open link invites to, for its holder (who received it at the invited address). */
export async function previewInvitation(env: Env, config: Config, db: Database, user: { id: string }, token: string, now = new Date()): Promise<InvitationPreview> {
  const row = await openInvitation(env, config, db, token, now);
  const [org] = await db.select({ name: organizations.name }).from(organizations).where(eq(organizations.id, row.orgId));
  return {
    orgId: row.orgId,
    orgName: org?.name ?? "",
    email: row.email,
    role: row.role,
    eventIds: row.eventIds ?? null,
    expiresAt: row.expiresAt.toISOString(),
    forYou: await isInvitedAccount(db, user.id, row),
  };
}

/**
 * Accepts by the link's token, which only the invited mailbox received; the signed-in account's
 * email must also be the invited one. One conditional UPDATE takes the invitation: of two accepts at
 * once, one wins and the other is told it was used.
 */
export async function acceptInvitation(env: Env, config: Config, db: Database, user: { id: string }, token: string, now = new Date()): Promise<{ orgId: string; role: OrgRole }> {
  const invitation = await openInvitation(env, config, db, token, now);
  if (!(await isInvitedAccount(db, user.id, invitation))) {
    throw new AppError("INVITATION_WRONG_ACCOUNT", "This invitation is for another email address; sign in with that account");
  }
  return db.transaction(async (tx) => {
    const [taken] = await tx
      .update(organizationInvitations)
      .set({ acceptedAt: now, acceptedBy: user.id })
      .where(and(eq(organizationInvitations.id, invitation.id), isNull(organizationInvitations.acceptedAt), isNull(organizationInvitations.revokedAt), gt(organizationInvitations.expiresAt, now)))
      .returning();
    if (!taken) {
      const [again] = await tx.select().from(organizationInvitations).where(eq(organizationInvitations.id, invitation.id));
      throw refusal(again, now) ?? new AppError("INVITATION_USED", "The invitation was already accepted");
    }
    const [m] = await tx
      .insert(organizationMembers)
      .values({ orgId: taken.orgId, userId: user.id, role: taken.role, eventIds: taken.eventIds ?? null })
      .onConflictDoNothing()
      .returning();
    if (!m) throw new AppError("ALREADY_MEMBER", "You are already a member of this organization");
    await audit(tx, { action: "org.invitation_accepted", actorId: user.id, subjectId: taken.orgId, detail: { invitationId: taken.id, role: taken.role, invitedBy: taken.invitedBy } });
    return { orgId: taken.orgId, role: taken.role };
  });
}
