import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { exports } from "cloudflare:workers";
import { signAccessToken, type Role } from "../../src/auth/tokens";
import { createDb, closeDb } from "../../src/db/client";
import { users } from "../../src/db/schema";
import { parseConfig, type Env } from "../../src/env";
import { type Session, startSession } from "../../src/services/auth";
import { personalOrgId } from "../../src/services/organizations";

export const testEnv = env as unknown as Env;

// Fixture users never log in with a password; the password path has its own tests.
const UNUSABLE_HASH = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

export interface TestUser {
  id: string;
  email: string;
  role: Role;
  token: string;
  auth: { authorization: string };
}

/** Inserts a user straight into Postgres and mints an access token with the test secret. */
export async function makeUser(role: Role = "user", name: string = role): Promise<TestUser> {
  const db = createDb(testEnv);
  try {
    const email = `${name}-${crypto.randomUUID()}@evently.test`;
    const [row] = await db.insert(users).values({ email, name, role, passwordHash: UNUSABLE_HASH }).returning();
    // A session id with no refresh token behind it: enough for a bearer token, nothing to refresh.
    const { token } = await signAccessToken(testEnv, parseConfig(testEnv), { id: row.id, role }, crypto.randomUUID());
    return { id: row.id, email, role, token, auth: { authorization: `Bearer ${token}` } };
  } finally {
    await closeDb(db);
  }
}

export interface TestSession extends TestUser {
  refreshToken: string;
  /** The session id (refresh-token family), the `sid` of its access tokens. */
  sid: string;
}

/**
 * A user with a real session (refresh token in Postgres), as login would leave it, but without
 * spending an Argon2 hash: for tests of refresh, logout and revocation.
 */
export async function makeSession(role: Role = "user", name: string = role): Promise<TestSession> {
  const u = await makeUser(role, name);
  const session = await openSession(u.id);
  return { ...u, token: session.accessToken, auth: { authorization: `Bearer ${session.accessToken}` }, refreshToken: session.refreshToken, sid: session.sid };
}

/** One more session (another device) for an existing user, as login would open it. */
export async function openSession(userId: string): Promise<Session & { sid: string }> {
  const session = await withDb(async (db) => {
    const [row] = await db.select().from(users).where(eq(users.id, userId));
    return startSession({ db, env: testEnv, config: parseConfig(testEnv), ip: "fixture" }, db, row, new Date());
  });
  return { ...session, sid: session.refreshToken.split(".")[0] };
}

/** A made-up client address, so per-IP rate limits of one test never count another test's calls. */
export function freshIp(): { "cf-connecting-ip": string } {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return { "cf-connecting-ip": [...b].map((x) => x.toString(16).padStart(2, "0")).join("").replace(/(.{4})(?!$)/g, "$1:") };
}

/** The user's personal organization (created on first use, as the API does): what rows inserted straight into Postgres belong to. */
export function orgOf(db: ReturnType<typeof createDb>, userId: string): Promise<string> {
  return personalOrgId(db, { id: userId });
}

/** Runs `fn` with a Pool on the test database and closes it afterwards. */
export async function withDb<T>(fn: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const db = createDb(testEnv);
  try {
    return await fn(db);
  } finally {
    await closeDb(db);
  }
}

/** Calls the Worker exactly as the runtime would. */
export function call(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("content-type", "application/json");
  return exports.default.fetch(
    new Request(`http://evently.test${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body }),
  );
}

export function expectError(body: any, code: string): void {
  if (!body?.error || body.error.code !== code || typeof body.error.message !== "string" || typeof body.error.requestId !== "string") {
    throw new Error(`expected error ${code}, got ${JSON.stringify(body)}`);
  }
}
