import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { EventInventory } from "../../durable-objects/inventory/object";
import { LIVE_FULL_CLOSE_CODE } from "../../durable-objects/shared/sockets";
import type { LiveRelay } from "../../durable-objects/live-relay/object";
import { liveLayout, relayIndex, relayName } from "../../durable-objects/live-relay/contract";
import { admissionKey, signAdmission } from "../../durable-objects/onsale/contract";
import { call, makeSession } from "../helpers/fixtures";
import { publishedEvent, type FixtureEvent } from "../helpers/inventory";

const U1 = "00000000-0000-4000-8000-0000000000c1";
const relays = (env as unknown as { LIVE_RELAY: DurableObjectNamespace<LiveRelay> }).LIVE_RELAY;
const { relays: RELAYS } = liveLayout(env as never);

interface Live {
  ws: WebSocket;
  frames: any[];
  next(): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A request id that the Worker hashes to relay `n` (the id is the client's `x-request-id`). */
function requestIdFor(n: number): string {
  for (;;) {
    const id = `req-${crypto.randomUUID()}`;
    if (relayIndex(id, RELAYS) === n) return id;
  }
}

async function connect(eventId: string, relay = 0): Promise<Live> {
  const res = await call(`/v1/events/${eventId}/live`, { headers: { upgrade: "websocket", "x-request-id": requestIdFor(relay) } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const frames: any[] = [];
  let read = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
  });
  ws.accept();
  const next = async () => {
    const deadline = Date.now() + 5_000;
    while (frames.length <= read) {
      if (Date.now() > deadline) throw new Error("no frame");
      await new Promise((r) => setTimeout(r, 10));
    }
    return frames[read++];
  };
  return { ws, frames, next, closed };
}

async function directSockets(ev: FixtureEvent, n: number): Promise<void> {
  await runInDurableObject(ev.stub as DurableObjectStub<EventInventory>, (instance) => {
    instance.liveDirectSockets = n;
  });
}

const socketsOn = (stub: DurableObjectStub) => runInDurableObject(stub, (_instance, state) => state.getWebSockets().length);
const relayStub = (eventId: string, n: number) => relays.get(relays.idFromName(relayName(eventId, n)));

/** Waits until `check` holds (or the deadline passes). */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends `frame` on the socket and answers the first frame of `type` that comes back after it. */
async function ask(live: Live, frame: object, type: string): Promise<any> {
  const from = live.frames.length;
  live.ws.send(JSON.stringify(frame));
  await until(() => live.frames.slice(from).some((f) => f.type === type));
  return live.frames.slice(from).find((f) => f.type === type);
}

/** The seat statuses a client knows after applying its frames in order, and whether versions ever skipped. */
function replay(frames: any[]): { version: number; seats: Map<string, string>; gaps: number } {
  const seats = new Map<string, string>();
  let version = -1;
  let gaps = 0;
  for (const f of frames) {
    if (f.type === "snapshot") {
      version = f.version;
      seats.clear();
      for (const s of f.seats) seats.set(s.id, s.status);
    } else if (f.type === "delta") {
      if (f.version !== version + 1) gaps++;
      version = f.version;
      for (const c of f.changes) seats.set(c.id, c.status);
    }
  }
  return { version, seats, gaps };
}

async function seatMap(eventId: string): Promise<{ version: number; seats: Map<string, string> }> {
  const body: any = await (await call(`/v1/events/${eventId}/seats`)).json();
  return { version: body.version, seats: new Map(body.seats.map((s: any) => [s.id, s.status])) };
}

describe("live seat map watchers beyond the event's direct sockets are served by relays", () => {
  it("sockets beyond LIVE_DIRECT_SOCKETS land on relays, start from the same snapshot version and receive every delta in order", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 10] });
    await directSockets(ev, 2);
    const sockets: Live[] = [];
    for (let i = 0; i < 6; i++) sockets.push(await connect(ev.id, i % RELAYS));
    const snapshots = await Promise.all(sockets.map((s) => s.next()));
    expect(snapshots.every((f) => f.type === "snapshot")).toBe(true);
    expect(new Set(snapshots.map((f) => f.version)).size).toBe(1);
    expect(snapshots[5].version).toBe((await seatMap(ev.id)).version);

    expect(await socketsOn(ev.stub)).toBe(2);
    let onRelays = 0;
    for (let n = 0; n < RELAYS; n++) onRelays += await socketsOn(relayStub(ev.id, n));
    expect(onRelays).toBe(4);

    // Holds and releases, some in quick bursts (batched deltas), some apart.
    const holds: string[] = [];
    for (let i = 1; i <= 6; i++) {
      const r = await ev.stub.hold(U1, { seatIds: [`A-1-${i}`] }, null);
      if (!r.ok) throw new Error("hold refused");
      holds.push(r.value.id);
      if (i % 2 === 0) await new Promise((r) => setTimeout(r, 60));
    }
    await ev.stub.release(holds[0], U1);
    await ev.stub.release(holds[3], U1);

    const final = await seatMap(ev.id);
    await until(() => sockets.every((s) => replay(s.frames).version === final.version));
    for (const s of sockets) {
      const seen = replay(s.frames);
      expect(seen.gaps).toBe(0);
      expect(s.frames.filter((f) => f.type === "snapshot")).toHaveLength(1);
      expect(seen.seats).toEqual(final.seats);
    }
    expect(final.seats.get("A-1-2")).toBe("held");
    expect(final.seats.get("A-1-4")).toBe("available");
    for (const s of sockets) s.ws.close(1000);
  });

  it("a relay refuses sockets beyond LIVE_RELAY_SOCKETS with 1013 and allows one resync per second", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    await directSockets(ev, 0);
    await runInDurableObject(relayStub(ev.id, 0), (instance: LiveRelay) => {
      instance.liveMaxSockets = 1;
    });
    const a = await connect(ev.id, 0);
    expect(await a.next()).toMatchObject({ type: "snapshot" });
    const b = await connect(ev.id, 0);
    expect(await b.closed).toMatchObject({ code: LIVE_FULL_CLOSE_CODE, reason: expect.stringContaining("try again later") });

    a.ws.send(JSON.stringify({ type: "resync" }));
    expect(await a.next()).toMatchObject({ type: "snapshot" });
    a.ws.send(JSON.stringify({ type: "resync" }));
    expect(await a.next()).toMatchObject({ type: "error", code: "RATE_LIMITED", retryAfterMs: expect.any(Number) });
    a.ws.send("not json");
    expect(await a.next()).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
    a.ws.close(1000);
  });

  it("a relay whose watchers all left stops being fed and the inventory forgets it", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 5] });
    await directSockets(ev, 0);
    const a = await connect(ev.id, 0);
    await a.next();
    const fed = () => runInDurableObject(ev.stub as DurableObjectStub<EventInventory>, (instance) => (instance as unknown as { relays: { size: number } }).relays.size);
    expect(await fed()).toBe(1);
    a.ws.close(1000);
    await a.closed;
    await expect.poll(() => socketsOn(relayStub(ev.id, 0)), { timeout: 5_000 }).toBe(0);
    await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null);
    await expect.poll(fed, { timeout: 5_000 }).toBe(0);
  });

  it("a relay that was reset drops its watchers, who reconnect to a snapshot of the current version and then get every delta", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 10] });
    await directSockets(ev, 0);
    const a = await connect(ev.id, 0);
    const first = await a.next();
    expect(first).toMatchObject({ type: "snapshot" });
    await ev.stub.hold(U1, { seatIds: ["A-1-1"] }, null);
    await until(() => replay(a.frames).version === first.version + 1);

    await expect(runInDurableObject(relayStub(ev.id, 0), (_instance, state) => state.abort())).rejects.toThrow(/abort/);
    expect((await a.closed).code).toBe(1006);

    // Reconnected before the inventory sent the relay anything since the reset.
    const b = await connect(ev.id, 0);
    const snap = await b.next();
    expect(snap).toMatchObject({ type: "snapshot", version: first.version + 1 });
    await ev.stub.hold(U1, { seatIds: ["A-1-2"] }, null);
    await ev.stub.hold(U1, { seatIds: ["A-1-3"] }, null);

    const final = await seatMap(ev.id);
    await until(() => replay(b.frames).version === final.version);
    const seen = replay(b.frames);
    expect(seen.gaps).toBe(0);
    expect(seen.seats).toEqual(final.seats);
    b.ws.close(1000);
  });

  it("a watcher on a relay authenticates, holds and releases over its socket like one on the inventory", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 5] });
    await directSockets(ev, 0);
    const user = await makeSession();
    const a = await connect(ev.id, 0);
    expect(await a.next()).toMatchObject({ type: "snapshot" });
    expect(await socketsOn(relayStub(ev.id, 0))).toBe(1);
    const answer = (frame: object, type: string) => ask(a, frame, type);
    expect(await answer({ type: "auth", token: user.token }, "auth")).toMatchObject({ ok: true, userId: user.id });
    const held = await answer({ type: "hold", ref: "r-1", seatIds: ["A-1-2"] }, "reply");
    expect(held).toMatchObject({ ref: "r-1", ok: true, hold: { seats: [{ id: "A-1-2" }] } });
    expect((await seatMap(ev.id)).seats.get("A-1-2")).toBe("held");
    const again = await answer({ type: "hold", ref: "r-1", seatIds: ["A-1-2"] }, "reply");
    expect(again.hold.id).toBe(held.hold.id);
    expect(await answer({ type: "release", ref: "r-2", holdId: held.hold.id }, "reply")).toMatchObject({ ref: "r-2", ok: true });
    const final = await seatMap(ev.id);
    expect(final.seats.get("A-1-2")).toBe("available");
    await until(() => replay(a.frames).version === final.version);
    expect(replay(a.frames).seats).toEqual(final.seats);
    a.ws.close(1000);
  });

  it("a relay evicted while its sockets hold seats loses no hold and makes none twice: sockets reconnect, sign in again and resend their unanswered refs", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 6] });
    await directSockets(ev, 0);
    const [alice, bob] = [await makeSession(), await makeSession()];
    /** A socket on relay 0, signed in: what the client does on every (re)connect. */
    const signedIn = async (token: string) => {
      const live = await connect(ev.id, 0);
      expect(await live.next()).toMatchObject({ type: "snapshot" });
      expect(await ask(live, { type: "auth", token }, "auth")).toMatchObject({ ok: true });
      return live;
    };
    const a = await signedIn(alice.token);
    const b = await signedIn(bob.token);
    // Both clients name their first request "r-1": refs are per user.
    const heldA = await ask(a, { type: "hold", ref: "r-1", seatIds: ["A-1-1"] }, "reply");
    const heldB = await ask(b, { type: "hold", ref: "r-1", seatIds: ["A-1-2"] }, "reply");
    expect([heldA.ok, heldB.ok]).toEqual([true, true]);
    // Alice's next hold is on its way when the relay goes: she never sees its reply.
    a.ws.send(JSON.stringify({ type: "hold", ref: "r-2", seatIds: ["A-1-3"] }));
    await expect(runInDurableObject(relayStub(ev.id, 0), (_instance, state) => state.abort())).rejects.toThrow(/abort/);
    expect((await a.closed).code).toBe(1006);
    expect((await b.closed).code).toBe(1006);

    // The client reconnects, signs in and sends what was unanswered again, with the same ref.
    const a2 = await signedIn(alice.token);
    const b2 = await signedIn(bob.token);
    const r2 = await ask(a2, { type: "hold", ref: "r-2", seatIds: ["A-1-3"] }, "reply");
    expect(r2).toMatchObject({ ok: true, hold: { seats: [{ id: "A-1-3" }] } });
    // A repeat of an answered ref answers the same hold, on the new relay instance too.
    expect((await ask(b2, { type: "hold", ref: "r-1", seatIds: ["A-1-2"] }, "reply")).hold.id).toBe(heldB.hold.id);
    expect((await ask(a2, { type: "hold", ref: "r-1", seatIds: ["A-1-1"] }, "reply")).hold.id).toBe(heldA.hold.id);

    // Exactly three holds in the inventory, each seat in one: none lost, none twice.
    const holds = await runInDurableObject(ev.stub as DurableObjectStub<EventInventory>, (_o, state) =>
      state.storage.sql.exec(`SELECT id, user_id, seats FROM holds WHERE status = 'active'`).toArray().map((r) => ({ id: r.id, userId: r.user_id, seats: JSON.parse(r.seats as string).map((x: { id: string }) => x.id) })),
    );
    expect(holds.map((h) => h.id).sort()).toEqual([heldA.hold.id, heldB.hold.id, r2.hold.id].sort());
    expect(holds.find((h) => h.id === r2.hold.id)).toMatchObject({ userId: alice.id, seats: ["A-1-3"] });
    const final = await seatMap(ev.id);
    expect([1, 2, 3, 4].map((n) => final.seats.get(`A-1-${n}`))).toEqual(["held", "held", "held", "available"]);
    // The reconnected sockets follow the map again, and still act on their holds.
    expect(await ask(a2, { type: "release", ref: "r-3", holdId: heldA.hold.id }, "reply")).toMatchObject({ ok: true });
    const after = await seatMap(ev.id);
    await until(() => replay(b2.frames).version === after.version);
    expect(replay(b2.frames).seats).toEqual(after.seats);
    a2.ws.close(1000);
    b2.ws.close(1000);
  });

  it("a watcher on a relay holds during an on-sale with its admission token, and is refused without one", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 5] });
    await directSockets(ev, 0);
    expect(await (ev.stub as DurableObjectStub<EventInventory>).setOnSale(true)).toMatchObject({ ok: true });
    const user = await makeSession();
    const admission = await signAdmission(await admissionKey(env as never), { userId: user.id, eventId: ev.id, expiresAt: Date.now() + 600_000, jti: crypto.randomUUID() });
    const a = await connect(ev.id, 0);
    expect(await a.next()).toMatchObject({ type: "snapshot" });
    expect(await socketsOn(relayStub(ev.id, 0))).toBe(1);
    const answer = (frame: object, type: string) => ask(a, frame, type);
    expect(await answer({ type: "auth", token: user.token }, "auth")).toMatchObject({ ok: true });
    expect(await answer({ type: "hold", ref: "r-1", seatIds: ["A-1-1"] }, "reply")).toMatchObject({ ok: false, error: { code: "NOT_ADMITTED" } });
    // Relays passed holds on without the admission (issue 24 item 5): every admitted buyer on a relay was refused.
    expect(await answer({ type: "hold", ref: "r-2", seatIds: ["A-1-1"], admission }, "reply")).toMatchObject({ ok: true, hold: { seats: [{ id: "A-1-1" }] } });
    a.ws.close(1000);
  });
});
