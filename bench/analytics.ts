// npm run bench:analytics — latency of every analytics endpoint over real HTTP, against the Worker
// running in workerd (wrangler's unstable_startWorker, no dev proxy in front) on the database that
// scripts/gen-analytics-data.ts filled (DATABASE_URL, else evently_bench on 127.0.0.1:5432).
// Requests go one at a time so each figure is a request's own latency, not queueing. It adds one
// admin user (bench-admin@evently.test) to that database to sign a token for.
//
//   npm run bench:analytics [-- --requests 100]
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { unstable_startWorker } from "wrangler";
import { BenchReport } from "./lib/benchmarks-doc";
import { signAccessToken } from "../src/auth/tokens";
import type { Config, Env } from "../src/env";
import { freePort } from "../scripts/lib/local-db";
import { startWsProxy } from "../scripts/lib/ws-proxy";

const { values } = parseArgs({ options: { requests: { type: "string", default: "100" }, warmup: { type: "string", default: "5" } } });
const REQUESTS = Number(values.requests);
const WARMUP = Number(values.warmup);
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/evently_bench";
const JWT_SECRET = randomBytes(32).toString("base64url");

async function prepare(): Promise<{ summary: string; adminId: string; organizerId: string; topEvent: string; medianEvent: string; rollup: string }> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows: counts } = await client.query("select (select count(*) from events) as events, (select count(*) from bookings) as bookings, (select count(*) from hold_history) as holds");
    const admin = await client.query(
      `insert into users (email, name, password_hash, role) values ('bench-admin@evently.test', 'Bench admin', 'unusable', 'admin')
       on conflict ((lower(email))) do update set role = 'admin' returning id`,
    );
    const { rows: ranked } = await client.query(
      "select e.id, e.organizer_id, count(b.*) as n from events e left join bookings b on b.event_id = e.id group by e.id order by n desc",
    );
    const { rows: state } = await client.query("select refreshed_at, duration_ms, row_count from analytics_rollups where name = 'booking_daily_stats'");
    if (!state[0]) throw new Error("the daily rollup was never built: run scripts/gen-analytics-data.ts first");
    const summary = `${counts[0].events} events, ${counts[0].bookings} bookings, ${counts[0].holds} hold history rows`;
    console.log(`data: ${summary}`);
    return {
      summary,
      adminId: admin.rows[0].id,
      organizerId: ranked[0].organizer_id,
      topEvent: `${ranked[0].id} (${ranked[0].n} bookings)`,
      medianEvent: `${ranked[Math.floor(ranked.length / 2)].id} (${ranked[Math.floor(ranked.length / 2)].n} bookings)`,
      rollup: `${state[0].row_count} rows, last rebuild took ${state[0].duration_ms} ms`,
    };
  } finally {
    await client.end();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measure(url: string, headers: Record<string, string>): Promise<{ p50: number; p95: number; max: number; bytes: number }> {
  const once = async () => {
    const started = performance.now();
    const res = await fetch(url, { headers });
    const body = await res.text();
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
    return { ms, bytes: body.length };
  };
  for (let i = 0; i < WARMUP; i++) await once();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const r = await once();
    times.push(r.ms);
    bytes = r.bytes;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), max: times.at(-1)!, bytes };
}

async function main(): Promise<void> {
  const data = await prepare();
  const proxy = await startWsProxy();
  const port = await freePort();
  const worker = await unstable_startWorker({
    config: "wrangler.toml",
    bindings: {
      DATABASE_URL: { type: "plain_text", value: DATABASE_URL },
      DB_WS_PROXY: { type: "plain_text", value: proxy.url },
      JWT_SECRET: { type: "plain_text", value: JWT_SECRET },
      // wrangler.toml says production, which needs keys for secrets at rest (src/lib/secret-box.ts).
      SECRETS_KEYS: { type: "plain_text", value: `bench:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}` },
      RATE_LIMITS: { type: "plain_text", value: "off" },
    },
    // Request logs of thousands of calls would drown the table.
    dev: { server: { hostname: "127.0.0.1", port }, inspector: false, persist: false, watch: false, logLevel: "error" },
  });
  try {
    await worker.ready;
    const base = (await worker.url).toString().replace(/\/$/, "");
    const env = { JWT_SECRET } as Env;
    const config: Config = { rateLimits: "off", jwtIssuer: "https://evently.example", jwtAudience: "evently-api", accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 86_400, holdMaxInflight: 64, corsOrigins: [], paymentProvider: "sandbox", stripe: null };
    const admin = { authorization: `Bearer ${(await signAccessToken(env, config, { id: data.adminId, role: "admin" }, crypto.randomUUID())).token}` };
    const organizer = { authorization: `Bearer ${(await signAccessToken(env, config, { id: data.organizerId, role: "organizer" }, crypto.randomUUID())).token}` };
    const top = data.topEvent.split(" ")[0];
    const median = data.medianEvent.split(" ")[0];
    const today = new Date();
    const daysAgo = (d: number) => new Date(today.getTime() - d * 86_400_000).toISOString().slice(0, 10);

    const cases: Array<[string, string, Record<string, string>]> = [
      ["GET /health (no database, reference)", "/health", {}],
      ["overview, last 30 days (default)", "/v1/admin/analytics/overview", admin],
      ["overview, last 365 days", `/v1/admin/analytics/overview?from=${daysAgo(364)}`, admin],
      ["popular, all time, limit 10", "/v1/admin/analytics/events/popular", admin],
      ["popular, all time, limit 100", "/v1/admin/analytics/events/popular?limit=100", admin],
      ["popular, last 30 days, limit 10", `/v1/admin/analytics/events/popular?from=${daysAgo(29)}`, admin],
      ["daily, last 30 days (default)", "/v1/admin/analytics/daily", admin],
      ["daily, last 366 days", `/v1/admin/analytics/daily?from=${daysAgo(365)}`, admin],
      ["event, most booked (admin)", `/v1/admin/analytics/events/${top}`, admin],
      ["event, most booked (its organizer)", `/v1/admin/analytics/events/${top}`, organizer],
      ["event, median", `/v1/admin/analytics/events/${median}`, admin],
    ];
    console.log(`rollup: ${data.rollup}; most booked event ${data.topEvent}; median ${data.medianEvent}`);
    console.log(`${REQUESTS} sequential requests per endpoint after ${WARMUP} warm-up requests, Worker at ${base}\n`);
    const report = new BenchReport("analytics", "Analytics queries", "markdown");
    report.log(`| endpoint | p50 ms | p95 ms | max ms | body bytes |`);
    report.log(`|---|---:|---:|---:|---:|`);
    let slowest = 0;
    for (const [name, path, headers] of cases) {
      const r = await measure(`${base}${path}`, headers);
      if (path !== "/health") slowest = Math.max(slowest, r.p95);
      report.log(`| ${name} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${r.bytes} |`);
    }
    report.log("");
    report.log(`slowest analytics p95: ${slowest.toFixed(1)} ms (target: under 200 ms)`);
    report.record(`\`npm run bench:data && npm run bench:analytics\`: ${data.summary}; rollup: ${data.rollup}. ${REQUESTS} sequential requests per endpoint after ${WARMUP} warm-up requests.`);
  } finally {
    await worker.dispose();
    await proxy.close();
  }
}

await main();
