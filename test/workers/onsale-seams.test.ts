// The waiting room where it meets failures, a second on-sale and restarts (issue 24, items 6-10):
// real workerd objects and Postgres; faults are injected through the room's and shards' own hooks
// (`shardCalls`, `wakeRoom`) and objects are restarted with `state.abort()`.
import { runInDurableObject } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import type { QueueShard } from "../../durable-objects/onsale/shard-object";
import type { ShardCalls, WaitingRoom } from "../../durable-objects/onsale/room-object";
import type { TickOrder } from "../../durable-objects/onsale/shard.logic";
import { shardOf } from "../../durable-objects/onsale/order";
import { admissionKey, signAdmission } from "../../durable-objects/onsale/contract";
import type { EventInventory } from "../../durable-objects/inventory/object";
import type { ProductSet, TicketTypeDef } from "../../durable-objects/inventory/contract";
import { call, freshIp, makeUser, testEnv, type TestUser } from "../helpers/fixtures";
import { callApp, makeUsers, publishedEvent, type FixtureEvent } from "../helpers/inventory";

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
const iso = (ms: number) => new Date(ms).toISOString();

function room(eventId: string): DurableObjectStub<WaitingRoom> {
  const ns = testEnv.WAITING_ROOM as unknown as DurableObjectNamespace<WaitingRoom>;
  return ns.get(ns.idFromName(eventId));
}

function shardStub(eventId: string, n: number): DurableObjectStub<QueueShard> {
  const ns = testEnv.QUEUE_SHARD as unknown as DurableObjectNamespace<QueueShard>;
  return ns.get(ns.idFromName(`${eventId}:${n}`));
}

const tick = (eventId: string) => room(eventId).tick();

let admin: TestUser;
const rooms = new Set<string>();
async function putOnSale(ev: FixtureEvent, body: Record<string, unknown>) {
  admin ??= await makeUser("admin");
  rooms.add(ev.id);
  return json(await call(`/v1/events/${ev.id}/on-sale`, { method: "PUT", headers: admin.auth, json: body }));
}
const endOnSale = (ev: FixtureEvent) => call(`/v1/events/${ev.id}/on-sale`, { method: "DELETE", headers: admin.auth });
const stats = (ev: FixtureEvent) => call(`/v1/events/${ev.id}/queue/stats`, { headers: admin.auth }).then(json);

const join = (ev: FixtureEvent, u: TestUser, body: unknown = {}) => callApp(`/v1/events/${ev.id}/queue`, { method: "POST", headers: { ...u.auth, ...freshIp() }, json: body }).then(json);
const me = (ev: FixtureEvent, u: TestUser) => callApp(`/v1/events/${ev.id}/queue/me`, { headers: u.auth }).then(json);
const hold = (ev: FixtureEvent, u: TestUser, body: unknown, admission?: string) =>
  callApp(`/v1/events/${ev.id}/holds`, { method: "POST", headers: { ...u.auth, ...(admission ? { "x-admission-token": admission } : {}) }, json: body }).then(json);

/** Users, the first `firsts.length` of which hash to the shards named (of `shards`), then `more` of any shard. */
async function usersOn(shards: number, firsts: number[], more: number): Promise<TestUser[]> {
  const picked: TestUser[] = [];
  for (const want of firsts) {
    let u: TestUser | undefined;
    while (!u) u = (await makeUsers(4)).find((x) => shardOf(x.id, shards) === want);
    picked.push(u);
  }
  return more > 0 ? [...picked, ...(await makeUsers(more))] : picked;
}

/** Who holds an admission now, by user id -> token. */
async function admissions(ev: FixtureEvent, users: TestUser[]): Promise<Map<string, string>> {
  const places = await Promise.all(users.map((u) => me(ev, u)));
  const out = new Map<string, string>();
  places.forEach((p, i) => {
    if (p.body.status === "admitted") out.set(users[i].id, p.body.admission.token);
  });
  return out;
}

type RealShard = ShardCalls & { join(userId: string, pow: object): Promise<unknown> };

/** Replaces the room's calls to its shards: `wrap(n, real)` answers shard n's calls. */
async function hookShards(eventId: string, wrap: (n: number, real: RealShard, state: DurableObjectState) => Partial<ShardCalls> | null) {
  await runInDurableObject(room(eventId), (o: WaitingRoom, state) => {
    const real = o.shardCalls;
    o.shardCalls = (e, n) => {
      const stub = real(e, n) as RealShard;
      const over = wrap(n, stub, state);
      return { configure: (...a) => stub.configure(...a), count: () => stub.count(), tick: (order) => stub.tick(order), ...over } as ShardCalls;
    };
  });
}

// Rooms tick every second while anyone waits: end them, so no alarm runs into the file's teardown.
afterAll(async () => {
  await Promise.all([...rooms].map((id) => room(id).end(id).catch(() => undefined)));
});

describe("switching on-sale mode on (item 6)", () => {
  it("a PUT that fails at a queue shard leaves no hold without an admission, and the same PUT again switches the room on", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    const [a, b] = await usersOn(2, [0, 1], 0);
    let failures = 1;
    await hookShards(ev.id, (n) =>
      n === 1 && failures > 0
        ? {
            configure: async () => {
              failures--;
              throw new Error("injected: queue shard 1 unreachable");
            },
          }
        : null,
    );
    const body = { opensAt: iso(Date.now() - 1_000), shards: 2 };
    const first = await putOnSale(ev, body);
    expect(first).toMatchObject({ status: 503, body: { error: { code: "DEPENDENCY_UNAVAILABLE", message: expect.stringMatching(/same PUT again/) } } });
    // Never live while holds are open to all: the gate went on first.
    expect(await hold(ev, a, { quantity: 1 })).toMatchObject({ status: 403, body: { error: { code: "NOT_ADMITTED" } } });
    // The room opens meanwhile (its alarm or a tick): a retry must still be accepted.
    await tick(ev.id);
    const again = await putOnSale(ev, body);
    expect(again).toMatchObject({ status: 200, body: { status: "open", shards: 2 } });
    expect(await join(ev, a)).toMatchObject({ status: 201, body: { status: "waiting" } });
    expect(await join(ev, b)).toMatchObject({ status: 201, body: { status: "waiting" } });
    // Changing a setting once open is still refused.
    expect((await putOnSale(ev, { ...body, maxActiveShoppers: 3 })).status).toBe(409);
  });
});

describe("switching on-sale mode on when the inventory's gate fails (item 6)", () => {
  it("a PUT whose gate call fails leaves the room off and holds open, and the same PUT again switches both on", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    const [a, b] = await makeUsers(2);
    let failures = 1;
    await runInDurableObject(room(ev.id), (o: WaitingRoom) => {
      const real = o.inventory;
      o.inventory = (id) => {
        const inv = real(id);
        return {
          admissionStats: () => inv.admissionStats(),
          setOnSale: async (on, generation) => {
            if (on && failures-- > 0) throw new Error("injected: the inventory did not answer");
            return inv.setOnSale(on, generation);
          },
        };
      };
    });
    const body = { opensAt: iso(Date.now() - 1_000), shards: 1 };
    expect(await putOnSale(ev, body)).toMatchObject({ status: 503, body: { error: { code: "DEPENDENCY_UNAVAILABLE" } } });
    // Nothing is live: no queue to join, holds as before the PUT.
    expect(await join(ev, a)).toMatchObject({ status: 409, body: { error: { code: "NO_QUEUE" } } });
    expect((await hold(ev, b, { quantity: 1 })).status).toBe(201);
    expect(await putOnSale(ev, body)).toMatchObject({ status: 200, body: { status: "scheduled" } });
    expect(await join(ev, a)).toMatchObject({ status: 201 });
    expect(await hold(ev, b, { quantity: 1 })).toMatchObject({ status: 403, body: { error: { code: "NOT_ADMITTED" } } });
  });
});

describe("a second on-sale (item 7)", () => {
  it("is a new room: the first one's admissions are refused with ADMISSION_SUPERSEDED, its visitors queue afresh and early arrivals get the draw", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    const [a, b] = await makeUsers(2);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 1 })).status).toBe(200);
    await join(ev, a);
    await tick(ev.id);
    await tick(ev.id);
    const old = (await admissions(ev, [a])).get(a.id);
    expect(old).toBeDefined();

    // Presale over; the general sale opens in an hour.
    expect((await endOnSale(ev)).status).toBe(204);
    expect(await putOnSale(ev, { opensAt: iso(Date.now() + 3_600_000), shards: 1 })).toMatchObject({ status: 200, body: { status: "scheduled" } });
    const refused = await hold(ev, a, { quantity: 1 }, old);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "ADMISSION_SUPERSEDED", details: { queue: `/v1/events/${ev.id}/queue` } } } });
    expect((await me(ev, a)).status).toBe(404);
    // Both are early arrivals of the new room: no position until its draw.
    expect(await join(ev, a)).toMatchObject({ status: 201, body: { status: "waiting", position: null } });
    expect(await join(ev, b)).toMatchObject({ status: 201, body: { status: "waiting", position: null } });

    expect((await putOnSale(ev, { opensAt: iso(Date.now()), shards: 1 })).status).toBe(200);
    await tick(ev.id);
    await tick(ev.id);
    const fresh = await admissions(ev, [a, b]);
    expect(fresh.size).toBe(2);
    expect(await hold(ev, a, { quantity: 1 }, fresh.get(a.id))).toMatchObject({ status: 201 });
  });
});

describe("another Worker isolate's cached room settings", () => {
  it("a buyer whose isolate still caches the first room's shard count joins the new room and is admitted", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    // Shard 3 of the first room's 4: the new room has one shard only.
    const [a, b] = await usersOn(4, [0, 3], 0);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 4 })).status).toBe(200);
    // This isolate now caches "4 shards" for the event.
    expect((await join(ev, a)).status).toBe(201);
    // Another isolate ends the room and puts the event on sale again with one shard: this isolate's
    // cache is not told (only the isolate that served the DELETE and PUT drops its copy).
    expect(await room(ev.id).end(ev.id)).toMatchObject({ ok: true });
    expect(await room(ev.id).configure(ev.id, { opensAt: iso(Date.now() - 1_000), shards: 1 })).toMatchObject({ ok: true });
    expect(await join(ev, b)).toMatchObject({ status: 201, body: { status: "waiting" } });
    expect((await me(ev, b)).status).toBe(200);
    await tick(ev.id);
    await tick(ev.id);
    expect((await admissions(ev, [b])).has(b.id)).toBe(true);
  });

  it("a buyer whose isolate still caches the first room's shard count opens the queue socket on the new room's shard", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    // b is on shard 3 of the first room's 4; the new room has one shard only.
    const [a, b] = await usersOn(4, [0, 3], 0);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() + 3_600_000), shards: 4 })).status).toBe(200);
    // This isolate now caches "4 shards" for the event.
    expect((await join(ev, a)).status).toBe(201);
    // Another isolate sets the room up again with one shard, and b joins through it.
    expect(await room(ev.id).end(ev.id)).toMatchObject({ ok: true });
    expect(await room(ev.id).configure(ev.id, { opensAt: iso(Date.now() + 3_600_000), shards: 1 })).toMatchObject({ ok: true });
    expect(await shardStub(ev.id, 0).join(b.id, {})).toMatchObject({ ok: true, value: { created: true } });
    // Through this isolate's stale count b's socket would go to shard 3, which has no place for b.
    const res = await call(`/v1/events/${ev.id}/queue/live?user=${b.id}`, { headers: { upgrade: "websocket" } });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000);
  });
});

describe("the inventory's gate × retried holds", () => {
  it("counts a hold retried with its idempotency key once in the seats per admitted buyer the room plans with", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    const [a] = await makeUsers(1);
    const inv = ev.stub as unknown as DurableObjectStub<EventInventory>;
    expect(await inv.setOnSale(true, 0)).toMatchObject({ ok: true });
    const token = await signAdmission(await admissionKey(testEnv as never), { userId: a.id, eventId: ev.id, expiresAt: Date.now() + 600_000, jti: crypto.randomUUID(), generation: 0 });
    const first = await inv.hold(a.id, { quantity: 2 }, "retried-key", token);
    const again = await inv.hold(a.id, { quantity: 2 }, "retried-key", token);
    expect(first.ok && again.ok && again.value.id === first.value.id).toBe(true);
    expect(await inv.admissionStats()).toMatchObject({ ok: true, value: { admissionsUsed: 1, seatsPerBuyer: 2 } });
    await inv.setOnSale(false);
  });
});

describe("a tick that partly fails (item 9)", () => {
  it("a shard whose answer is lost does not let the next tick admit past the free seats, and its admissions are recorded once it answers", async () => {
    // 4 seats, at most 2 per buyer: 2 buyers on the way at a time.
    const ev = await publishedEvent({ seating: "general", capacity: 4, maxSeatsPerUser: 2 });
    const users = await usersOn(2, [0, 1], 4);
    // The room's alarm ticks too: the first tick that grants shard 1 anything loses its answer, whichever runs it.
    let lose = true;
    await hookShards(ev.id, (n, real) =>
      n === 1
        ? {
            tick: async (order: TickOrder) => {
              const report = await real.tick(order);
              if (!lose || order.admit === 0) return report;
              lose = false;
              throw new Error("injected: shard 1's answer lost after it admitted");
            },
          }
        : null,
    );
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 2 })).status).toBe(200);
    for (const u of users) await join(ev, u);
    while (lose) await tick(ev.id).catch(() => null);
    await tick(ev.id);
    await tick(ev.id);
    const now = await admissions(ev, users);
    expect(now.size).toBe(2);
    expect((await stats(ev)).body.admitted).toBe(2);
    // Every admitted buyer finds the seats the rule promised.
    for (const [id, token] of now) expect((await hold(ev, users.find((u) => u.id === id)!, { quantity: 2 }, token)).status).toBe(201);
  });
});

describe("the room never sleeps on a waiting visitor (item 8)", () => {
  it("admits a visitor who joined a quiet one-shard room while its tick was running", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    const [a] = await makeUsers(1);
    let joined = false;
    // Someone joins right after the shard reported an empty queue, before the tick ends.
    await hookShards(ev.id, (_n, real) => ({
      tick: async (order: TickOrder) => {
        const report = await real.tick(order);
        if (!joined && order.open) {
          joined = true;
          await real.join(a.id, {});
        }
        return report;
      },
    }));
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 1 })).status).toBe(200);
    await expect.poll(() => joined, { timeout: 5_000 }).toBe(true);
    await expect.poll(async () => (await me(ev, a)).body.status, { timeout: 8_000, interval: 250 }).toBe("admitted");
  });

  it("admits a visitor whose shard failed to wake the sleeping room", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    const [a] = await makeUsers(1);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 1 })).status).toBe(200);
    // The room opens with nobody waiting, then sleeps.
    await expect.poll(async () => (await stats(ev)).body.status, { timeout: 5_000 }).toBe("open");
    await expect.poll(() => runInDurableObject(room(ev.id), (_o, state) => state.storage.getAlarm()), { timeout: 5_000 }).toBeNull();
    let failures = 1;
    await runInDurableObject(shardStub(ev.id, 0), (o: QueueShard) => {
      const real = o.wakeRoom;
      o.wakeRoom = async () => {
        if (failures-- > 0) throw new Error("injected: the room did not answer");
        return real();
      };
    });
    expect(await join(ev, a)).toMatchObject({ status: 201, body: { status: "waiting" } });
    await expect.poll(async () => (await me(ev, a)).body.status, { timeout: 8_000, interval: 250 }).toBe("admitted");
  });
});

describe("bounds and the end of a room (item 10)", () => {
  it("ends the room when the event is cancelled: no more ticks, holds no longer gated", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 2 });
    const users = await makeUsers(3);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 1 })).status).toBe(200);
    for (const u of users) await join(ev, u);
    await tick(ev.id);
    expect((await ev.stub.closeSales()).ok).toBe(true);
    await tick(ev.id);
    expect((await stats(ev)).body.status).toBe("off");
    expect(await runInDurableObject(room(ev.id), (_o, state) => state.storage.getAlarm())).toBeNull();
    // The event sells nothing now, to anyone: the cancellation says so, not the room.
    expect(await hold(ev, users[2], { quantity: 1 })).toMatchObject({ status: 409, body: { error: { code: "SALES_CLOSED" } } });
  });

  it("opens a queue socket only for a visitor with a place, at most two per visitor, and closes one that never authenticates", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 10 });
    const [a, stranger, b] = await makeUsers(3);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() + 3_600_000), shards: 1 })).status).toBe(200);
    const nobody = await call(`/v1/events/${ev.id}/queue/live?user=${stranger.id}`, { headers: { upgrade: "websocket" } });
    expect(await json(nobody)).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND", requestId: expect.any(String) } } });
    await join(ev, a);
    const sockets = await Promise.all([1, 2, 3].map(() => call(`/v1/events/${ev.id}/queue/live?user=${a.id}`, { headers: { upgrade: "websocket" } })));
    const closed: number[] = [];
    sockets.forEach((res, i) => {
      expect(res.status).toBe(101);
      res.webSocket!.accept();
      res.webSocket!.addEventListener("close", () => closed.push(i));
    });
    await expect.poll(() => closed.length, { timeout: 3_000 }).toBe(1);
    for (const s of sockets) s.webSocket!.close(1000);

    await join(ev, b);
    const silent = await call(`/v1/events/${ev.id}/queue/live?user=${b.id}`, { headers: { upgrade: "websocket" } });
    silent.webSocket!.accept();
    let silentClosed = false;
    silent.webSocket!.addEventListener("close", () => (silentClosed = true));
    const later = Date.now() + 11_000;
    await runInDurableObject(shardStub(ev.id, 0), (o: QueueShard) => {
      o.now = () => later;
    });
    await tick(ev.id);
    await expect.poll(() => silentClosed, { timeout: 3_000 }).toBe(true);
  });
});

describe("restarts in the middle of an on-sale", () => {
  it("a WaitingRoom stopped after its shards admitted and before it recorded them admits nobody twice and loses nobody", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 4, maxSeatsPerUser: 2 });
    const users = await usersOn(2, [0, 1], 4);
    let stop = true;
    await hookShards(ev.id, (n, real, state) =>
      n === 1
        ? {
            tick: async (order: TickOrder) => {
              const report = await real.tick(order);
              if (stop && order.admit > 0) {
                stop = false;
                // Both shards have admitted; the room dies before it saves what they said.
                await new Promise((r) => setTimeout(r, 100));
                state.abort("injected: evicted mid-tick");
              }
              return report;
            },
          }
        : null,
    );
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 2 })).status).toBe(200);
    for (const u of users) await join(ev, u);
    while (stop) await tick(ev.id).catch(() => null);
    const first = await admissions(ev, users);
    expect(first.size).toBe(2);
    await tick(ev.id);
    await tick(ev.id);
    const after = await admissions(ev, users);
    // Nobody more than the seats allow, the same two with the same tokens, and the room knows them.
    expect([...after.entries()]).toEqual([...first.entries()]);
    expect((await stats(ev)).body.admitted).toBe(2);
    for (const [id, token] of after) expect((await hold(ev, users.find((u) => u.id === id)!, { quantity: 2 }, token)).status).toBe(201);
  });

  it("a QueueShard restarted mid-sale keeps every place and admission, and admits nobody twice", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 6, maxSeatsPerUser: 2 });
    const users = await makeUsers(6);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 1 })).status).toBe(200);
    for (const u of users) await join(ev, u);
    // 6 seats, 2 per buyer: three admitted, over however many ticks (the room's alarm ticks too).
    await expect.poll(async () => (await tick(ev.id), (await admissions(ev, users)).size), { timeout: 10_000 }).toBe(3);
    const before = await admissions(ev, users);
    const placesOf = async () => (await Promise.all(users.filter((u) => !before.has(u.id)).map((u) => me(ev, u)))).map((p) => [p.body.status, p.body.position]);
    const places = await placesOf();
    await expect(runInDurableObject(shardStub(ev.id, 0), (_o, state) => state.abort("injected"))).rejects.toThrow();
    // The same admissions and places after the restart.
    expect(await admissions(ev, users)).toEqual(before);
    expect(await placesOf()).toEqual(places);
    // Rejoining buys nothing; a tick admits nobody past the free seats.
    for (const u of users) expect((await join(ev, u)).status).toBe(200);
    await tick(ev.id);
    expect((await admissions(ev, users)).size).toBe(3);
    for (const [id, token] of before) expect((await hold(ev, users.find((u) => u.id === id)!, { quantity: 2 }, token)).status).toBe(201);
    await tick(ev.id);
    await tick(ev.id);
    expect((await admissions(ev, users)).size).toBe(3);
    expect((await stats(ev)).body).toMatchObject({ admitted: 3, soldOut: false });
  });
});

describe("the waiting room × ticket types (issue 24, the seams nobody listed)", () => {
  const types = (over: (Partial<TicketTypeDef> & { id: string })[]): ProductSet => ({
    revision: 1,
    types: over.map((o) => ({ name: o.id, priceCents: null, quota: null, quotaPool: null, minPerOrder: 1, maxPerOrder: null, salesStartMs: null, salesEndMs: null, hidden: false, sections: null, ...o })),
    vouchers: [],
  });

  it("admits only as many buyers as the on-sale types' quotas can serve, every one of them holds, and says sold out with seats free but none sellable", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 20, maxSeatsPerUser: 2 });
    // 20 seats, but the public can buy only 2: the default type's quota. A later type is not on sale yet, a hidden one is for voucher holders.
    const later = Date.now() + 3_600_000;
    expect((await ev.stub.setProducts(types([{ id: "tt_default", quota: 2 }, { id: "tt_later", salesStartMs: later }, { id: "tt_secret", hidden: true }]))).ok).toBe(true);
    const users = await makeUsers(6);
    expect((await putOnSale(ev, { opensAt: iso(Date.now() - 1_000), shards: 1 })).status).toBe(200);
    for (const u of users) expect((await join(ev, u)).status).toBe(201);
    await tick(ev.id);
    await tick(ev.id);
    const admitted = await admissions(ev, users);
    // Counting free seats, ten buyers' worth (20 seats, 2 each) would be admitted: all six, five of whom could not hold.
    expect(admitted.size).toBe(1);
    for (const [userId, token] of admitted) {
      const u = users.find((x) => x.id === userId)!;
      const h = await hold(ev, u, { quantity: 2 }, token);
      expect(h.status, JSON.stringify(h.body)).toBe(201);
      const bookingId = crypto.randomUUID();
      expect((await ev.stub.beginConfirm(h.body.id, bookingId)).ok).toBe(true);
      expect((await ev.stub.commit(h.body.id, bookingId)).ok).toBe(true);
    }
    await tick(ev.id);
    // 18 seats free, none sellable, nothing held: sold out, nobody else admitted.
    expect((await ev.stub.stats()).available).toBe(18);
    expect((await stats(ev)).body).toMatchObject({ soldOut: true, admitted: 1 });
    const waiting = users.find((u) => !admitted.has(u.id))!;
    expect(await me(ev, waiting)).toEqual({ status: 200, body: { status: "sold_out" } });
    // The organizer raises the quota: the room admits again.
    expect((await ev.stub.setProducts({ ...types([{ id: "tt_default", quota: 4 }, { id: "tt_later", salesStartMs: later }, { id: "tt_secret", hidden: true }]), revision: 2 })).ok).toBe(true);
    await tick(ev.id);
    expect((await admissions(ev, users)).size).toBe(2);
  });
});
