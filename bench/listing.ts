// Listing throughput: seeds 10,000 events into a fresh Postgres database, prints EXPLAIN of the
// listing queries, starts the Worker with wrangler's unstable_startWorker (workerd directly, no dev
// proxy) and drives GET /v1/events over real HTTP at a few concurrencies.
//
//   npm run bench:listing               (env: DATABASE_URL to use an existing database,
//                                        BENCH_SECONDS per cell, default 5; BENCH_CONCURRENCY, default 1,10,50)
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { unstable_startWorker } from "wrangler";
import { BenchReport } from "./lib/benchmarks-doc";
import { createDatabase, dropDatabase } from "../scripts/lib/local-db";
import { migrate } from "../scripts/lib/migrate";
import { startWsProxy } from "../scripts/lib/ws-proxy";
import { signAccessToken } from "../src/auth/tokens";
import { parseConfig, type Env } from "../src/env";
import { listingConditions, listingQuery } from "../src/services/events";

const EVENTS = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "1,10,50").split(",").map(Number);
const JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef";
const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const CITIES = ["Berlin", "Paris", "London", "Madrid", "Rome", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Warsaw", "Zurich", "Athens", "Helsinki", "Brussels", "Amsterdam", "Copenhagen", "Budapest", "Stockholm", "Milan"];
const CATEGORIES = ["music", "theatre", "sports", "comedy", "festival", "conference", "family", "film"];

const dbName = `evently_bench_${Date.now().toString(36)}`;
const ownDb = !process.env.DATABASE_URL;
const url = process.env.DATABASE_URL ?? (await createDatabase(ADMIN_URL, dbName));
await migrate(url);
const client = new pg.Client({ connectionString: url });
await client.connect();

async function seed(): Promise<{ organizerId: string; userId: string }> {
  const started = performance.now();
  const { rows: [org] } = await client.query(`insert into users (email, name, password_hash, role) values ($1, 'bench organizer', 'x', 'organizer') returning id`, [`bench-org-${dbName}@evently.test`]);
  const { rows: [user] } = await client.query(`insert into users (email, name, password_hash, role) values ($1, 'bench user', 'x', 'user') returning id`, [`bench-user-${dbName}@evently.test`]);
  await client.query(
    `insert into venues (owner_id, name, city, address, timezone, capacity)
     select $1, 'Venue ' || c.ord, c.city, c.ord || ' Main St', 'Europe/Berlin', 5000
     from unnest($2::text[]) with ordinality as c(city, ord)`,
    [org.id, CITIES],
  );
  // Mostly published and spread over the next year; some drafts, cancelled and finished ones as noise.
  await client.query(
    `insert into events (venue_id, organizer_id, name, description, category, city, timezone, status, seating,
                         start_time, end_time, capacity, price_cents, currency)
     select v.id, $1,
            (array['Rock','Jazz','Opera','Derby','Stand-up','Summer','Tech','Kids'])[1 + g % 8] || ' ' ||
              (array['Night','Gala','Live','Cup','Special','Festival','Summit','Matinee'])[1 + (g / 8) % 8] || ' #' || g,
            'Event number ' || g || ' with words like guitar, violin, keynote and popcorn',
            ($2::text[])[1 + g % 8], v.city, v.timezone,
            case when g % 20 = 0 then 'draft' when g % 20 = 1 then 'cancelled' when g % 20 = 2 then 'completed' else 'published' end,
            'general',
            now() + (g % 365) * interval '1 day' + (g % 24) * interval '1 hour' + interval '1 hour',
            now() + (g % 365) * interval '1 day' + (g % 24) * interval '1 hour' + interval '4 hours',
            100 + g % 900, 1000 + (g % 50) * 100, 'EUR'
     from generate_series(1, $3::int) g
     join (select id, city, timezone, row_number() over (order by city) - 1 as n from venues) v on v.n = g % $4`,
    [org.id, CATEGORIES, EVENTS, CITIES.length],
  );
  await client.query("analyze");
  console.log(`seeded ${EVENTS} events in ${Math.round(performance.now() - started)} ms (database ${ownDb ? dbName : "from DATABASE_URL"})`);
  return { organizerId: org.id, userId: user.id };
}

async function explain(title: string, q: Parameters<typeof listingConditions>[0]): Promise<void> {
  const db = drizzle(client);
  const { sql, params } = listingQuery(db, listingConditions(q, undefined, new Date()), q.limit).toSQL();
  const { rows } = await client.query(`explain (analyze, costs off, timing off, summary on) ${sql}`, params as unknown[]);
  console.log(`\n-- EXPLAIN ${title}\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
}

interface Cell { scenario: string; concurrency: number; requests: number; errors: number; rps: number; p50: number; p95: number; p99: number; firstError?: string }

async function drive(base: string, scenario: string, paths: string[], headers: Record<string, string>, concurrency: number): Promise<Cell> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let i = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const path = paths[i++ % paths.length];
        const t0 = performance.now();
        try {
          const res = await fetch(base + path, { headers });
          const body = await res.text();
          if (res.status !== 200) {
            errors++;
            firstError ??= `${path} -> ${res.status} ${body.slice(0, 200)}`;
          }
        } catch (e) {
          errors++;
          firstError ??= `${path} -> ${e instanceof Error ? e.message : String(e)}`;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { scenario, concurrency, requests: latencies.length, errors, rps: latencies.length / elapsed, p50: pct(50), p95: pct(95), p99: pct(99), firstError };
}

const cells: Cell[] = [];
let worker: Awaited<ReturnType<typeof unstable_startWorker>> | undefined;
let proxy: Awaited<ReturnType<typeof startWsProxy>> | undefined;
try {
  const { userId } = await seed();
  await explain("default page (upcoming published, first 20)", { limit: 20 });
  await explain("city filter", { city: "lisbon", limit: 20 });
  await explain("category filter, page after a cursor in the middle", { category: "music", limit: 20, cursor: Buffer.from(JSON.stringify({ k: "events", v: [new Date(Date.now() + 180 * 86_400_000).toISOString(), "00000000-0000-0000-0000-000000000000"] })).toString("base64url") });
  await explain("text search q=jazz gala", { q: "jazz gala", limit: 20 });

  proxy = await startWsProxy();
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
    // Per-request log lines would cost more than the requests they describe.
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, persist: false, watch: false, logLevel: "none" },
  });
  await worker.ready;
  const base = (await worker.url).toString().replace(/\/$/, "");
  const env = { JWT_SECRET, JWT_ISSUER: "https://evently.example", JWT_AUDIENCE: "evently-api", ACCESS_TOKEN_TTL_SECONDS: "900", RATE_LIMITS: "off" } as unknown as Env;
  const { token } = await signAccessToken(env, parseConfig(env), { id: userId, role: "user" }, crypto.randomUUID());
  // A bearer token bypasses the edge cache, so these measure the full path to Postgres.
  const authed = { authorization: `Bearer ${token}` };

  // Cursors of pages 1..50 of the default listing, to spread uncached requests over the keyset.
  const deep: string[] = [];
  let cursor: string | null = null;
  for (let p = 0; p < 50; p++) {
    const res = await fetch(`${base}/v1/events?limit=20${cursor ? `&cursor=${cursor}` : ""}`, { headers: authed });
    // A refused token here made every "uncached" row a table of 401s (and the cursor row of no requests at all).
    if (res.status !== 200) throw new Error(`GET /v1/events page ${p + 1}: ${res.status} ${(await res.text()).slice(0, 200)}`);
    const body = (await res.json()) as { nextCursor: string | null };
    if (!body.nextCursor) break;
    cursor = body.nextCursor;
    deep.push(`/v1/events?limit=20&cursor=${cursor}`);
  }
  const filtered = CITIES.flatMap((c, n) => [`/v1/events?city=${c}&limit=20`, `/v1/events?category=${CATEGORIES[n % 8]}&q=${["rock", "jazz night", "opera", "summit"][n % 4]}&limit=20`]);

  const scenarios: [string, string[], Record<string, string>][] = [
    ["no-op reference: GET /health", ["/health"], {}],
    ["listing, anonymous (edge cache hit)", ["/v1/events?limit=20"], {}],
    ["listing first page, uncached (Postgres)", ["/v1/events?limit=20"], authed],
    ["listing pages 2-50 by cursor, uncached", deep, authed],
    ["listing city / category+q filters, uncached", filtered, authed],
  ];
  for (const [name, paths, headers] of scenarios) {
    for (const c of CONCURRENCY) {
      const cell = await drive(base, name, paths, headers, c);
      cells.push(cell);
      process.stderr.write(`${name} @${c}: ${cell.rps.toFixed(0)} req/s${cell.firstError ? `, ${cell.errors} errors, the first: ${cell.firstError}` : ""}\n`);
    }
  }
} finally {
  await worker?.dispose();
  await proxy?.close();
  await client.end();
  if (ownDb) await dropDatabase(ADMIN_URL, dbName);
}

const ms = (x: number) => x.toFixed(1);
const intro = `\`npm run bench:listing\`: ${EVENTS} events, ${SECONDS} s per cell, Worker via unstable_startWorker, Postgres on 127.0.0.1.`;
console.log(`\n${intro}\n`);
const report = new BenchReport("listing", "Event listing", "markdown");
report.log("| scenario | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms |");
report.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const c of cells) report.log(`| ${c.scenario} | ${c.concurrency} | ${c.requests} | ${c.errors} | ${c.rps.toFixed(0)} | ${ms(c.p50)} | ${ms(c.p95)} | ${ms(c.p99)} |`);
// A cell with errors measured refusals, not the listing: say so and fail rather than record it.
const failed = cells.filter((c) => c.errors > 0);
if (failed.length) {
  for (const c of failed) console.error(`${c.scenario} @${c.concurrency}: ${c.errors} of ${c.requests} requests failed, the first: ${c.firstError}`);
  process.exit(1);
}
report.record(intro);
