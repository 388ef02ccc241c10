// Runs inside workerd before each test file of the Workers project: gives the file a clean
// database and points this file's Worker, Durable Objects and queue consumers at it (they all
// share the `env` object of the file's isolate).
import { env } from "cloudflare:test";
import { inject } from "vitest";
import { createDb, closeDb } from "../../src/db/client";

const runUrl = inject("databaseUrl");
const proxy = inject("wsProxy");
const bindings = env as unknown as { DATABASE_URL: string; DB_WS_PROXY?: string };

async function onDatabase<T>(url: string, fn: (q: (sql: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const db = createDb({ DATABASE_URL: url, DB_WS_PROXY: proxy });
  try {
    // Setup files have no test timeout: a query that never answers would hang the whole run.
    const bounded = (sql: string) =>
      Promise.race([
        db.$client.query(sql),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`test database setup: no answer within 30 s to ${sql.slice(0, 60)}`)), 30_000)),
      ]);
    return await fn(bounded);
  } finally {
    await closeDb(db);
  }
}

if (inject("dbIsolation") === "database") {
  const template = new URL(runUrl).pathname.slice(1);
  const name = `${inject("fileDatabasePrefix")}_f_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = new URL(runUrl);
  admin.pathname = "/postgres";
  await onDatabase(admin.toString(), async (q) => {
    // Cloning a template is refused while another session copies it; retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await q(`create database "${name}" template "${template}"`);
        break;
      } catch (e) {
        if (attempt >= 20 || !/being accessed by other users/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  });
  const fileUrl = new URL(runUrl);
  fileUrl.pathname = `/${name}`;
  bindings.DATABASE_URL = fileUrl.toString();
} else {
  // Embedded Postgres has one database: files run one at a time and each starts from a reset schema.
  await onDatabase(runUrl, async (q) => {
    await q("drop schema if exists drizzle cascade; drop schema if exists public cascade; create schema public;");
    await q(inject("migrationSql"));
  });
}
