import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { EventInventory } from "../../durable-objects/inventory/object";
import { LIVE_FULL_CLOSE_CODE } from "../../durable-objects/shared/sockets";
import { MAX_IDLE_LANES, laneCount } from "../../src/lib/load-shedding";
import { call, expectError, makeUser } from "../helpers/fixtures";
import { callApp, publishedEvent } from "../helpers/inventory";

const U1 = "00000000-0000-4000-8000-0000000000b1";
const namespace = (env as unknown as { EVENT_INVENTORY: DurableObjectNamespace<EventInventory> }).EVENT_INVENTORY;

interface Live {
  ws: WebSocket;
  next(): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(eventId: string): Promise<Live> {
  const res = await call(`/v1/events/${eventId}/live`, { headers: { upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const frames: any[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
  ws.addEventListener("message", (e) => frames.push(JSON.parse(e.data as string)));
  ws.accept();
  const next = async () => {
    const deadline = Date.now() + 5_000;
    while (frames.length === 0) {
      if (Date.now() > deadline) throw new Error("no frame");
      await new Promise((r) => setTimeout(r, 10));
    }
    return frames.shift();
  };
  return { ws, next, closed };
}

/** Counts builds of the full seat map inside the event's object from now on (it is cached per version). */
async function countSeatScans(eventId: string): Promise<{ scans: number }> {
  const counter = { scans: 0 };
  await runInDurableObject(namespace.get(namespace.idFromName(eventId)), (instance) => {
    const holds = (instance as unknown as EventInventory).engine.holds;
    const real = holds.seatMap.bind(holds);
    holds.seatMap = () => {
      counter.scans++;
      return real();
    };
  });
  return counter;
}

describe("anonymous load on a hot event's inventory object", () => {
  it("a random event id's seat map and live socket answer 404 and create no inventory object", async () => {
    const id = crypto.randomUUID();
    const seats = await call(`/v1/events/${id}/seats`);
    expect(seats.status).toBe(404);
    expectError(await seats.json(), "NOT_FOUND");
    const live = await call(`/v1/events/${id}/live`, { headers: { upgrade: "websocket" } });
    expect(live.status).toBe(404);
    expectError(await live.json(), "NOT_FOUND");
    const target = namespace.idFromName(id);
    expect((await listDurableObjectIds(namespace)).some((x) => x.equals(target))).toBe(false);
  });

  it("a random event id's holds and waitlist answer 404 to a signed-in user and create no inventory object", async () => {
    const id = crypto.randomUUID();
    const user = await makeUser();
    const auth = { authorization: `Bearer ${user.token}` };
    const hold = await call(`/v1/events/${id}/holds`, { method: "POST", headers: auth, json: { quantity: 1 } });
    expect(hold.status).toBe(404);
    expectError(await hold.json(), "NOT_FOUND");
    const join = await call(`/v1/events/${id}/waitlist`, { method: "POST", headers: auth, json: { quantity: 1 } });
    expect(join.status).toBe(404);
    expect((await call(`/v1/events/${id}/waitlist/me`, { headers: auth })).status).toBe(404);
    expect((await call(`/v1/events/${id}/waitlist/me`, { method: "DELETE", headers: auth })).status).toBe(404);
    const target = namespace.idFromName(id);
    expect((await listDurableObjectIds(namespace)).some((x) => x.equals(target))).toBe(false);
  });

  it("repeated seat map reads, socket snapshots and resyncs scan the seats once per version", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 5] });
    const counter = await countSeatScans(ev.id);
    const first: any = await (await call(`/v1/events/${ev.id}/seats`)).json();
    for (let i = 0; i < 3; i++) expect(await (await call(`/v1/events/${ev.id}/seats`)).json()).toEqual(first);
    const a = await connect(ev.id);
    expect(await a.next()).toMatchObject({ type: "snapshot", version: first.version });
    a.ws.send(JSON.stringify({ type: "resync" }));
    expect(await a.next()).toMatchObject({ type: "snapshot", version: first.version });
    expect(counter.scans).toBe(1);

    await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null);
    const after: any = await (await call(`/v1/events/${ev.id}/seats`)).json();
    expect(after.version).toBeGreaterThan(first.version);
    expect(after.seats.find((s: any) => s.id === "A-1-1").status).toBe("held");
    await call(`/v1/events/${ev.id}/seats`);
    expect(counter.scans).toBe(2);
    a.ws.close(1000);
  });

  it("a socket beyond the event's cap is closed with 1013, try again later", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    await runInDurableObject(ev.stub, (instance) => {
      instance.liveMaxSockets = 2;
    });
    const [a, b] = [await connect(ev.id), await connect(ev.id)];
    expect(await a.next()).toMatchObject({ type: "snapshot" });
    expect(await b.next()).toMatchObject({ type: "snapshot" });
    const c = await connect(ev.id);
    expect(await c.closed).toMatchObject({ code: LIVE_FULL_CLOSE_CODE, reason: expect.stringContaining("try again later") });
    a.ws.close(1000);
    b.ws.close(1000);
  });

  it("a second resync within a second gets an error frame instead of another snapshot", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const a = await connect(ev.id);
    await a.next();
    a.ws.send(JSON.stringify({ type: "resync" }));
    expect(await a.next()).toMatchObject({ type: "snapshot" });
    a.ws.send(JSON.stringify({ type: "resync" }));
    expect(await a.next()).toMatchObject({ type: "error", code: "RATE_LIMITED", retryAfterMs: expect.any(Number) });
    a.ws.send(JSON.stringify({ type: "ping" }));
    expect(await a.next()).toEqual({ type: "pong" });
    a.ws.close(1000);
  });

  it("hold requests for paths that are not events, or for many unknown events, leave the load-shedding map bounded", async () => {
    const before = laneCount();
    for (let i = 0; i < 20; i++) await callApp(`/v1/events/not-an-event-${i}/holds`, { method: "POST", json: { quantity: 1 } });
    expect(laneCount()).toBe(before);
    await Promise.all(
      Array.from({ length: MAX_IDLE_LANES + 100 }, () => callApp(`/v1/events/${crypto.randomUUID()}/holds`, { method: "POST", json: { quantity: 1 } })),
    );
    expect(laneCount()).toBeLessThanOrEqual(MAX_IDLE_LANES + 1);
  });
});
