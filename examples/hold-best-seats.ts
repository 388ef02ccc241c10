// List the events on sale, then hold the best two adjacent seats of the first reserved-seating one
// (front-most row, nearest its middle) and book them with the sandbox card.
// Against `npm run dev`: npx tsx examples/hold-best-seats.ts (EVENTLY_URL overrides the address).
import { createEventlyClient, idempotencyKey, unwrap } from "../client/src/index";

const api = createEventlyClient({ baseUrl: process.env.EVENTLY_URL ?? "http://127.0.0.1:8787" });
const { data: events } = unwrap(await api.GET("/v1/events", { params: { query: { limit: 20 } } }));
for (const e of events) console.log(`${e.startsAtLocal}  ${e.name} (${e.city}, ${e.seating})`);
const event = events.find((e) => e.seating === "reserved");
if (!event) throw new Error("no reserved-seating event on sale: is `npm run dev` running?");

const buyer = { email: `buyer-${Date.now()}@example.com`, password: "correct horse battery staple", name: "Example Buyer" };
api.setToken(unwrap(await api.POST("/v1/auth/register", { body: buyer })).accessToken);

const seats = unwrap(await api.GET("/v1/events/{id}/seats", { params: { path: { id: event.id } } })).seats ?? [];
const key = (s: { section: string; row: string; number: number }) => `${s.section}/${s.row}/${s.number}`;
const free = new Map(seats.filter((s) => s.status === "available").map((s) => [key(s), s]));
const rows = [...new Set(seats.map((s) => `${s.section}/${s.row}`))];
let best: { ids: string[]; score: number } | undefined;
for (const s of free.values()) {
  const next = free.get(key({ ...s, number: s.number + 1 })), row = `${s.section}/${s.row}`;
  if (!next) continue;
  const middle = (seats.filter((x) => `${x.section}/${x.row}` === row).length + 1) / 2;
  const score = rows.indexOf(row) * 10_000 + Math.abs(s.number + 0.5 - middle);
  if (!best || score < best.score) best = { ids: [s.id, next.id], score };
}
if (!best) throw new Error(`no two adjacent seats left at ${event.name}`);

const hold = unwrap(await api.POST("/v1/events/{id}/holds", {
  params: { path: { id: event.id }, header: { "idempotency-key": idempotencyKey() } },
  body: { seatIds: best.ids },
}));
console.log(`held ${best.ids.join(" + ")} at ${event.name} for ${hold.totalCents / 100} ${hold.currency} until ${hold.expiresAt}`);
// Sandbox payments: on a Stripe server the buyer's browser confirms the payment (public/checkout.js).
let booking: { id: string; status: string } = unwrap(await api.POST("/v1/bookings", { params: { header: { "idempotency-key": idempotencyKey() } }, body: { holdId: hold.id } }));
for (let i = 0; booking.status === "pending" && i < 60; i++, await new Promise((r) => setTimeout(r, 500)))
  booking = unwrap(await api.GET("/v1/bookings/{id}", { params: { path: { id: booking.id } } }));
console.log(`booking ${booking.id}: ${booking.status}`);
if (booking.status !== "confirmed") process.exit(1);
