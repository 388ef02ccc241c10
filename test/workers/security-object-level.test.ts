import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { bookings, notifications } from "../../src/db/schema";
import { makeEvent, makePublished, makeVenue } from "../helpers/catalogue";
import { type TestSession, type TestUser, call, expectError, makeSession, makeUser, openSession, withDb } from "../helpers/fixtures";
import { eventually } from "../helpers/wait";

/**
 * Object-level authorization: three users; every id-bearing route, called by anyone but the owner,
 * answers 404 (never 403, so ids cannot be probed) and leaves the object as it was. Add a row with
 * every route that takes the id of something a user owns (holds, bookings, waitlist entries, …).
 */
interface OwnedRoute {
  name: string;
  /** Creates an object owned by `owner` and returns its id. */
  create: (owner: TestSession) => Promise<string>;
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: (id: string) => string;
  body?: (id: string) => unknown;
  /** Admins may act on anyone's object (holds, bookings), or the route is the caller's own only. */
  admin: "allowed" | "not-found";
  /** Throws unless the object is exactly as the owner left it. */
  untouched: (owner: TestSession, id: string) => Promise<void>;
}

const sessionStillWorks = async (_owner: TestSession, sid: string) => {
  expect(sessionTokens.get(sid), "session token").toBeDefined();
  expect((await call("/v1/me", { headers: { authorization: `Bearer ${sessionTokens.get(sid)}` } })).status).toBe(200);
};
const sessionTokens = new Map<string, string>();

const ROUTES: OwnedRoute[] = [
  {
    name: "end another device's session",
    create: async (owner) => {
      const s = await openSession(owner.id);
      sessionTokens.set(s.sid, s.accessToken);
      return s.sid;
    },
    method: "DELETE",
    path: (id) => `/v1/me/sessions/${id}`,
    admin: "not-found",
    untouched: sessionStillWorks,
  },
  {
    name: "read another user's hold",
    create: holdFor,
    method: "GET",
    path: (id) => `/v1/holds/${id}`,
    admin: "allowed",
    untouched: holdStillActive,
  },
  {
    name: "release another user's hold",
    create: holdFor,
    method: "DELETE",
    path: (id) => `/v1/holds/${id}`,
    admin: "not-found",
    untouched: holdStillActive,
  },
  {
    name: "book another user's hold",
    create: holdFor,
    method: "POST",
    path: () => "/v1/bookings",
    body: (id) => ({ holdId: id }),
    admin: "not-found",
    untouched: async (owner, holdId) => {
      await holdStillActive(owner, holdId);
      expect(await withDb((db) => db.select().from(bookings).where(eq(bookings.holdId, holdId))), "no booking of the hold").toEqual([]);
    },
  },
  {
    name: "read another user's booking",
    create: bookingFor,
    method: "GET",
    path: (id) => `/v1/bookings/${id}`,
    admin: "allowed",
    untouched: async (owner, id) => {
      expect(["pending", "confirmed"]).toContain((await bookingOf(owner, id)).status);
    },
  },
  {
    name: "cancel another user's booking",
    create: confirmedBookingFor,
    method: "POST",
    path: (id) => `/v1/bookings/${id}/cancel`,
    admin: "allowed",
    untouched: async (owner, id) => {
      expect((await bookingOf(owner, id)).status).toBe("confirmed");
    },
  },
];

/** List routes that must show the caller's own objects only. */
interface OwnList {
  path: string;
  create: (owner: TestSession) => Promise<string>;
  idsIn: (body: any) => string[];
}

const dataIds = (b: any) => b.data.map((x: any) => x.id);

const LISTS: OwnList[] = [
  { path: "/v1/me/sessions", create: async (owner) => (await openSession(owner.id)).sid, idsIn: dataIds },
  { path: "/v1/bookings", create: bookingFor, idsIn: dataIds },
  { path: "/v1/notifications", create: notificationFor, idsIn: dataIds },
];

let owner: TestSession;
let others: TestUser[];
let admin: TestUser;
/** A general admission event on sale, published through the API: holds and bookings hang off it. */
let onSale: string;

beforeAll(async () => {
  [owner, admin, ...others] = await Promise.all([makeSession("user", "owner"), makeUser("admin"), makeUser("user", "intruder-b"), makeUser("user", "intruder-c")]);
  const organizer = await makeUser("organizer");
  const venue = await makeVenue(organizer, { layout: undefined, capacity: 500 });
  onSale = (await makePublished(organizer, venue.id, { seating: "general", capacity: 500, maxSeatsPerUser: 100 })).id;
});

async function holdFor(user: TestUser): Promise<string> {
  const res = await call(`/v1/events/${onSale}/holds`, { method: "POST", headers: user.auth, json: { quantity: 1 } });
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

async function holdStillActive(owner: TestSession, id: string): Promise<void> {
  const res = await call(`/v1/holds/${id}`, { headers: owner.auth });
  expect(res.status).toBe(200);
  expect(((await res.json()) as any).status).toBe("active");
}

async function bookingFor(user: TestUser): Promise<string> {
  const res = await call("/v1/bookings", { method: "POST", headers: user.auth, json: { holdId: await holdFor(user) } });
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(202);
  return body.id;
}

async function bookingOf(user: TestUser, id: string): Promise<any> {
  const res = await call(`/v1/bookings/${id}`, { headers: user.auth });
  expect(res.status).toBe(200);
  return res.json();
}

/** Cancellation needs a confirmed booking: the saga confirms it through the real queue. */
async function confirmedBookingFor(user: TestUser): Promise<string> {
  const id = await bookingFor(user);
  await eventually(async () => (await bookingOf(user, id)).status === "confirmed", 20_000, `booking ${id} confirmed`);
  return id;
}

async function notificationFor(user: TestUser): Promise<string> {
  const [n] = await withDb((db) =>
    db.insert(notifications).values({ userId: user.id, dedupeKey: `matrix:${crypto.randomUUID()}`, type: "booking.confirmed", payload: {} }).returning(),
  );
  return n.id;
}

const send = (r: OwnedRoute, id: string, headers: Record<string, string>) =>
  call(r.path(id), { method: r.method, headers, ...(r.body === undefined ? {} : { json: r.body(id) }) });

describe("object-level authorization matrix", () => {
  for (const r of ROUTES) {
    it(`${r.method} ${r.path(":id")} (${r.name}): other users get 404 and change nothing`, async () => {
      const id = await r.create(owner);
      for (const intruder of others) {
        const res = await send(r, id, intruder.auth);
        expect(res.status, `as ${intruder.email}`).toBe(404);
        expectError(await res.json(), "NOT_FOUND");
      }
      await r.untouched(owner, id);
    });

    it(`${r.method} ${r.path(":id")} (${r.name}): an admin ${r.admin === "allowed" ? "may act" : "gets 404 too"}`, async () => {
      const id = await r.create(owner);
      const res = await send(r, id, admin.auth);
      if (r.admin === "allowed") {
        expect(res.status).toBeLessThan(300);
      } else {
        expect(res.status).toBe(404);
        await r.untouched(owner, id);
      }
    });

    it(`${r.method} ${r.path(":id")} (${r.name}): works for the owner`, async () => {
      const id = await r.create(owner);
      expect((await send(r, id, owner.auth)).status).toBeLessThan(300);
    });

    it(`${r.method} ${r.path(":id")} (${r.name}): an id that does not exist is the same 404`, async () => {
      const res = await send(r, crypto.randomUUID(), owner.auth);
      expect(res.status).toBe(404);
      expectError(await res.json(), "NOT_FOUND");
    });
  }

  for (const l of LISTS) {
    it(`GET ${l.path} never shows another user's objects`, async () => {
      const id = await l.create(owner);
      expect(l.idsIn(await (await call(l.path, { headers: owner.auth })).json())).toContain(id);
      for (const intruder of [...others, admin]) {
        expect(l.idsIn(await (await call(l.path, { headers: intruder.auth })).json()), `as ${intruder.email}`).not.toContain(id);
      }
    });
  }

  it("GET /v1/me answers each caller with their own account only", async () => {
    for (const u of [owner, ...others]) {
      expect(((await (await call("/v1/me", { headers: u.auth })).json()) as any).id).toBe(u.id);
    }
  });
});

/**
 * Drafts: an organizer's draft event does not exist for anyone but its owner and admins, on every
 * route that takes its id (the same 404 as an unknown id). Plain users are stopped earlier by the
 * role guard on the write routes (the function-level matrix), which reveals nothing about the id.
 */
interface DraftRoute {
  method: "GET" | "POST" | "PATCH";
  path: (id: string) => string;
  body?: unknown;
  /** Who else is asked: everyone for public reads, other organizers where a role is required. */
  intruders: "anyone" | "organizers";
}

const DRAFT_ROUTES: DraftRoute[] = [
  { method: "GET", path: (id) => `/v1/events/${id}`, intruders: "anyone" },
  { method: "PATCH", path: (id) => `/v1/events/${id}`, body: { name: "Mine now" }, intruders: "organizers" },
  { method: "POST", path: (id) => `/v1/events/${id}/publish`, intruders: "organizers" },
  { method: "POST", path: (id) => `/v1/events/${id}/cancel`, intruders: "organizers" },
  { method: "GET", path: (id) => `/v1/admin/analytics/events/${id}`, intruders: "organizers" },
];

describe("another organizer's draft event", () => {
  let draftOwner: TestUser;
  let otherOrganizer: TestUser;
  let venueId: string;

  beforeAll(async () => {
    [draftOwner, otherOrganizer] = await Promise.all([makeUser("organizer", "draft-owner"), makeUser("organizer", "rival")]);
    venueId = (await makeVenue(draftOwner)).id;
  });

  const draft = async () => (await makeEvent(draftOwner, venueId, { name: "Secret Night" })).id as string;
  const sendTo = (r: DraftRoute, id: string, headers: Record<string, string>) =>
    call(r.path(id), { method: r.method, headers, ...(r.body === undefined ? {} : { json: r.body }) });
  const stillTheDraft = async (id: string) => {
    const e: any = await (await call(`/v1/events/${id}`, { headers: draftOwner.auth })).json();
    expect(e).toMatchObject({ status: "draft", name: "Secret Night" });
  };

  for (const r of DRAFT_ROUTES) {
    it(`${r.method} ${r.path(":id")} answers 404 to ${r.intruders === "anyone" ? "anyone but its owner" : "another organizer"} and changes nothing`, async () => {
      const id = await draft();
      const intruders: [string, Record<string, string>][] = [["another organizer", otherOrganizer.auth]];
      if (r.intruders === "anyone") intruders.push(["a user", others[0].auth], ["anonymous", {}]);
      for (const [who, headers] of intruders) {
        const res = await sendTo(r, id, headers);
        expect(res.status, `as ${who}`).toBe(404);
        expectError(await res.json(), "NOT_FOUND");
      }
      await stillTheDraft(id);
    });

    it(`${r.method} ${r.path(":id")} works on a draft for its owner and an admin`, async () => {
      for (const u of [draftOwner, admin]) {
        const res = await sendTo(r, await draft(), u.auth);
        expect(res.status, `as ${u.role}`).toBeLessThan(300);
      }
    });
  }

  it("GET /v1/events?status=draft lists an organizer's own drafts only", async () => {
    const id = await draft();
    const ids = async (u: TestUser) => dataIds(await (await call("/v1/events?status=draft&limit=100", { headers: u.auth })).json());
    expect(await ids(draftOwner)).toContain(id);
    expect(await ids(otherOrganizer)).not.toContain(id);
  });
});
