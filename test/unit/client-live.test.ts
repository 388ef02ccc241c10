import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveSeatMap, type ServerFrame, type SocketLike } from "../../client/src/live";

/** A socket the test drives: it records what the client sends and delivers what the test says. */
class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  private listeners: Record<string, ((e: any) => void)[]> = {};
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  addEventListener(type: string, l: (e: any) => void) {
    (this.listeners[type] ??= []).push(l);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.drop();
  }
  open() {
    this.readyState = 1;
    this.listeners.open?.forEach((l) => l({}));
  }
  frame(f: ServerFrame) {
    this.listeners.message?.forEach((l) => l({ data: JSON.stringify(f) }));
  }
  drop() {
    this.readyState = 3;
    this.listeners.close?.forEach((l) => l({ code: 1006 }));
  }
}

const availability = { capacity: 3, available: 3, held: 0, booked: 0 };
const snapshot = (version: number, held: string[] = []): ServerFrame => ({
  type: "snapshot",
  version,
  seats: ["A-1-1", "A-1-2", "A-1-3"].map((id) => ({ id, status: held.includes(id) ? "held" : "available" })),
  availability,
});
const delta = (version: number, id: string, status: "available" | "held" | "booked"): ServerFrame => ({ type: "delta", version, changes: [{ id, status }], availability });
const latest = () => FakeSocket.all[FakeSocket.all.length - 1];

describe("the live seat map client", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it("connects to the event's live path over ws and applies the snapshot, then deltas in order", async () => {
    const map = new LiveSeatMap({ baseUrl: "http://127.0.0.1:8787/", eventId: "ev 1", WebSocket: FakeSocket });
    expect(latest().url).toBe("ws://127.0.0.1:8787/v1/events/ev%201/live");
    latest().open();
    latest().frame(snapshot(7));
    await map.ready();
    latest().frame(delta(8, "A-1-2", "held"));
    latest().frame(delta(8, "A-1-2", "booked")); // a repeat of a version already applied changes nothing
    expect(map.version).toBe(8);
    expect(map.seats.get("A-1-2")).toBe("held");
    expect(map.gaps).toBe(0);
  });

  it("asks for a snapshot on a version gap and ignores deltas until it arrives", () => {
    const map = new LiveSeatMap({ baseUrl: "http://x", eventId: "e", WebSocket: FakeSocket });
    latest().open();
    latest().frame(snapshot(1));
    latest().frame(delta(3, "A-1-1", "held"));
    expect(latest().sent).toEqual([{ type: "resync" }]);
    expect(map.gaps).toBe(1);
    latest().frame(delta(4, "A-1-3", "held"));
    expect(map.seats.get("A-1-3")).toBe("available");
    latest().frame(snapshot(4, ["A-1-1", "A-1-3"]));
    expect(map.version).toBe(4);
    expect([...map.seats.values()]).toEqual(["held", "available", "held"]);
  });

  it("asks again after a rate-limited resync, once the server allows it", () => {
    new LiveSeatMap({ baseUrl: "http://x", eventId: "e", WebSocket: FakeSocket });
    latest().open();
    latest().frame(snapshot(1));
    latest().frame(delta(5, "A-1-1", "held"));
    latest().frame({ type: "error", code: "RATE_LIMITED", message: "At most one resync per second", retryAfterMs: 400 });
    vi.advanceTimersByTime(399);
    expect(latest().sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(latest().sent).toEqual([{ type: "resync" }, { type: "resync" }]);
  });

  it("reconnects with doubling delays after drops, and back at the first delay after a good open", () => {
    const map = new LiveSeatMap({ baseUrl: "http://x", eventId: "e", WebSocket: FakeSocket, backoff: { initialMs: 100, maxMs: 1_000 } });
    const reconnectAfter = () => {
      const before = FakeSocket.all.length;
      latest().drop();
      let waited = 0;
      while (FakeSocket.all.length === before && waited < 5_000) {
        vi.advanceTimersByTime(10);
        waited += 10;
      }
      return waited;
    };
    const first = reconnectAfter(); // never opened: delays keep growing
    const second = reconnectAfter();
    const third = reconnectAfter();
    expect(first).toBeGreaterThanOrEqual(100);
    expect(first).toBeLessThanOrEqual(150);
    expect(second).toBeGreaterThanOrEqual(200);
    expect(third).toBeGreaterThanOrEqual(400);
    latest().open();
    const afterOpen = reconnectAfter();
    expect(afterOpen).toBeLessThanOrEqual(150);
    expect(map.reconnects).toBe(4);
    map.close();
    latest().drop();
    vi.advanceTimersByTime(10_000);
    expect(map.reconnects).toBe(4);
  });

  it("holds after the socket's auth is accepted, and resends an unanswered hold with the same ref after a reconnect", async () => {
    const map = new LiveSeatMap({ baseUrl: "http://x", eventId: "e", token: "tok", WebSocket: FakeSocket, backoff: { initialMs: 10 } });
    const first = latest();
    first.open();
    const held = map.hold({ seatIds: ["A-1-1"] }, "c-1");
    expect(first.sent).toEqual([{ type: "auth", token: "tok" }]); // the hold waits for the auth answer
    first.frame({ type: "auth", ok: true, userId: "u", expiresAt: "2030-01-01T00:00:00Z" });
    expect(first.sent[1]).toEqual({ type: "hold", ref: "c-1", seatIds: ["A-1-1"] });

    first.drop();
    vi.advanceTimersByTime(50);
    const second = latest();
    expect(second).not.toBe(first);
    second.open();
    second.frame({ type: "auth", ok: true, userId: "u", expiresAt: "2030-01-01T00:00:00Z" });
    expect(second.sent).toEqual([{ type: "auth", token: "tok" }, { type: "hold", ref: "c-1", seatIds: ["A-1-1"] }]);
    second.frame({ type: "reply", ref: "c-1", ok: false, error: { code: "SEAT_UNAVAILABLE", message: "taken" } });
    await expect(held).resolves.toMatchObject({ ok: false, error: { code: "SEAT_UNAVAILABLE" } });
  });

  it("sends waiting requests when the socket's auth is refused, so they get their answer instead of hanging", async () => {
    const map = new LiveSeatMap({ baseUrl: "http://x", eventId: "e", token: "expired", WebSocket: FakeSocket });
    latest().open();
    const held = map.hold({ quantity: 1 }, "c-9");
    expect(latest().sent).toEqual([{ type: "auth", token: "expired" }]);
    latest().frame({ type: "auth", ok: false, code: "UNAUTHENTICATED" });
    expect(latest().sent[1]).toEqual({ type: "hold", ref: "c-9", quantity: 1 });
    latest().frame({ type: "reply", ref: "c-9", ok: false, error: { code: "UNAUTHENTICATED", message: "Authenticate first" } });
    await expect(held).resolves.toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
    map.close();
  });

  it("rejects requests still waiting when it is closed", async () => {
    const map = new LiveSeatMap({ baseUrl: "http://x", eventId: "e", token: "tok", WebSocket: FakeSocket });
    const waiting = map.release("hld_1");
    map.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(map.hold({ quantity: 1 })).rejects.toThrow(/closed/);
  });

  it("resolves a booking's outcome from its final booking frame, one that came before the call included", async () => {
    const map = new LiveSeatMap({ baseUrl: "http://x", eventId: "e", token: "tok", WebSocket: FakeSocket });
    latest().open();
    latest().frame({ type: "auth", ok: true, userId: "u1", expiresAt: "2030-01-01T00:00:00Z" });
    const waiting = map.bookingOutcome("b1");
    let settled = false;
    void waiting.then(() => (settled = true));
    latest().frame({ type: "booking", id: "b2", status: "confirmed" });
    latest().frame({ type: "booking", id: "b1", status: "pending" });
    await Promise.resolve();
    expect(settled).toBe(false);
    latest().frame({ type: "booking", id: "b1", status: "failed", failureReason: "Your card was declined." });
    await expect(waiting).resolves.toEqual({ type: "booking", id: "b1", status: "failed", failureReason: "Your card was declined." });
    await expect(map.bookingOutcome("b2")).resolves.toMatchObject({ id: "b2", status: "confirmed" });
    const never = map.bookingOutcome("b3");
    map.close();
    await expect(never).rejects.toThrow(/closed/);
  });
});
