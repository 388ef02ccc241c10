// Worker entry for the benchmarks only: the real app and object, plus three bench routes that the
// deployed Worker does not have (/__bench/noop, /__bench/init, /__bench/engine, /__bench/minimal).
import app from "../src/index";
import { createApp } from "../src/app";
import { onStatement } from "../src/db/client";
import { requireUser } from "../src/auth/guards";
import { EventInventory as RealEventInventory } from "../durable-objects/inventory/object";
import type { InventoryInit } from "../durable-objects/inventory/contract";
import type { Env } from "../src/env";
import { waitingRoom } from "../durable-objects/onsale/client";
import { QueueShard as RealQueueShard } from "../durable-objects/onsale/shard-object";
import type { EventInventoryRpc } from "../durable-objects/inventory/contract";
import { shardOf } from "../durable-objects/onsale/order";
import { shardName } from "../durable-objects/onsale/contract";
import { FIRST_HOLD_GRACE_MS } from "../durable-objects/onsale/room.logic";
import type { RoomRecord } from "./lib/fairness";

// Every object class the real Worker exports (a class added there must never stop the bench from starting);
// the EventInventory below takes precedence over the one re-exported here.
export * from "../src/index";

// The per-request JSON log line is printed by wrangler's dev server in this Node process, on the
// same two cores as the load generator; in production it goes to Workers Logs. Keep it out of the numbers.
console.log = () => {};

/**
 * The engine and minimal loops yield to the event loop every this many pairs, so SQLite commits
 * their writes as a live object does after each event, instead of holding all n pairs in one
 * transaction: 100,000 engine pairs are about 55 MB of new rows, which SQLite spills to disk while
 * the transaction is open (same code, this machine: 15,400-16,200 pairs/s in one transaction, 19,400-
 * 19,600 committing every 1,000). Every 100 would measure the commits themselves (about 0.6 ms each
 * here: the minimal loop fell from 73,000 to 51,000 pairs/s).
 */
const COMMIT_EVERY = 1_000;

export class EventInventory extends RealEventInventory {
  /** Holds inside this object right now (awaiting the admission check included), and when each hold finished (epoch ms). */
  private holdsInside = 0;
  private readonly holdsDone: number[] = [];

  /** The real hold, with the object's own clock around it for bench/onsale.ts's latency split. */
  override async hold(...args: Parameters<RealEventInventory["hold"]>): ReturnType<RealEventInventory["hold"]> {
    const objIn = Date.now();
    const inside = ++this.holdsInside;
    try {
      const res = await super.hold(...args);
      return Object.assign(res, { benchTiming: { objIn, objOut: Date.now(), inside } });
    } finally {
      this.holdsInside--;
      this.holdsDone.push(Date.now());
    }
  }

  /** When each hold finished (epoch ms), for holds completed per second. */
  async holdCompletions(): Promise<number[]> {
    return this.holdsDone;
  }

  /** One trivial write: what a storage commit costs per request. */
  async touch(): Promise<number> {
    this.ctx.storage.sql.exec(`INSERT INTO meta (key, value) VALUES ('touch', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, String(Math.random()));
    return 1;
  }

  /**
   * The engine limit: `n` hold+release pairs of two adjacent random seats, decided and written by
   * the same code the RPC methods run, in a loop inside the object (no HTTP, no RPC).
   */
  async engineLoop(n: number, rows: { prefix: string; seats: number }[]): Promise<{ ops: number; conflicts: number }> {
    let conflicts = 0;
    for (let i = 0; i < n; i++) {
      const row = rows[Math.floor(Math.random() * rows.length)];
      const k = 1 + Math.floor(Math.random() * (row.seats - 1));
      const res = await this.hold(`00000000-0000-4000-8000-${String(i % 1000).padStart(12, "0")}`, { seatIds: [`${row.prefix}-${k}`, `${row.prefix}-${k + 1}`] }, null);
      if (!res.ok) {
        conflicts++;
        continue;
      }
      await this.release(res.value.id, null);
      if (i % COMMIT_EVERY === COMMIT_EVERY - 1) await new Promise((r) => setTimeout(r, 0));
    }
    // Clocks do not advance inside a busy loop in workerd: the caller times the call from outside.
    return { ops: n, conflicts };
  }

  /**
   * The reference for the engine: the least a seat store can do per hold+release, in this same
   * object and SQLite. A table of its own (so the engine's schema is free to change), one conditional
   * UPDATE holding two seats, one UPDATE releasing them by an indexed hold id. `n` 0 only creates the
   * table. Answers how many seats it left taken (0 unless the loop is wrong).
   */
  async minimalLoop(n: number, rows: { prefix: string; seats: number }[]): Promise<{ ops: number; conflicts: number; left: number }> {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS bench_min_seats (id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'available', hold_id TEXT)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS bench_min_seats_hold ON bench_min_seats (hold_id)`);
    if (sql.exec(`SELECT count(*) AS n FROM bench_min_seats`).one().n === 0) {
      this.ctx.storage.transactionSync(() => {
        for (const r of rows) for (let k = 1; k <= r.seats; k++) sql.exec(`INSERT INTO bench_min_seats (id) VALUES (?)`, `${r.prefix}-${k}`);
      });
    }
    let conflicts = 0;
    for (let i = 0; i < n; i++) {
      const row = rows[Math.floor(Math.random() * rows.length)];
      const k = 1 + Math.floor(Math.random() * (row.seats - 1));
      const holdId = `m${i}`;
      const taken = sql.exec(`UPDATE bench_min_seats SET status = 'held', hold_id = ? WHERE id IN (?, ?) AND status = 'available' RETURNING id`, holdId, `${row.prefix}-${k}`, `${row.prefix}-${k + 1}`).toArray().length;
      if (taken !== 2) conflicts++;
      sql.exec(`UPDATE bench_min_seats SET status = 'available', hold_id = NULL WHERE hold_id = ?`, holdId);
      if (i % COMMIT_EVERY === COMMIT_EVERY - 1) await new Promise((r) => setTimeout(r, 0));
    }
    const left = Number(sql.exec(`SELECT count(*) AS n FROM bench_min_seats WHERE status != 'available'`).one().n);
    return { ops: n, conflicts, left };
  }
}

export class QueueShard extends RealQueueShard {
  /** Every visitor of this shard as the room keeps it, for the bench's fairness measures (bench/lib/fairness.ts). */
  async records(): Promise<RoomRecord[]> {
    return [...this.engine.admittedSince(0), ...this.engine.waitingVisitors()].map((v) => ({ userId: v.userId, joinedAt: v.joinedAt, early: v.early, key: v.key, admittedAt: v.admittedAt }));
  }

  /** The headless on-sale drain: who was admitted since `since`, with their token and join time. */
  async admittedSince(since: number): Promise<{ userId: string; token: string; joinedAt: number; early: boolean; admittedAt: number }[]> {
    return this.engine.admittedSince(since).map((v) => ({ userId: v.userId, token: v.token!, joinedAt: v.joinedAt, early: v.early, admittedAt: v.admittedAt! }));
  }
}

// Probes for bench/holds' cost breakdown: the same app and middleware, one step at a time.
const probes = createApp();

// bench/checkout: the statements this isolate's Pools sent, by label, since the last reset.
const statements = new Map<string, number>();
onStatement((label) => statements.set(label, (statements.get(label) ?? 0) + 1));
probes.post("/__bench/statements/reset", (c) => {
  statements.clear();
  return c.json({ ok: true });
});
probes.get("/__bench/statements", (c) => c.json(Object.fromEntries(statements)));
// bench/checkout's reference server charges through the same sandbox card network, over HTTP.
probes.post("/__bench/card/charge", async (c) => {
  const network = c.env.PAYMENT_SANDBOX.get(c.env.PAYMENT_SANDBOX.idFromName("card-network"));
  return c.json(await network.charge(await c.req.json()));
});
probes.get("/__bench/card/ledger", async (c) => {
  const network = c.env.PAYMENT_SANDBOX.get(c.env.PAYMENT_SANDBOX.idFromName("card-network"));
  return c.json(await network.ledger());
});
probes.get("/__bench/app-noop", (c) => c.json({ ok: true }));
probes.get("/__bench/guard", requireUser, (c) => c.json({ sub: c.var.user.id }));
probes.get("/__bench/touch", async (c) => {
  const ns = c.env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
  return c.json(await ns.get(ns.idFromName(c.req.query("event")!)).touch());
});
probes.get("/__bench/stats", async (c) => {
  const ns = c.env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
  return c.json(await ns.get(ns.idFromName(c.req.query("event")!)).stats());
});

// On-sale bench (bench/onsale.ts): configure a room without an organizer's token, read its figures,
// book a hold as the saga would (beginConfirm + commit), and join synthetic visitors straight through RPC.
probes.post("/__bench/onsale/configure", async (c) => {
  const { eventId, ...input } = await c.req.json();
  return c.json(await waitingRoom(c.env, eventId).configure(input));
});
probes.get("/__bench/onsale/figures", async (c) => {
  const eventId = c.req.query("event")!;
  const ns = c.env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
  const [room, inv] = await Promise.all([waitingRoom(c.env, eventId).stats(), ns.get(ns.idFromName(eventId)).stats()]);
  return c.json({ ...room, ...inv });
});
probes.post("/__bench/onsale/book", async (c) => {
  const { eventId, holdId } = await c.req.json();
  const ns = c.env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
  const inv = ns.get(ns.idFromName(eventId));
  const bookingId = crypto.randomUUID();
  const begun = await inv.beginConfirm(holdId, bookingId);
  if (!begun.ok) return c.json(begun);
  return c.json(await inv.commit(holdId, bookingId));
});
probes.post("/__bench/onsale/join", async (c) => {
  const { eventId, shards, from, count } = await c.req.json();
  const ns = c.env.QUEUE_SHARD as unknown as DurableObjectNamespace<QueueShard>;
  let ok = 0;
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      // UUID-shaped, as real user ids are: the hold history these visitors leave passes the
      // inventory-events consumer's validation instead of being logged as an invalid message.
      const userId = `00000000-0000-4000-8000-${(from + i).toString(16).padStart(12, "0")}`;
      const res = await ns.get(ns.idFromName(shardName(eventId, shardOf(userId, shards)))).join(userId, {});
      if (res.ok) ok++;
    }),
  );
  return c.json({ ok });
});

probes.get("/__bench/onsale/hold-completions", async (c) => {
  const ns = c.env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
  return c.json(await ns.get(ns.idFromName(c.req.query("event")!)).holdCompletions());
});

probes.get("/__bench/onsale/records", async (c) => {
  const eventId = c.req.query("event")!;
  const shards = Number(c.req.query("shards"));
  const ns = c.env.QUEUE_SHARD as unknown as DurableObjectNamespace<QueueShard>;
  return c.json((await Promise.all(Array.from({ length: shards }, (_, n) => ns.get(ns.idFromName(shardName(eventId, n))).records()))).flat());
});

/**
 * The headless drain: ticks the room itself and plays every admitted buyer through RPC (hold 1-4
 * seats with the admission, book 90%, release the rest) until sold out or `maxTicks`.
 */
probes.post("/__bench/onsale/drain", async (c) => {
  const { eventId, shards, maxTicks } = await c.req.json();
  const shardNs = c.env.QUEUE_SHARD as unknown as DurableObjectNamespace<QueueShard>;
  const invNs = c.env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
  const inv = invNs.get(invNs.idFromName(eventId)) as unknown as EventInventoryRpc;
  const room = waitingRoom(c.env, eventId);
  const seen = new Set<string>();
  const admitted: { joinedAt: number; early: boolean; tick: number }[] = [];
  const timeline: { tick: number; waiting: number; admitted: number; held: number; booked: number }[] = [];
  let noSeat = 0;
  /** Why those admitted buyers found no seat: the object's refusal codes. */
  const noSeatCodes: Record<string, number> = {};
  /** Of those, how many first held more than FIRST_HOLD_GRACE_MS after their admission (their seat was no longer kept). */
  let noSeatAfterGrace = 0;
  /** The longest time from an admission to that buyer's first hold, ms (the room's and this Worker's clocks: one machine). */
  let firstHoldLagMaxMs = 0;
  let since = 0;
  for (let tick = 1; tick <= maxTicks; tick++) {
    const stats = await room.tick();
    const started = Date.now();
    const fresh = (await Promise.all(Array.from({ length: shards }, (_, n) => shardNs.get(shardNs.idFromName(shardName(eventId, n))).admittedSince(since)))).flat().filter((v) => !seen.has(v.userId));
    since = started - 5_000;
    await Promise.all(
      fresh.map(async (v) => {
        seen.add(v.userId);
        admitted.push({ joinedAt: v.joinedAt, early: v.early, tick });
        const q = 1 + (shardOf(v.userId, 4) % 4);
        const lag = Date.now() - (v.admittedAt ?? Date.now());
        firstHoldLagMaxMs = Math.max(firstHoldLagMaxMs, lag);
        let res = await inv.hold(v.userId, { quantity: q }, null, v.token);
        if (!res.ok && res.code === "LIMIT_EXCEEDED") return;
        if (!res.ok) res = await inv.hold(v.userId, { quantity: 1 }, null, v.token);
        if (!res.ok) {
          noSeat++;
          noSeatCodes[res.code] = (noSeatCodes[res.code] ?? 0) + 1;
          if (lag > FIRST_HOLD_GRACE_MS) noSeatAfterGrace++;
          return;
        }
        if (Math.random() < 0.9) {
          const bookingId = crypto.randomUUID();
          await inv.beginConfirm(res.value.id, bookingId);
          await inv.commit(res.value.id, bookingId);
        } else await inv.release(res.value.id, v.userId);
      }),
    );
    const a = await inv.stats();
    timeline.push({ tick, waiting: stats?.waiting ?? 0, admitted: stats?.admitted ?? 0, held: a.held, booked: a.booked });
    if (stats?.soldOut) break;
  }
  const a = await inv.stats();
  return c.json({ admitted, timeline, noSeat, noSeatCodes, noSeatAfterGrace, firstHoldLagMaxMs, final: a });
});

/**
 * A hold through the real app with its time split (bench/onsale.ts): the Worker's clock when the
 * request arrived, when the RPC to the object left and came back, the object's own clock around
 * its hold, and when the Worker answered; in `x-bench-timing` (epoch ms, workerd's clock, which
 * advances on I/O only). The app sees the real namespace behind a proxy that only times `hold`.
 */
async function timedHold(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const t: Record<string, number> = { workerIn: Date.now() };
  const ns = env.EVENT_INVENTORY;
  const timedNs = new Proxy(ns, {
    get(target, prop) {
      if (prop !== "get") {
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return (id: DurableObjectId) => {
        const stub = target.get(id) as unknown as EventInventoryRpc;
        return new Proxy(stub, {
          get(s, p) {
            if (p !== "hold") return Reflect.get(s, p);
            return async (...args: Parameters<EventInventoryRpc["hold"]>) => {
              t.rpcOut = Date.now();
              const res = await s.hold(...args);
              t.rpcBack = Date.now();
              Object.assign(t, (res as { benchTiming?: Record<string, number> }).benchTiming);
              return res;
            };
          },
        });
      };
    },
  });
  const res = await app.fetch(request, { ...env, EVENT_INVENTORY: timedNs }, ctx);
  t.workerOut = Date.now();
  const out = new Response(res.body, res);
  out.headers.set("x-bench-timing", JSON.stringify(t));
  return out;
}

export default {
  ...app,
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/__bench/noop") return new Response("ok");
    if (url.pathname === "/__bench/init" && request.method === "POST") {
      const init = (await request.json()) as InventoryInit;
      const ns = env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
      return Response.json(await ns.get(ns.idFromName(init.eventId)).initialize(init));
    }
    if (url.pathname === "/__bench/engine") {
      const eventId = url.searchParams.get("event")!;
      const n = Number(url.searchParams.get("n") ?? "10000");
      const rows = JSON.parse(url.searchParams.get("rows") ?? "[]");
      const ns = env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
      return Response.json(await ns.get(ns.idFromName(eventId)).engineLoop(n, rows));
    }
    if (url.pathname === "/__bench/minimal") {
      const eventId = url.searchParams.get("event")!;
      const n = Number(url.searchParams.get("n") ?? "10000");
      const rows = JSON.parse(url.searchParams.get("rows") ?? "[]");
      const ns = env.EVENT_INVENTORY as unknown as DurableObjectNamespace<EventInventory>;
      return Response.json(await ns.get(ns.idFromName(eventId)).minimalLoop(n, rows));
    }
    if (url.pathname.startsWith("/__bench/")) return probes.fetch(request, env, ctx);
    if (request.method === "POST" && /^\/v1\/events\/[^/]+\/holds$/.test(url.pathname)) return timedHold(request, env, ctx);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
