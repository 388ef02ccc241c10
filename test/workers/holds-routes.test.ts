import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { call, expectError, makeUser } from "../helpers/fixtures";
import { publishedEvent } from "../helpers/inventory";

const post = (eventId: string, auth: Record<string, string>, json: unknown, headers: Record<string, string> = {}) =>
  call(`/v1/events/${eventId}/holds`, { method: "POST", headers: { ...auth, ...headers }, json });

describe("POST /v1/events/:id/holds", () => {
  it("answers 201 with the hold, its prices and its expiry", async () => {
    const ev = await publishedEvent();
    const u = await makeUser();
    const res = await post(ev.id, u.auth, { seatIds: ["A-3-1", "A-3-2"] });
    expect(res.status).toBe(201);
    const body: any = await res.json();
    expect(body).toMatchObject({
      eventId: ev.id,
      status: "active",
      seats: [{ id: "A-3-1", priceCents: 5000 }, { id: "A-3-2", priceCents: 5000 }],
      quantity: 2,
      totalCents: 10_000,
      currency: "EUR",
    });
    expect(body.id).toMatch(/^hld_/);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(590_000);
  });

  it("answers 409 SEAT_UNAVAILABLE naming the taken seats", async () => {
    const ev = await publishedEvent();
    const [a, b] = [await makeUser(), await makeUser()];
    expect((await post(ev.id, a.auth, { seatIds: ["A-1-5"] })).status).toBe(201);
    const res = await post(ev.id, b.auth, { seatIds: ["A-1-4", "A-1-5"] });
    expect(res.status).toBe(409);
    const body: any = await res.json();
    expectError(body, "SEAT_UNAVAILABLE");
    expect(body.error.details.seatIds).toEqual(["A-1-5"]);
  });

  it("replays the same hold for a retried Idempotency-Key and answers 409 for the key with another body", async () => {
    const ev = await publishedEvent();
    const u = await makeUser();
    const key = { "idempotency-key": crypto.randomUUID() };
    const first: any = await (await post(ev.id, u.auth, { seatIds: ["B-2-1"] }, key)).json();
    const again = await post(ev.id, u.auth, { seatIds: ["B-2-1"] }, key);
    expect(again.status).toBe(201);
    expect(((await again.json()) as any).id).toBe(first.id);
    const other = await post(ev.id, u.auth, { seatIds: ["B-2-2"] }, key);
    expect(other.status).toBe(409);
    expectError(await other.json(), "IDEMPOTENCY_CONFLICT");
  });

  it("answers 422 LIMIT_EXCEEDED past the per-user cap and 409 SALES_CLOSED outside the window", async () => {
    const capped = await publishedEvent({ maxSeatsPerUser: 2 });
    const u = await makeUser();
    const over = await post(capped.id, u.auth, { seatIds: ["A-1-1", "A-1-2", "A-1-3"] });
    expect(over.status).toBe(422);
    expectError(await over.json(), "LIMIT_EXCEEDED");
    const closed = await publishedEvent({ salesEndAt: new Date(Date.now() - 1000).toISOString() });
    const res = await post(closed.id, u.auth, { seatIds: ["A-1-1"] });
    expect(res.status).toBe(409);
    expectError(await res.json(), "SALES_CLOSED");
  });

  it("answers 404 for an event without inventory, 400 for a bad body and 401 without a token", async () => {
    const u = await makeUser();
    const missing = await post(crypto.randomUUID(), u.auth, { seatIds: ["A-1-1"] });
    expect(missing.status).toBe(404);
    expectError(await missing.json(), "NOT_FOUND");
    const ev = await publishedEvent();
    const both = await post(ev.id, u.auth, { seatIds: ["A-1-1"], quantity: 1 });
    expect(both.status).toBe(400);
    expectError(await both.json(), "VALIDATION_FAILED");
    const unknownSeat = await post(ev.id, u.auth, { seatIds: ["Z-9-9"] });
    expect(unknownSeat.status).toBe(400);
    expect(((await unknownSeat.json()) as any).error.details.seatIds).toEqual(["Z-9-9"]);
    expect((await post(ev.id, {}, { seatIds: ["A-1-1"] })).status).toBe(401);
  });

  it("a bad hold body gets the same 400 message over HTTP as from the object itself (one validation)", async () => {
    const u = await makeUser();
    const ev = await publishedEvent();
    const bad: unknown[] = [
      { seatIds: ["A-1-1"], quantity: 1 },
      {},
      { seatIds: [] },
      { seatIds: Array.from({ length: 51 }, (_, i) => `A-1-${i + 1}`) },
      { seatIds: ["A-1-1", "A-1-1"] },
      { seatIds: ["not a seat"] },
      { quantity: 2 },
    ];
    for (const body of bad) {
      const direct = await ev.stub.hold(u.id, body as never, null);
      expect(direct.ok, JSON.stringify(body)).toBe(false);
      const res = await post(ev.id, u.auth, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = ((await res.json()) as any).error;
      expect({ code: err.code, message: err.message }, JSON.stringify(body)).toEqual({ code: "VALIDATION_FAILED", message: (direct as unknown as { message: string }).message });
    }
  });

  it("holds a quantity on general admission", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 3 });
    const u = await makeUser();
    const res = await post(ev.id, u.auth, { quantity: 2 });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ quantity: 2, seats: [], totalCents: 10_000 });
    const more = await post(ev.id, (await makeUser()).auth, { quantity: 2 });
    expect(more.status).toBe(409);
  });

  it("rate-limits holds per user with 429 and Retry-After", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1000, maxSeatsPerUser: 100 });
    const u = await makeUser();
    const statuses: number[] = [];
    let limited: Response | undefined;
    // The limiter counts in fixed 10 s windows: a window boundary may fall inside the loop, so a
    // 429 is due within two windows' worth (61 requests), after at least 30 successes.
    for (let i = 0; i < 61 && !limited; i++) {
      const res = await post(ev.id, u.auth, { quantity: 1 });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(limited, `no 429 in ${statuses.length} holds`).toBeDefined();
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(30);
    expect(statuses.filter((s) => s !== 201 && s !== 429)).toEqual([]);
    expect(limited!.headers.get("retry-after")).toBe("10");
    expectError(await limited!.json(), "RATE_LIMITED");
  });

  it("sheds load with a fast 503 and Retry-After above the in-flight limit, changing nothing", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1000, maxSeatsPerUser: 50 });
    const app = createApp();
    const tight = { ...env, HOLD_MAX_INFLIGHT: "2", RATE_LIMITS: "off" };
    const users = await Promise.all(Array.from({ length: 20 }, () => makeUser()));
    const responses = await Promise.all(
      users.map((u) =>
        app.request(`/v1/events/${ev.id}/holds`, { method: "POST", headers: { ...u.auth, "content-type": "application/json" }, body: JSON.stringify({ quantity: 1 }) }, tight),
      ),
    );
    const shed = responses.filter((r) => r.status === 503);
    const held = responses.filter((r) => r.status === 201);
    expect(shed.length).toBeGreaterThan(0);
    expect(held.length + shed.length).toBe(20);
    for (const r of shed) {
      expect(r.headers.get("retry-after")).toBe("1");
      expectError(await r.json(), "OVERLOADED");
    }
    expect((await ev.stub.stats()).held).toBe(held.length);
  });
});

describe("GET and DELETE /v1/holds/:id", () => {
  it("shows a hold to its owner and an admin, and answers 404 to anyone else", async () => {
    const ev = await publishedEvent();
    const [owner, other, admin] = [await makeUser(), await makeUser(), await makeUser("admin")];
    const hold: any = await (await post(ev.id, owner.auth, { seatIds: ["A-2-2"] })).json();
    const mine = await call(`/v1/holds/${hold.id}`, { headers: owner.auth });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ id: hold.id, status: "active" });
    expect((await call(`/v1/holds/${hold.id}`, { headers: admin.auth })).status).toBe(200);
    const theirs = await call(`/v1/holds/${hold.id}`, { headers: other.auth });
    expect(theirs.status).toBe(404);
    expectError(await theirs.json(), "NOT_FOUND");
    expect((await call(`/v1/holds/hld_garbage`, { headers: owner.auth })).status).toBe(404);
  });

  it("lets only the owner release, frees the seats at once, and repeats as 204", async () => {
    const ev = await publishedEvent();
    const [owner, other] = [await makeUser(), await makeUser()];
    const hold: any = await (await post(ev.id, owner.auth, { seatIds: ["A-4-4"] })).json();
    expect((await call(`/v1/holds/${hold.id}`, { method: "DELETE", headers: other.auth })).status).toBe(404);
    expect((await call(`/v1/holds/${hold.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    expect((await call(`/v1/holds/${hold.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    const seats: any = await (await call(`/v1/events/${ev.id}/seats`)).json();
    expect(seats.seats.find((s: any) => s.id === "A-4-4").status).toBe("available");
    expect(await (await call(`/v1/holds/${hold.id}`, { headers: owner.auth })).json()).toMatchObject({ status: "released" });
  });
});

describe("GET /v1/events/:id/seats", () => {
  it("shows every seat live with its status and a version", async () => {
    const ev = await publishedEvent({ layout: [1, 2, 3] });
    const u = await makeUser();
    await post(ev.id, u.auth, { seatIds: ["A-1-2"] });
    const res = await call(`/v1/events/${ev.id}/seats`);
    expect(res.status).toBe(200);
    const body: any = await res.json();
    expect(body.seats).toHaveLength(6);
    expect(body.seats[1]).toEqual({ id: "A-1-2", section: "A", row: "1", number: 2, priceCents: 5000, status: "held" });
    expect(body.availability).toEqual({ capacity: 6, available: 5, held: 1, booked: 0 });
    expect(body.version).toBeGreaterThanOrEqual(1);
  });

  it("gives counts for general admission and 404 for an unknown event", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 40 });
    const body: any = await (await call(`/v1/events/${ev.id}/seats`)).json();
    expect(body).toMatchObject({ seating: "general", availability: { capacity: 40, available: 40 } });
    expect(body.seats).toBeUndefined();
    expect((await call(`/v1/events/${crypto.randomUUID()}/seats`)).status).toBe(404);
  });
});
