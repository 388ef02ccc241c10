import { describe, expect, it } from "vitest";
import { call, expectError, makeUser } from "../helpers/fixtures";
import { makeEvent, makeVenue } from "../helpers/catalogue";

const postVenue = (auth: Record<string, string>, json: unknown) => call("/v1/venues", { method: "POST", headers: auth, json });
const base = { name: "Hall", city: "Berlin", address: "1 Main St", timezone: "Europe/Berlin" };

describe("creating venues", () => {
  it("stores a seat layout and derives the capacity from its seats", async () => {
    const org = await makeUser("organizer");
    const res = await postVenue(org.auth, { ...base, layout: { sections: [{ name: "A", rows: [{ label: "1", seats: 20 }, { label: "2", seats: 10 }] }] } });
    const body: any = await res.json();
    expect(res.status).toBe(201);
    expect(body).toMatchObject({ ownerId: org.id, capacity: 30, seatCount: 30, timezone: "Europe/Berlin" });
    const got = await call(`/v1/venues/${body.id}`);
    expect(((await got.json()) as any).layout.sections[0].rows).toHaveLength(2);
  });

  it("accepts a general admission venue with a capacity and no layout", async () => {
    const org = await makeUser("organizer");
    const res = await postVenue(org.auth, { ...base, capacity: 500 });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ capacity: 500, layout: null, seatCount: null });
  });

  it("refuses duplicate section names and duplicate row labels with 400 naming each", async () => {
    const org = await makeUser("organizer");
    const res = await postVenue(org.auth, {
      ...base,
      layout: { sections: [{ name: "A", rows: [{ label: "1", seats: 5 }, { label: "1", seats: 5 }] }, { name: "a", rows: [{ label: "1", seats: 5 }] }] },
    });
    const body: any = await res.json();
    expect(res.status).toBe(400);
    expectError(body, "VALIDATION_FAILED");
    expect(body.error.details.issues.map((i: any) => i.path).sort()).toEqual(["layout.sections.0.rows.1.label", "layout.sections.1.name"]);
  });

  it("refuses zero and negative seat counts", async () => {
    const org = await makeUser("organizer");
    for (const seats of [0, -3, 2.5]) {
      const res = await postVenue(org.auth, { ...base, layout: { sections: [{ name: "A", rows: [{ label: "1", seats }] }] } });
      expect(res.status, `seats ${seats}`).toBe(400);
      expectError(await res.json(), "VALIDATION_FAILED");
    }
  });

  it("refuses a layout of more than 100,000 seats with a clear message", async () => {
    const org = await makeUser("organizer");
    const rows = Array.from({ length: 101 }, (_, i) => ({ label: `R${i}`, seats: 1_000 }));
    const res = await postVenue(org.auth, { ...base, layout: { sections: [{ name: "Floor", rows }] } });
    const body: any = await res.json();
    expect(res.status).toBe(400);
    expect(body.error.message).toContain("101000 seats; at most 100000");
  });

  it("refuses a venue with neither layout nor capacity, and an unknown time zone", async () => {
    const org = await makeUser("organizer");
    expect((await postVenue(org.auth, base)).status).toBe(400);
    const res = await postVenue(org.auth, { ...base, capacity: 10, timezone: "Mars/Olympus" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain("Mars/Olympus");
  });

  it("answers 401 without a token and 403 for a plain user", async () => {
    const u = await makeUser("user");
    expect((await postVenue({}, { ...base, capacity: 10 })).status).toBe(401);
    expect((await postVenue(u.auth, { ...base, capacity: 10 })).status).toBe(403);
  });
});

describe("managing venues", () => {
  it("lets the owner and an admin edit a venue, and answers 403 to another organizer", async () => {
    const owner = await makeUser("organizer");
    const other = await makeUser("organizer");
    const admin = await makeUser("admin");
    const v = await makeVenue(owner);
    const patch = (auth: Record<string, string>, json: unknown) => call(`/v1/venues/${v.id}`, { method: "PATCH", headers: auth, json });
    const refused = await patch(other.auth, { name: "Stolen" });
    expect(refused.status).toBe(403);
    expectError(await refused.json(), "FORBIDDEN");
    expect((await patch(owner.auth, { name: "Owner's" })).status).toBe(200);
    const byAdmin = await patch(admin.auth, { layout: { sections: [{ name: "B", rows: [{ label: "1", seats: 7 }] }] } });
    expect(byAdmin.status).toBe(200);
    expect(await byAdmin.json()).toMatchObject({ name: "Owner's", capacity: 7, seatCount: 7 });
    expect((await call(`/v1/venues/${v.id}`, { method: "DELETE", headers: other.auth })).status).toBe(403);
  });

  it("deletes an unused venue and refuses to delete one that has events", async () => {
    const owner = await makeUser("organizer");
    const unused = await makeVenue(owner);
    expect((await call(`/v1/venues/${unused.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    expect((await call(`/v1/venues/${unused.id}`)).status).toBe(404);
    const used = await makeVenue(owner);
    await makeEvent(owner, used.id);
    const res = await call(`/v1/venues/${used.id}`, { method: "DELETE", headers: owner.auth });
    expect(res.status).toBe(409);
    expectError(await res.json(), "CONFLICT");
  });

  it("pages through venues of a city with a cursor, case-insensitively", async () => {
    const owner = await makeUser("organizer");
    const city = `Pagetown-${crypto.randomUUID().slice(0, 8)}`;
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await makeVenue(owner, { city, name: `V${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(`/v1/venues?city=${city.toUpperCase()}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      const body: any = await res.json();
      expect(res.status).toBe(200);
      seen.push(...body.data.map((v: any) => v.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(made.length);
    expect([...seen].sort()).toEqual([...made].sort());
  });
});
