import { rng } from "./random";
import { env } from "cloudflare:test";
import type { EventInventory } from "../../durable-objects/inventory/object";
import { SALE_LIMIT_DEFAULTS, type InventoryInit, type SeatSpec } from "../../durable-objects/inventory/contract";
import { createApp } from "../../src/app";
import { events, users, venues } from "../../src/db/schema";
import { signAccessToken } from "../../src/auth/tokens";
import { parseConfig } from "../../src/env";
import { orgOf, testEnv, withDb, type TestUser } from "./fixtures";

/** Seats `A-1-1` … in `sections` sections of `rows` rows of `perRow` seats, all at `priceCents`. */
export function generateSeats(sections: number, rows: number, perRow: number, priceCents = 5000): SeatSpec[] {
  const seats: SeatSpec[] = [];
  for (let s = 0; s < sections; s++) {
    const section = String.fromCharCode(65 + s);
    for (let r = 1; r <= rows; r++) {
      for (let n = 1; n <= perRow; n++) seats.push({ id: `${section}-${r}-${n}`, section, row: String(r), number: n, priceCents });
    }
  }
  return seats;
}

export function inventoryStub(eventId: string): DurableObjectStub<EventInventory> {
  const ns = (env as unknown as { EVENT_INVENTORY: DurableObjectNamespace<EventInventory> }).EVENT_INVENTORY;
  return ns.get(ns.idFromName(eventId));
}

let organizer: Promise<{ organizerId: string; orgId: string; venueId: string }> | undefined;

/** One organizer and venue per test file; events hang off them (hold_history points at events). */
function organizerAndVenue() {
  return (organizer ??= withDb(async (db) => {
    const [u] = await db
      .insert(users)
      .values({ email: `org-${crypto.randomUUID()}@evently.test`, name: "organizer", role: "organizer", passwordHash: "x" })
      .returning();
    const orgId = await orgOf(db, u.id);
    const [v] = await db
      .insert(venues)
      .values({ ownerId: u.id, orgId, name: "Fixture Hall", city: "Lisbon", address: "Rua 1", timezone: "Europe/Lisbon", capacity: 100_000 })
      .returning();
    return { organizerId: u.id, orgId, venueId: v.id };
  }));
}

export interface FixtureEvent {
  id: string;
  init: InventoryInit;
  stub: DurableObjectStub<EventInventory>;
}

/**
 * Stands in for the catalogue's publish step: a published `events` row in Postgres and
 * `initialize` on the event's object, as the catalogue does it.
 */
export async function publishedEvent(over: Partial<InventoryInit> & { layout?: [number, number, number] } = {}): Promise<FixtureEvent> {
  const { layout, ...rest } = over;
  const seating = rest.seating ?? "reserved";
  const seats = seating === "reserved" ? (rest.seats ?? generateSeats(...(layout ?? [2, 5, 10]))) : [];
  const startsAt = new Date(Date.now() + 30 * 86_400_000);
  const init: InventoryInit = {
    eventId: crypto.randomUUID(),
    seating,
    seats,
    capacity: seating === "reserved" ? seats.length : (rest.capacity ?? 100),
    priceCents: 5000,
    currency: "EUR",
    ...SALE_LIMIT_DEFAULTS,
    salesStartAt: null,
    salesEndAt: null,
    startsAt: startsAt.toISOString(),
    ...rest,
  };
  const { organizerId, orgId, venueId } = await organizerAndVenue();
  await withDb((db) =>
    db.insert(events).values({
      id: init.eventId,
      venueId,
      orgId,
      organizerId,
      name: `Fixture ${init.eventId.slice(0, 8)}`,
      category: "concert",
      city: "Lisbon",
      timezone: "Europe/Lisbon",
      status: "published",
      seating: init.seating,
      startTime: new Date(init.startsAt),
      endTime: new Date(Date.parse(init.startsAt) + 3 * 3_600_000),
      capacity: init.capacity,
      priceCents: init.priceCents,
      currency: init.currency,
      maxSeatsPerUser: init.maxSeatsPerUser,
      holdTtlSeconds: init.holdTtlSeconds,
      publishedAt: new Date(),
    }),
  );
  const stub = inventoryStub(init.eventId);
  const res = await stub.initialize(init);
  if (!res.ok) throw new Error(`initialize failed: ${JSON.stringify(res)}`);
  return { id: init.eventId, init, stub };
}

export { rng };

/** `n` users in one insert, each with a minted token: storms need hundreds of them. */
export async function makeUsers(n: number): Promise<TestUser[]> {
  const rows = await withDb((db) =>
    db
      .insert(users)
      .values(Array.from({ length: n }, (_, i) => ({ email: `storm-${i}-${crypto.randomUUID()}@evently.test`, name: `storm ${i}`, role: "user" as const, passwordHash: "x" })))
      .returning({ id: users.id, email: users.email }),
  );
  const config = parseConfig(testEnv);
  return Promise.all(
    rows.map(async (r) => {
      const { token } = await signAccessToken(testEnv, config, { id: r.id, role: "user" }, crypto.randomUUID());
      return { id: r.id, email: r.email, role: "user" as const, token, auth: { authorization: `Bearer ${token}` } };
    }),
  );
}

const app = createApp();

/**
 * Calls the app inside this workerd with the real bindings, like `call`, for many requests at
 * once: `exports.default.fetch` in vitest-pool-workers 0.15 re-imports the entry module through
 * the runner object on every call and slows down more with every concurrent batch (200 requests:
 * 2 s, then 9 s, then 24 s …), which no deployed Worker does.
 */
export function callApp(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("content-type", "application/json");
  return Promise.resolve(app.request(`http://evently.test${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body }, testEnv));
}

/**
 * POST …/holds as a client does under load: a request shed with 503 (the hold route's load
 * shedding; a storm of hundreds at once is a standing queue at the object on a slow machine) is
 * sent again after a short pause, so the answer is the object's own decision (201, 409, 422…).
 */
export async function holdAnswered(eventId: string, headers: HeadersInit, json: unknown): Promise<{ status: number; body: any }> {
  for (let tries = 0; ; tries++) {
    const res = await callApp(`/v1/events/${eventId}/holds`, { method: "POST", headers, json });
    const body = (await res.json()) as any;
    if (res.status !== 503 || tries === 50) return { status: res.status, body };
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
}
