import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createEventlyClient, EventlyError, idempotencyKey, LiveSeatMap, unwrap, type EventlyClient } from "../../client/src/index";
import { startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { freePort } from "../../scripts/lib/local-db";
import { seedDemoData } from "../../scripts/lib/seed";

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// The typed client (client/) against the real dev stack: HTTP calls and the live socket.
describe("the typed client against the dev stack", () => {
  let stack: DevStack;
  let api: EventlyClient;
  let live: LiveSeatMap | undefined;
  let eventId: string;
  let token: string;
  /** Three seats available when the test starts (the demo seed's layout may change). */
  let seat: [string, string, string];

  beforeAll(async () => {
    stack = await startDevStack({ port: await freePort(), forceEmbedded: true, embeddedDataDir: null, persistState: false, wranglerOutput: "ignore", cronEveryMs: 0, log: () => {} });
    await seedDemoData(stack.url, stack.database.url);
    api = createEventlyClient({ baseUrl: stack.url });
  });
  afterAll(async () => {
    live?.close();
    await stack?.stop();
  });

  it("lists the published events and signs a new buyer up", async () => {
    const { data } = unwrap(await api.GET("/v1/events", { params: { query: { limit: 50 } } }));
    const reserved = data.find((e) => e.seating === "reserved");
    expect(reserved, JSON.stringify(data)).toBeDefined();
    eventId = reserved!.id;
    const map = unwrap(await api.GET("/v1/events/{id}/seats", { params: { path: { id: eventId } } }));
    const free = (map.seats ?? []).filter((x) => x.status === "available").map((x) => x.id);
    expect(free.length).toBeGreaterThanOrEqual(3);
    seat = [free[0], free[1], free[free.length - 1]];
    const session = unwrap(await api.POST("/v1/auth/register", { body: { email: `client-${Date.now()}@example.com`, password: "correct horse battery staple", name: "Client Buyer" } }));
    expect(session.user.role).toBe("user");
    token = session.accessToken;
    api.setToken(token);
    expect(unwrap(await api.GET("/v1/me")).id).toBe(session.user.id);
  });

  it("sees an HTTP hold on the live seat map and gets the API's error code back as an EventlyError", async () => {
    live = new LiveSeatMap({ baseUrl: stack.url, eventId, WebSocket, token });
    await live.ready();
    const before = live.version;
    const hold = unwrap(await api.POST("/v1/events/{id}/holds", { params: { path: { id: eventId }, header: { "idempotency-key": idempotencyKey() } }, body: { seatIds: [seat[0], seat[1]] } }));
    expect(hold.seats.map((s) => s.id)).toEqual([seat[0], seat[1]]);
    await until("the hold's delta", () => live!.seats.get(seat[0]) === "held" && live!.seats.get(seat[1]) === "held");
    expect(live.version).toBeGreaterThan(before);

    const again = await api.POST("/v1/events/{id}/holds", { params: { path: { id: eventId }, header: { "idempotency-key": idempotencyKey() } }, body: { seatIds: [seat[1]] } });
    let thrown: unknown;
    try {
      unwrap(again);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(EventlyError);
    expect(thrown).toMatchObject({ status: 409, code: "SEAT_UNAVAILABLE", requestId: again.response.headers.get("x-request-id") });
  });

  it("holds and releases over the socket, a repeated ref answering the first result", async () => {
    const first = await live!.hold({ seatIds: [seat[2]] }, "e2e-1");
    expect(first).toMatchObject({ ok: true, hold: { seats: [{ id: seat[2] }] } });
    const repeat = await live!.hold({ seatIds: [seat[2]] }, "e2e-1");
    expect(repeat.ok && repeat.hold?.id).toBe(first.ok && first.hold?.id);
    await until("the socket hold's delta", () => live!.seats.get(seat[2]) === "held");

    const taken = await live!.hold({ seatIds: [seat[0]] });
    expect(taken).toMatchObject({ ok: false, error: { code: "SEAT_UNAVAILABLE" } });

    const released = await live!.release(first.ok ? first.hold!.id : "", "e2e-2");
    expect(released.ok).toBe(true);
    await until("the release's delta", () => live!.seats.get(seat[2]) === "available");
    expect(live!.gaps).toBe(0);
  });
});
