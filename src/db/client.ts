import { Pool, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import { AppError } from "../lib/errors";
import * as schema from "./schema";

export type Database = NeonDatabase<typeof schema> & { $client: Pool };

interface DbEnv {
  DATABASE_URL: string;
  DB_WS_PROXY?: string;
}

let configuredProxy: string | undefined;

/** Local runs reach Postgres through our WebSocket-to-TCP proxy; production uses Neon's defaults. */
function configureDriver(env: DbEnv): void {
  if (!env.DB_WS_PROXY || configuredProxy === env.DB_WS_PROXY) return;
  const proxy = env.DB_WS_PROXY.replace(/\/$/, "").replace(/^ws:\/\//, "");
  neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  neonConfig.forceDisablePgSSL = true;
  configuredProxy = env.DB_WS_PROXY;
}

// ---------------------------------------------------------------------------------------------
// Connections per isolate. A Pool cannot outlive its request in workerd, so the isolate bounds how
// many Pools are open at once (each with at most POOL_MAX connections): a burst of buyers queues
// here for a moment instead of running Postgres out of connections ("sorry, too many clients
// already", a 500 before), and past DB_SLOT_WAIT_MS the request answers 503 with Retry-After.

/** Connections one Pool opens at most: a request runs its statements one after another. */
const POOL_MAX = 2;
/** Pools open at once in one isolate (so at most POOLS_PER_ISOLATE * POOL_MAX connections). */
export const POOLS_PER_ISOLATE = 40;
/** How long a request waits for a Pool slot before it answers 503. */
export const DB_SLOT_WAIT_MS = 10_000;

let slotsInUse = 0;

/**
 * Waits for a free slot by looking again every few milliseconds on its own timer. Not a queue of
 * waiters woken by whoever frees a slot: in workerd a promise resolved from another request moves
 * the waiter into that request, whose I/O it may not touch ("Cannot perform I/O on behalf of a
 * different request").
 */
async function acquireSlot(limit: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (slotsInUse >= limit) {
    if (Date.now() >= deadline) throw saturated();
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 15));
  }
  slotsInUse++;
}

function releaseSlot(): void {
  slotsInUse--;
}

/** Pools open in this isolate right now (for tests and metrics). */
export const openPools = () => slotsInUse;

const saturated = () => new AppError("DEPENDENCY_UNAVAILABLE", "The database is busy, try again in a moment", undefined, { "Retry-After": "1" });

// ---------------------------------------------------------------------------------------------
// Statements, counted by what sent them (a request, a saga run, a queue batch): the checkout's
// statement budget is a test (test/workers/checkout-statements.test.ts), not a hope.

/** Who opened a Pool: "request", "saga" (the booking-saga queue), "queue" (other queues), "job", "export"; tests use their own. */
export type DbLabel = string;
type StatementListener = (label: DbLabel, sql: string) => void;
let statementListener: StatementListener | null = null;

/** Tests only: every statement any Pool of this isolate sends, with its label; null stops listening. */
export function onStatement(listener: StatementListener | null): void {
  statementListener = listener;
}

function countStatements(label: DbLabel, target: { query: (...args: any[]) => any }): void {
  const query = target.query.bind(target);
  target.query = (...args: any[]) => {
    const text = typeof args[0] === "string" ? args[0] : args[0]?.text;
    statementListener?.(label, String(text ?? ""));
    return query(...args);
  };
}

/**
 * A Pool lives for one request (or one queue batch): workerd refuses I/O on a socket opened by
 * another request. Its first statement waits for a slot of the isolate (503 past DB_SLOT_WAIT_MS);
 * `closeDb` gives the slot back. The caller closes it with `waitUntil(closeDb(db))`.
 */
export function createDb(env: DbEnv, label: DbLabel = "request", opts: { max?: number } = {}): Database {
  if (!env.DATABASE_URL) {
    console.error(JSON.stringify({ level: "error", msg: "DATABASE_URL is empty: Postgres is not configured" }));
    throw new AppError("DEPENDENCY_UNAVAILABLE", "Postgres is unavailable, try again shortly", undefined, { "Retry-After": "2" });
  }
  configureDriver(env);
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: opts.max ?? POOL_MAX, connectionTimeoutMillis: 3_000 });
  // An idle client's socket can fail after the request moved on; it must not crash the isolate.
  pool.on("error", (err: unknown) => console.warn(JSON.stringify({ level: "warn", msg: "pg pool error", error: String(err) })));
  pool.on("connect", (client: { query: (...args: any[]) => any }) => countStatements(label, client));
  // The slot is taken by the first statement (many requests never touch Postgres) and kept until
  // the Pool ends. Statements on a client checked out for a transaction are counted on the client.
  let slot: Promise<void> | null = null;
  let released = false;
  const ready = () => (slot ??= acquireSlot(POOLS_PER_ISOLATE, DB_SLOT_WAIT_MS));
  const query = pool.query.bind(pool);
  const connect = pool.connect.bind(pool);
  const end = pool.end.bind(pool);
  (pool as any).query = async (...args: any[]) => {
    await ready();
    return (query as any)(...args);
  };
  (pool as any).connect = async (...args: any[]) => {
    await ready();
    return (connect as any)(...args);
  };
  (pool as any).end = async (...args: any[]) => {
    try {
      return await (end as any)(...args);
    } finally {
      if (slot && !released) {
        released = true;
        // A slot still being waited for is given back once granted.
        slot.then(releaseSlot, () => undefined);
      }
    }
  };
  return drizzle({ client: pool, schema }) as Database;
}

/**
 * Ends a Pool, waiting at most `ms`. The driver's `end()` waits for its WebSocket's close event,
 * which now and then never comes locally (the TCP side was ended, workerd leaves it in CLOSE-WAIT):
 * an unbounded `await` there hung whole test runs. The connection is finished with either way.
 */
export async function closeDb(db: Database, ms = 2_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  const outcome = await Promise.race([db.$client.end().then(() => "ended" as const, () => "ended" as const), late]);
  clearTimeout(timer);
  if (outcome === "late") console.warn(JSON.stringify({ level: "warn", msg: "pg pool did not close in time; moving on", ms }));
}

/**
 * A per-request database handle: opens its Pool on first use; `close()` ends it if it was opened,
 * once the work handed to `keep` (a booking's first saga run, in the request's waitUntil) is done.
 */
export function lazyDb(env: DbEnv): { get: () => Database; keep: (work: Promise<unknown>) => void; close: () => Promise<void> } {
  let db: Database | undefined;
  const kept: Promise<unknown>[] = [];
  return {
    get: () => (db ??= createDb(env)),
    keep: (work) => void kept.push(work.catch(() => undefined)),
    close: async () => {
      await Promise.all(kept);
      if (db) await closeDb(db);
    },
  };
}

const CONNECTION_ERRORS = /too many clients|ECONNREFUSED|ECONNRESET|ETIMEDOUT|timeout|Connection terminated|WebSocket|Network connection lost|connect|socket/i;

/** True for failures that mean "Postgres is not reachable", as opposed to a bad query. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  // 08: connection exceptions; 57P: shutdown; 53300: too many connections ("sorry, too many clients already").
  if (code && /^(08|57P|53300)/.test(code)) return true;
  if (code && /^[0-9A-Z]{5}$/.test(code)) return false;
  const cause = (err as { cause?: unknown }).cause;
  return CONNECTION_ERRORS.test(err.message) || (cause !== undefined && cause !== err && isConnectionError(cause));
}
