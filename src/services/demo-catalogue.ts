import { and, eq, gt, inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, venues } from "../db/schema";
import type { Env } from "../env";
import { createEvent, publishEvent } from "./events";
import { gridLayout } from "./layout";
import { createVenue } from "./venues";

export const DEMO_VENUE_NAME = "Evently Demo Hall";
const DAY = 86_400_000;

const DEMO_EVENTS = [
  { name: "Demo Concert (reserved 10x20)", seating: "reserved" as const, category: "music", days: 14, priceCents: 4500 },
  { name: "Demo Festival (general admission 500)", seating: "general" as const, category: "festival", days: 21, priceCents: 2500, capacity: 500 },
];

/**
 * The demo catalogue of `npm run dev`: one venue (10 rows of 20 seats, or 500 standing) and two
 * published events, made through the same services as the API. Safe on every start: it reuses the
 * venue and any upcoming demo event it finds, and publishing is idempotent.
 */
export async function seedDemoCatalogue(db: Database, env: Env, organizerId: string, now = new Date()): Promise<{ venueId: string; eventIds: string[] }> {
  const actor = { id: organizerId, role: "organizer" as const };
  const [existing] = await db.select().from(venues).where(and(eq(venues.ownerId, organizerId), eq(venues.name, DEMO_VENUE_NAME))).limit(1);
  const venue =
    existing ??
    (await createVenue(
      db,
      actor,
      { name: DEMO_VENUE_NAME, city: "Berlin", address: "Alexanderplatz 1", timezone: "Europe/Berlin", layout: gridLayout("A", 10, 20, 4500), capacity: 500 },
      now,
    ));
  const eventIds: string[] = [];
  for (const spec of DEMO_EVENTS) {
    const [found] = await db
      .select({ id: events.id })
      .from(events)
      .where(and(eq(events.venueId, venue.id), eq(events.name, spec.name), inArray(events.status, ["draft", "published"]), gt(events.startTime, now)))
      .limit(1);
    const startsAt = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + spec.days * DAY + 18 * 3_600_000);
    const id =
      found?.id ??
      (
        await createEvent(
          db,
          actor,
          {
            venueId: venue.id, name: spec.name, description: `Seeded by npm run dev: ${spec.seating === "reserved" ? "pick your seat" : "standing, first come"}`,
            category: spec.category, startsAt, endsAt: new Date(startsAt.getTime() + 4 * 3_600_000), seating: spec.seating,
            capacity: spec.capacity, priceCents: spec.priceCents, currency: "EUR",
          },
          now,
        )
      ).id;
    await publishEvent(db, env, actor, id, now);
    eventIds.push(id);
  }
  return { venueId: venue.id, eventIds };
}
