// npm run bench:exports — how long the streamed CSV exports take for one event with many rows,
// over real HTTP against the Worker in workerd (unstable_startWorker) on a real PostgreSQL server.
// It makes a database of its own (evently_bench_exports, dropped at the end), fills one event with
// EXPORT_ROWS confirmed single-ticket bookings by SQL, then downloads attendees.csv and bookings.csv,
// checks every row arrived, and records the table (only at full size: 100,000 rows).
//
//   EXPORT_ROWS=100000 npx tsx bench/exports.ts
import { randomBytes } from "node:crypto";
import pg from "pg";
import { unstable_startWorker } from "wrangler";
import { signAccessToken } from "../src/auth/tokens";
import type { Config, Env } from "../src/env";
import { createDatabase, dropDatabase, freePort } from "../scripts/lib/local-db";
import { migrate } from "../scripts/lib/migrate";
import { startWsProxy } from "../scripts/lib/ws-proxy";
import { markdownTable, recordBenchmark } from "./lib/benchmarks-doc";

const ROWS = Number(process.env.EXPORT_ROWS ?? 100_000);
const FULL = ROWS >= 100_000;
const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const DB_NAME = `evently_bench_exports_${process.pid}`;
const JWT_SECRET = randomBytes(32).toString("base64url");

async function fill(url: string): Promise<{ eventId: string; adminId: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = performance.now();
    const { rows: [ids] } = await client.query(`
      with a as (insert into users (email, name, password_hash, role) values ('bench-admin@evently.test', 'Bench admin', 'unusable', 'admin') returning id),
      v as (insert into venues (owner_id, name, city, address, timezone, capacity) select id, 'Bench hall', 'Lisbon', 'Rua 1', 'Europe/Lisbon', ${ROWS} from a returning id, owner_id),
      e as (insert into events (venue_id, organizer_id, name, category, city, timezone, status, seating, start_time, end_time, capacity, price_cents, currency)
            select id, owner_id, 'Bench night', 'music', 'Lisbon', 'Europe/Lisbon', 'published', 'general', now() + interval '30 days', now() + interval '31 days', ${ROWS}, 5000, 'EUR' from v returning id)
      select (select id from e) as event_id, (select id from a) as admin_id`);
    // Names with a comma, a quote and a newline now and then: the quoting path is part of the cost.
    await client.query(`
      insert into users (email, name, password_hash)
      select 'buyer' || g || '@bench.test', case when g % 10 = 0 then 'Smith, "Jo"' || chr(10) || g else 'Buyer ' || g end, 'unusable' from generate_series(1, $1) g`, [Math.min(ROWS, 10_000)]);
    await client.query(`
      with u as (select id, row_number() over () as n from users where email like 'buyer%'),
      b as (
        insert into bookings (user_id, event_id, hold_id, status, quantity, total_amount_cents, currency, payment_method, payment_deadline, confirmed_at)
        select u.id, $1, 'hld_bench_' || g, 'confirmed', 1, 5000, 'EUR', 'pm_card_ok', now(), now()
        from generate_series(1, $2) g join u on u.n = 1 + (g % (select count(*) from u))
        returning id, user_id)
      insert into tickets (booking_id, event_id, holder_id, slot, holder_name, code)
      select b.id, $1, b.user_id, 1, users.name, 'bench-code' from b join users on users.id = b.user_id`, [ids.event_id, ROWS]);
    console.log(`filled ${ROWS} bookings and tickets in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { eventId: ids.event_id, adminId: ids.admin_id };
  } finally {
    await client.end();
  }
}

/** Downloads a CSV as a stream: time to first byte, total time, rows (CRLF-terminated records), bytes. */
async function download(url: string, headers: Record<string, string>): Promise<{ ttfbMs: number; totalMs: number; lines: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  let ttfb = 0;
  let bytes = 0;
  let lines = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (!ttfb) ttfb = performance.now() - started;
    bytes += chunk.length;
    // Records end with CRLF; a newline inside a quoted name is a bare LF, so CRs count records.
    for (const b of chunk) if (b === 13) lines++;
  }
  return { ttfbMs: ttfb, totalMs: performance.now() - started, lines, bytes };
}

async function main(): Promise<void> {
  const url = await createDatabase(ADMIN_URL, DB_NAME);
  const proxy = await startWsProxy();
  let worker: Awaited<ReturnType<typeof unstable_startWorker>> | undefined;
  try {
    await migrate(url);
    const { eventId, adminId } = await fill(url);
    const port = await freePort();
    worker = await unstable_startWorker({
      config: "wrangler.toml",
      bindings: {
        DATABASE_URL: { type: "plain_text", value: url },
        DB_WS_PROXY: { type: "plain_text", value: proxy.url },
        JWT_SECRET: { type: "plain_text", value: JWT_SECRET },
        // wrangler.toml says production, which needs keys for secrets at rest (src/lib/secret-box.ts).
        SECRETS_KEYS: { type: "plain_text", value: `bench:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}` },
        RATE_LIMITS: { type: "plain_text", value: "off" },
      },
      dev: { server: { hostname: "127.0.0.1", port }, inspector: false, persist: false, watch: false, logLevel: "error" },
    });
    await worker.ready;
    const base = (await worker.url).toString().replace(/\/$/, "");
    const config: Config = { rateLimits: "off", jwtIssuer: "https://evently.example", jwtAudience: "evently-api", accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 86_400, holdMaxInflight: 64, corsOrigins: [], paymentProvider: "sandbox", stripe: null };
    const admin = { authorization: `Bearer ${(await signAccessToken({ JWT_SECRET } as Env, config, { id: adminId, role: "admin" }, crypto.randomUUID())).token}` };
    // The first request of a fresh Worker pays for its start and the first Postgres connection.
    const warm = await fetch(`${base}/health/ready`);
    if (warm.status !== 200) throw new Error(`/health/ready: ${warm.status} ${await warm.text()}`);
    const rows: (string | number)[][] = [];
    for (const kind of ["attendees", "bookings"]) {
      const r = await download(`${base}/v1/events/${eventId}/exports/${kind}.csv`, admin);
      if (r.lines !== ROWS + 1) throw new Error(`${kind}.csv: expected ${ROWS + 1} lines (header + rows), got ${r.lines}`);
      rows.push([`${kind}.csv`, ROWS, (r.bytes / 1e6).toFixed(1), r.ttfbMs.toFixed(0), (r.totalMs / 1000).toFixed(2), Math.round(ROWS / (r.totalMs / 1000))]);
    }
    const table = markdownTable(["export", "rows", "MB", "first byte ms", "total s", "rows/s"], rows);
    console.log(`\n${table}\n`);
    if (FULL) {
      const file = recordBenchmark("exports", "Streamed CSV exports", `One event, ${ROWS} confirmed bookings with one ticket each, downloaded over HTTP from the Worker in workerd (no dev proxy) on the local PostgreSQL server; pages of 2,000 rows by keyset.\n\n${table}`);
      console.log(`recorded in ${file}`);
    } else {
      console.log("(smoke size: not recorded)");
    }
  } finally {
    await worker?.dispose();
    await proxy.close();
    await dropDatabase(ADMIN_URL, DB_NAME);
  }
}

await main();
