import { beforeAll, describe, expect, it } from "vitest";
import { type TestSession, type TestUser, call, expectError, makeSession, makeUser, openSession } from "../helpers/fixtures";

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
  body?: unknown;
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
];

/** List routes that must show the caller's own objects only. */
interface OwnList {
  path: string;
  create: (owner: TestSession) => Promise<string>;
  idsIn: (body: any) => string[];
}

const LISTS: OwnList[] = [
  { path: "/v1/me/sessions", create: async (owner) => (await openSession(owner.id)).sid, idsIn: (b) => b.data.map((s: any) => s.id) },
];

let owner: TestSession;
let others: TestUser[];
let admin: TestUser;

beforeAll(async () => {
  [owner, admin, ...others] = await Promise.all([makeSession("user", "owner"), makeUser("admin"), makeUser("user", "intruder-b"), makeUser("user", "intruder-c")]);
});

const send = (r: OwnedRoute, id: string, headers: Record<string, string>) =>
  call(r.path(id), { method: r.method, headers, ...(r.body === undefined ? {} : { json: r.body }) });

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
      for (const intruder of others) {
        expect(l.idsIn(await (await call(l.path, { headers: intruder.auth })).json())).not.toContain(id);
      }
    });
  }

  it("GET /v1/me answers each caller with their own account only", async () => {
    for (const u of [owner, ...others]) {
      expect(((await (await call("/v1/me", { headers: u.auth })).json()) as any).id).toBe(u.id);
    }
  });
});
