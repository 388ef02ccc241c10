import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { bookings } from "../../src/db/schema";
import type { EventInventory } from "../../durable-objects/inventory/object";
import type { BookingPush } from "../../durable-objects/inventory/contract";
import { liveLayout, relayIndex } from "../../durable-objects/live-relay/contract";
import { announceBookingOutcome } from "../../src/services/booking-events";
import { call, expectError, makeSession, makeUser, testEnv, withDb, type TestUser } from "../helpers/fixtures";
import { inventoryStub, publishedEvent, type FixtureEvent } from "../helpers/inventory";
import { makeReservedEventOnSale } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// The buyer is told a booking's outcome (API.md "Checkout"): `booking` frames on the live socket
// (the inventory's own sockets and its relays') and server-sent events, both fed by pushBooking.

const { relays: RELAYS } = liveLayout(env as never);

interface Socket {
  ws: WebSocket;
  frames: any[];
  closed: Promise<number>;
  /** Sends a frame and waits for the first frame after it that matches. */
  ask(frame: unknown, match: (f: any) => boolean): Promise<any>;
  /** Every frame sent to this socket before now has arrived: a ping's pong comes after them. */
  drained(): Promise<void>;
  bookingFrames(): any[];
}

/** A live socket opened as the page opens it; `relay` picks the relay it lands on when the inventory sends it to one. */
async function open(eventId: string, relay = 0): Promise<Socket> {
  let requestId: string;
  do requestId = `req-${crypto.randomUUID()}`;
  while (RELAYS > 0 && relayIndex(requestId, RELAYS) !== relay);
  const res = await call(`/v1/events/${eventId}/live`, { headers: { upgrade: "websocket", "x-request-id": requestId } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const frames: any[] = [];
  const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
  });
  ws.accept();
  const ask = async (frame: unknown, match: (f: any) => boolean) => {
    const from = frames.length;
    ws.send(JSON.stringify(frame));
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = frames.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no answer to ${JSON.stringify(frame)}; got ${JSON.stringify(frames.slice(from))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    ws,
    frames,
    closed,
    ask,
    drained: async () => void (await ask({ type: "ping" }, (f) => f.type === "pong")),
    bookingFrames: () => frames.filter((f) => f.type === "booking"),
  };
}

async function signedIn(eventId: string, user: TestUser, relay = 0): Promise<Socket> {
  const s = await open(eventId, relay);
  expect(await s.ask({ type: "auth", token: user.token }, (f) => f.type === "auth")).toMatchObject({ ok: true, userId: user.id });
  return s;
}

const inventory = (ev: FixtureEvent) => ev.stub as DurableObjectStub<EventInventory>;
const directSockets = (ev: FixtureEvent, n: number) =>
  runInDurableObject(inventory(ev), (instance) => {
    instance.liveDirectSockets = n;
  });

async function insertBooking(user: TestUser, eventId: string, status: BookingPush["status"], failureReason: string | null = null) {
  const [b] = await withDb((db) =>
    db.insert(bookings).values({
      userId: user.id, eventId, holdId: `hld_${eventId}_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`, status, failureReason, quantity: 1,
      seats: [{ id: "A-1-1", priceCents: 5000 }], totalAmountCents: 5000, currency: "EUR", paymentMethod: "pm_card_ok",
      paymentDeadline: new Date(Date.now() + 600_000),
    }).returning(),
  );
  return b;
}

const setStatus = (id: string, status: BookingPush["status"]) => withDb((db) => db.update(bookings).set({ status }).where(eq(bookings.id, id)));

/** Reads a server-sent event stream as it arrives. */
function readStream(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const s = { text: "", ended: false };
  const done = (async () => {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      s.text += decoder.decode(r.value, { stream: true });
    }
    s.ended = true;
  })();
  return {
    state: s,
    done,
    /** The `booking` events so far, parsed. */
    events: () =>
      s.text
        .split("\n\n")
        .filter((block) => block.startsWith("event: booking\n"))
        .map((block) => JSON.parse(block.slice(block.indexOf("data: ") + 6))),
  };
}

const streamsOn = (ev: FixtureEvent) => runInDurableObject(inventory(ev), (instance) => instance.bookingStreams.size);

describe("booking frames on the live socket", () => {
  it("reach only the buyer's authenticated sockets: not another user's, not an anonymous one", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const [buyer, other] = [await makeSession(), await makeSession()];
    const mine = [await signedIn(ev.id, buyer), await signedIn(ev.id, buyer)];
    const theirs = await signedIn(ev.id, other);
    const anonymous = await open(ev.id);
    const id = crypto.randomUUID();

    expect(await inventory(ev).pushBooking({ userId: buyer.id, id, status: "confirmed" })).toEqual({ sockets: 2 });
    expect(await inventory(ev).pushBooking({ userId: buyer.id, id, status: "failed", failureReason: "Your card was declined." })).toEqual({ sockets: 2 });
    for (const s of [...mine, theirs, anonymous]) await s.drained();
    for (const s of mine) {
      expect(s.bookingFrames()).toEqual([
        { type: "booking", id, status: "confirmed" },
        { type: "booking", id, status: "failed", failureReason: "Your card was declined." },
      ]);
    }
    expect(theirs.bookingFrames()).toEqual([]);
    expect(anonymous.bookingFrames()).toEqual([]);
    for (const s of [...mine, theirs, anonymous]) s.ws.close(1000);
  });

  it("stops reaching a socket once its session is logged out", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const buyer = await makeSession();
    const s = await signedIn(ev.id, buyer);
    expect((await call("/v1/auth/logout", { method: "POST", headers: buyer.auth })).status).toBe(204);
    // The socket's authority ends within a second of logout (the session answer is cached that long).
    await eventually(async () => (await inventory(ev).pushBooking({ userId: buyer.id, id: crypto.randomUUID(), status: "pending" })).sockets === 0, 3_000, "push refused");
    const before = s.bookingFrames().length;
    await inventory(ev).pushBooking({ userId: buyer.id, id: crypto.randomUUID(), status: "confirmed" });
    await s.drained();
    expect(s.bookingFrames()).toHaveLength(before);
    s.ws.close(1000);
  });

  it("reach the buyer's sockets on relays too, and nobody else's there", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    await directSockets(ev, 1);
    const [buyer, other] = [await makeSession(), await makeSession()];
    const direct = await signedIn(ev.id, buyer);
    const relayed = await signedIn(ev.id, buyer, 0);
    const theirs = await signedIn(ev.id, other, 0);
    const anonymous = await open(ev.id, 0);
    expect(await runInDurableObject(inventory(ev), (_i, state) => state.getWebSockets().length)).toBe(1);

    const id = crypto.randomUUID();
    expect(await inventory(ev).pushBooking({ userId: buyer.id, id, status: "confirmed" })).toEqual({ sockets: 2 });
    for (const s of [direct, relayed, theirs, anonymous]) await s.drained();
    expect(direct.bookingFrames()).toEqual([{ type: "booking", id, status: "confirmed" }]);
    expect(relayed.bookingFrames()).toEqual([{ type: "booking", id, status: "confirmed" }]);
    expect(theirs.bookingFrames()).toEqual([]);
    expect(anonymous.bookingFrames()).toEqual([]);
    for (const s of [direct, relayed, theirs, anonymous]) s.ws.close(1000);
  });

  it("reach a buyer who reconnected to a relay that was reset (the inventory's old stub to it is broken)", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    await directSockets(ev, 0);
    const buyer = await makeSession();
    const before = await signedIn(ev.id, buyer, 0);
    expect(await inventory(ev).pushBooking({ userId: buyer.id, id: crypto.randomUUID(), status: "pending" })).toEqual({ sockets: 1 });
    const relay = (env as any).LIVE_RELAY.get((env as any).LIVE_RELAY.idFromName(`${ev.id}:0`));
    await expect(runInDurableObject(relay, (_instance, state) => state.abort())).rejects.toThrow(/abort/);
    expect(await before.closed).toBe(1006);

    const after = await signedIn(ev.id, buyer, 0);
    const id = crypto.randomUUID();
    expect(await inventory(ev).pushBooking({ userId: buyer.id, id, status: "confirmed" })).toEqual({ sockets: 1 });
    await after.drained();
    expect(after.bookingFrames()).toEqual([{ type: "booking", id, status: "confirmed" }]);
    after.ws.close(1000);
  });

  it("reach a socket that authenticated again after the object was restarted", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const buyer = await makeSession();
    const before = await signedIn(ev.id, buyer);
    await expect(runInDurableObject(inventory(ev), (_instance, state) => state.abort())).rejects.toThrow(/abort/);
    expect(await before.closed).toBe(1006);

    const after = await signedIn(ev.id, buyer);
    const id = crypto.randomUUID();
    // Nothing of the push lives in the object's memory: the socket's user is in its attachment.
    expect(await inventoryStub(ev.id).pushBooking({ userId: buyer.id, id, status: "cancelled" })).toEqual({ sockets: 1 });
    await after.drained();
    expect(after.bookingFrames()).toEqual([{ type: "booking", id, status: "cancelled" }]);
    after.ws.close(1000);
  });

  it("announceBookingOutcome (the saga's hook) pushes a booking row's status to its buyer", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const buyer = await makeSession();
    const s = await signedIn(ev.id, buyer);
    const b = await insertBooking(buyer, ev.id, "failed", "Your card was declined.");
    await announceBookingOutcome(testEnv, b);
    await s.drained();
    expect(s.bookingFrames()).toEqual([{ type: "booking", id: b.id, status: "failed", failureReason: "Your card was declined." }]);
    // Never throws: an event whose object cannot take it is only logged.
    await expect(announceBookingOutcome({ ...testEnv, EVENT_INVENTORY: undefined } as never, b)).resolves.toBeUndefined();
    s.ws.close(1000);
  });
});

describe("GET /v1/bookings/:id/events", () => {
  it("sends the current status at once, heartbeats while pending, then the pushed final status, then ends", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const buyer = await makeUser();
    const b = await insertBooking(buyer, ev.id, "pending");
    await runInDurableObject(inventory(ev), (instance) => {
      instance.bookingStreams.heartbeatMs = 50;
    });
    const res = await call(`/v1/bookings/${b.id}/events`, { headers: buyer.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const stream = readStream(res);
    await eventually(async () => stream.events().length === 1, 5_000, "first event");
    expect(stream.events()).toEqual([{ id: b.id, status: "pending" }]);
    expect(stream.state.text.startsWith(`event: booking\ndata: {"id":"${b.id}","status":"pending"}\n\n`)).toBe(true);
    await eventually(async () => stream.state.text.includes("\n\n: ping\n\n"), 5_000, "heartbeat");
    expect(stream.state.ended).toBe(false);
    expect(await streamsOn(ev)).toBe(1);

    // Another user's booking id goes nowhere near this stream.
    await inventory(ev).pushBooking({ userId: (await makeUser()).id, id: b.id, status: "confirmed" });
    await inventory(ev).pushBooking({ userId: buyer.id, id: b.id, status: "confirmed" });
    await stream.done;
    expect(stream.events()).toEqual([{ id: b.id, status: "pending" }, { id: b.id, status: "confirmed" }]);
    expect(await streamsOn(ev)).toBe(0);
  });

  it("answers 404 for someone else's booking and for none, as GET /v1/bookings/:id does", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const [owner, stranger] = [await makeUser(), await makeUser()];
    const b = await insertBooking(owner, ev.id, "pending");
    const theirs = await call(`/v1/bookings/${b.id}/events`, { headers: stranger.auth });
    expect(theirs.status).toBe(404);
    expectError(await theirs.json(), "NOT_FOUND");
    expect((await call(`/v1/bookings/${crypto.randomUUID()}/events`, { headers: owner.auth })).status).toBe(404);
    expect((await call(`/v1/bookings/${b.id}/events`)).status).toBe(401);
    expect(await streamsOn(ev)).toBe(0);
  });

  it("answers a settled booking with its one event and ends, without a stream on the object", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const buyer = await makeUser();
    const b = await insertBooking(buyer, ev.id, "failed", "Your card was declined.");
    const res = await call(`/v1/bookings/${b.id}/events`, { headers: buyer.auth });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`event: booking\ndata: ${JSON.stringify({ id: b.id, status: "failed", failureReason: "Your card was declined." })}\n\n`);
    expect(await streamsOn(ev)).toBe(0);
  });

  it("ends with the outcome when the booking settled while the object was opening the stream (its push missed it)", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const buyer = await makeUser();
    const b = await insertBooking(buyer, ev.id, "pending");
    // The saga confirms (and pushes, to no stream yet) after the route's first read, before the object registers the stream.
    await runInDurableObject(inventory(ev), (instance) => {
      instance.bookingStreams.heartbeatMs = 50;
      const open = instance.bookingStreams.open.bind(instance.bookingStreams);
      instance.bookingStreams.open = async (request) => {
        await setStatus(b.id, "confirmed");
        await instance.pushBooking({ userId: buyer.id, id: b.id, status: "confirmed" });
        return open(request);
      };
    });
    const res = await call(`/v1/bookings/${b.id}/events`, { headers: buyer.auth });
    expect(res.status).toBe(200);
    const stream = readStream(res);
    await stream.done;
    expect(stream.events()).toEqual([{ id: b.id, status: "pending" }, { id: b.id, status: "confirmed" }]);
    // The route gave the object's stream up; the next heartbeat finds it gone.
    await eventually(async () => (await streamsOn(ev)) === 0, 5_000, "object stream dropped");
  });

  it("a booking confirmed end to end by the saga answers confirmed from Postgres", async () => {
    const ev = await makeReservedEventOnSale();
    const buyer = await makeUser();
    const hold = await (await call(`/v1/events/${ev.eventId}/holds`, { method: "POST", headers: buyer.auth, json: { seatIds: ["A-1-1"] } })).json() as { id: string };
    const booked = await call("/v1/bookings", { method: "POST", headers: buyer.auth, json: { holdId: hold.id } });
    expect(booked.status).toBe(202);
    const { id } = (await booked.json()) as { id: string };
    await eventually(async () => ((await (await call(`/v1/bookings/${id}`, { headers: buyer.auth })).json()) as any).status === "confirmed", 20_000, "confirmed");
    const res = await call(`/v1/bookings/${id}/events`, { headers: buyer.auth });
    expect(await res.text()).toBe(`event: booking\ndata: ${JSON.stringify({ id, status: "confirmed" })}\n\n`);
  });
});
