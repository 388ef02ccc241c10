import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/local-db";
import { startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { DEMO_BUYER, seedDemoData, type SeededDemo } from "../../scripts/lib/seed";
import { DEMO_EVENTS, DEMO_VENUES } from "../../src/services/demo-catalogue";

const get = async (url: string, token?: string) => {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as any };
};

// The real dev stack: wrangler dev (workerd) + the proxy + an embedded Postgres we can kill.
describe("the dev stack over HTTP", () => {
  let stack: DevStack;

  beforeAll(async () => {
    stack = await startDevStack({
      port: await freePort(),
      forceEmbedded: true,
      embeddedDataDir: null,
      persistState: false,
      wranglerOutput: "ignore",
      log: () => {},
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("answers liveness and readiness with Postgres and a Durable Object checked", async () => {
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
    const res = await fetch(`${stack.url}/health/ready`);
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.checks.postgres.ok && body.checks.durableObject.ok).toBe(true);
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("seeds the demo world through the API: a dozen events in five cities, one nearly sold out, one with a waitlist, one cancelled, a buyer with bookings", async () => {
    const demo: SeededDemo = await seedDemoData(stack.url, stack.database.url);
    expect(demo.events).toHaveLength(DEMO_EVENTS.length);
    const key = (k: string) => demo.events.find((e) => e.key === k)!;

    // The listing a buyer sees, through a token so the edge cache does not answer.
    const listed = (await get(`${stack.url}/v1/events?limit=100`, demo.buyer.accessToken)).body.data;
    expect(listed.map((e: any) => e.id).sort()).toEqual(demo.events.filter((e) => e.key !== "techno").map((e) => e.id).sort());
    expect(new Set(listed.map((e: any) => e.timezone))).toEqual(new Set(DEMO_VENUES.map((v) => v.timezone)));
    const card = (k: string) => listed.find((e: any) => e.id === key(k).id);
    expect(card("fado").availability).toMatchObject({ capacity: 24, available: 3 });
    expect(card("late-jazz").availability).toMatchObject({ capacity: 30, available: 0 });
    // The waitlist count is mirrored from the event's object through its outbox and a queue.
    await expect
      .poll(async () => (await get(`${stack.url}/v1/events?limit=100`, demo.buyer.accessToken)).body.data.find((e: any) => e.id === key("late-jazz").id).waitlist.waiting, { timeout: 15_000, interval: 500 })
      .toBe(1);
    expect(card("planets")).toMatchObject({ venueName: "Lakeside Arena", city: "Chicago", currency: "USD", priceFromCents: 3_900 });
    expect((await get(`${stack.url}/v1/events/${key("techno").id}`)).body.status).toBe("cancelled");

    const bookings = (await get(`${stack.url}/v1/bookings?limit=100`, demo.buyer.accessToken)).body.data;
    expect(bookings.map((b: any) => [b.eventId, b.status]).sort()).toEqual(
      [[key("reserved-night").id, "confirmed"], [key("techno").id, "cancelled"]].sort(),
    );
    expect(demo.lines.join("\n")).toContain(DEMO_BUYER.email);
    expect(demo.lines.join("\n")).toContain(`${stack.url}/#/events/${key("fado").id}`);

    // Idempotent: a second start finds everything in place and changes nothing.
    const again = await seedDemoData(stack.url, stack.database.url);
    expect(again.events.map((e) => [e.id, e.status])).toEqual(demo.events.map((e) => [e.id, e.status]));
    expect((await get(`${stack.url}/v1/bookings?limit=100`, demo.buyer.accessToken)).body.data).toHaveLength(2);
    const venues = (await get(`${stack.url}/v1/venues?limit=100`, demo.buyer.accessToken)).body.data;
    expect(venues).toHaveLength(DEMO_VENUES.length);
    const seats = (await get(`${stack.url}/v1/events/${key("fado").id}/seats`)).body;
    expect(seats.seats.filter((x: any) => x.status === "available")).toHaveLength(3);
  });

  it("answers an unknown route with the one error shape", async () => {
    const res = await fetch(`${stack.url}/v1/nothing-here`, { method: "POST", body: "{}" });
    const body: any = await res.json();
    expect(res.status).toBe(404);
    expect(body.error).toMatchObject({ code: "NOT_FOUND", requestId: res.headers.get("x-request-id") });
  });

  it("reports Postgres down within 5 s once the database is gone, while liveness stays 200", async () => {
    await stack.database.stop();
    const started = Date.now();
    const res = await fetch(`${stack.url}/health/ready`);
    const elapsed = Date.now() - started;
    const body: any = await res.json();
    expect(res.status).toBe(503);
    expect(body.error.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(body.error.message).toContain("Postgres");
    expect(elapsed).toBeLessThan(5_000);
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
  });
});
