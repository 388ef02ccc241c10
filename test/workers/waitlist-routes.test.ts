import { describe, expect, it } from "vitest";
import { call, expectError } from "../helpers/fixtures";
import { makeUsers, publishedEvent } from "../helpers/inventory";

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });

describe("waitlist routes", () => {
  it("joins with 201 and a position, answers a repeat with 200 and the same entry, shows and leaves it", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 2 });
    const [x, a, b] = await makeUsers(3);
    const path = `/v1/events/${ev.id}/waitlist`;

    const early = await json(await call(path, { method: "POST", headers: a.auth, json: { quantity: 1 } }));
    expect(early.status).toBe(409);
    expectError(early.body, "SEATS_AVAILABLE");

    expect((await call(`/v1/events/${ev.id}/holds`, { method: "POST", headers: x.auth, json: { quantity: 2 } })).status).toBe(201);
    const joined = await json(await call(path, { method: "POST", headers: a.auth, json: { quantity: 2 } }));
    expect(joined).toMatchObject({ status: 201, body: { position: 1, status: "waiting", quantity: 2, holdId: null, offerExpiresAt: null, eventId: ev.id } });
    expect(joined.body.userId).toBeUndefined();
    expect(await json(await call(path, { method: "POST", headers: b.auth, json: { quantity: 1 } }))).toMatchObject({ status: 201, body: { position: 2 } });
    const repeat = await json(await call(path, { method: "POST", headers: a.auth, json: { quantity: 2 } }));
    expect(repeat).toMatchObject({ status: 200, body: { id: joined.body.id, position: 1 } });

    expect(await json(await call(`${path}/me`, { headers: b.auth }))).toMatchObject({ status: 200, body: { position: 2, status: "waiting" } });
    expect((await call(`${path}/me`, { method: "DELETE", headers: a.auth })).status).toBe(204);
    expect(await json(await call(`${path}/me`, { headers: a.auth }))).toMatchObject({ status: 200, body: { status: "left", position: null } });
    expect(await json(await call(`${path}/me`, { headers: b.auth }))).toMatchObject({ status: 200, body: { position: 1 } });
  });

  it("hands the offered user a hold they own and can see, which nobody else can", async () => {
    const ev = await publishedEvent({ layout: [1, 1, 2] });
    const [x, a, other] = await makeUsers(3);
    const path = `/v1/events/${ev.id}/waitlist`;
    const held = await json(await call(`/v1/events/${ev.id}/holds`, { method: "POST", headers: x.auth, json: { seatIds: ["A-1-1", "A-1-2"] } }));
    expect(held.status).toBe(201);
    expect((await call(path, { method: "POST", headers: a.auth, json: { quantity: 2 } })).status).toBe(201);
    expect((await call(`/v1/holds/${held.body.id}`, { method: "DELETE", headers: x.auth })).status).toBe(204);

    const me = await json(await call(`${path}/me`, { headers: a.auth }));
    expect(me).toMatchObject({ status: 200, body: { status: "offered", position: null } });
    expect(Date.parse(me.body.offerExpiresAt)).toBeGreaterThan(Date.now() + 800_000);
    const offered = await json(await call(`/v1/holds/${me.body.holdId}`, { headers: a.auth }));
    expect(offered).toMatchObject({ status: 200, body: { userId: a.id, status: "active", quantity: 2 } });
    expect((await call(`/v1/holds/${me.body.holdId}`, { headers: other.auth })).status).toBe(404);
    const seats = await json(await call(`/v1/events/${ev.id}/seats`));
    expect(seats.body.seats.map((s: { status: string }) => s.status)).toEqual(["held", "held"]);
    expect(seats.body.availability.available).toBe(0);

    // Leaving while offered gives the seats back to the public (nobody else waits).
    expect((await call(`${path}/me`, { method: "DELETE", headers: a.auth })).status).toBe(204);
    expect(await json(await call(`/v1/holds/${me.body.holdId}`, { headers: a.auth }))).toMatchObject({ body: { status: "released" } });
    expect((await json(await call(`/v1/events/${ev.id}/seats`))).body.availability.available).toBe(2);
  });

  it("refuses bad input, anonymous callers and unknown events with the one error shape", async () => {
    const ev = await publishedEvent({ seating: "general", capacity: 1 });
    const [a] = await makeUsers(1);
    const path = `/v1/events/${ev.id}/waitlist`;
    const anon = await json(await call(path, { method: "POST", json: { quantity: 1 } }));
    expect(anon.status).toBe(401);
    expectError(anon.body, "UNAUTHENTICATED");
    for (const quantity of [0, 51, 1.5, "2"]) {
      const bad = await json(await call(path, { method: "POST", headers: a.auth, json: { quantity } }));
      expect(bad.status).toBe(400);
      expectError(bad.body, "VALIDATION_FAILED");
    }
    const missing = await json(await call(`/v1/events/${crypto.randomUUID()}/waitlist`, { method: "POST", headers: a.auth, json: { quantity: 1 } }));
    expect(missing.status).toBe(404);
    expectError(missing.body, "NOT_FOUND");
    const never = await json(await call(`${path}/me`, { headers: a.auth }));
    expect(never.status).toBe(404);
    expectError(never.body, "NOT_FOUND");
    expect((await call(`${path}/me`, { method: "DELETE", headers: a.auth })).status).toBe(404);
  });

  it("is documented in the OpenAPI document", async () => {
    const doc = (await (await call("/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/v1/events/{id}/waitlist"])).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/events/{id}/waitlist/me"]).sort()).toEqual(["delete", "get"]);
  });
});
