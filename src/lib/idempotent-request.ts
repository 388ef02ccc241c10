import { and, eq, isNull, lte, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { AppError } from "./errors";

export interface Reply {
  status: number;
  body: unknown;
}

const KEY_TTL_MS = 24 * 3600 * 1000;
/** How long a retry waits for the first request's answer before it answers IDEMPOTENCY_IN_PROGRESS. */
const WAIT_FOR_FIRST_MS = 1_000;
/**
 * The lease of the request running under a key. A create takes well under a second; a request
 * that crashed mid-run blocks its key for at most this long, then a retry runs in its place.
 */
export const KEY_LEASE_MS = 20_000;

/** What a key stands for: the route and its parsed body. */
export interface KeyedRequest {
  /** Method and path template, e.g. `POST /v1/venues`. */
  route: string;
  body: unknown;
}

/** The route is hashed with the body, so a key first used on one route never replays its answer on another. */
async function hash(request: KeyedRequest): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify([request.route, request.body])));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * `Idempotency-Key` per (user, key): a retry of the same request (route and body) replays the first
 * answer, anything else is 409 IDEMPOTENCY_CONFLICT. A retry that arrives while the first is still
 * running waits briefly for its answer, then answers 409 IDEMPOTENCY_IN_PROGRESS with Retry-After:
 * `run` never runs twice at once for one key. Only a request that holds the key's lease runs; a
 * lease lapses (the first request died mid-run) after KEY_LEASE_MS. A key past its `expires_at`
 * is new again, whether or not the cron has deleted it yet.
 */
export async function idempotent(
  db: Database,
  userId: string,
  key: string | undefined,
  request: KeyedRequest,
  run: () => Promise<Reply>,
  waitForFirstMs = WAIT_FOR_FIRST_MS,
): Promise<Reply & { replayed: boolean }> {
  if (!key) return { ...(await run()), replayed: false };
  if (key.length > 200) throw new AppError("VALIDATION_FAILED", "Idempotency-Key is longer than 200 characters");
  const requestHash = await hash(request);
  const deadline = Date.now() + waitForFirstMs;
  for (;;) {
    if (await claim(db, userId, key, requestHash)) break;
    const [first] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
    if (!first) continue; // the first attempt failed and let the key go: claim it now
    if (first.requestHash !== requestHash) throw new AppError("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was used with another request");
    if (first.responseStatus !== null) return { status: first.responseStatus, body: first.responseBody, replayed: true };
    if (Date.now() >= deadline) {
      throw new AppError("IDEMPOTENCY_IN_PROGRESS", "A request with this Idempotency-Key is still running; retry shortly", undefined, { "Retry-After": "1" });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    const reply = await run();
    await db
      .update(idempotencyKeys)
      .set({ responseStatus: reply.status, responseBody: reply.body, lockedUntil: null })
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key), isNull(idempotencyKeys.responseStatus)));
    return { ...reply, replayed: false };
  } catch (e) {
    // A failed attempt stores nothing: the client's retry runs again rather than replaying an error.
    // A busy database may refuse this too: a few tries, else the lease (KEY_LEASE_MS) lets the key go.
    for (let attempt = 0; attempt < 3; attempt++) {
      const released = await db
        .delete(idempotencyKeys)
        .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key), isNull(idempotencyKeys.responseStatus)))
        .then(() => true, () => false);
      if (released) break;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
    throw e;
  }
}

/**
 * Takes the key's lease in one statement: a new key, an expired one (it starts over, whatever it
 * was used for), or the same request whose runner's lease lapsed without an answer. Postgres
 * re-checks the condition on the row's newest version, so of two racing claims exactly one wins.
 */
async function claim(db: Database, userId: string, key: string, requestHash: string): Promise<boolean> {
  const now = new Date();
  const lockedUntil = new Date(now.getTime() + KEY_LEASE_MS);
  const [mine] = await db
    .insert(idempotencyKeys)
    .values({ userId, key, requestHash, createdAt: now, expiresAt: new Date(now.getTime() + KEY_TTL_MS), lockedUntil })
    .onConflictDoUpdate({
      target: [idempotencyKeys.userId, idempotencyKeys.key],
      set: { requestHash, responseStatus: null, responseBody: null, createdAt: now, expiresAt: sql`excluded.expires_at`, lockedUntil },
      setWhere: or(
        lte(idempotencyKeys.expiresAt, now),
        and(isNull(idempotencyKeys.responseStatus), eq(idempotencyKeys.requestHash, requestHash), or(isNull(idempotencyKeys.lockedUntil), lte(idempotencyKeys.lockedUntil, now))),
      ),
    })
    .returning({ key: idempotencyKeys.key });
  return mine !== undefined;
}
