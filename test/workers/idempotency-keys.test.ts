import { describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { events, idempotencyKeys, venues } from "../../src/db/schema";
import { createVenue } from "../../src/services/venues";
import { personalOrgId } from "../../src/services/organizations";
import { AppError } from "../../src/lib/errors";
import { idempotent } from "../../src/lib/idempotent-request";
import { eventBody, makeVenue } from "../helpers/catalogue";
import { call, expectError, makeUser, withDb, type TestUser } from "../helpers/fixtures";

// API.md: every POST that creates something takes an optional Idempotency-Key. Bookings and holds
// have their own tests; these cover the catalogue's creates and the key's namespace.

const venueBody = (name: string) => ({ name, city: "Porto", address: "Rua 2", timezone: "Europe/Lisbon", capacity: 300 });
const post = (path: string, user: TestUser, json: unknown, key: string) =>
  call(path, { method: "POST", headers: { ...user.auth, "idempotency-key": key }, json });
const venuesNamed = (name: string) => withDb((db) => db.select().from(venues).where(eq(venues.name, name)));
const eventsNamed = (name: string) => withDb((db) => db.select().from(events).where(eq(events.name, name)));

describe("Idempotency-Key on POST /v1/venues", () => {
  it("replays the first answer for a retry with the same key and body, creating one venue", async () => {
    const org = await makeUser("organizer");
    const name = `Idem Hall ${crypto.randomUUID()}`;
    const key = crypto.randomUUID();
    const first = await post("/v1/venues", org, venueBody(name), key);
    const again = await post("/v1/venues", org, venueBody(name), key);
    expect([first.status, again.status]).toEqual([201, 201]);
    const [a, b]: any[] = [await first.json(), await again.json()];
    expect(b).toEqual(a);
    expect(await venuesNamed(name)).toHaveLength(1);
  });

  it("answers 409 IDEMPOTENCY_CONFLICT for the same key with another body, creating nothing", async () => {
    const org = await makeUser("organizer");
    const key = crypto.randomUUID();
    expect((await post("/v1/venues", org, venueBody(`First ${key}`), key)).status).toBe(201);
    const other = await post("/v1/venues", org, venueBody(`Second ${key}`), key);
    expect(other.status).toBe(409);
    expectError(await other.json(), "IDEMPOTENCY_CONFLICT");
    expect(await venuesNamed(`Second ${key}`)).toEqual([]);
  });

  it("keeps keys per user: another organizer with the same key and body gets a venue of their own", async () => {
    const [a, b] = [await makeUser("organizer"), await makeUser("organizer")];
    const name = `Shared key hall ${crypto.randomUUID()}`;
    const key = crypto.randomUUID();
    const va: any = await (await post("/v1/venues", a, venueBody(name), key)).json();
    const vb: any = await (await post("/v1/venues", b, venueBody(name), key)).json();
    expect([va.ownerId, vb.ownerId]).toEqual([a.id, b.id]);
    expect(await venuesNamed(name)).toHaveLength(2);
  });

  it("creates a new venue on every request without a key", async () => {
    const org = await makeUser("organizer");
    const name = `No key hall ${crypto.randomUUID()}`;
    for (let i = 0; i < 2; i++) expect((await call("/v1/venues", { method: "POST", headers: org.auth, json: venueBody(name) })).status).toBe(201);
    expect(await venuesNamed(name)).toHaveLength(2);
  });
});

describe("Idempotency-Key on POST /v1/events", () => {
  it("answers five concurrent retries of one key with one draft event", async () => {
    const org = await makeUser("organizer");
    const venue = await makeVenue(org);
    const name = `Idem Night ${crypto.randomUUID()}`;
    const key = crypto.randomUUID();
    const body = eventBody(venue.id, { name });
    const replies = await Promise.all(Array.from({ length: 5 }, () => post("/v1/events", org, body, key)));
    expect(replies.map((r) => r.status)).toEqual(Array(5).fill(201));
    const answers: any[] = await Promise.all(replies.map((r) => r.json()));
    expect(new Set(answers.map((b) => b.id)).size).toBe(1);
    expect(answers[0]).toMatchObject({ name, status: "draft" });
    expect(await eventsNamed(name)).toHaveLength(1);
  });

  it("answers 409 IDEMPOTENCY_CONFLICT for the same key with another body", async () => {
    const org = await makeUser("organizer");
    const venue = await makeVenue(org);
    const key = crypto.randomUUID();
    expect((await post("/v1/events", org, eventBody(venue.id, { name: `A ${key}` }), key)).status).toBe(201);
    const other = await post("/v1/events", org, eventBody(venue.id, { name: `B ${key}` }), key);
    expect(other.status).toBe(409);
    expectError(await other.json(), "IDEMPOTENCY_CONFLICT");
    expect(await eventsNamed(`B ${key}`)).toEqual([]);
  });

  it("never answers an event request with a venue replayed under the same key", async () => {
    const org = await makeUser("organizer");
    const key = crypto.randomUUID();
    const venue: any = await (await post("/v1/venues", org, venueBody(`Hall ${key}`), key)).json();
    const res = await post("/v1/events", org, eventBody(venue.id, { name: `Night ${key}` }), key);
    expect(res.status).toBe(409);
    expectError(await res.json(), "IDEMPOTENCY_CONFLICT");
    expect(await eventsNamed(`Night ${key}`)).toEqual([]);
  });
});

describe("the key's namespace", () => {
  it("refuses a key first used on another route even when the bodies are identical", async () => {
    const user = await makeUser();
    const key = crypto.randomUUID();
    let runs = 0;
    const run = async () => ({ status: 201, body: { run: ++runs } });
    await withDb(async (db) => {
      expect(await idempotent(db, user.id, key, { route: "POST /v1/venues", body: { same: true } }, run)).toMatchObject({ status: 201, body: { run: 1 }, replayed: false });
      expect(await idempotent(db, user.id, key, { route: "POST /v1/venues", body: { same: true } }, run)).toMatchObject({ body: { run: 1 }, replayed: true });
      const crossed = await idempotent(db, user.id, key, { route: "POST /v1/events", body: { same: true } }, run).catch((e: unknown) => e);
      expect(crossed).toBeInstanceOf(AppError);
      expect((crossed as AppError).code).toBe("IDEMPOTENCY_CONFLICT");
    });
    expect(runs).toBe(1);
  });
});

describe("a retry while the first request is still running", () => {
  it("two concurrent requests with one key and a slow first create make exactly one venue; the retry answers 409 IDEMPOTENCY_IN_PROGRESS", async () => {
    const org = await makeUser("organizer");
    const name = `Slow hall ${crypto.randomUUID()}`;
    const key = crypto.randomUUID();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const create = (db: Parameters<Parameters<typeof withDb>[0]>[0], slow: boolean) => async () => {
      if (slow) await gate;
      // As POST /v1/venues's guard leaves it: granted in the caller's personal organization.
      const orgId = await personalOrgId(db, org);
      const row = await createVenue(db, { id: org.id, role: "organizer", org: { orgId, role: "owner", action: "venue.manage" } }, venueBody(name), new Date());
      return { status: 201, body: { id: row.id } };
    };
    await withDb(async (db) => {
      const request = { route: "POST /v1/venues", body: venueBody(name) };
      const first = idempotent(db, org.id, key, request, create(db, true));
      await new Promise((r) => setTimeout(r, 100)); // the first holds the key and is inside its create
      const retry = await idempotent(db, org.id, key, request, create(db, false), 200).catch((e: unknown) => e);
      expect(retry).toBeInstanceOf(AppError);
      expect((retry as AppError).code).toBe("IDEMPOTENCY_IN_PROGRESS");
      expect((retry as AppError).headers).toMatchObject({ "Retry-After": "1" });
      release();
      const answered = await first;
      expect(await idempotent(db, org.id, key, request, create(db, false))).toMatchObject({ body: answered.body, replayed: true });
    });
    expect(await venuesNamed(name)).toHaveLength(1);
  });

  it("answers 409 IDEMPOTENCY_IN_PROGRESS with Retry-After while another request holds the key, and runs the retry once that request's lease lapsed", async () => {
    const org = await makeUser("organizer");
    const name = `Crashed hall ${crypto.randomUUID()}`;
    const key = crypto.randomUUID();
    const body = venueBody(name);
    // A first request that claimed the key and then died mid-run: no answer, only its lease.
    await post("/v1/venues", org, body, key);
    await withDb((db) => db.update(venues).set({ name: `Gone ${key}` }).where(eq(venues.name, name)));
    await withDb((db) =>
      db.update(idempotencyKeys).set({ responseStatus: null, responseBody: null, lockedUntil: new Date(Date.now() + 60_000) }).where(and(eq(idempotencyKeys.userId, org.id), eq(idempotencyKeys.key, key))),
    );
    const busy = await post("/v1/venues", org, body, key);
    expect(busy.status).toBe(409);
    expect(busy.headers.get("retry-after")).toBe("1");
    expectError(await busy.json(), "IDEMPOTENCY_IN_PROGRESS");
    expect(await venuesNamed(name)).toEqual([]);

    await withDb((db) => db.update(idempotencyKeys).set({ lockedUntil: new Date(Date.now() - 1_000) }).where(and(eq(idempotencyKeys.userId, org.id), eq(idempotencyKeys.key, key))));
    const retried = await post("/v1/venues", org, body, key);
    expect(retried.status).toBe(201);
    expect(await venuesNamed(name)).toHaveLength(1);
  });
});

describe("an expired key", () => {
  it("is treated as new even before the cron deletes it: another body under it creates a venue instead of 409", async () => {
    const org = await makeUser("organizer");
    const key = crypto.randomUUID();
    expect((await post("/v1/venues", org, venueBody(`Old ${key}`), key)).status).toBe(201);
    await withDb((db) => db.update(idempotencyKeys).set({ expiresAt: new Date(Date.now() - 1_000) }).where(and(eq(idempotencyKeys.userId, org.id), eq(idempotencyKeys.key, key))));
    const reused = await post("/v1/venues", org, venueBody(`New ${key}`), key);
    expect(reused.status).toBe(201);
    expect(await venuesNamed(`New ${key}`)).toHaveLength(1);
    // ...and the key now stands for the new request: a retry of it replays.
    const again = await post("/v1/venues", org, venueBody(`New ${key}`), key);
    expect(((await again.json()) as any).id).toBe(((await reused.json()) as any).id);
  });
});
