import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, expectError } from "../helpers/fixtures";
import { inventoryStub, publishedEvent } from "../helpers/inventory";

const U1 = "00000000-0000-4000-8000-0000000000a1";

interface Live {
  ws: WebSocket;
  frames: any[];
  next(): Promise<any>;
  until(pred: (f: any) => boolean): Promise<any>;
}

async function connect(eventId: string): Promise<Live> {
  const res = await call(`/v1/events/${eventId}/live`, { headers: { upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: any[] = [];
  let read = 0;
  let wake: (() => void) | null = null;
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
    wake?.();
  });
  const next = async () => {
    const deadline = Date.now() + 5_000;
    while (read >= frames.length) {
      if (Date.now() > deadline) throw new Error(`no frame after ${JSON.stringify(frames)}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return frames[read++];
  };
  const until = async (pred: (f: any) => boolean) => {
    for (;;) {
      const f = await next();
      if (pred(f)) return f;
    }
  };
  return { ws, frames, next, until };
}

/** Applies frames the way a client should: snapshot replaces, a delta needs exactly the next version. */
function replay(frames: any[]) {
  const seats = new Map<string, string>();
  let version = -1;
  for (const f of frames) {
    if (f.type === "snapshot") {
      seats.clear();
      for (const s of f.seats) seats.set(s.id, s.status);
      version = f.version;
    } else if (f.type === "delta") {
      if (f.version !== version + 1) throw new Error(`gap: ${version} -> ${f.version}`);
      for (const c of f.changes) seats.set(c.id, c.status);
      version = f.version;
    }
  }
  return { seats, version };
}

describe("GET /v1/events/:id/live", () => {
  it("gives two clients the same versions in the same order", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 5] });
    const [a, b] = [await connect(ev.id), await connect(ev.id)];
    const [snapA, snapB] = [await a.next(), await b.next()];
    expect(snapA).toMatchObject({ type: "snapshot", availability: { capacity: 10, available: 10 } });
    expect(snapA.seats).toHaveLength(10);
    expect(snapB.version).toBe(snapA.version);

    const h1 = await ev.stub.hold(U1, { seatIds: ["A-1-1", "A-1-2"] }, null);
    await new Promise((r) => setTimeout(r, 80));
    await ev.stub.hold(U1, { seatIds: ["A-2-1"] }, null);
    if (h1.ok) await ev.stub.release(h1.value.id, U1);

    const last = (await ev.stub.snapshot()).version;
    await a.until((f) => f.version === last);
    await b.until((f) => f.version === last);
    const deltasA = a.frames.filter((f) => f.type === "delta");
    expect(deltasA.length).toBeGreaterThanOrEqual(2);
    expect(b.frames.filter((f) => f.type === "delta")).toEqual(deltasA);
    expect(deltasA.map((f) => f.version)).toEqual(deltasA.map((_, i) => snapA.version + 1 + i));
    const state = replay(a.frames);
    expect(state.seats.get("A-1-1")).toBe("available");
    expect(state.seats.get("A-2-1")).toBe("held");
    expect(deltasA.at(-1).availability).toEqual({ capacity: 10, available: 9, held: 1, booked: 0 });
    a.ws.close(1000);
    b.ws.close(1000);
  });

  it("batches changes that land close together into one delta", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 5] });
    const a = await connect(ev.id);
    const snap = await a.next();
    await Promise.all(["A-1-1", "A-1-2", "A-1-3", "A-1-4"].map((id) => ev.stub.hold(U1, { seatIds: [id] }, null)));
    const last = (await ev.stub.snapshot()).version;
    await a.until((f) => f.version === last);
    const deltas = a.frames.filter((f) => f.type === "delta");
    expect(deltas.length).toBeLessThan(4);
    expect(last - snap.version).toBe(deltas.length);
    a.ws.close(1000);
  });

  it("lets a client that missed deltas reconnect, even after a restart, and converge on the object's state", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 5] });
    const a = await connect(ev.id);
    const first = await a.next();
    a.ws.close(1000);
    await ev.stub.hold(U1, { seatIds: ["A-1-3"] }, null);
    await ev.stub.hold(U1, { seatIds: ["A-2-5"] }, null);
    await abortAllDurableObjects();

    const again = await connect(ev.id);
    const snap = await again.next();
    expect(snap.type).toBe("snapshot");
    expect(snap.version).toBeGreaterThan(first.version);
    const truth: any = await (await call(`/v1/events/${ev.id}/seats`)).json();
    expect(replay([snap]).seats).toEqual(new Map(truth.seats.map((s: any) => [s.id, s.status])));
    expect(snap.version).toBe(truth.version);
    again.ws.close(1000);
  });

  it("answers resync with a fresh snapshot and a bad message with an error frame, and keeps the socket", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 3] });
    const a = await connect(ev.id);
    await a.next();
    await inventoryStub(ev.id).hold(U1, { seatIds: ["A-1-1"] }, null);
    a.ws.send("{not json");
    const err = await a.until((f) => f.type === "error");
    expect(err).toMatchObject({ code: "BAD_MESSAGE", message: expect.any(String) });
    a.ws.send(JSON.stringify({ type: "subscribe", all: true }));
    expect(await a.until((f) => f.type === "error")).toMatchObject({ code: "BAD_MESSAGE" });
    a.ws.send(JSON.stringify({ type: "resync" }));
    const snap = await a.until((f) => f.type === "snapshot");
    expect(snap.seats.find((s: any) => s.id === "A-1-1").status).toBe("held");
    a.ws.send(JSON.stringify({ type: "ping" }));
    expect(await a.until((f) => f.type === "pong")).toEqual({ type: "pong" });
    a.ws.close(1000);
  });

  it("sends counts without seats for general admission", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 30 });
    const a = await connect(ev.id);
    const snap = await a.next();
    expect(snap).toEqual({ type: "snapshot", version: expect.any(Number), availability: { capacity: 30, available: 30, held: 0, booked: 0 } });
    await ev.stub.hold(U1, { quantity: 3 }, null);
    const delta = await a.until((f) => f.type === "delta");
    expect(delta).toMatchObject({ version: snap.version + 1, changes: [], availability: { available: 27, held: 3 } });
    a.ws.close(1000);
  });

  it("answers 426 without an upgrade and 404 for an event without inventory", async () => {
    const ev = await publishedEvent();
    const plain = await call(`/v1/events/${ev.id}/live`);
    expect(plain.status).toBe(426);
    expectError(await plain.json(), "UPGRADE_REQUIRED");
    const missing = await call(`/v1/events/${crypto.randomUUID()}/live`, { headers: { upgrade: "websocket" } });
    expect(missing.status).toBe(404);
    expectError(await missing.json(), "NOT_FOUND");
  });
});
