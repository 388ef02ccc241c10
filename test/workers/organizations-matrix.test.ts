import { beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { organizationMembers } from "../../src/db/schema";
import { ORG_ROLES, PERMISSIONS, type Action, type OrgRole } from "../../src/services/permissions";
import { type TestUser, call, makeUser, withDb } from "../helpers/fixtures";

/**
 * The role x route matrix of organizations (docs/organizations.md). Every organizer route declares
 * its action (`x-evently-action` in /openapi.json, written by `guarded()`); each is called by every
 * organization role, a member of another organization, a removed member, a buyer and the platform
 * admin, and the answer must be what the permissions table says: allowed -> not refused, refused ->
 * 403 (or 404 where a draft hides). A route with neither an action nor a place in NOT_ORGANIZER
 * fails the first test; an action with no sample request here fails the second.
 */

/** Routes that are no organization's business: public, the buyer's own, the caller's own, the platform admin's. */
const NOT_ORGANIZER: Record<string, string> = {
  "GET /health": "public",
  "GET /health/ready": "public",
  "POST /v1/auth/register": "public",
  "POST /v1/auth/login": "public",
  "POST /v1/auth/refresh": "public",
  "POST /v1/auth/logout": "own session",
  "GET /v1/me": "own account",
  "GET /v1/me/sessions": "own account",
  "DELETE /v1/me/sessions/{id}": "own account",
  "GET /.well-known/jwks.json": "public",
  "PATCH /v1/admin/users/{id}": "platform admin",
  "GET /v1/venues": "public",
  "GET /v1/venues/{id}": "public",
  "GET /v1/events": "public (other statuses: filtered by membership)",
  "GET /v1/events/{id}": "public (drafts: members)",
  "GET /v1/admin/analytics/overview": "platform admin",
  "GET /v1/admin/analytics/events/popular": "platform admin",
  "GET /v1/admin/analytics/daily": "platform admin",
  "POST /v1/events/{id}/holds": "buyer",
  "GET /v1/holds/{id}": "buyer",
  "DELETE /v1/holds/{id}": "buyer",
  "GET /v1/events/{id}/seats": "public",
  "GET /v1/events/{id}/live": "public",
  "POST /v1/bookings": "buyer",
  "GET /v1/bookings": "buyer",
  "GET /v1/bookings/{id}": "buyer",
  "GET /v1/bookings/{id}/events": "buyer",
  "POST /v1/bookings/{id}/cancel": "buyer",
  "GET /v1/notifications": "own account",
  "POST /v1/events/{id}/waitlist": "buyer",
  "GET /v1/events/{id}/waitlist/me": "buyer",
  "DELETE /v1/events/{id}/waitlist/me": "buyer",
  "GET /v1/events/{id}/queue/challenge": "buyer",
  "POST /v1/events/{id}/queue": "buyer",
  "GET /v1/events/{id}/queue/me": "buyer",
  "GET /v1/events/{id}/queue/live": "buyer",
  "GET /v1/events/{id}/ticket-types": "public (hidden types: members)",
  "GET /v1/tickets": "buyer",
  "GET /v1/tickets/{id}": "buyer",
  "GET /v1/tickets/{id}/qr.svg": "buyer",
  "POST /v1/tickets/{id}/transfer": "buyer",
  "GET /v1/webhooks": "filtered by membership (webhook.manage); ?orgId= checks it",
  "GET /v1/orgs": "own memberships",
  "POST /v1/orgs": "any organizer",
  "POST /v1/invitations/preview": "the link's holder",
  "POST /v1/invitations/accept": "the invited account, with the link",
  "POST /v1/payments/stripe/webhook": "Stripe",
};

type Caller = OrgRole | "outsider" | "removed" | "buyer" | "platform_admin";
const CALLERS: Caller[] = [...ORG_ROLES, "outsider", "removed", "buyer", "platform_admin"];

interface Sample {
  path: string;
  body?: unknown;
  /** Runs after the call (restores what an allowed call changed). */
  after?: () => Promise<void>;
}

const users = {} as Record<Caller, TestUser>;
const world = { orgId: "", venueId: "", eventId: "", listId: "", targetUserId: "", hookId: "" };
const ownerAuth = () => users.owner.auth;

const start = Date.now() + 30 * 86_400_000;
const eventBody = (venueId: string, name = "Matrix night") => ({
  venueId, name, description: "", category: "music", seating: "general", capacity: 50,
  startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString(), priceCents: 1000, currency: "EUR",
});

async function post(path: string, json: unknown, headers = ownerAuth()): Promise<any> {
  const res = await call(path, { method: "POST", headers, json });
  const body = await res.json();
  if (res.status >= 300) throw new Error(`fixture ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const freshVenue = async () => (await post("/v1/venues", { orgId: world.orgId, name: "Spare hall", city: "Berlin", address: "x", timezone: "Europe/Berlin", capacity: 100 })).id as string;
const freshEvent = async () => (await post("/v1/events", eventBody(world.venueId, "Fresh night"))).id as string;
const addMember = (orgId: string, userId: string, role: OrgRole) =>
  withDb((db) => db.insert(organizationMembers).values({ orgId, userId, role }).onConflictDoUpdate({ target: [organizationMembers.orgId, organizationMembers.userId], set: { role } }));

let n = 0;
const uniq = () => `${Date.now().toString(36)}${(n++).toString(36)}`;

/** One sample request per organizer route; `{}` parts are filled from the world. */
const SAMPLES: Record<string, (caller: Caller) => Promise<Sample>> = {
  "POST /v1/venues": async () => ({ path: "/v1/venues", body: { orgId: world.orgId, name: "New hall", city: "Berlin", address: "x", timezone: "Europe/Berlin", capacity: 10 } }),
  "PATCH /v1/venues/{id}": async () => ({ path: `/v1/venues/${world.venueId}`, body: { name: "Renamed hall" } }),
  "DELETE /v1/venues/{id}": async () => ({ path: `/v1/venues/${await freshVenue()}` }),
  "POST /v1/events": async () => ({ path: "/v1/events", body: eventBody(world.venueId, "Created night") }),
  "PATCH /v1/events/{id}": async () => ({ path: `/v1/events/${world.eventId}`, body: { name: "Renamed night" } }),
  "POST /v1/events/{id}/publish": async () => ({ path: `/v1/events/${await freshEvent()}/publish` }),
  "POST /v1/events/{id}/cancel": async () => ({ path: `/v1/events/${await freshEvent()}/cancel` }),
  "GET /v1/admin/analytics/events/{id}": async () => ({ path: `/v1/admin/analytics/events/${world.eventId}` }),
  "PUT /v1/events/{id}/on-sale": async () => ({ path: `/v1/events/${world.eventId}/on-sale`, body: { opensAt: new Date(start - 86_400_000).toISOString() } }),
  "DELETE /v1/events/{id}/on-sale": async () => ({ path: `/v1/events/${world.eventId}/on-sale` }),
  "GET /v1/events/{id}/queue/stats": async () => ({ path: `/v1/events/${world.eventId}/queue/stats` }),
  "POST /v1/events/{id}/ticket-types": async () => ({ path: `/v1/events/${world.eventId}/ticket-types`, body: { name: `T${uniq()}`, priceCents: 100 } }),
  "PATCH /v1/events/{id}/ticket-types/{typeId}": async () => ({ path: `/v1/events/${world.eventId}/ticket-types/tt_default`, body: { name: "Standard" } }),
  "DELETE /v1/events/{id}/ticket-types/{typeId}": async () => {
    const t = await post(`/v1/events/${world.eventId}/ticket-types`, { name: `Gone${uniq()}`, priceCents: 100 });
    return { path: `/v1/events/${world.eventId}/ticket-types/${t.id}` };
  },
  "POST /v1/events/{id}/vouchers": async () => ({ path: `/v1/events/${world.eventId}/vouchers`, body: { code: `V${uniq()}`.toUpperCase(), discount: { kind: "percent", value: 5 }, maxUsages: 1 } }),
  "GET /v1/events/{id}/vouchers": async () => ({ path: `/v1/events/${world.eventId}/vouchers` }),
  "POST /v1/events/{id}/checkin-lists": async () => ({ path: `/v1/events/${world.eventId}/checkin-lists`, body: { name: "Side door" } }),
  "GET /v1/events/{id}/checkin-lists": async () => ({ path: `/v1/events/${world.eventId}/checkin-lists` }),
  "POST /v1/events/{id}/scanners": async () => ({ path: `/v1/events/${world.eventId}/scanners`, body: { name: "Phone" } }),
  "DELETE /v1/events/{id}/scanners/{scannerId}": async () => {
    const s = await post(`/v1/events/${world.eventId}/scanners`, { name: "Old phone" });
    return { path: `/v1/events/${world.eventId}/scanners/${s.id}` };
  },
  "GET /v1/events/{id}/checkin/keys": async () => ({ path: `/v1/events/${world.eventId}/checkin/keys` }),
  "POST /v1/checkin/redeem": async () => ({ path: "/v1/checkin/redeem", body: { listId: world.listId, code: "not-a-ticket", nonce: uniq() } }),
  "POST /v1/checkin/sync": async () => ({ path: "/v1/checkin/sync", body: { listId: world.listId, scans: [{ code: "not-a-ticket", nonce: uniq(), at: new Date().toISOString() }] } }),
  "GET /v1/events/{id}/exports/attendees.csv": async () => ({ path: `/v1/events/${world.eventId}/exports/attendees.csv` }),
  "GET /v1/events/{id}/exports/bookings.csv": async () => ({ path: `/v1/events/${world.eventId}/exports/bookings.csv` }),
  "GET /v1/orgs/{id}": async () => ({ path: `/v1/orgs/${world.orgId}` }),
  "PATCH /v1/orgs/{id}": async () => ({ path: `/v1/orgs/${world.orgId}`, body: { name: "Matrix GmbH" } }),
  "GET /v1/orgs/{id}/members": async () => ({ path: `/v1/orgs/${world.orgId}/members` }),
  "PATCH /v1/orgs/{id}/members/{userId}": async () => ({ path: `/v1/orgs/${world.orgId}/members/${world.targetUserId}`, body: { role: "viewer" } }),
  "DELETE /v1/orgs/{id}/members/{userId}": async () => {
    const u = await makeUser("user", "leaver");
    await addMember(world.orgId, u.id, "viewer");
    return { path: `/v1/orgs/${world.orgId}/members/${u.id}` };
  },
  "POST /v1/orgs/{id}/leave": async (caller) => ({
    path: `/v1/orgs/${world.orgId}/leave`,
    // Whoever left comes back for the next row.
    after: async () => {
      if ((ORG_ROLES as readonly string[]).includes(caller)) await addMember(world.orgId, users[caller].id, caller as OrgRole);
    },
  }),
  "GET /v1/orgs/{id}/invitations": async () => ({ path: `/v1/orgs/${world.orgId}/invitations` }),
  "POST /v1/orgs/{id}/invitations": async () => ({ path: `/v1/orgs/${world.orgId}/invitations`, body: { email: `new-${uniq()}@evently.test`, role: "door" } }),
  "DELETE /v1/orgs/{id}/invitations/{invitationId}": async () => {
    const i = await post(`/v1/orgs/${world.orgId}/invitations`, { email: `gone-${uniq()}@evently.test`, role: "viewer" });
    return { path: `/v1/orgs/${world.orgId}/invitations/${i.id}` };
  },
  "GET /v1/orgs/{id}/audit": async () => ({ path: `/v1/orgs/${world.orgId}/audit` }),
  "POST /v1/webhooks": async () => ({ path: "/v1/webhooks", body: { url: "https://hooks.example.com/matrix", events: ["booking.confirmed"], orgId: world.orgId } }),
  "DELETE /v1/webhooks/{id}": async () => ({ path: `/v1/webhooks/${(await post("/v1/webhooks", { url: "https://hooks.example.com/gone", events: ["booking.confirmed"], orgId: world.orgId })).id}` }),
  "GET /v1/webhooks/{id}": async () => ({ path: `/v1/webhooks/${world.hookId}` }),
  "PATCH /v1/webhooks/{id}": async () => ({ path: `/v1/webhooks/${world.hookId}`, body: { events: ["booking.confirmed", "booking.cancelled"] } }),
  "GET /v1/webhooks/{id}/deliveries": async () => ({ path: `/v1/webhooks/${world.hookId}/deliveries` }),
  // No such delivery: an allowed caller gets 404 "No such delivery", nothing is sent anywhere.
  "POST /v1/webhooks/{id}/deliveries/{deliveryId}/replay": async () => ({ path: `/v1/webhooks/${world.hookId}/deliveries/${crypto.randomUUID()}/replay` }),
};

interface Operation {
  key: string;
  method: string;
  action?: Action;
}

let operations: Operation[] = [];

beforeAll(async () => {
  const doc = (await (await call("/openapi.json")).json()) as { paths: Record<string, Record<string, { "x-evently-action"?: Action }>> };
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), action: op["x-evently-action"] })),
  );

  const owner = await makeUser("organizer", "owner");
  users.owner = owner;
  world.orgId = (await post("/v1/orgs", { name: "Matrix AG" }, owner.auth)).id;
  for (const role of ORG_ROLES.filter((r) => r !== "owner")) {
    users[role] = await makeUser("user", role);
    await addMember(world.orgId, users[role].id, role);
  }
  users.outsider = await makeUser("organizer", "outsider");
  await post("/v1/orgs", { name: "Elsewhere Ltd" }, users.outsider.auth);
  users.removed = await makeUser("user", "removed");
  await addMember(world.orgId, users.removed.id, "admin");
  expect((await call(`/v1/orgs/${world.orgId}/members/${users.removed.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
  users.buyer = await makeUser("user", "buyer");
  users.platform_admin = await makeUser("admin", "platform");
  const target = await makeUser("user", "target");
  await addMember(world.orgId, target.id, "viewer");
  world.targetUserId = target.id;

  world.venueId = (await post("/v1/venues", { orgId: world.orgId, name: "Matrix hall", city: "Berlin", address: "x", timezone: "Europe/Berlin", capacity: 100 })).id;
  world.eventId = await freshEvent();
  world.listId = (await post(`/v1/events/${world.eventId}/checkin-lists`, { name: "Main door" })).id;
  world.hookId = (await post("/v1/webhooks", { url: "https://hooks.example.com/world", events: ["booking.confirmed"], eventId: world.eventId })).id;
});

async function check(op: Operation, action: Action, caller: Caller): Promise<string | null> {
  const allowed = caller === "platform_admin" || ((ORG_ROLES as readonly string[]).includes(caller) && PERMISSIONS[action].includes(caller as OrgRole));
  const sample = await SAMPLES[op.key](caller);
  const res = await call(sample.path, { method: op.method, headers: users[caller].auth, ...(sample.body === undefined ? {} : { json: sample.body }) });
  const text = await res.text();
  await sample.after?.();
  const error = res.headers.get("content-type")?.includes("json") ? (JSON.parse(text) as { error?: { code?: string; message?: string } }).error : undefined;
  // Refused: 401/403, or the 404 that hides a draft or an organization from outsiders.
  const refused = res.status === 401 || res.status === 403 || (res.status === 404 && /^No such (event|organization|venue|webhook)$/.test(error?.message ?? ""));
  const said = `${res.status} ${text.slice(0, 160)}`;
  if (allowed && refused) return `${caller}: allowed by ${action} but answered ${said}`;
  if (!allowed && !refused) return `${caller}: refused by ${action} but answered ${said}`;
  // A member the table refuses still sees that the organization's things exist: 403, never 404.
  if (!allowed && (ORG_ROLES as readonly string[]).includes(caller) && res.status !== 403) return `${caller}: a member refused ${action} should get 403, got ${said}`;
  if (res.status >= 500) return `${caller}: ${said}`;
  return null;
}

describe("organizations: the role x route matrix", () => {
  it("every route of the API declares its organization action or is listed as someone else's business", () => {
    const unruled = operations.filter((o) => !o.action && !(o.key in NOT_ORGANIZER)).map((o) => o.key);
    expect(unruled).toEqual([]);
    const stale = Object.keys(NOT_ORGANIZER).filter((k) => !operations.some((o) => o.key === k));
    expect(stale).toEqual([]);
  });

  it("every organizer route has a sample request in this matrix", () => {
    expect(operations.filter((o) => o.action && !SAMPLES[o.key]).map((o) => o.key)).toEqual([]);
  });

  // One test per route; its ten callers call at once (each leaves and comes back on its own).
  for (const key of Object.keys(SAMPLES)) {
    it(`${key}: every caller answered as the permissions table says`, async () => {
      const op = operations.find((o) => o.key === key);
      expect(op?.action, `${key} is not an organizer route of /openapi.json`).toBeDefined();
      const action = op!.action!;
      const wrong = await Promise.all(CALLERS.map((caller) => check(op!, action, caller)));
      expect(wrong.filter((w) => w !== null)).toEqual([]);
    });
  }

  it("keeps the world it ran in: the removed member is still out, the owner still in", async () => {
    const rows = await withDb((db) => db.select().from(organizationMembers).where(and(eq(organizationMembers.orgId, world.orgId), eq(organizationMembers.userId, users.removed.id))));
    expect(rows).toEqual([]);
    expect((await call(`/v1/orgs/${world.orgId}`, { headers: users.owner.auth })).status).toBe(200);
  });
});
