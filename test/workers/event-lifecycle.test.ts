import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { bookings, events, seats } from "../../src/db/schema";
import { expandSeats } from "../../src/services/layout";
import { runScheduled } from "../../src/jobs/scheduled";
import { DAY, eventBody, makeEvent, makePublished, makeVenue, publish } from "../helpers/catalogue";
import { call, expectError, makeUser, testEnv, withDb } from "../helpers/fixtures";

const cancel = (auth: Record<string, string>, id: string) => call(`/v1/events/${id}/cancel`, { method: "POST", headers: auth });
const patch = (auth: Record<string, string>, id: string, json: unknown) => call(`/v1/events/${id}`, { method: "PATCH", headers: auth, json });

describe("creating events", () => {
  it("creates a draft that copies city and time zone from the venue and applies the defaults", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { timezone: "America/New_York" });
    const e = await makeEvent(org, v.id, { category: "Music" });
    expect(e).toMatchObject({
      status: "draft", organizerId: org.id, city: v.city, timezone: "America/New_York", category: "music", capacity: 200,
      maxSeatsPerUser: 8, holdTtlSeconds: 600, paymentDeadlineSeconds: 600, waitlistOfferSeconds: 900,
    });
    expect(e.startsAtLocal).toMatch(/-0[45]:00$/);
  });

  it("refuses an end before the start, a start in the past and a sales window after the event", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const start = Date.now() + 10 * DAY;
    const cases = [
      { endsAt: new Date(start - 1_000).toISOString(), startsAt: new Date(start).toISOString() },
      { startsAt: new Date(Date.now() - DAY).toISOString(), endsAt: new Date(Date.now() + DAY).toISOString() },
      { startsAt: new Date(start).toISOString(), endsAt: new Date(start + 3_600_000).toISOString(), salesEndAt: new Date(start + 7_200_000).toISOString() },
    ];
    for (const times of cases) {
      const res = await call("/v1/events", { method: "POST", headers: org.auth, json: eventBody(v.id, times) });
      expect(res.status, JSON.stringify(times)).toBe(400);
      expectError(await res.json(), "VALIDATION_FAILED");
    }
  });

  it("sells general admission up to the venue's capacity and no further", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { layout: undefined, capacity: 500 });
    expect((await makeEvent(org, v.id, { seating: "general", capacity: 500 })).capacity).toBe(500);
    const over = await call("/v1/events", { method: "POST", headers: org.auth, json: eventBody(v.id, { seating: "general", capacity: 501 }) });
    expect(over.status).toBe(400);
    const reserved = await call("/v1/events", { method: "POST", headers: org.auth, json: eventBody(v.id, { seating: "reserved" }) });
    expect(reserved.status).toBe(400);
    expect(((await reserved.json()) as any).error.message).toContain("no seat layout");
  });

  it("refuses an event at another organizer's venue and lets an admin create one anywhere", async () => {
    const owner = await makeUser("organizer");
    const other = await makeUser("organizer");
    const admin = await makeUser("admin");
    const v = await makeVenue(owner);
    const res = await call("/v1/events", { method: "POST", headers: other.auth, json: eventBody(v.id) });
    expect(res.status).toBe(403);
    expect((await call("/v1/events", { method: "POST", headers: admin.auth, json: eventBody(v.id) })).status).toBe(201);
  });
});

describe("publishing", () => {
  it("copies the layout, writes every seat to Postgres, and later venue edits leave the event alone", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makePublished(org, v.id);
    expect(e).toMatchObject({ status: "published", capacity: 200 });
    expect(e.publishedAt).not.toBeNull();

    const rows = await withDb((db) => db.select().from(seats).where(eq(seats.eventId, e.id)));
    const expected = expandSeats(v.layout, 4000);
    expect(rows).toHaveLength(200);
    expect(new Set(rows.map((r) => r.seatId))).toEqual(new Set(expected.map((s) => s.id)));
    expect(rows.find((r) => r.seatId === "A-3-12")).toMatchObject({ section: "A", row: "3", seatNumber: 12, priceCents: 5200, status: "available" });

    await call(`/v1/venues/${v.id}`, { method: "PATCH", headers: org.auth, json: { layout: { sections: [{ name: "Z", rows: [{ label: "1", seats: 3 }] }] } } });
    const detail: any = await (await call(`/v1/events/${e.id}`)).json();
    expect(detail.layout.sections[0].name).toBe("A");
    expect(detail.capacity).toBe(200);
  });

  it("is idempotent: publishing again answers 200 and writes no second set of seats", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makePublished(org, v.id);
    const again = await publish(org, e.id);
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).publishedAt).toBe(e.publishedAt);
    const n = await withDb(async (db) => (await db.select().from(seats).where(eq(seats.eventId, e.id))).length);
    expect(n).toBe(200);
  });

  it("shows live availability from the event's inventory once published", async () => {
    const org = await makeUser("organizer");
    const buyer = await makeUser("user");
    const v = await makeVenue(org, { layout: undefined, capacity: 500 });
    const e = await makePublished(org, v.id, { seating: "general", capacity: 300 });
    const detail = async () => ((await (await call(`/v1/events/${e.id}`, { headers: org.auth })).json()) as any).availability; // authenticated: never served from the edge cache
    expect(await detail()).toEqual({ capacity: 300, available: 300, held: 0, booked: 0 });
    const hold = await call(`/v1/events/${e.id}/holds`, { method: "POST", headers: buyer.auth, json: { quantity: 3 } });
    expect(hold.status).toBe(201);
    expect(await detail()).toEqual({ capacity: 300, available: 297, held: 3, booked: 0 });
  });

  it("stops new holds once the event is cancelled", async () => {
    const org = await makeUser("organizer");
    const buyer = await makeUser("user");
    const v = await makeVenue(org, { layout: undefined, capacity: 500 });
    const e = await makePublished(org, v.id, { seating: "general", capacity: 100 });
    expect((await call(`/v1/events/${e.id}/holds`, { method: "POST", headers: buyer.auth, json: { quantity: 1 } })).status).toBe(201);
    expect((await cancel(org.auth, e.id)).status).toBe(202);
    const res = await call(`/v1/events/${e.id}/holds`, { method: "POST", headers: buyer.auth, json: { quantity: 1 } });
    expect(res.status).toBe(409);
    expectError(await res.json(), "SALES_CLOSED");
  });

  it("refuses to publish a cancelled event", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makeEvent(org, v.id);
    expect((await cancel(org.auth, e.id)).status).toBe(202);
    const res = await publish(org, e.id);
    expect(res.status).toBe(409);
    expectError(await res.json(), "INVALID_STATE");
  });

  it("answers 404 to another organizer on a draft, 403 once it is published, and lets an admin publish", async () => {
    const owner = await makeUser("organizer");
    const other = await makeUser("organizer");
    const admin = await makeUser("admin");
    const v = await makeVenue(owner);
    const e = await makeEvent(owner, v.id);
    expect((await publish(other, e.id)).status).toBe(404);
    expect((await cancel(other.auth, e.id)).status).toBe(404);
    expect((await patch(other.auth, e.id, { name: "Mine now" })).status).toBe(404);
    expect((await publish(admin, e.id)).status).toBe(200);
    expect((await publish(other, e.id)).status).toBe(403);
    expect((await cancel(other.auth, e.id)).status).toBe(403);
    expect((await patch(other.auth, e.id, { name: "Mine now" })).status).toBe(403);
  });
});

describe("editing by state", () => {
  it("lets a draft change anything, a published event only its descriptive fields", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org, { capacity: 500 });
    const e = await makeEvent(org, v.id);
    const draftEdit = await patch(org.auth, e.id, { seating: "general", capacity: 400, priceCents: 999 });
    expect(draftEdit.status).toBe(200);
    expect(await draftEdit.json()).toMatchObject({ seating: "general", capacity: 400, priceCents: 999 });

    expect((await publish(org, e.id)).status).toBe(200);
    const rename = await patch(org.auth, e.id, { name: "Renamed", description: "New words" });
    expect(rename.status).toBe(200);
    expect(await rename.json()).toMatchObject({ name: "Renamed", description: "New words", status: "published" });
    const reprice = await patch(org.auth, e.id, { priceCents: 1, name: "x" });
    const body: any = await reprice.json();
    expect(reprice.status).toBe(409);
    expectError(body, "INVALID_STATE");
    expect(body.error.details.fields).toEqual(["priceCents"]);
  });

  it("refuses every edit of a cancelled event", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makeEvent(org, v.id);
    await cancel(org.auth, e.id);
    const res = await patch(org.auth, e.id, { name: "Back" });
    expect(res.status).toBe(409);
  });
});

describe("cancelling", () => {
  it("cancels a draft and a published event with 202, and cancelling again answers the same", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const draft = await makeEvent(org, v.id);
    const pub = await makePublished(org, v.id);
    for (const id of [draft.id, pub.id]) {
      const res = await cancel(org.auth, id);
      expect(res.status).toBe(202);
      const body: any = await res.json();
      expect(body).toMatchObject({ status: "cancelled" });
      expect(body.cancelledAt).not.toBeNull();
      const again = await cancel(org.auth, id);
      expect(again.status).toBe(202);
      expect(((await again.json()) as any).cancelledAt).toBe(body.cancelledAt);
    }
  });

  it("hands the event's active bookings to the refund path", async () => {
    const org = await makeUser("organizer");
    const buyer = await makeUser("user");
    const v = await makeVenue(org);
    const e = await makePublished(org, v.id);
    const booking = (status: "confirmed" | "failed") => ({
      userId: buyer.id, eventId: e.id, holdId: `hld_${crypto.randomUUID()}`, status, quantity: 1, totalAmountCents: 4000,
      currency: "EUR", paymentMethod: "pm_card_ok", paymentDeadline: new Date(Date.now() + 600_000),
    });
    await withDb(async (db) => {
      await db.insert(bookings).values([booking("confirmed"), booking("confirmed"), booking("failed")]);
      // Confirmed bookings count as sold (the saga keeps seats_sold; its CHECK refuses a negative count).
      await db.update(events).set({ seatsSold: 2 }).where(eq(events.id, e.id));
    });
    const res = await cancel(org.auth, e.id);
    expect(res.status).toBe(202);
    expect(((await res.json()) as any).refundsRequested).toBe(2);
  });

  it("lets an admin cancel another organizer's event", async () => {
    const org = await makeUser("organizer");
    const admin = await makeUser("admin");
    const v = await makeVenue(org);
    const e = await makePublished(org, v.id);
    expect((await cancel(admin.auth, e.id)).status).toBe(202);
  });
});

describe("completion", () => {
  it("moves a published event that has ended to completed, after which nothing changes it", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const e = await makePublished(org, v.id);
    // Moved into the past rather than running the cron in the future: other test files share this database.
    await withDb((db) => db.update(events).set({ startTime: new Date(Date.now() - 2 * DAY), endTime: new Date(Date.now() - DAY) }).where(eq(events.id, e.id)));
    await runScheduled(testEnv, new Date());
    const [row] = await withDb((db) => db.select().from(events).where(eq(events.id, e.id)));
    expect(row.status).toBe("completed");
    expect((await publish(org, e.id)).status).toBe(409);
    expect((await cancel(org.auth, e.id)).status).toBe(409);
    expect((await patch(org.auth, e.id, { name: "Encore" })).status).toBe(409);
  });

  it("leaves drafts and events still running alone", async () => {
    const org = await makeUser("organizer");
    const v = await makeVenue(org);
    const draft = await makeEvent(org, v.id);
    const running = await makePublished(org, v.id);
    await withDb((db) => db.update(events).set({ startTime: new Date(Date.now() - DAY), endTime: new Date(Date.now() + DAY) }).where(eq(events.id, running.id)));
    await runScheduled(testEnv, new Date());
    const rows = await withDb((db) => db.select({ id: events.id, status: events.status }).from(events).where(eq(events.venueId, v.id)));
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [draft.id]: "draft", [running.id]: "published" });
  });
});

describe("visibility of drafts", () => {
  it("shows a draft to its owner and an admin, and 404 to anyone else", async () => {
    const org = await makeUser("organizer");
    const other = await makeUser("organizer");
    const admin = await makeUser("admin");
    const v = await makeVenue(org);
    const e = await makeEvent(org, v.id);
    expect((await call(`/v1/events/${e.id}`)).status).toBe(404);
    expect((await call(`/v1/events/${e.id}`, { headers: other.auth })).status).toBe(404);
    expect((await call(`/v1/events/${e.id}`, { headers: org.auth })).status).toBe(200);
    expect((await call(`/v1/events/${e.id}`, { headers: admin.auth })).status).toBe(200);
  });
});
