// A busy database is a 503, never a 500 (issue 23): the real Worker in workerd against a PostgreSQL
// server started with max_connections = 10, and a burst of buyers booking at once. Every answer is
// a success or a 503 with Retry-After; repeating a refused request with the same Idempotency-Key
// books once; every booking ends confirmed.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layout, publishEvent, startStack, type Stack } from "../../bench/lib/stack";
import { hasPostgresBinaries, startSmallPostgres } from "../helpers/small-postgres";

const BUYERS = 20;
let small: Awaited<ReturnType<typeof startSmallPostgres>> = null;
let stack: Stack | null = null;

// A fresh machine on the embedded database has no server binaries: nothing to start, so skipped there.
const runnable = hasPostgresBinaries();

beforeAll(async () => {
  if (!runnable) return;
  small = await startSmallPostgres(10);
  if (!small) return;
  const before = process.env.DATABASE_URL;
  process.env.DATABASE_URL = small.url;
  try {
    // Saga retries every second at most, so the bookings refused a connection finish within the test.
    stack = await startStack({ users: BUYERS, bindings: { ENVIRONMENT: "development", SAGA_RETRY_MAX_DELAY_SECONDS: "1" } });
  } finally {
    if (before === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = before;
  }
}, 120_000);

afterAll(async () => {
  await stack?.close();
  small?.stop();
});

async function post(path: string, token: string, body: unknown, key?: string): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const res = await fetch(`${stack!.workerUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json().catch(() => null) };
}

describe("a database out of connections", () => {
  it.skipIf(!runnable)("answers a burst of bookings with 503 and Retry-After, never 500, and a repeat with the same key books once", { timeout: 150_000 }, async () => {
    const s = stack!;
    const init = await publishEvent(s, layout(1, 4, 20));
    const db = new pg.Client({ connectionString: s.dbUrl });
    await db.connect();
    try {
      await db.query(
        `insert into seats (event_id, seat_id, section, row, seat_number, price_cents) select $1, x->>'id', x->>'section', x->>'row', (x->>'number')::int, (x->>'priceCents')::int from jsonb_array_elements($2::jsonb) x`,
        [init.eventId, JSON.stringify(init.seats)],
      );
      const holds: string[] = [];
      for (const [i, u] of s.users.entries()) {
        const h = await post(`/v1/events/${init.eventId}/holds`, u.token, { seatIds: [init.seats[2 * i].id, init.seats[2 * i + 1].id] });
        expect(h.status).toBe(201);
        holds.push(h.body.id);
      }
      const t0 = Date.now();
      // The burst, then every refused request repeated with its key until it is answered.
      const statuses: number[] = [];
      const answers = await Promise.all(
        s.users.map(async (u, i) => {
          for (let attempt = 0; attempt < 300; attempt++) {
            const r = await post("/v1/bookings", u.token, { holdId: holds[i] }, `burst-${holds[i]}`);
            statuses.push(r.status);
            if (r.status === 503 || (r.status === 409 && r.body?.error?.code === "IDEMPOTENCY_IN_PROGRESS")) {
              expect(r.retryAfter, JSON.stringify(r.body)).toMatch(/^\d+$/);
              // Sooner than Retry-After asks, so the test does not take minutes; the point is the answer.
              await new Promise((res) => setTimeout(res, 500));
              continue;
            }
            return r;
          }
          throw new Error(`booking ${i} never answered`);
        }),
      );
      console.log(`phase: answered after ${Date.now() - t0} ms`, JSON.stringify(statuses.reduce((m: Record<number, number>, x) => ((m[x] = (m[x] ?? 0) + 1), m), {})));
      expect(statuses.filter((x) => x >= 500 && x !== 503)).toEqual([]);
      // The database really was out of connections: some requests were refused with 503.
      expect(statuses.filter((x) => x === 503).length).toBeGreaterThan(0);
      for (const a of answers) expect([200, 202]).toContain(a.status);
      const one = await db.query<{ n: number; holds: number }>(`select count(*)::int as n, count(distinct hold_id)::int as holds from bookings where event_id = $1`, [init.eventId]);
      expect(one.rows[0]).toEqual({ n: BUYERS, holds: BUYERS });
      // Nothing lost: the sagas finish once connections free up.
      for (const end = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 500))) {
        const left = await db.query<{ n: number }>(`select count(*)::int as n from bookings where event_id = $1 and status <> 'confirmed'`, [init.eventId]);
        if (left.rows[0].n === 0) {
          console.log(`phase: confirmed after ${Date.now() - t0} ms`);
          break;
        }
        if (Date.now() > end) throw new Error(`${left.rows[0].n} bookings not confirmed`);
      }
    } finally {
      await db.end();
    }
  });
});
