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

/**
 * A Pool lives for one request (or one queue batch): workerd refuses I/O on a socket opened by
 * another request. The caller closes it with `waitUntil(pool.end())`.
 */
export function createDb(env: DbEnv): Database {
  if (!env.DATABASE_URL) {
    console.error(JSON.stringify({ level: "error", msg: "DATABASE_URL is empty: Postgres is not configured" }));
    throw new AppError("DEPENDENCY_UNAVAILABLE", "Postgres is unavailable, try again shortly", undefined, { "Retry-After": "2" });
  }
  configureDriver(env);
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 4, connectionTimeoutMillis: 3_000 });
  // An idle client's socket can fail after the request moved on; it must not crash the isolate.
  pool.on("error", (err: unknown) => console.warn(JSON.stringify({ level: "warn", msg: "pg pool error", error: String(err) })));
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

/** A per-request database handle: opens its Pool on first use; `close()` ends it if it was opened. */
export function lazyDb(env: DbEnv): { get: () => Database; close: () => Promise<void> } {
  let db: Database | undefined;
  return {
    get: () => (db ??= createDb(env)),
    close: async () => {
      if (db) await closeDb(db);
    },
  };
}

const CONNECTION_ERRORS = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|timeout|Connection terminated|WebSocket|Network connection lost|connect|socket/i;

/** True for failures that mean "Postgres is not reachable", as opposed to a bad query. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && /^(08|57P)/.test(code)) return true;
  if (code && /^[0-9A-Z]{5}$/.test(code)) return false;
  const cause = (err as { cause?: unknown }).cause;
  return CONNECTION_ERRORS.test(err.message) || (cause !== undefined && cause !== err && isConnectionError(cause));
}
