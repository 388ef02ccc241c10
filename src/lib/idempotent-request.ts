import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { AppError } from "./errors";

export interface Reply {
  status: number;
  body: unknown;
}

const KEY_TTL_MS = 24 * 3600 * 1000;
const WAIT_FOR_FIRST_MS = 5_000;

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
 * running waits for its answer; `run` must itself be safe to repeat (it is the fallback when the
 * wait runs out).
 */
export async function idempotent(db: Database, userId: string, key: string | undefined, request: KeyedRequest, run: () => Promise<Reply>, now = new Date()): Promise<Reply & { replayed: boolean }> {
  if (!key) return { ...(await run()), replayed: false };
  if (key.length > 200) throw new AppError("VALIDATION_FAILED", "Idempotency-Key is longer than 200 characters");
  const requestHash = await hash(request);
  const [mine] = await db
    .insert(idempotencyKeys)
    .values({ userId, key, requestHash, expiresAt: new Date(now.getTime() + KEY_TTL_MS) })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  if (!mine) {
    const deadline = Date.now() + WAIT_FOR_FIRST_MS;
    for (;;) {
      const [first] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
      if (!first) break; // the first attempt failed and let the key go: run as the first now
      if (first.requestHash !== requestHash) throw new AppError("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was used with another request");
      if (first.responseStatus !== null) return { status: first.responseStatus, body: first.responseBody, replayed: true };
      if (Date.now() > deadline) return { ...(await run()), replayed: true };
      await new Promise((r) => setTimeout(r, 50));
    }
    return idempotent(db, userId, key, request, run, now);
  }
  try {
    const reply = await run();
    await db
      .update(idempotencyKeys)
      .set({ responseStatus: reply.status, responseBody: reply.body })
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key), isNull(idempotencyKeys.responseStatus)));
    return { ...reply, replayed: false };
  } catch (e) {
    // A failed attempt stores nothing: the client's retry runs again rather than replaying an error.
    await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key), isNull(idempotencyKeys.responseStatus))).catch(() => undefined);
    throw e;
  }
}
