import { eq, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { hashPassword } from "../auth/passwords";
import type { Role } from "../auth/tokens";
import { users } from "../db/schema";
import { audit } from "./audit";

/** Any drizzle Postgres handle: the Worker's Neon pool, a transaction, or node-postgres in scripts. */
export type AnyDb = PgDatabase<PgQueryResultHKT, any>;
export type UserRow = typeof users.$inferSelect;

/** Emails are compared and stored trimmed and lower-cased (the unique index is on lower(email) too). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
}

export function toPublicUser(row: UserRow): PublicUser {
  return { id: row.id, email: row.email, name: row.name, role: row.role, disabled: row.disabledAt !== null, createdAt: row.createdAt.toISOString() };
}

export async function findUserByEmail(db: AnyDb, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(sql`lower(${users.email}) = ${normalizeEmail(email)}`).limit(1);
  return row;
}

export async function findUserById(db: AnyDb, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

export interface EnsureUserInput {
  email: string;
  password?: string;
  name: string;
  role: Role;
  /** For an account that already exists: replace its password with `password`. */
  resetPassword?: boolean;
}

/**
 * Creates the account, or gives an existing one `role` (and a new password if asked). Used by the
 * dev seed (demo accounts) and `npm run admin:create`; hashes with the same Argon2id as login.
 */
export async function ensureUser(db: AnyDb, input: EnsureUserInput): Promise<{ user: UserRow; created: boolean }> {
  const email = normalizeEmail(input.email);
  const existing = await findUserByEmail(db, email);
  if (existing) {
    const changes: Partial<typeof users.$inferInsert> = {};
    if (existing.role !== input.role) changes.role = input.role;
    if (input.resetPassword && input.password) changes.passwordHash = hashPassword(input.password);
    if (Object.keys(changes).length === 0) return { user: existing, created: false };
    const [user] = await db.update(users).set({ ...changes, updatedAt: new Date() }).where(eq(users.id, existing.id)).returning();
    await audit(db, { action: "admin.user_updated", subjectId: user.id, detail: { via: "ensureUser", from: { role: existing.role }, to: { role: user.role }, passwordReset: "passwordHash" in changes } });
    return { user, created: false };
  }
  if (!input.password) throw new Error(`${email} does not exist yet: a password is needed to create it`);
  const [user] = await db.insert(users).values({ email, name: input.name, role: input.role, passwordHash: hashPassword(input.password) }).returning();
  await audit(db, { action: "admin.user_created", subjectId: user.id, detail: { via: "ensureUser", role: user.role } });
  return { user, created: true };
}
