// npm run bench:data — fills a Postgres database with analytics-sized data: 1,000 events, 1,000,000
// bookings, their hold history (plus abandoned holds) and waitlist entries, all generated on the
// server with INSERT ... SELECT generate_series (2-4 minutes here, mostly index upkeep; row by row
// from a client it would take hours), then builds the analytics rollup as the cron would.
//
// Target: DATABASE_URL when set (it must be migrated and hold no earlier generated rows), else a
// database `evently_bench` on the local server at 127.0.0.1:5432, dropped and re-created.
//
//   npx tsx scripts/gen-analytics-data.ts [--events 1000] [--bookings 1000000] [--users 10000]
//
// Ids are deterministic (users aaaaaaaa-…, events eeeeeeee-…, bookings bbbbbbbb-…) so generated
// rows are recognisable. Every event is general admission, so no seats or booking_seats rows are
// needed: analytics count seats from bookings.quantity.
import { parseArgs } from "node:util";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import type { Database } from "../src/db/client";
import { refreshDailyStats } from "../src/services/analytics";
import { createDatabase, dropDatabase } from "./lib/local-db";
import { migrate } from "./lib/migrate";

export const BENCH_DB_NAME = "evently_bench";
const SERVER_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000" },
    bookings: { type: "string", default: "1000000" },
    users: { type: "string", default: "10000" },
  },
});
const EVENTS = Number(values.events);
const BOOKINGS = Number(values.bookings);
const USERS = Number(values.users);
const ORGANIZERS = 20;

const uuidOf = (prefix: string, expr: string) => `('${prefix}-0000-4000-8000-' || lpad(to_hex(${expr}), 12, '0'))::uuid`;
const userId = (expr: string) => uuidOf("aaaaaaaa", expr);
const venueId = (expr: string) => uuidOf("cccccccc", expr);
const orgId = (expr: string) => uuidOf("dddddddd", expr);
const eventId = (expr: string) => uuidOf("eeeeeeee", expr);

// Event n (1-based): starts between 300 days ago and 100 days ahead, order shuffled by a
// multiplicative permutation so popularity (which follows n) does not follow the date.
const eventStart = (n: string) => `(date_trunc('hour', now()) - interval '300 days' + ((${n} * 7919) % ${EVENTS}) * (interval '400 days' / ${EVENTS}))`;
const eventPrice = (n: string) => `(1000 + (${n} % 20) * 500)`;
const eventCurrency = (n: string) => `(case when ${n} % 10 = 0 then 'USD' else 'EUR' end)`;

const STEPS: Array<[string, string]> = [
  // Generated rows are consistent by construction: skipping the per-row foreign-key triggers makes
  // the inserts several times faster (needs a superuser, which the local server's postgres is).
  ["skip foreign-key triggers", "set session_replication_role = replica"],
  [
    "users",
    `insert into users (id, email, name, password_hash, role)
     select ${userId("i")}, 'bench-' || i || '@evently.test', 'Bench user ' || i, 'unusable',
            case when i <= ${ORGANIZERS} then 'organizer' else 'user' end
     from generate_series(1, ${USERS}) i`,
  ],
  [
    // Each organizer's personal organization, as the migration and the API give them (the trigger
    // that fills a missing org_id does not run: triggers are skipped above).
    "organizations",
    `insert into organizations (id, name, personal_owner_id)
     select ${orgId("i")}, 'Bench user ' || i, ${userId("i")} from generate_series(1, ${ORGANIZERS}) i`,
  ],
  [
    "organization members",
    `insert into organization_members (org_id, user_id, role)
     select ${orgId("i")}, ${userId("i")}, 'owner' from generate_series(1, ${ORGANIZERS}) i`,
  ],
  [
    "venues",
    `insert into venues (id, owner_id, org_id, name, city, address, timezone, capacity)
     select ${venueId("i")}, ${userId("i")}, ${orgId("i")}, 'Bench hall ' || i, 'City ' || (i % 7), 'Street ' || i, 'Europe/Berlin', 100000
     from generate_series(1, ${ORGANIZERS}) i`,
  ],
  [
    "events",
    // Capacity and seats_sold are set once the bookings exist (see "event totals").
    `insert into events (id, venue_id, organizer_id, org_id, name, category, city, timezone, status, seating,
                         start_time, end_time, capacity, price_cents, currency, published_at)
     select ${eventId("n")}, ${venueId(`1 + n % ${ORGANIZERS}`)}, ${userId(`1 + n % ${ORGANIZERS}`)}, ${orgId(`1 + n % ${ORGANIZERS}`)},
            'Bench event ' || n, (array['music','sport','theatre','comedy'])[1 + n % 4], 'City ' || (n % 7), 'Europe/Berlin',
            case when ${eventStart("n")} < now() then 'completed' else 'published' end, 'general',
            ${eventStart("n")}, ${eventStart("n")} + interval '3 hours', 100000, ${eventPrice("n")}, ${eventCurrency("n")},
            ${eventStart("n")} - interval '90 days'
     from generate_series(1, ${EVENTS}) n`,
  ],
  [
    "bookings",
    // Popularity is skewed (power law on n); bookings are made up to 60 days before the event and
    // never in the future; 80% confirmed, 8% cancelled, 7% failed, 5% pending.
    `insert into bookings (id, user_id, event_id, hold_id, status, quantity, total_amount_cents, currency,
                           payment_method, payment_deadline, failure_reason, confirmed_at, cancelled_at, created_at, updated_at)
     select ${uuidOf("bbbbbbbb", "i")}, ${userId(`${ORGANIZERS + 1} + i % ${USERS - ORGANIZERS}`)}, ${eventId("n")},
            'hld_bench_' || i, st, q, q * ${eventPrice("n")}, ${eventCurrency("n")}, 'pm_card_ok', made + interval '10 minutes',
            case when st = 'failed' then 'card_declined' end,
            case when st in ('confirmed','cancelled') then made + interval '20 seconds' end,
            case when st = 'cancelled' then least(now(), made + interval '3 days') end,
            made, made
     from (
       select i, n, q,
              case when r < 0.80 then 'confirmed' when r < 0.88 then 'cancelled' when r < 0.95 then 'failed' else 'pending' end as st,
              case when made0 > now() then now() - random() * interval '30 days' else made0 end as made
       from (
         select i, n, 1 + floor(random() * 4)::int as q, random() as r,
                ${eventStart("n")} - random() * interval '60 days' as made0
         from (select i, 1 + least(${EVENTS - 1}, floor(${EVENTS} * power(random(), 1.6))::int) as n
               from generate_series(1, ${BOOKINGS}) i) picked
       ) raw
     ) s`,
  ],
  [
    "hold history of booked holds",
    `insert into hold_history (hold_id, kind, event_id, user_id, quantity, at)
     select hold_id, 'created', event_id, user_id, quantity, created_at - interval '2 minutes' from bookings
     union all
     select hold_id, 'committed', event_id, user_id, quantity, confirmed_at from bookings where confirmed_at is not null
     union all
     select hold_id, 'released', event_id, user_id, quantity, updated_at from bookings where status = 'failed'`,
  ],
  [
    "abandoned holds",
    // One abandoned hold for every three bookings: two thirds expire, one third are released.
    `insert into hold_history (hold_id, kind, event_id, user_id, quantity, at)
     select 'hld_bench_abandoned_' || i, k, event_id, user_id, quantity, case when k = 'created' then at else at + interval '10 minutes' end
     from (select i, b.event_id, b.user_id, b.quantity, b.created_at - interval '1 hour' as at
           from generate_series(1, ${Math.floor(BOOKINGS / 3)}) i
           join bookings b on b.id = ${uuidOf("bbbbbbbb", "i * 3")}) h
     cross join lateral (values ('created'), (case when i % 3 = 0 then 'released' else 'expired' end)) kinds(k)`,
  ],
  [
    "waitlist entries",
    `insert into waitlist_entries (id, event_id, user_id, quantity, status, hold_id, joined_at, offered_at, updated_at)
     select 'wl_bench_' || i, ${eventId(`1 + i % ${EVENTS}`)}, ${userId(`${ORGANIZERS + 1} + i % ${USERS - ORGANIZERS}`)}, 1 + i % 3,
            (array['waiting','offered','expired','converted','left'])[1 + (i / ${EVENTS}) % 5],
            case when (i / ${EVENTS}) % 5 in (1, 2, 3) then 'hld_bench_wl_' || i end,
            now() - interval '20 days', case when (i / ${EVENTS}) % 5 in (1, 2, 3) then now() - interval '10 days' end, now()
     from generate_series(1, ${EVENTS * 20}) i`,
  ],
  [
    "event totals",
    // Capacity leaves every event 55-100% sold; seats_sold is what the booking saga would keep.
    `update events e set seats_sold = s.sold, capacity = greatest(1, ceil(s.sold / (0.55 + 0.45 * random())))::int
     from (select e2.id, coalesce(sum(b.quantity) filter (where b.status = 'confirmed'), 0) as sold
           from events e2 left join bookings b on b.event_id = e2.id group by e2.id) s
     where e.id = s.id`,
  ],
  // Sets the visibility map too, as autovacuum would on a settled table, so plans match production.
  ["vacuum analyze", "vacuum analyze"],
];

async function main(): Promise<void> {
  let url = process.env.DATABASE_URL;
  if (!url) {
    await dropDatabase(SERVER_ADMIN_URL, BENCH_DB_NAME);
    url = await createDatabase(SERVER_ADMIN_URL, BENCH_DB_NAME, { ifNotExists: true });
  }
  await migrate(url, (s) => console.log(s));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const total = performance.now();
  try {
    for (const [what, sql] of STEPS) {
      const started = performance.now();
      const res = await client.query(sql);
      console.log(`${what.padEnd(30)} ${String(res.rowCount ?? "").padStart(9)} rows  ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    // What the cron does every 5 minutes; the benchmark reads the rollup it builds.
    const rollup = await refreshDailyStats(drizzle(client) as unknown as Database);
    console.log(`${"daily rollup (cron's rebuild)".padEnd(30)} ${String(rollup.rows).padStart(9)} rows  ${(rollup.durationMs / 1000).toFixed(1)} s`);
  } finally {
    await client.end();
  }
  console.log(`done in ${((performance.now() - total) / 1000).toFixed(1)} s: ${url.replace(/\/\/[^@]*@/, "//")}`);
}

await main();
