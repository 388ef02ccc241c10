import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { organizationInvitations, organizationMembers } from "../../src/db/schema";
import type { OrgRole } from "../../src/services/permissions";
import { type TestUser, call, expectError, freshIp, makeUser, withDb } from "../helpers/fixtures";

const start = Date.now() + 30 * 86_400_000;

async function send(method: string, path: string, who: TestUser | null, json?: unknown): Promise<{ status: number; body: any }> {
  const res = await call(path, { method, headers: who ? who.auth : {}, ...(json === undefined ? {} : { json }) });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text };
}
const post = (path: string, who: TestUser | null, json?: unknown) => send("POST", path, who, json);
const get = (path: string, who: TestUser | null) => send("GET", path, who);

const addMember = (orgId: string, userId: string, role: OrgRole) => withDb((db) => db.insert(organizationMembers).values({ orgId, userId, role }));

/** A company with its owner, a venue and a draft event. */
async function company(name = "Acme") {
  const owner = await makeUser("organizer", "owner");
  const org = (await post("/v1/orgs", owner, { name })).body;
  const venue = (await post("/v1/venues", owner, { orgId: org.id, name: `${name} hall`, city: "Porto", address: "x", timezone: "Europe/Lisbon", capacity: 100 })).body;
  const event = (
    await post("/v1/events", owner, {
      venueId: venue.id, name: `${name} night`, category: "music", seating: "general", capacity: 50,
      startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString(), priceCents: 1000, currency: "EUR",
    })
  ).body;
  expect(event.orgId).toBe(org.id);
  return { owner, orgId: org.id as string, venueId: venue.id as string, eventId: event.id as string };
}

describe("removing a member or changing a role", () => {
  it("ends a removed door member's access on their next request, and their scanners stop working", async () => {
    const c = await company();
    const door = await makeUser("user", "door");
    await addMember(c.orgId, door.id, "door");
    expect((await get(`/v1/events/${c.eventId}/checkin-lists`, door)).status).toBe(200);
    const scanner = (await post(`/v1/events/${c.eventId}/scanners`, door, { name: "Door phone" })).body;
    const scannerAuth = { authorization: `Bearer ${scanner.token}` };
    expect((await call(`/v1/events/${c.eventId}/checkin/keys`, { headers: scannerAuth })).status).toBe(200);

    expect((await send("DELETE", `/v1/orgs/${c.orgId}/members/${door.id}`, c.owner)).status).toBe(204);

    const after = await get(`/v1/events/${c.eventId}/checkin-lists`, door);
    expect(after.status).toBe(403);
    expect((await call(`/v1/events/${c.eventId}/checkin/keys`, { headers: scannerAuth })).status).toBe(401);
    // The owner's own scanners are not touched.
    const own = (await post(`/v1/events/${c.eventId}/scanners`, c.owner, { name: "Owner phone" })).body;
    expect((await call(`/v1/events/${c.eventId}/checkin/keys`, { headers: { authorization: `Bearer ${own.token}` } })).status).toBe(200);
  });

  it("applies a role change to the member's very next request", async () => {
    const c = await company();
    const clerk = await makeUser("user", "clerk");
    await addMember(c.orgId, clerk.id, "box_office");
    expect((await get(`/v1/events/${c.eventId}/exports/bookings.csv`, clerk)).status).toBe(200);
    expect((await send("PATCH", `/v1/orgs/${c.orgId}/members/${clerk.id}`, c.owner, { role: "viewer" })).status).toBe(200);
    expect((await get(`/v1/events/${c.eventId}/exports/bookings.csv`, clerk)).status).toBe(403);
    expect((await get(`/v1/admin/analytics/events/${c.eventId}`, clerk)).status).toBe(200);
  });

  it("stops the scanners of a member whose new role no longer covers them, and says so in the audit", async () => {
    const c = await company();
    const other = (
      await post("/v1/events", c.owner, {
        venueId: c.venueId, name: "Second night", category: "music", seating: "general", capacity: 10,
        startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString(), priceCents: 1000, currency: "EUR",
      })
    ).body;
    const works = async (scanner: { token: string }, eventId: string) =>
      (await call(`/v1/events/${eventId}/checkin/keys`, { headers: { authorization: `Bearer ${scanner.token}` } })).status === 200;
    const staff = await makeUser("user", "manager");
    await addMember(c.orgId, staff.id, "event_manager");
    const first = (await post(`/v1/events/${c.eventId}/scanners`, staff, { name: "First door" })).body;
    const second = (await post(`/v1/events/${other.id}/scanners`, staff, { name: "Second door" })).body;
    const owners = (await post(`/v1/events/${other.id}/scanners`, c.owner, { name: "Owner's phone" })).body;

    // Narrowed to the first event: the second event's scanner stops, the first keeps working.
    expect((await send("PATCH", `/v1/orgs/${c.orgId}/members/${staff.id}`, c.owner, { role: "event_manager", eventIds: [c.eventId] })).status).toBe(200);
    expect(await works(first, c.eventId)).toBe(true);
    expect(await works(second, other.id)).toBe(false);

    // A role without check-in: every scanner they made stops; the owner's stays.
    expect((await send("PATCH", `/v1/orgs/${c.orgId}/members/${staff.id}`, c.owner, { role: "viewer" })).status).toBe(200);
    expect(await works(first, c.eventId)).toBe(false);
    expect(await works(owners, other.id)).toBe(true);

    const log = (await get(`/v1/orgs/${c.orgId}/audit`, c.owner)).body.data.filter((e: any) => e.action === "org.role_changed");
    expect(log.map((e: any) => [e.detail.to, e.detail.scannersRevoked])).toEqual([["viewer", 1], ["event_manager", 1]]);
  });

  it("leaves a door member's scanners working when they become an event manager of every event", async () => {
    const c = await company();
    const door = await makeUser("user", "door");
    await addMember(c.orgId, door.id, "door");
    const scanner = (await post(`/v1/events/${c.eventId}/scanners`, door, { name: "Door phone" })).body;
    expect((await send("PATCH", `/v1/orgs/${c.orgId}/members/${door.id}`, c.owner, { role: "event_manager" })).status).toBe(200);
    expect((await call(`/v1/events/${c.eventId}/checkin/keys`, { headers: { authorization: `Bearer ${scanner.token}` } })).status).toBe(200);
  });

  it("keeps an event manager limited to chosen events away from the others", async () => {
    const c = await company();
    const other = (
      await post("/v1/events", c.owner, {
        venueId: c.venueId, name: "Other night", category: "music", seating: "general", capacity: 10,
        startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString(), priceCents: 1000, currency: "EUR",
      })
    ).body;
    const freelancer = await makeUser("user", "freelancer");
    await addMember(c.orgId, freelancer.id, "viewer");
    expect((await send("PATCH", `/v1/orgs/${c.orgId}/members/${freelancer.id}`, c.owner, { role: "event_manager", eventIds: [c.eventId] })).status).toBe(200);
    expect((await send("PATCH", `/v1/events/${c.eventId}`, freelancer, { name: "Mine now" })).status).toBe(200);
    expect((await send("PATCH", `/v1/events/${other.id}`, freelancer, { name: "Not mine" })).status).toBe(404);
    const drafts = (await get(`/v1/events?status=draft&orgId=${c.orgId}`, freelancer)).body.data.map((e: any) => e.id);
    expect(drafts).toEqual([c.eventId]);
  });
});

describe("the last owner", () => {
  it("cannot leave, be removed or be demoted; a second owner makes it possible", async () => {
    const c = await company();
    expectError((await post(`/v1/orgs/${c.orgId}/leave`, c.owner)).body, "LAST_OWNER");
    const admin = await makeUser("user", "org-admin");
    await addMember(c.orgId, admin.id, "admin");
    // An organization admin may not touch an owner at all.
    expect((await send("DELETE", `/v1/orgs/${c.orgId}/members/${c.owner.id}`, admin)).status).toBe(403);
    expect((await send("PATCH", `/v1/orgs/${c.orgId}/members/${admin.id}`, admin, { role: "owner" })).status).toBe(403);
    expectError((await send("PATCH", `/v1/orgs/${c.orgId}/members/${c.owner.id}`, c.owner, { role: "admin" })).body, "LAST_OWNER");
    expect((await send("PATCH", `/v1/orgs/${c.orgId}/members/${admin.id}`, c.owner, { role: "owner" })).status).toBe(200);
    expect((await post(`/v1/orgs/${c.orgId}/leave`, c.owner)).status).toBe(204);
    expect((await get(`/v1/orgs/${c.orgId}`, c.owner)).status).toBe(404);
  });

  it("survives two owners removing each other at once: one of them stays", async () => {
    const c = await company();
    const second = await makeUser("user", "second-owner");
    await addMember(c.orgId, second.id, "owner");
    const [a, b] = await Promise.all([
      send("DELETE", `/v1/orgs/${c.orgId}/members/${second.id}`, c.owner),
      send("DELETE", `/v1/orgs/${c.orgId}/members/${c.owner.id}`, second),
    ]);
    // One removal wins; the loser is either refused as no longer a member or finds the last owner.
    expect([a, b].filter((r) => r.status === 204)).toHaveLength(1);
    expect([403, 404, 409]).toContain([a, b].find((r) => r.status !== 204)!.status);
    const owners = await withDb((db) => db.select().from(organizationMembers).where(eq(organizationMembers.orgId, c.orgId)));
    expect(owners.filter((m) => m.role === "owner")).toHaveLength(1);
  });
});

describe("invitations", () => {
  let c: Awaited<ReturnType<typeof company>>;
  beforeAll(async () => {
    c = await company("Invites");
  });

  async function invite(role: OrgRole = "door") {
    const invitee = await makeUser("user", "invitee");
    const res = await post(`/v1/orgs/${c.orgId}/invitations`, c.owner, { email: invitee.email.toUpperCase(), role });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { invitee, invitation: res.body as { id: string; token: string } };
  }

  it("lets the invited account accept once: it becomes a member; the link then answers INVITATION_USED", async () => {
    const { invitee, invitation } = await invite("box_office");
    const [row] = await withDb((db) => db.select().from(organizationInvitations).where(eq(organizationInvitations.id, invitation.id)));
    expect(row.tokenHash).not.toContain(invitation.token.slice(0, 20));
    const preview = await post("/v1/invitations/preview", invitee, { token: invitation.token });
    expect(preview.body).toMatchObject({ orgId: c.orgId, orgName: "Invites", email: invitee.email.toLowerCase(), role: "box_office", eventIds: null, forYou: true });
    const accepted = await post("/v1/invitations/accept", invitee, { token: invitation.token });
    expect(accepted.body).toEqual({ orgId: c.orgId, role: "box_office" });
    expect((await get(`/v1/events/${c.eventId}/exports/attendees.csv`, invitee)).status).toBe(200);
    const again = await post("/v1/invitations/accept", invitee, { token: invitation.token });
    expect(again.status).toBe(409);
    expectError(again.body, "INVITATION_USED");
    const mine = (await get("/v1/orgs", invitee)).body;
    expect(mine.data.map((o: any) => [o.id, o.role])).toEqual([[c.orgId, "box_office"]]);
    expect(mine.invitations).toBeUndefined();
    expectError((await post("/v1/invitations/preview", invitee, { token: invitation.token })).body, "INVITATION_USED");
  });

  it("refuses another account, even a signed-in one with the link", async () => {
    const { invitation } = await invite();
    const stranger = await makeUser("user", "stranger");
    const res = await post("/v1/invitations/accept", stranger, { token: invitation.token });
    expect(res.status).toBe(403);
    expectError(res.body, "INVITATION_WRONG_ACCOUNT");
    // The link's holder may see what it invites to, and that it is not for this account.
    expect((await post("/v1/invitations/preview", stranger, { token: invitation.token })).body).toMatchObject({ orgName: "Invites", role: "door", forYou: false });
  });

  it("does not let someone who registers with the invitee's unverified email see or accept the invitation without the link", async () => {
    const email = `not-yet-registered-${crypto.randomUUID()}@evently.test`;
    const invitation = (await post(`/v1/orgs/${c.orgId}/invitations`, c.owner, { email, role: "admin" })).body;
    // Registering checks no mailbox: anyone can take the invitee's address first.
    const reg = await call("/v1/auth/register", { method: "POST", json: { email, password: "a perfectly fine passphrase", name: "Squatter" }, headers: freshIp() });
    expect(reg.status).toBe(201);
    const registered = (await reg.json()) as any;
    const squatter = { id: registered.user.id, auth: { authorization: `Bearer ${registered.accessToken}` } } as TestUser;

    const mine = (await get("/v1/orgs", squatter)).body;
    expect(JSON.stringify(mine)).not.toContain(invitation.id);
    expect(JSON.stringify(mine)).not.toContain("Invites");
    const byId = await post("/v1/invitations/accept", squatter, { invitationId: invitation.id });
    expect(byId.status).toBe(400);
    expectError(byId.body, "VALIDATION_FAILED");
    expect(JSON.stringify(byId.body.error)).toContain("link");
    const members = await withDb((db) => db.select().from(organizationMembers).where(eq(organizationMembers.orgId, c.orgId)));
    expect(members.map((m) => m.userId)).not.toContain(squatter.id);
  });

  it("refuses a revoked invitation and an expired one, and a forged link", async () => {
    const revoked = await invite();
    expect((await send("DELETE", `/v1/orgs/${c.orgId}/invitations/${revoked.invitation.id}`, c.owner)).status).toBe(204);
    const r = await post("/v1/invitations/accept", revoked.invitee, { token: revoked.invitation.token });
    expect(r.status).toBe(410);
    expectError(r.body, "INVITATION_REVOKED");

    const expired = await invite();
    await withDb((db) => db.update(organizationInvitations).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(organizationInvitations.id, expired.invitation.id)));
    const e = await post("/v1/invitations/accept", expired.invitee, { token: expired.invitation.token });
    expect(e.status).toBe(410);
    expectError(e.body, "INVITATION_EXPIRED");

    const forged = expired.invitation.token.slice(0, -4) + (expired.invitation.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    expectError((await post("/v1/invitations/accept", expired.invitee, { token: forged })).body, "INVITATION_INVALID");
    const members = await withDb((db) => db.select().from(organizationMembers).where(eq(organizationMembers.orgId, c.orgId)));
    expect(members.map((m) => m.userId)).not.toContain(expired.invitee.id);
  });

  it("lets one of two accepts at once win; the other is told the invitation was used", async () => {
    const { invitee, invitation } = await invite();
    const both = await Promise.all([post("/v1/invitations/accept", invitee, { token: invitation.token }), post("/v1/invitations/accept", invitee, { token: invitation.token })]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    expectError(both.find((r) => r.status === 409)!.body, "INVITATION_USED");
  });

  it("lets only an owner invite an owner", async () => {
    const admin = await makeUser("user", "inviting-admin");
    await addMember(c.orgId, admin.id, "admin");
    expect((await post(`/v1/orgs/${c.orgId}/invitations`, admin, { email: "boss@evently.test", role: "owner" })).status).toBe(403);
    expect((await post(`/v1/orgs/${c.orgId}/invitations`, admin, { email: "door@evently.test", role: "door" })).status).toBe(201);
  });
});

describe("audit", () => {
  it("shows owners and admins who invited, accepted, changed a role and removed whom; not the box office", async () => {
    const c = await company("Audited");
    const invitee = await makeUser("user", "audited");
    const inv = (await post(`/v1/orgs/${c.orgId}/invitations`, c.owner, { email: invitee.email, role: "door" })).body;
    await post("/v1/invitations/accept", invitee, { token: inv.token });
    await send("PATCH", `/v1/orgs/${c.orgId}/members/${invitee.id}`, c.owner, { role: "box_office" });
    expect((await get(`/v1/orgs/${c.orgId}/audit`, invitee)).status).toBe(403);
    await send("DELETE", `/v1/orgs/${c.orgId}/members/${invitee.id}`, c.owner);
    const log = (await get(`/v1/orgs/${c.orgId}/audit`, c.owner)).body.data;
    expect(log.map((e: any) => [e.action, e.actorId])).toEqual([
      ["org.member_removed", c.owner.id],
      ["org.role_changed", c.owner.id],
      ["org.invitation_accepted", invitee.id],
      ["org.invited", c.owner.id],
      ["org.created", c.owner.id],
    ]);
    expect(log[0].detail).toMatchObject({ userId: invitee.id, role: "box_office" });
  });
});

describe("object-level authorization across organizations", () => {
  it("refuses a member of one organization everything of another's: venues, events, products, vouchers, exports, scanners, analytics, webhooks", async () => {
    const a = await company("North");
    const b = await company("South");
    await post(`/v1/events/${b.eventId}/publish`, b.owner);
    const hook = (await post("/v1/webhooks", b.owner, { url: "https://hooks.example.com/south", events: ["booking.confirmed"], orgId: b.orgId })).body;
    expect(hook.orgId).toBe(b.orgId);
    const tries: [string, string, unknown?][] = [
      ["PATCH", `/v1/venues/${b.venueId}`, { name: "Mine" }],
      ["DELETE", `/v1/venues/${b.venueId}`],
      ["POST", "/v1/venues", { orgId: b.orgId, name: "Sneaky", city: "x", address: "x", timezone: "UTC", capacity: 1 }],
      ["POST", "/v1/events", { venueId: b.venueId, name: "Sneaky", category: "x", seating: "general", capacity: 1, startsAt: new Date(start).toISOString(), endsAt: new Date(start + 1000).toISOString(), priceCents: 0, currency: "EUR" }],
      ["POST", "/v1/events", { orgId: a.orgId, venueId: b.venueId, name: "Sneaky", category: "x", seating: "general", capacity: 1, startsAt: new Date(start).toISOString(), endsAt: new Date(start + 1000).toISOString(), priceCents: 0, currency: "EUR" }],
      ["PATCH", `/v1/events/${b.eventId}`, { name: "Mine" }],
      ["POST", `/v1/events/${b.eventId}/ticket-types`, { name: "Mine", priceCents: 1 }],
      ["POST", `/v1/events/${b.eventId}/vouchers`, { code: "MINE", discount: { kind: "percent", value: 100 }, maxUsages: 9 }],
      ["GET", `/v1/events/${b.eventId}/vouchers`],
      ["GET", `/v1/events/${b.eventId}/exports/bookings.csv`],
      ["POST", `/v1/events/${b.eventId}/scanners`, { name: "Mine" }],
      ["GET", `/v1/admin/analytics/events/${b.eventId}`],
      ["POST", "/v1/webhooks", { url: "https://example.com/hook", events: ["booking.confirmed"], eventId: b.eventId }],
      ["POST", "/v1/webhooks", { url: "https://example.com/hook", events: ["booking.confirmed"], orgId: b.orgId }],
      ["POST", "/v1/webhooks", { url: "https://example.com/hook", events: ["booking.confirmed"], orgId: a.orgId, eventId: b.eventId }],
      ["GET", `/v1/webhooks?orgId=${b.orgId}`],
      ["GET", `/v1/webhooks/${hook.id}`],
      ["PATCH", `/v1/webhooks/${hook.id}`, { url: "https://attacker.example.com/x" }],
      ["GET", `/v1/webhooks/${hook.id}/deliveries`],
      ["POST", `/v1/webhooks/${hook.id}/deliveries/${crypto.randomUUID()}/replay`],
      ["DELETE", `/v1/webhooks/${hook.id}`],
      ["GET", `/v1/orgs/${b.orgId}/members`],
      ["POST", `/v1/orgs/${b.orgId}/invitations`, { email: "me@evently.test", role: "owner" }],
    ];
    for (const [method, path, json] of tries) {
      const res = await send(method, path, a.owner, json);
      expect([403, 404], `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
    }
    expect((await get("/v1/webhooks", a.owner)).body.data.map((h: any) => h.id)).not.toContain(hook.id);
    expect((await get(`/v1/webhooks?orgId=${b.orgId}`, b.owner)).body.data.map((h: any) => h.id)).toEqual([hook.id]);
    const types = (await get(`/v1/events/${b.eventId}/ticket-types`, a.owner)).body.data;
    expect(types.map((t: any) => t.name)).not.toContain("Mine");
    expect((await get(`/v1/venues?orgId=${b.orgId}`, null)).body.data.map((v: any) => v.id)).toEqual([b.venueId]);
  });
});
