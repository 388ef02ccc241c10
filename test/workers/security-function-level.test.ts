import { beforeAll, describe, expect, it } from "vitest";
import { type TestUser, call, expectError, makeUser } from "../helpers/fixtures";

/**
 * Function-level authorization: every route that needs the organizer or admin role, called with a
 * plain user's token, answers 403 (and 401 with no token). One row per route; ids in the path are
 * `{name}` placeholders filled from `ids`, built in beforeAll. Add a row with every new route.
 */
interface RoleRoute {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  body?: unknown;
  requiredRole: "organizer" | "admin";
}

const ROUTES: RoleRoute[] = [
  { method: "PATCH", path: "/v1/admin/users/{userId}", body: { role: "organizer" }, requiredRole: "admin" },
  { method: "POST", path: "/v1/venues", body: { name: "V", city: "Berlin", address: "x", timezone: "Europe/Berlin", capacity: 10 }, requiredRole: "organizer" },
  { method: "PATCH", path: "/v1/venues/{venueId}", body: { name: "Renamed" }, requiredRole: "organizer" },
  { method: "DELETE", path: "/v1/venues/{venueId}", requiredRole: "organizer" },
  { method: "POST", path: "/v1/events", body: {}, requiredRole: "organizer" },
  { method: "PATCH", path: "/v1/events/{eventId}", body: { name: "Renamed" }, requiredRole: "organizer" },
  { method: "POST", path: "/v1/events/{eventId}/publish", requiredRole: "organizer" },
  { method: "POST", path: "/v1/events/{eventId}/cancel", requiredRole: "organizer" },
  { method: "POST", path: "/v1/events/{eventId}/ticket-types", body: { name: "T", priceCents: 100 }, requiredRole: "organizer" },
  { method: "PATCH", path: "/v1/events/{eventId}/ticket-types/{typeId}", body: { name: "Renamed" }, requiredRole: "organizer" },
  { method: "DELETE", path: "/v1/events/{eventId}/ticket-types/{typeId}", requiredRole: "organizer" },
  { method: "POST", path: "/v1/events/{eventId}/vouchers", body: { code: "MATRIX", discount: { kind: "percent", value: 5 }, maxUsages: 1 }, requiredRole: "organizer" },
  { method: "GET", path: "/v1/events/{eventId}/vouchers", requiredRole: "organizer" },
  { method: "GET", path: "/v1/admin/analytics/overview", requiredRole: "admin" },
  { method: "GET", path: "/v1/admin/analytics/events/popular", requiredRole: "admin" },
  { method: "GET", path: "/v1/admin/analytics/daily", requiredRole: "admin" },
  { method: "GET", path: "/v1/admin/analytics/events/{eventId}", requiredRole: "organizer" },
  // Tickets and entry (docs/tickets.md).
  { method: "POST", path: "/v1/events/{eventId}/checkin-lists", body: { name: "Door" }, requiredRole: "organizer" },
  { method: "POST", path: "/v1/events/{eventId}/scanners", body: { name: "Scanner" }, requiredRole: "organizer" },
  { method: "DELETE", path: "/v1/events/{eventId}/scanners/{anyId}", requiredRole: "organizer" },
  { method: "POST", path: "/v1/webhooks", body: { url: "https://example.com/hook", events: ["booking.confirmed"] }, requiredRole: "organizer" },
  { method: "GET", path: "/v1/webhooks", requiredRole: "organizer" },
  { method: "GET", path: "/v1/webhooks/{hookId}", requiredRole: "organizer" },
  { method: "PATCH", path: "/v1/webhooks/{hookId}", body: { events: ["booking.cancelled"] }, requiredRole: "organizer" },
  { method: "GET", path: "/v1/webhooks/{hookId}/deliveries", requiredRole: "organizer" },
  { method: "POST", path: "/v1/webhooks/{hookId}/deliveries/{anyId}/replay", requiredRole: "organizer" },
  // Last of the webhook rows: the admin's call deletes it.
  { method: "DELETE", path: "/v1/webhooks/{hookId}", requiredRole: "organizer" },
  { method: "GET", path: "/v1/events/{eventId}/exports/attendees.csv", requiredRole: "organizer" },
  { method: "GET", path: "/v1/events/{eventId}/exports/bookings.csv", requiredRole: "organizer" },
];

/**
 * Organizer/admin operations of the API contract (API.md). Whichever of them this build serves
 * must have a row above; the completeness test below fails until it does.
 */
const CONTRACT_ROLE_ROUTES = [
  "POST /v1/venues",
  "PATCH /v1/venues/{}",
  "DELETE /v1/venues/{}",
  "POST /v1/events",
  "PATCH /v1/events/{}",
  "POST /v1/events/{}/publish",
  "POST /v1/events/{}/cancel",
  "POST /v1/events/{}/ticket-types",
  "PATCH /v1/events/{}/ticket-types/{}",
  "DELETE /v1/events/{}/ticket-types/{}",
  "POST /v1/events/{}/vouchers",
  "GET /v1/events/{}/vouchers",
  "PATCH /v1/admin/users/{}",
  "GET /v1/admin/analytics/overview",
  "GET /v1/admin/analytics/events/popular",
  "GET /v1/admin/analytics/events/{}",
  "GET /v1/admin/analytics/daily",
  "POST /v1/events/{}/checkin-lists",
  "POST /v1/events/{}/scanners",
  "POST /v1/webhooks",
  "GET /v1/webhooks",
  "DELETE /v1/webhooks/{}",
  "GET /v1/webhooks/{}/deliveries",
  "POST /v1/webhooks/{}/deliveries/{}/replay",
  "GET /v1/events/{}/exports/attendees.csv",
  "GET /v1/events/{}/exports/bookings.csv",
];

const ids: Record<string, string> = {};
let user: TestUser;
let organizer: TestUser;
let admin: TestUser;

beforeAll(async () => {
  [user, organizer, admin] = await Promise.all([makeUser("user"), makeUser("organizer"), makeUser("admin")]);
  ids.userId = (await makeUser("user", "target")).id;
  // Routes that look their object up after the role check: any id shows the guard.
  ids.anyId = crypto.randomUUID();
  // A venue and a draft event of another organizer: the guard must refuse before any ownership check.
  const owner = await makeUser("organizer", "owner");
  const venue = await call("/v1/venues", {
    method: "POST",
    headers: owner.auth,
    json: { name: "Matrix Hall", city: "Berlin", address: "x", timezone: "Europe/Berlin", capacity: 100 },
  });
  ids.venueId = ((await venue.json()) as { id: string }).id;
  const start = Date.now() + 30 * 86_400_000;
  const event = await call("/v1/events", {
    method: "POST",
    headers: owner.auth,
    json: {
      venueId: ids.venueId, name: "Matrix Night", description: "", category: "music", seating: "general", capacity: 50,
      startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString(), priceCents: 1000, currency: "EUR",
    },
  });
  ids.eventId = ((await event.json()) as { id: string }).id;
  ids.typeId = "tt_default";
  // Another organization's webhook: the guard refuses before anything of it is shown.
  const hook = await call("/v1/webhooks", { method: "POST", headers: owner.auth, json: { url: "https://example.com/hook", events: ["booking.confirmed"] } });
  ids.hookId = ((await hook.json()) as { id: string }).id;
  if (!ids.venueId || !ids.eventId || !ids.hookId) throw new Error("matrix fixtures: could not create venue and event");
});

const fill = (path: string) =>
  path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!ids[name]) throw new Error(`no fixture id for {${name}}: add it to ids in beforeAll`);
    return ids[name];
  });
const send = (r: RoleRoute, headers: Record<string, string>) =>
  call(fill(r.path), { method: r.method, headers, ...(r.body === undefined ? {} : { json: r.body }) });
const shape = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/\{[^}]*\}/g, "{}")}`;

describe("function-level authorization matrix", () => {
  for (const r of ROUTES) {
    it(`${r.method} ${r.path} answers 403 to a user token`, async () => {
      const res = await send(r, user.auth);
      expect(res.status).toBe(403);
      expectError(await res.json(), "FORBIDDEN");
    });

    it(`${r.method} ${r.path} answers 401 without a token`, async () => {
      const res = await send(r, {});
      expect(res.status).toBe(401);
      expectError(await res.json(), "UNAUTHENTICATED");
    });

    if (r.requiredRole === "admin") {
      it(`${r.method} ${r.path} answers 403 to an organizer token`, async () => {
        const res = await send(r, organizer.auth);
        expect(res.status).toBe(403);
        expectError(await res.json(), "FORBIDDEN");
      });
    }

    it(`${r.method} ${r.path} lets an admin past the guard`, async () => {
      const res = await send(r, admin.auth);
      expect([401, 403]).not.toContain(res.status);
    });
  }

  it("has a row for every organizer/admin route of the contract this build serves", async () => {
    const doc: any = await (await call("/openapi.json")).json();
    const served = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => shape(m, path))));
    const covered = new Set(ROUTES.map((r) => shape(r.method, r.path)));
    const adminServed = [...served].filter((s) => s.split(" ")[1].startsWith("/v1/admin/"));
    const missing = [...new Set([...CONTRACT_ROLE_ROUTES.filter((s) => served.has(s)), ...adminServed])].filter((s) => !covered.has(s));
    expect(missing).toEqual([]);
  });
});
