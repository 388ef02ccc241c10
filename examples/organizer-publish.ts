// An organizer creates a venue with a seat layout, an event there two weeks from now, and publishes
// it; the event's seats are then on sale. Against `npm run dev` (it seeds the organizer account):
// npx tsx examples/organizer-publish.ts   (EVENTLY_URL overrides the address)
import { createEventlyClient, idempotencyKey, unwrap } from "../client/src/index";

const api = createEventlyClient({ baseUrl: process.env.EVENTLY_URL ?? "http://127.0.0.1:8787" });
const login = { email: "organizer@evently.test", password: "evently-organizer-pw" };
api.setToken(unwrap(await api.POST("/v1/auth/login", { body: login })).accessToken);
const create = { header: { "idempotency-key": idempotencyKey() } };

const rows = ["A", "B", "C"].map((label, i) => ({ label, seats: 12, priceCents: 4_500 - i * 1_000 }));
const venue = unwrap(await api.POST("/v1/venues", {
  params: create,
  body: { name: `Example Hall ${Date.now()}`, city: "Lisbon", address: "Rua do Exemplo 1", timezone: "Europe/Lisbon", layout: { sections: [{ name: "Stalls", rows }] } },
}));
console.log(`venue ${venue.id}: ${venue.name}, ${venue.city}`);

const startsAt = new Date(Date.now() + 14 * 86_400_000);
const endsAt = new Date(startsAt.getTime() + 2 * 3_600_000);
const draft = unwrap(await api.POST("/v1/events", {
  params: { header: { "idempotency-key": idempotencyKey() } },
  body: { venueId: venue.id, name: "Example Night", category: "theatre", seating: "reserved", startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), priceCents: 3_500, currency: "EUR" },
}));
console.log(`event ${draft.id}: ${draft.status}`);

const event = unwrap(await api.POST("/v1/events/{id}/publish", { params: { path: { id: draft.id } } }));
const map = unwrap(await api.GET("/v1/events/{id}/seats", { params: { path: { id: event.id } } }));
console.log(`${event.name} is ${event.status}: ${map.availability.available} of ${map.availability.capacity} seats on sale`);
