import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { bookings, events, holdHistory, venues, waitlistEntries } from "../../src/db/schema";
import { refreshDailyStats } from "../../src/services/analytics";
import { call, expectError, makeUser, orgOf, withDb, type TestUser } from "../helpers/fixtures";

// Other test files share this database, so every booking here is made in March 2031 (and the
// freshness test in 2032): admin-wide figures are asserted only over those days.

interface BookingSpec {
  key: string;
  event: "e1" | "e2" | "e3";
  status: "pending" | "confirmed" | "failed" | "cancelled";
  quantity: number;
  cents: number;
  at: string;
  cancelledAt?: string;
}

// The hand-computed fixture. E1 (EUR, capacity 100) and E2 (USD, capacity 50) start in March 2031;
// E3 belongs to another organizer and starts in April, so March utilization leaves it out.
const BOOKINGS: BookingSpec[] = [
  { key: "b1", event: "e1", status: "confirmed", quantity: 2, cents: 10_000, at: "2031-03-01T10:00:00Z" },
  { key: "b2", event: "e1", status: "confirmed", quantity: 3, cents: 15_000, at: "2031-03-01T23:30:00Z" },
  { key: "b3", event: "e1", status: "cancelled", quantity: 1, cents: 5_000, at: "2031-03-02T09:00:00Z", cancelledAt: "2031-03-04T12:00:00Z" },
  { key: "b4", event: "e1", status: "failed", quantity: 4, cents: 20_000, at: "2031-03-02T11:00:00Z" },
  { key: "b5", event: "e1", status: "pending", quantity: 1, cents: 5_000, at: "2031-03-03T08:00:00Z" },
  { key: "b6", event: "e2", status: "confirmed", quantity: 4, cents: 6_000, at: "2031-03-02T15:00:00Z" },
  { key: "b7", event: "e2", status: "cancelled", quantity: 2, cents: 3_000, at: "2031-03-03T10:00:00Z", cancelledAt: "2031-03-03T20:00:00Z" },
  { key: "b8", event: "e3", status: "confirmed", quantity: 1, cents: 1_000, at: "2031-03-05T12:00:00Z" },
];

let admin: TestUser;
let organizer: TestUser;
let otherOrganizer: TestUser;
let buyer: TestUser;
const ids = { e1: "", e2: "", e3: "" };

async function insertEvent(owner: TestUser, o: { name: string; capacity: number; currency: string; start: string; status: "published" | "completed" | "draft" }) {
  return withDb(async (db) => {
    const orgId = await orgOf(db, owner.id);
    const [venue] = await db
      .insert(venues)
      .values({ ownerId: owner.id, orgId, name: `${o.name} hall`, city: "Testville", address: "1 Test St", timezone: "UTC", capacity: 1000 })
      .returning();
    const start = new Date(o.start);
    const [event] = await db
      .insert(events)
      .values({
        venueId: venue.id,
        orgId,
        organizerId: owner.id,
        name: o.name,
        category: "music",
        city: "Testville",
        timezone: "UTC",
        status: o.status,
        seating: "general",
        startTime: start,
        endTime: new Date(start.getTime() + 3 * 3600_000),
        capacity: o.capacity,
        priceCents: 5_000,
        currency: o.currency,
      })
      .returning();
    return event.id;
  });
}

function bookingRow(b: BookingSpec, eventId: string, currency: string, userId: string) {
  const at = new Date(b.at);
  const confirmed = b.status === "confirmed" || b.status === "cancelled";
  return {
    userId,
    eventId,
    holdId: `hld_${b.key}_${crypto.randomUUID()}`,
    status: b.status,
    quantity: b.quantity,
    totalAmountCents: b.cents,
    currency,
    paymentMethod: "pm_card_ok",
    paymentDeadline: new Date(at.getTime() + 600_000),
    confirmedAt: confirmed ? new Date(at.getTime() + 20_000) : null,
    cancelledAt: b.cancelledAt ? new Date(b.cancelledAt) : null,
    createdAt: at,
    updatedAt: at,
  };
}

const get = (path: string, user?: TestUser) => call(path, { headers: user?.auth });

beforeAll(async () => {
  [admin, organizer, otherOrganizer, buyer] = await Promise.all([makeUser("admin"), makeUser("organizer"), makeUser("organizer"), makeUser("user")]);
  ids.e1 = await insertEvent(organizer, { name: "Analytics E1", capacity: 100, currency: "EUR", start: "2031-03-10T19:00:00Z", status: "published" });
  ids.e2 = await insertEvent(organizer, { name: "Analytics E2", capacity: 50, currency: "USD", start: "2031-03-20T19:00:00Z", status: "completed" });
  ids.e3 = await insertEvent(otherOrganizer, { name: "Analytics E3", capacity: 10, currency: "EUR", start: "2031-04-15T19:00:00Z", status: "published" });
  const currency = { e1: "EUR", e2: "USD", e3: "EUR" };
  await withDb(async (db) => {
    await db.insert(bookings).values(BOOKINGS.map((b) => bookingRow(b, ids[b.event], currency[b.event], buyer.id)));
    // E1's holds: five became bookings (three committed, one released after a failed payment, one
    // still pending), one expired unbooked, one is still open.
    const hold = (holdId: string, kind: "created" | "committed" | "released" | "expired", at: string) => ({
      holdId, kind, eventId: ids.e1, userId: buyer.id, quantity: 1, at: new Date(at),
    });
    const h = (n: number) => `hld_e1_${n}_${ids.e1}`;
    await db.insert(holdHistory).values([
      ...[1, 2, 3, 4, 5, 6, 7].map((n) => hold(h(n), "created", "2031-03-01T09:00:00Z")),
      ...[1, 2, 3].map((n) => hold(h(n), "committed", "2031-03-01T09:05:00Z")),
      hold(h(4), "released", "2031-03-02T11:10:00Z"),
      hold(h(6), "expired", "2031-03-01T09:10:00Z"),
    ]);
    const entry = (n: number, status: "waiting" | "offered" | "expired" | "converted" | "left" | "cancelled", quantity: number, offered: boolean) => ({
      id: `wl_${n}_${ids.e1}`, eventId: ids.e1, userId: buyer.id, quantity, status,
      joinedAt: new Date("2031-03-05T00:00:00Z"), offeredAt: offered ? new Date("2031-03-06T00:00:00Z") : null,
    });
    await db.insert(waitlistEntries).values([
      entry(1, "waiting", 2, false),
      entry(2, "waiting", 1, false),
      entry(3, "offered", 2, true),
      entry(4, "expired", 1, true),
      entry(5, "converted", 3, true),
      entry(6, "left", 1, false),
      entry(7, "cancelled", 2, false),
    ]);
    await refreshDailyStats(db);
  });
});

describe("admin analytics over hand-computed bookings", () => {
  it("totals March 2031: bookings by status, seats, revenue per currency, cancellation rate, utilization", async () => {
    const res = await get("/v1/admin/analytics/overview?from=2031-03-01&to=2031-03-31", admin);
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({
      from: "2031-03-01",
      to: "2031-03-31",
      bookings: { total: 8, confirmed: 4, cancelled: 2, failed: 1, pending: 1 },
      seatsSold: 10,
      revenueCents: { EUR: 26_000, USD: 6_000 },
      utilization: { events: 2, capacity: 150, seatsSold: 9 },
    });
    expect(body.cancellationRate).toBeCloseTo(2 / 6, 10);
    expect(body.utilization.rate).toBeCloseTo(9 / 150, 10);
    expect(Date.parse(body.asOf)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("answers an empty range with zeros and null rates rather than dividing by zero", async () => {
    const res = await get("/v1/admin/analytics/overview?from=2031-01-01&to=2031-01-31", admin);
    const body: any = await res.json();
    expect(body).toMatchObject({ bookings: { total: 0 }, seatsSold: 0, revenueCents: {}, cancellationRate: null, utilization: { rate: null, events: 0 } });
  });

  it("gives one point per day, with cancellations on the day they happened", async () => {
    const res = await get("/v1/admin/analytics/daily?from=2031-03-01&to=2031-03-06", admin);
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data).toEqual([
      { day: "2031-03-01", bookings: 2, confirmed: 2, seatsSold: 5, revenueCents: { EUR: 25_000 }, cancellations: 0, refundedCents: {} },
      { day: "2031-03-02", bookings: 3, confirmed: 1, seatsSold: 4, revenueCents: { USD: 6_000 }, cancellations: 0, refundedCents: {} },
      { day: "2031-03-03", bookings: 2, confirmed: 0, seatsSold: 0, revenueCents: {}, cancellations: 1, refundedCents: { USD: 3_000 } },
      { day: "2031-03-04", bookings: 0, confirmed: 0, seatsSold: 0, revenueCents: {}, cancellations: 1, refundedCents: { EUR: 5_000 } },
      { day: "2031-03-05", bookings: 1, confirmed: 1, seatsSold: 1, revenueCents: { EUR: 1_000 }, cancellations: 0, refundedCents: {} },
      { day: "2031-03-06", bookings: 0, confirmed: 0, seatsSold: 0, revenueCents: {}, cancellations: 0, refundedCents: {} },
    ]);
  });

  it("ranks events by seats sold within a range and honours the limit", async () => {
    const res = await get("/v1/admin/analytics/events/popular?from=2031-03-01&to=2031-03-31&limit=2", admin);
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data.map((e: any) => [e.eventId, e.seatsSold, e.bookings])).toEqual([
      [ids.e1, 5, 5],
      [ids.e2, 4, 2],
    ]);
    expect(body.data[0]).toMatchObject({ name: "Analytics E1", capacity: 100, revenueCents: 25_000, currency: "EUR", utilization: 0.05 });
  });

  it("ranks all time without a range, best first", async () => {
    const res = await get("/v1/admin/analytics/events/popular?limit=100", admin);
    const body: any = await res.json();
    expect(res.status).toBe(200);
    const sold = body.data.map((e: any) => e.seatsSold);
    expect(sold).toEqual([...sold].sort((a, b) => b - a));
    expect(body.data.length).toBeGreaterThanOrEqual(3);
    expect(body.data.length).toBeLessThanOrEqual(100);
  });

  it("shows one event live: bookings, daily series, hold conversion and waitlist", async () => {
    const res = await get(`/v1/admin/analytics/events/${ids.e1}`, admin);
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({
      event: { id: ids.e1, name: "Analytics E1", status: "published", capacity: 100, currency: "EUR" },
      bookings: { total: 5, confirmed: 2, cancelled: 1, failed: 1, pending: 1 },
      seatsSold: 5,
      revenueCents: 25_000,
      utilization: 0.05,
      holds: { created: 7, committed: 3, released: 1, expired: 1, open: 2 },
      waitlist: { size: 2, waitingSeats: 3, offered: 1, expired: 1, converted: 1, left: 1, cancelled: 1, offersMade: 3 },
    });
    expect(body.cancellationRate).toBeCloseTo(1 / 3, 10);
    expect(body.holds.conversionRate).toBeCloseTo(3 / 7, 10);
    expect(body.waitlist.offerConversionRate).toBeCloseTo(1 / 3, 10);
    expect(body.daily).toEqual([
      { day: "2031-03-01", bookings: 2, confirmed: 2, seatsSold: 5, revenueCents: 25_000, cancellations: 0 },
      { day: "2031-03-02", bookings: 2, confirmed: 0, seatsSold: 0, revenueCents: 0, cancellations: 0 },
      { day: "2031-03-03", bookings: 1, confirmed: 0, seatsSold: 0, revenueCents: 0, cancellations: 0 },
      { day: "2031-03-04", bookings: 0, confirmed: 0, seatsSold: 0, revenueCents: 0, cancellations: 1 },
    ]);
  });

  it("answers an event without any activity with zeros and null rates", async () => {
    const quiet = await insertEvent(organizer, { name: "Quiet", capacity: 20, currency: "EUR", start: "2031-06-01T19:00:00Z", status: "published" });
    const body: any = await (await get(`/v1/admin/analytics/events/${quiet}`, organizer)).json();
    expect(body).toMatchObject({ bookings: { total: 0 }, seatsSold: 0, utilization: 0, daily: [], cancellationRate: null });
    expect(body.holds).toEqual({ created: 0, committed: 0, released: 0, expired: 0, open: 0, conversionRate: null });
    expect(body.waitlist.offerConversionRate).toBeNull();
  });
});

describe("freshness", () => {
  it("updates the per-event view at once and the admin-wide views when the rollup is rebuilt", async () => {
    const eventId = await insertEvent(organizer, { name: "Fresh", capacity: 10, currency: "EUR", start: "2032-02-10T19:00:00Z", status: "published" });
    const spec: BookingSpec = { key: "f1", event: "e1", status: "pending", quantity: 2, cents: 4_000, at: "2032-02-01T12:00:00Z" };
    const [row] = await withDb((db) => db.insert(bookings).values(bookingRow(spec, eventId, "EUR", buyer.id)).returning());
    await withDb((db) => refreshDailyStats(db));
    const overview = async () => (await (await get("/v1/admin/analytics/overview?from=2032-02-01&to=2032-02-28", admin)).json()) as any;
    expect((await overview()).seatsSold).toBe(0);

    await withDb((db) => db.update(bookings).set({ status: "confirmed", confirmedAt: new Date(), updatedAt: new Date() }).where(eq(bookings.id, row.id)));
    const live: any = await (await get(`/v1/admin/analytics/events/${eventId}`, organizer)).json();
    expect(live.seatsSold).toBe(2);
    expect((await overview()).seatsSold).toBe(0);

    await withDb((db) => refreshDailyStats(db));
    const after = await overview();
    expect(after).toMatchObject({ seatsSold: 2, revenueCents: { EUR: 4_000 }, utilization: { seatsSold: 2, capacity: 10 } });
  });

  it("lets two rebuilds run at once without a duplicate-key failure", async () => {
    const results = await Promise.all([withDb((db) => refreshDailyStats(db)), withDb((db) => refreshDailyStats(db))]);
    expect(results[0].rows).toBe(results[1].rows);
  });
});

describe("validation", () => {
  it.each([
    ["/v1/admin/analytics/overview?from=2031-03-10&to=2031-03-01", "from after to"],
    ["/v1/admin/analytics/overview?from=March", "not a date"],
    ["/v1/admin/analytics/daily?from=2020-01-01&to=2031-01-01", "more days than a daily series allows"],
    ["/v1/admin/analytics/events/popular?limit=0", "a limit below 1"],
    ["/v1/admin/analytics/events/popular?limit=101", "a limit above 100"],
    ["/v1/admin/analytics/events/not-a-uuid", "an event id that is not a uuid"],
  ])("answers %s with 400 VALIDATION_FAILED (%s)", async (path) => {
    const res = await get(path, admin);
    expect(res.status).toBe(400);
    expectError(await res.json(), "VALIDATION_FAILED");
  });

  it("answers an unknown event with 404 NOT_FOUND", async () => {
    const res = await get(`/v1/admin/analytics/events/${crypto.randomUUID()}`, admin);
    expect(res.status).toBe(404);
    expectError(await res.json(), "NOT_FOUND");
  });

  it("defaults to the last 30 days, today included", async () => {
    const body: any = await (await get("/v1/admin/analytics/daily", admin)).json();
    expect(body.data).toHaveLength(30);
    expect(body.to).toBe(new Date().toISOString().slice(0, 10));
  });
});

describe("who may see analytics", () => {
  const adminRoutes = ["/v1/admin/analytics/overview", "/v1/admin/analytics/events/popular", "/v1/admin/analytics/daily"];
  type Who = "anonymous" | "user" | "organizer" | "admin";
  const who = (w: Who) => ({ anonymous: undefined, user: buyer, organizer, admin })[w];

  it.each([
    ["anonymous", 401, "UNAUTHENTICATED"],
    ["user", 403, "FORBIDDEN"],
    ["organizer", 403, "FORBIDDEN"],
    ["admin", 200, null],
  ] as const)("admin-wide routes answer %s with %i", async (w, status, code) => {
    for (const path of adminRoutes) {
      const res = await get(path, who(w));
      expect(res.status, path).toBe(status);
      if (code) expectError(await res.json(), code);
    }
  });

  it.each([
    ["anonymous", "e1", 401, "UNAUTHENTICATED"],
    ["user", "e1", 403, "FORBIDDEN"],
    ["organizer", "e1", 200, null],
    ["organizer", "e3", 403, "FORBIDDEN"],
    ["admin", "e3", 200, null],
  ] as const)("the per-event route answers %s on %s with %i", async (w, event, status, code) => {
    const res = await get(`/v1/admin/analytics/events/${ids[event]}`, who(w));
    expect(res.status).toBe(status);
    if (code) expectError(await res.json(), code);
  });

  it("answers another organizer on an unknown event with 404, the same as an admin", async () => {
    const missing = crypto.randomUUID();
    expect((await get(`/v1/admin/analytics/events/${missing}`, otherOrganizer)).status).toBe(404);
    expect((await get(`/v1/admin/analytics/events/${missing}`, admin)).status).toBe(404);
  });
});

describe("documentation", () => {
  it("lists every analytics route in the OpenAPI document", async () => {
    const doc: any = await (await call("/openapi.json")).json();
    for (const p of ["/v1/admin/analytics/overview", "/v1/admin/analytics/events/popular", "/v1/admin/analytics/events/{id}", "/v1/admin/analytics/daily"]) {
      expect(doc.paths[p]?.get, p).toBeDefined();
    }
  });
});
