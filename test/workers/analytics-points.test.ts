import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inventoryFor } from "../../src/services/booking-saga";
import { call, makeUser, testEnv, type TestUser } from "../helpers/fixtures";
import { makeReservedEvent, makeReservedEventOnSale, stepsOf } from "../helpers/booking-fixtures";
import { eventually } from "../helpers/wait";

// Analytics Engine is a silent no-op locally: a recording dataset stands in for the ANALYTICS
// binding (the Worker, its objects and its queue consumers share this env), and each test checks
// the points docs/operations.md documents, in the one layout of src/lib/metrics.ts:
//   blobs [kind, eventId, outcome, action, colo], doubles [latencyMs, quantity, amountCents], indexes [eventId]

type Point = { kind: string; eventId: string; outcome: string; action: string; latencyMs: number; quantity: number; amountCents: number };
let recorded: AnalyticsEngineDataPoint[] = [];
const bindings = testEnv as unknown as { ANALYTICS: AnalyticsEngineDataset };
let original: AnalyticsEngineDataset;

beforeEach(() => {
  recorded = [];
  original = bindings.ANALYTICS;
  bindings.ANALYTICS = { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void recorded.push(p!) };
});
afterEach(() => {
  bindings.ANALYTICS = original;
});

/** Operation points of one event, decoded from their positions. */
function pointsOf(eventId: string, kind?: string): Point[] {
  return recorded
    .filter((p) => p.indexes?.[0] === eventId && (!kind || p.blobs?.[0] === kind))
    .map((p) => {
      expect(p.blobs).toHaveLength(5);
      expect(p.doubles).toHaveLength(3);
      const [k, ev, outcome, action] = p.blobs as string[];
      const [latencyMs, quantity, amountCents] = p.doubles as number[];
      return { kind: k, eventId: ev, outcome, action, latencyMs, quantity, amountCents };
    });
}

const postHold = (user: TestUser, eventId: string, seatIds: string[]) =>
  call(`/v1/events/${eventId}/holds`, { method: "POST", headers: user.auth, json: { seatIds } });

describe("Analytics Engine points for holds", () => {
  it("writes hold created, a refused hold with its error code, and hold released", async () => {
    const ev = await makeReservedEventOnSale();
    const [a, b] = [await makeUser(), await makeUser()];
    const res = await postHold(a, ev.eventId, ["A-1-1", "A-1-2"]);
    expect(res.status).toBe(201);
    const hold = (await res.json()) as { id: string };
    expect((await postHold(b, ev.eventId, ["A-1-2"])).status).toBe(409);
    expect((await call(`/v1/holds/${hold.id}`, { method: "DELETE", headers: a.auth })).status).toBe(204);

    const points = pointsOf(ev.eventId, "hold");
    expect(points.map(({ latencyMs, ...p }) => p)).toEqual([
      { kind: "hold", eventId: ev.eventId, outcome: "ok", action: "created", quantity: 2, amountCents: 10_000 },
      { kind: "hold", eventId: ev.eventId, outcome: "SEAT_UNAVAILABLE", action: "created", quantity: 1, amountCents: 0 },
      { kind: "hold", eventId: ev.eventId, outcome: "ok", action: "released", quantity: 2, amountCents: 10_000 },
    ]);
    expect(points.every((p) => p.latencyMs >= 0)).toBe(true);
  });

  it("writes hold expired from the event's object when a hold runs out", async () => {
    const ev = await makeReservedEvent();
    expect((await inventoryFor(testEnv, ev.eventId).initialize({ ...ev.init, holdTtlSeconds: 1 })).ok).toBe(true);
    const user = await makeUser();
    expect((await postHold(user, ev.eventId, ["A-2-1"])).status).toBe(201);
    await new Promise((r) => setTimeout(r, 1_200));
    await inventoryFor(testEnv, ev.eventId).stats();
    expect(pointsOf(ev.eventId, "hold").map((p) => `${p.action}:${p.outcome}:${p.quantity}`)).toEqual(["created:ok:1", "expired:ok:1"]);
  });
});

describe("Analytics Engine points for bookings", () => {
  it("writes booking requested, the saga's steps and booking confirmed, then booking cancelled", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const hold = (await (await postHold(user, ev.eventId, ["A-1-3"])).json()) as { id: string };
    const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: hold.id } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await eventually(async () => (await stepsOf(id))["notify-confirmed"]?.status === "done", 20_000, "booking confirmed");
    expect((await call(`/v1/bookings/${id}/cancel`, { method: "POST", headers: user.auth })).status).toBe(202);

    const booking = pointsOf(ev.eventId, "booking").map((p) => `${p.action}:${p.outcome}:${p.quantity}:${p.amountCents}`);
    expect(booking).toEqual(["requested:ok:1:5000", "confirmed:ok:1:5000", "cancelled:ok:1:5000"]);
    const saga = pointsOf(ev.eventId, "saga").map((p) => `${p.action}:${p.outcome}`);
    // The booking request marks the hold confirming itself; the saga's first run starts at the charge.
    expect(saga.slice(0, 3)).toEqual(["charge:ok", "commit:ok", "confirm:ok"]);
  });

  it("writes booking failed for a declined card, and a refused booking request with its error code", async () => {
    const ev = await makeReservedEventOnSale();
    const user = await makeUser();
    const hold = (await (await postHold(user, ev.eventId, ["A-2-4"])).json()) as { id: string };
    const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: hold.id, paymentMethod: "pm_card_declined" } });
    const { id } = (await res.json()) as { id: string };
    await eventually(async () => (await stepsOf(id))["notify-failed"]?.status === "done", 20_000, "booking failed");
    const released = (await (await postHold(user, ev.eventId, ["A-2-5"])).json()) as { id: string };
    expect((await call(`/v1/holds/${released.id}`, { method: "DELETE", headers: user.auth })).status).toBe(204);
    expect((await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: released.id } })).status).toBe(410);

    const booking = pointsOf(ev.eventId, "booking").map((p) => `${p.action}:${p.outcome}`);
    expect(booking).toEqual(["requested:ok", "failed:ok", "requested:HOLD_EXPIRED"]);
    expect(pointsOf(ev.eventId, "saga").map((p) => `${p.action}:${p.outcome}`)).toContain("charge:COMPENSATE");
  });
});
