import { expect } from "vitest";
import { type TestUser, call } from "./fixtures";

export const DAY = 86_400_000;

/** A venue with a 10x20 grid (section A, rows 1..10) and room for 500 standing, owned by `owner`. */
export async function makeVenue(owner: TestUser, overrides: Record<string, unknown> = {}): Promise<any> {
  const res = await call("/v1/venues", {
    method: "POST",
    headers: owner.auth,
    json: {
      name: "Hall",
      city: `City-${crypto.randomUUID().slice(0, 8)}`,
      address: "1 Main St",
      timezone: "Europe/Berlin",
      layout: { sections: [{ name: "A", rows: Array.from({ length: 10 }, (_, i) => ({ label: String(i + 1), seats: 20, priceCents: 5000 + i * 100 })) }] },
      capacity: 500,
      ...overrides,
    },
  });
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body;
}

export function eventBody(venueId: string, overrides: Record<string, unknown> = {}) {
  const start = Date.now() + 30 * DAY;
  return {
    venueId,
    name: "Rock Concert",
    description: "Loud guitars",
    category: "music",
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(start + 3 * 3_600_000).toISOString(),
    seating: "reserved",
    priceCents: 4000,
    currency: "EUR",
    ...overrides,
  };
}

export async function makeEvent(owner: TestUser, venueId: string, overrides: Record<string, unknown> = {}): Promise<any> {
  const res = await call("/v1/events", { method: "POST", headers: owner.auth, json: eventBody(venueId, overrides) });
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body;
}

export async function publish(user: TestUser, eventId: string): Promise<Response> {
  return call(`/v1/events/${eventId}/publish`, { method: "POST", headers: user.auth });
}

export async function makePublished(owner: TestUser, venueId: string, overrides: Record<string, unknown> = {}): Promise<any> {
  const e = await makeEvent(owner, venueId, overrides);
  const res = await publish(owner, e.id);
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}
