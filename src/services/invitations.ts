// Invitations to an organization: by email, a signed single-use expiring link (the token is stored
// hashed), sent through the notifications queue; accepted with that link by a signed-in account with
// that email. The link is the proof: accounts' emails are not verified, so nothing is offered or
// shown to an account on the strength of its email alone.
import { and, desc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import { hashInvitationToken, signInvitationToken, verifyInvitationToken } from "../auth/invitation-tokens";
import type { Database } from "../db/client";
import { type OrgRole, organizationInvitations, organizationMembers, organizations, users } from "../db/schema";
import type { Config, Env } from "../env";
import { AppError } from "../lib/errors";
import { keyring, olderKeyIds, seal, unseal } from "../lib/secret-box";
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

const linkAad = (invitationId: string) => `invitation-link:${invitationId}`;

const emailMessage = (i: Invitation, orgName: string, link: string): OrgInvitationMessage => ({
  type: "org.invitation",
  invitationId: i.id,
  email: i.email,
  orgName,
  role: i.role,
  link,
  expiresAt: i.expiresAt.toISOString(),
});

/**
 * Writes the invitation and, in the same transaction, its email's outbox (the link, sealed); then
 * queues the email. A failed send is logged, not an error: the invitation exists and the cron's
 * sweep (`sweepInvitationEmails`) queues the email later. The link's token is returned once, to the
 * inviter, as well (for copying it by hand); Postgres keeps its hash, and the sealed link until the
 * email is sent.
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
  const link = `${linkBase}/?invite=${encodeURIComponent(token)}`;
  const sealed = await seal(await keyring(env), link, linkAad(id));
  const [org] = await db.select({ name: organizations.name }).from(organizations).where(eq(organizations.id, orgId));
  const row = await db.transaction(async (tx) => {
    const [i] = await tx
      .insert(organizationInvitations)
      .values({ id, orgId, email, role: input.role, eventIds, tokenHash: await hashInvitationToken(token), invitedBy: actor.id, expiresAt, emailLink: sealed.value, emailLinkKeyId: sealed.keyId, createdAt: now })
      .returning();
    await audit(tx, { action: "org.invited", actorId: actor.id, subjectId: orgId, detail: { invitationId: id, email, role: input.role } });
    return i;
  });
  try {
    await env.NOTIFICATIONS.send(emailMessage(row, org?.name ?? "", link));
    await db.update(organizationInvitations).set({ emailQueuedAt: new Date() }).where(eq(organizationInvitations.id, id));
  } catch (e) {
    console.error(JSON.stringify({ level: "error", msg: "invitation email not queued; the cron's sweep sends it", invitationId: id, error: String(e) }));
  }
  return { ...view(row, now), token };
}

/** An invitation email never queued is swept once this old (its own request normally queues it at once). */
export const INVITATION_EMAIL_SWEEP_AFTER_MS = 5_000;
/** A queued email still not sent this long after lost its message (the queue retries within minutes): queued again. */
export const INVITATION_EMAIL_REQUEUE_AFTER_MS = 15 * 60_000;

/**
 * Cron: queues the emails of open invitations whose send failed or never ran, or whose message was
 * lost, at most `limit` per run. Claimed with SKIP LOCKED and stamped before the send, so two sweeps
 * never queue the same one; a failed send clears the stamp and the next run retries.
 */
export async function sweepInvitationEmails(env: Env, db: Database, now: Date, limit = 100): Promise<{ queued: number; givenUp: number }> {
  const fresh = new Date(now.getTime() - INVITATION_EMAIL_SWEEP_AFTER_MS).toISOString();
  const stale = new Date(now.getTime() - INVITATION_EMAIL_REQUEUE_AFTER_MS).toISOString();
  const claimed = await db.execute<{ id: string }>(sql`
    update ${organizationInvitations} set email_queued_at = ${now.toISOString()}::timestamptz
    where id in (
      select id from ${organizationInvitations}
      where email_link is not null and accepted_at is null and revoked_at is null and expires_at > ${now.toISOString()}::timestamptz
        and ((email_queued_at is null and created_at < ${fresh}::timestamptz) or email_queued_at < ${stale}::timestamptz)
      order by created_at limit ${limit} for update skip locked
    )
    returning id`);
  const ids = claimed.rows.map((r) => r.id);
  if (!ids.length) return { queued: 0, givenUp: 0 };
  const rows = await db
    .select({ i: organizationInvitations, orgName: organizations.name })
    .from(organizationInvitations)
    .innerJoin(organizations, eq(organizations.id, organizationInvitations.orgId))
    .where(inArray(organizationInvitations.id, ids));
  const ring = await keyring(env);
  const messages: { body: OrgInvitationMessage }[] = [];
  const sending: string[] = [];
  let givenUp = 0;
  for (const r of rows) {
    let link: string;
    try {
      link = await unseal(ring, r.i.emailLinkKeyId, r.i.emailLink!, linkAad(r.i.id));
    } catch (e) {
      // Sealed under a key no longer in SECRETS_KEYS (or damaged): it can never be sent. Given up
      // once, logged, so it does not hold up every other invitation's email at each run.
      console.error(JSON.stringify({ level: "error", msg: "invitation email given up: its link does not open", invitationId: r.i.id, keyId: r.i.emailLinkKeyId, error: String(e) }));
      await invitationEmailGivenUp(db, r.i.id);
      givenUp++;
      continue;
    }
    messages.push({ body: emailMessage(r.i, r.orgName, link) });
    sending.push(r.i.id);
  }
  if (!messages.length) return { queued: 0, givenUp };
  try {
    await env.NOTIFICATIONS.sendBatch(messages);
  } catch (e) {
    await db.update(organizationInvitations).set({ emailQueuedAt: null }).where(and(inArray(organizationInvitations.id, sending), isNull(organizationInvitations.emailedAt)));
    throw e;
  }
  return { queued: sending.length, givenUp };
}

/**
 * Cron (`secretsRewrap`): seals up to `limit` unsent invitation links under an older key again with
 * the newest key (a link under a key dropped before it was sent is given up by the email sweep).
 */
export async function rewrapInvitationLinks(env: Env, db: Database, limit: number): Promise<number> {
  const ring = await keyring(env);
  if (!ring.newest) return 0;
  const older = olderKeyIds(ring);
  if (!older.length) return 0;
  const rows = await db
    .select({ id: organizationInvitations.id, link: organizationInvitations.emailLink, keyId: organizationInvitations.emailLinkKeyId })
    .from(organizationInvitations)
    .where(and(sql`${organizationInvitations.emailLink} is not null`, inArray(organizationInvitations.emailLinkKeyId, older)))
    .limit(limit);
  let moved = 0;
  for (const r of rows) {
    const sealed = await seal(ring, await unseal(ring, r.keyId, r.link!, linkAad(r.id)), linkAad(r.id));
    const done = await db
      .update(organizationInvitations)
      .set({ emailLink: sealed.value, emailLinkKeyId: sealed.keyId })
      .where(and(eq(organizationInvitations.id, r.id), eq(organizationInvitations.emailLinkKeyId, r.keyId!)))
      .returning({ id: organizationInvitations.id });
    moved += done.length;
  }
  return moved;
}

/**
 * The consumer's half: whether the invitation still wants its email (not sent, accepted, revoked or
 * expired), and, once sent, the note that it was (the sealed link is dropped: nothing left to send).
 */
export async function invitationEmailWanted(db: Database, invitationId: string, now = new Date()): Promise<boolean> {
  const [i] = await db.select().from(organizationInvitations).where(eq(organizationInvitations.id, invitationId));
  return !!i && !i.emailedAt && !i.acceptedAt && !i.revokedAt && i.expiresAt > now;
}

export async function invitationEmailed(db: Database, invitationId: string): Promise<void> {
  await db.update(organizationInvitations).set({ emailedAt: new Date(), emailLink: null, emailLinkKeyId: null }).where(eq(organizationInvitations.id, invitationId));
}

/** Out of retries: the email is given up (logged by the consumer), and the sweep stops offering it. */
export async function invitationEmailGivenUp(db: Database, invitationId: string): Promise<void> {
  await db.update(organizationInvitations).set({ emailLink: null, emailLinkKeyId: null }).where(eq(organizationInvitations.id, invitationId));
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
