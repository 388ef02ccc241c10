import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { events, seats, venues } from "../../src/db/schema";
import { seedDemoCatalogue } from "../../src/services/demo-catalogue";
import { call, makeUser, testEnv, withDb } from "../helpers/fixtures";

describe("demo catalogue seeding", () => {
  it("creates one venue and two published events, and a second run changes nothing", async () => {
    const org = await makeUser("organizer");
    const first = await withDb((db) => seedDemoCatalogue(db, testEnv, org.id));
    const second = await withDb((db) => seedDemoCatalogue(db, testEnv, org.id));
    expect(second).toEqual(first);

    const rows = await withDb((db) => db.select().from(events).where(eq(events.organizerId, org.id)));
    expect(rows.map((r) => [r.seating, r.status, r.capacity]).sort()).toEqual([["general", "published", 500], ["reserved", "published", 200]]);
    const owned = await withDb((db) => db.select().from(venues).where(eq(venues.ownerId, org.id)));
    expect(owned).toHaveLength(1);
    const reserved = rows.find((r) => r.seating === "reserved")!;
    expect(await withDb(async (db) => (await db.select().from(seats).where(eq(seats.eventId, reserved.id))).length)).toBe(200);

    const detail: any = await (await call(`/v1/events/${reserved.id}`)).json();
    expect(detail.availability).toEqual({ capacity: 200, available: 200, held: 0, booked: 0 });
  });
});
