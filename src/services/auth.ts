import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { burnOneHash, hashPassword, verifyPassword } from "../auth/passwords";
import { revokeSession } from "../../durable-objects/user-sessions/client";
import { type Role, signAccessToken } from "../auth/tokens";
import type { Database } from "../db/client";
import { refreshTokens, users } from "../db/schema";
import type { Config, Env } from "../env";
import { AppError } from "../lib/errors";
import { audit } from "./audit";
import { deliverUserStatusOrRetryLater, queueUserStatus } from "./user-status";
import { type PublicUser, type UserRow, findUserByEmail, findUserById, normalizeEmail, toPublicUser } from "./users";

export interface AuthDeps {
  db: Database;
  env: Env;
  config: Config;
  ip: string;
  now?: () => Date;
}

export interface Session {
  user: PublicUser;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const invalidCredentials = () => new AppError("INVALID_CREDENTIALS", "The email or password is wrong");
const invalidRefresh = (why: string) => new AppError("UNAUTHENTICATED", why, undefined, { "WWW-Authenticate": 'Bearer realm="evently"' });
const disabledAccount = () => new AppError("UNAUTHENTICATED", "This account is disabled", undefined, { "WWW-Authenticate": 'Bearer realm="evently"' });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REFRESH_TOKEN = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;

/**
 * Refresh tokens are `<familyId>.<256 random bits>`. The family id is the session id (the `sid` of
 * its access tokens) and lets the rate limiter key on it before any lookup; only a SHA-256 of the
 * whole token is stored, which is enough for a secret with 256 bits of entropy.
 */
export function refreshFamilyOf(token: string): string | null {
  const m = REFRESH_TOKEN.exec(token);
  return m && UUID.test(m[1]) ? m[1] : null;
}

function newRefreshToken(familyId: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `${familyId}.${btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

async function hashRefreshToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** Refresh and logout of one family serialize on this lock, so a rotation never outlives a logout. */
const lockFamily = (tx: Tx, familyId: string) => tx.execute(sql`select pg_advisory_xact_lock(hashtext(${familyId}))`);

/** Stores the family's next refresh token (hashed) and signs the access token that goes with it. */
async function issuePair(deps: AuthDeps, db: Database | Tx, user: UserRow, familyId: string, now: Date): Promise<Session> {
  const refreshToken = newRefreshToken(familyId);
  await db.insert(refreshTokens).values({
    userId: user.id,
    familyId,
    tokenHash: await hashRefreshToken(refreshToken),
    expiresAt: new Date(now.getTime() + deps.config.refreshTokenTtlSeconds * 1000),
    createdAt: now,
  });
  const access = await signAccessToken(deps.env, deps.config, user, familyId, seconds(now));
  return { user: toPublicUser(user), accessToken: access.token, refreshToken, expiresIn: access.expiresIn };
}

/** A new session (refresh-token family) and its first token pair; login and register end here. */
export function startSession(deps: AuthDeps, db: Database | Tx, user: UserRow, now: Date): Promise<Session> {
  return issuePair(deps, db, user, crypto.randomUUID(), now);
}

export async function register(deps: AuthDeps, input: { email: string; password: string; name: string }): Promise<Session> {
  const now = deps.now?.() ?? new Date();
  // Hash before looking: a taken email answers no faster than a free one.
  const passwordHash = hashPassword(input.password);
  return deps.db.transaction(async (tx) => {
    const [user] = await tx
      .insert(users)
      .values({ email: normalizeEmail(input.email), name: input.name.trim(), passwordHash, role: "user", createdAt: now, updatedAt: now })
      .onConflictDoNothing()
      .returning();
    if (!user) throw new AppError("EMAIL_TAKEN", "An account with this email already exists");
    await audit(tx, { action: "auth.register", actorId: user.id, subjectId: user.id, ip: deps.ip });
    return startSession(deps, tx, user, now);
  });
}

export async function login(deps: AuthDeps, input: { email: string; password: string }): Promise<Session> {
  const now = deps.now?.() ?? new Date();
  const user = await findUserByEmail(deps.db, input.email);
  if (!user) {
    burnOneHash(input.password);
    await audit(deps.db, { action: "auth.login_failed", ip: deps.ip, detail: { email: normalizeEmail(input.email), reason: "unknown_email" } });
    throw invalidCredentials();
  }
  const verdict = verifyPassword(input.password, user.passwordHash);
  if (!verdict.ok) {
    await audit(deps.db, { action: "auth.login_failed", actorId: user.id, subjectId: user.id, ip: deps.ip, detail: { reason: "wrong_password" } });
    throw invalidCredentials();
  }
  if (user.disabledAt) {
    await audit(deps.db, { action: "auth.login_failed", actorId: user.id, subjectId: user.id, ip: deps.ip, detail: { reason: "disabled" } });
    throw disabledAccount();
  }
  return deps.db.transaction(async (tx) => {
    // Parameters were raised since this hash was made: the plaintext is at hand only now.
    if (verdict.needsRehash) {
      await tx.update(users).set({ passwordHash: hashPassword(input.password), updatedAt: now }).where(eq(users.id, user.id));
    }
    await audit(tx, { action: "auth.login", actorId: user.id, subjectId: user.id, ip: deps.ip, detail: verdict.needsRehash ? { rehashed: true } : undefined });
    return startSession(deps, tx, user, now);
  });
}

type RotateOutcome = { ok: true; session: Session } | { ok: false; error: AppError; revokeFamilyOf?: string };

/**
 * Rotates a refresh token: the presented one is spent and a new one of the same family issued.
 * Presenting a spent one again means it was copied: the whole family is revoked, access tokens too.
 */
export async function refresh(deps: AuthDeps, token: string): Promise<Session> {
  const now = deps.now?.() ?? new Date();
  const familyId = refreshFamilyOf(token);
  if (!familyId) throw invalidRefresh("The refresh token is not valid");
  const tokenHash = await hashRefreshToken(token);
  const outcome = await deps.db.transaction(async (tx): Promise<RotateOutcome> => {
    await lockFamily(tx, familyId);
    const [row] = await tx.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)).limit(1);
    if (!row || row.familyId !== familyId) return { ok: false, error: invalidRefresh("The refresh token is not valid") };
    if (row.revokedAt) return { ok: false, error: invalidRefresh("The refresh token has been revoked") };
    if (row.usedAt) {
      await tx.update(refreshTokens).set({ revokedAt: now }).where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
      await audit(tx, { action: "auth.refresh_reuse", actorId: row.userId, subjectId: familyId, ip: deps.ip, detail: { usedAt: row.usedAt.toISOString() } });
      return { ok: false, error: invalidRefresh("The refresh token was already used; the session is revoked"), revokeFamilyOf: row.userId };
    }
    if (row.expiresAt <= now) return { ok: false, error: invalidRefresh("The refresh token has expired") };
    const user = await findUserById(tx, row.userId);
    if (!user || user.disabledAt) return { ok: false, error: disabledAccount() };
    await tx.update(refreshTokens).set({ usedAt: now }).where(eq(refreshTokens.id, row.id));
    return { ok: true, session: await issuePair(deps, tx, user, familyId, now) };
  });
  if (outcome.ok) return outcome.session;
  // After the commit: the family's access tokens stop too, not only its refresh tokens.
  if (outcome.revokeFamilyOf) await revokeSession(deps.env, deps.config, outcome.revokeFamilyOf, familyId, seconds(now));
  throw outcome.error;
}

/** Ends one session: its access tokens first (they are what an attacker would be using), then its refresh tokens. */
export async function endSession(deps: AuthDeps, userId: string, sid: string, action: "auth.logout" | "auth.session_revoked"): Promise<void> {
  const now = deps.now?.() ?? new Date();
  await revokeSession(deps.env, deps.config, userId, sid, seconds(now));
  await deps.db.transaction(async (tx) => {
    await lockFamily(tx, sid);
    await tx
      .update(refreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(refreshTokens.familyId, sid), eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)));
    await audit(tx, { action, actorId: userId, subjectId: sid, ip: deps.ip });
  });
}

export interface SessionInfo {
  id: string;
  createdAt: string;
  lastRefreshedAt: string;
  expiresAt: string;
  current: boolean;
}

/** The caller's live sessions: families whose newest refresh token is unspent, unrevoked, unexpired. */
export async function listSessions(deps: AuthDeps, userId: string, currentSid: string): Promise<SessionInfo[]> {
  const now = deps.now?.() ?? new Date();
  const rows = await deps.db
    .select({
      familyId: refreshTokens.familyId,
      lastRefreshedAt: refreshTokens.createdAt,
      expiresAt: refreshTokens.expiresAt,
      startedAt: sql<string>`(select min(f.created_at) from ${refreshTokens} f where f.family_id = ${refreshTokens.familyId})`,
    })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.usedAt), isNull(refreshTokens.revokedAt), gt(refreshTokens.expiresAt, now)))
    .orderBy(refreshTokens.createdAt);
  return rows.map((r) => ({
    id: r.familyId,
    createdAt: new Date(r.startedAt).toISOString(),
    lastRefreshedAt: r.lastRefreshedAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    current: r.familyId === currentSid,
  }));
}

/** Revokes one of the caller's own sessions; another user's session id is as unknown as a made-up one. */
export async function revokeOwnSession(deps: AuthDeps, userId: string, sid: string): Promise<void> {
  if (!UUID.test(sid)) throw new AppError("NOT_FOUND", "No such session");
  const [row] = await deps.db
    .select({ id: refreshTokens.id })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.familyId, sid), eq(refreshTokens.userId, userId)))
    .limit(1);
  if (!row) throw new AppError("NOT_FOUND", "No such session");
  await endSession(deps, userId, sid, "auth.session_revoked");
}

export interface UserUpdate {
  role?: Role;
  disabled?: boolean;
}

/**
 * An admin changes a role or disables/enables an account. Disabling revokes every refresh token;
 * the user's sessions object then refuses their access tokens on the very next request. The change
 * reaches that object through an outbox row written in the same transaction, so a failure after
 * the commit only delays it (queue retry, cron) and never loses it.
 */
export async function updateUser(deps: AuthDeps, actorId: string, userId: string, change: UserUpdate): Promise<PublicUser> {
  const now = deps.now?.() ?? new Date();
  if (!UUID.test(userId)) throw new AppError("NOT_FOUND", "No such user");
  if (actorId === userId && (change.disabled === true || (change.role !== undefined && change.role !== "admin"))) {
    throw new AppError("INVALID_STATE", "Admins cannot disable or demote their own account; ask another admin");
  }
  const { before, after } = await deps.db.transaction(async (tx) => {
    const [before] = await tx.select().from(users).where(eq(users.id, userId)).for("update");
    if (!before) throw new AppError("NOT_FOUND", "No such user");
    const set: Partial<typeof users.$inferInsert> = { updatedAt: now };
    if (change.role !== undefined) set.role = change.role;
    if (change.disabled !== undefined) set.disabledAt = change.disabled ? (before.disabledAt ?? now) : null;
    const [after] = await tx.update(users).set(set).where(eq(users.id, userId)).returning();
    if (change.disabled) {
      await tx.update(refreshTokens).set({ revokedAt: now }).where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)));
    }
    if (before.role !== after.role || (before.disabledAt !== null) !== (after.disabledAt !== null)) {
      await queueUserStatus(tx, userId, { role: after.role, disabled: after.disabledAt !== null }, now);
    }
    await audit(tx, {
      action: "admin.user_updated",
      actorId,
      subjectId: userId,
      ip: deps.ip,
      detail: { from: { role: before.role, disabled: before.disabledAt !== null }, to: { role: after.role, disabled: after.disabledAt !== null } },
    });
    return { before, after };
  });
  // Also when nothing changed now: an admin's retry delivers a change an earlier request left pending.
  await deliverUserStatusOrRetryLater(deps.env, deps.db, userId);
  return toPublicUser(after);
}
