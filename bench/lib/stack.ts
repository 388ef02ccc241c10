// Starts what the benchmarks drive: a fresh Postgres database (migrated), the WebSocket proxy the
// Neon driver reaches it through, and the Worker on workerd through Miniflare directly.
// Not unstable_startWorker: its URL is wrangler's proxy Worker (the same dev proxy as `wrangler dev`),
// which capped a no-op route near 350 req/s on this machine under load; Miniflare's own URL has no hop.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import pg from "pg";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { dropDatabase, resolveDatabase } from "../../scripts/lib/local-db";
import { migrate } from "../../scripts/lib/migrate";
import { startWsProxy } from "../../scripts/lib/ws-proxy";
import { signAccessToken } from "../../src/auth/tokens";
import type { Config, Env } from "../../src/env";
import type { InventoryInit, SeatSpec } from "../../durable-objects/inventory/contract";

export const JWT_SECRET = `bench-${crypto.randomUUID()}-${crypto.randomUUID()}`;
const CONFIG: Config = { rateLimits: "off", jwtIssuer: "https://evently.example", jwtAudience: "evently-api", accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 86_400, holdMaxInflight: 64, corsOrigins: [], paymentProvider: "sandbox", stripe: null };

export interface Stack {
  dbUrl: string;
  /** The database's name, as Postgres backends show it in their process titles. */
  dbName: string;
  workerUrl: string;
  users: { id: string; token: string }[];
  /** The workerd processes: the front Worker's, and the objects' when they run apart (`split`); empty otherwise. */
  workerdPids: { front: string[]; objects: string[] };
  close(): Promise<void>;
}

/** The name of the Worker that hosts the objects when they run in a process of their own. */
const OBJECTS_WORKER = "evently-objects";

/** workerd processes started by this process (Miniflare's children). */
function workerdDescendants(): string[] {
  const parentOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1];
  return readdirSync("/proc").filter((pid) => {
    try {
      if (!/^\d+$/.test(pid) || readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "workerd") return false;
      for (let p = parentOf(pid), i = 0; p !== "0" && p !== "1" && i < 10; i++, p = parentOf(p)) if (p === String(process.pid)) return true;
    } catch {
      // exited meanwhile
    }
    return false;
  });
}

/**
 * `split`: the objects run in a workerd process of their own, the front Worker in another (see
 * docs/inventory.md, Benchmarks); otherwise one process runs both, as `wrangler dev` does.
 */
/** `bindings` adds or overrides the Worker's variables (for example the live seat map's socket layout). */
export async function startStack(opts: { users: number; holdMaxInflight?: number; inspectorPort?: number; split?: boolean; bindings?: Record<string, string> }): Promise<Stack> {
  const dbName = `evently_bench_${Date.now().toString(36)}`;
  const db = await resolveDatabase({ dbName });
  if (db.kind === "embedded") console.warn("warning: embedded PGlite; the row-lock reference is not meaningful there");
  await migrate(db.url);
  const proxy = await startWsProxy();

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query<{ id: string }>(
    `insert into users (email, name, role, password_hash)
     select 'bench-' || g || '-' || gen_random_uuid() || '@evently.test', 'bench ' || g, 'user', 'x' from generate_series(1, $1) g
     returning id`,
    [opts.users],
  );
  await client.end();
  const env = { JWT_SECRET } as Env;
  const users = await Promise.all(rows.map(async (r) => ({ id: r.id, token: (await signAccessToken(env, CONFIG, { id: r.id, role: "user" }, crypto.randomUUID())).token })));

  // Bundled by wrangler itself (the deploy pipeline, offline), then served by Miniflare.
  const outdir = mkdtempSync(join(tmpdir(), "evently-bench-"));
  execFileSync(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "deploy", "bench/worker.ts", "--dry-run", "--outdir", outdir], { stdio: "ignore" });
  const { workerOptions } = unstable_getMiniflareWorkerOptions("wrangler.toml");
  const worker = (name: string) => ({
    ...workerOptions,
    assets: undefined,
    name,
    // Straight to the Worker: without it every request also runs Miniflare's entry Worker
    // (a local-only hop that production does not have) on the same thread.
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    modules: true as const,
    modulesRoot: outdir,
    scriptPath: join(outdir, "worker.js"),
    bindings: {
      ...workerOptions.bindings,
      JWT_SECRET,
      // wrangler.toml says production, which needs keys for secrets at rest (src/lib/secret-box.ts).
      SECRETS_KEYS: `bench:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`,
      DATABASE_URL: db.url,
      DB_WS_PROXY: proxy.url,
      RATE_LIMITS: "off",
      HOLD_MAX_INFLIGHT: String(opts.holdMaxInflight ?? 256),
      ...opts.bindings,
    },
  });
  const shared = {
    log: new Log(process.env.BENCH_LOG === "info" ? LogLevel.INFO : LogLevel.WARN),
    cf: false, // no network fetch of the Request.cf placeholder
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
    host: "127.0.0.1",
    port: 0,
  };
  const instances: Miniflare[] = [];
  const workerdPids: { front: string[]; objects: string[] } = { front: [], objects: [] };
  let registry: string | null = null;
  if (opts.split) {
    // The objects in a workerd process of their own, reached by the front Worker's bindings through
    // Miniflare's dev registry (workerd's debug port): as in production, the front Worker's CPU and
    // the objects' are spent apart.
    registry = mkdtempSync(join(tmpdir(), "evently-bench-registry-"));
    const objects = new Miniflare({ ...shared, unsafeDevRegistryPath: registry, workers: [{ ...worker(OBJECTS_WORKER), queueConsumers: undefined }] });
    instances.push(objects);
    await objects.ready;
    workerdPids.objects = workerdDescendants();
    const external = Object.fromEntries(
      Object.entries(workerOptions.durableObjects ?? {}).map(([binding, d]) => [binding, { className: typeof d === "string" ? d : (d as { className: string }).className, scriptName: OBJECTS_WORKER, useSQLite: true }]),
    );
    instances.push(new Miniflare({ ...shared, unsafeDevRegistryPath: registry, workers: [{ ...worker("evently"), durableObjects: external }] }));
  } else {
    instances.push(new Miniflare({ ...shared, workers: [worker("evently")] }));
  }
  const mf = instances.at(-1)!;
  await mf.ready;
  workerdPids.front = workerdDescendants().filter((p) => !workerdPids.objects.includes(p));
  const workerUrl = (await mf.unsafeGetDirectURL("evently")).toString().replace(/\/$/, "");

  return {
    dbUrl: db.url,
    dbName,
    workerUrl,
    users,
    workerdPids,
    async close() {
      for (const m of instances.reverse()) await m.dispose();
      if (registry) rmSync(registry, { recursive: true, force: true });
      rmSync(outdir, { recursive: true, force: true });
      await proxy.close();
      if (db.kind === "server") await dropDatabase("postgres://postgres@127.0.0.1:5432/postgres", dbName).catch(() => undefined);
      await db.stop();
    },
  };
}

/** Seats `S<section>-<row>-<n>` in a rectangular layout. */
export function layout(sections: number, rows: number, perRow: number): SeatSpec[] {
  const seats: SeatSpec[] = [];
  for (let s = 0; s < sections; s++) {
    const section = String.fromCharCode(65 + s);
    for (let r = 1; r <= rows; r++) for (let n = 1; n <= perRow; n++) seats.push({ id: `${section}-${r}-${n}`, section, row: String(r), number: n, priceCents: 5000 });
  }
  return seats;
}

/** A published event: its Postgres row (hold history points at it) and its initialized object. */
export async function publishEvent(stack: Stack, seats: SeatSpec[], over: Partial<InventoryInit> = {}): Promise<InventoryInit> {
  const init: InventoryInit = {
    eventId: crypto.randomUUID(),
    seating: "reserved",
    seats,
    capacity: seats.length,
    priceCents: 5000,
    currency: "EUR",
    maxSeatsPerUser: 8,
    holdTtlSeconds: 600,
    paymentDeadlineSeconds: 600,
    waitlistOfferSeconds: 900,
    salesStartAt: null,
    salesEndAt: null,
    startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    ...over,
  };
  const client = new pg.Client({ connectionString: stack.dbUrl });
  await client.connect();
  try {
    const org = await client.query<{ id: string }>(`insert into users (email, name, role, password_hash) values ($1, 'bench organizer', 'organizer', 'x') returning id`, [`org-${crypto.randomUUID()}@evently.test`]);
    const venue = await client.query<{ id: string }>(
      `insert into venues (owner_id, name, city, address, timezone, capacity) values ($1, 'Bench Arena', 'Lisbon', 'Rua 1', 'Europe/Lisbon', $2) returning id`,
      [org.rows[0].id, init.capacity],
    );
    await client.query(
      `insert into events (id, venue_id, organizer_id, name, category, city, timezone, status, seating, start_time, end_time, capacity, price_cents, currency, published_at)
       values ($1, $2, $3, 'Bench Night', 'concert', 'Lisbon', 'Europe/Lisbon', 'published', $4, $5, $6, $7, $8, $9, now())`,
      [init.eventId, venue.rows[0].id, org.rows[0].id, init.seating, init.startsAt, new Date(Date.parse(init.startsAt) + 3 * 3_600_000).toISOString(), init.capacity, init.priceCents, init.currency],
    );
  } finally {
    await client.end();
  }
  const res = await fetch(`${stack.workerUrl}/__bench/init`, { method: "POST", body: JSON.stringify(init) });
  const body = (await res.json()) as { ok: boolean };
  if (!body.ok) throw new Error(`initialize failed: ${JSON.stringify(body)}`);
  return init;
}
