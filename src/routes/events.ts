import { createRoute, z } from "@hono/zod-openapi";
import { optionalUser } from "../auth/guards";
import { guarded, peekEvent } from "../auth/org-guard";
import { edgeCached, purge } from "../lib/edge-cache";
import { idempotent } from "../lib/idempotent-request";
import { IdempotencyHeaders, errors, json, router } from "../lib/openapi";
import { cancelEvent, createEvent, getEventDetail, listEvents, eventJson, publishEvent, updateEvent } from "../services/events";
import { Layout } from "./venues";
import { MAX_PRICE_CENTS } from "../services/layout";

const Instant = z.iso.datetime({ offset: true }).openapi({ example: "2026-12-01T19:00:00+01:00" });
const Text = (max: number) => z.string().trim().min(1).max(max);

const EventBody = z
  .object({
    venueId: z.string().uuid().openapi({ description: "The event belongs to this venue's organization" }),
    orgId: z.string().uuid().optional().openapi({ description: "When given, must be the venue's organization" }),
    name: Text(200),
    description: z.string().max(5_000).default(""),
    category: Text(50).openapi({ example: "music" }),
    startsAt: Instant,
    endsAt: Instant,
    seating: z.enum(["reserved", "general"]),
    capacity: z.number().int().positive().optional().openapi({ description: "General admission only; at most the venue's capacity" }),
    priceCents: z.number().int().min(0).max(MAX_PRICE_CENTS).openapi({ description: "GA ticket price; default price of reserved seats whose row/section has none" }),
    currency: z.string().regex(/^[A-Za-z]{3}$/).openapi({ example: "EUR" }),
    salesStartAt: Instant.nullable().optional(),
    salesEndAt: Instant.nullable().optional(),
    maxSeatsPerUser: z.number().int().min(1).max(100).optional(),
    holdTtlSeconds: z.number().int().min(30).max(3_600).optional(),
    paymentDeadlineSeconds: z.number().int().min(30).max(3_600).optional(),
    waitlistOfferSeconds: z.number().int().min(60).max(86_400).optional(),
  })
  .openapi("EventInput");

const EventPatch = EventBody.omit({ description: true, orgId: true })
  .extend({ description: z.string().max(5_000) })
  .partial()
  .openapi("EventPatch", { description: "draft: every field; published: name, description, category; cancelled/completed: nothing (409)" });

const Availability = z.object({ capacity: z.number().int(), available: z.number().int(), held: z.number().int(), booked: z.number().int() }).openapi("Availability");

const EventFields = {
  id: z.string().uuid(),
  venueId: z.string().uuid(),
  orgId: z.string().uuid().openapi({ description: "The organization that owns the event (its venue's)" }),
  organizerId: z.string().uuid().openapi({ description: "Who created the event" }),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  city: z.string(),
  timezone: z.string(),
  status: z.enum(["draft", "published", "cancelled", "completed"]),
  seating: z.enum(["reserved", "general"]),
  startsAt: z.string(),
  endsAt: z.string(),
  startsAtLocal: z.string().openapi({ description: "startsAt on the venue's wall clock, for display" }),
  endsAtLocal: z.string(),
  salesStartAt: z.string().nullable(),
  salesEndAt: z.string().nullable(),
  capacity: z.number().int(),
  priceCents: z.number().int(),
  currency: z.string(),
  maxSeatsPerUser: z.number().int(),
  holdTtlSeconds: z.number().int(),
  paymentDeadlineSeconds: z.number().int(),
  waitlistOfferSeconds: z.number().int(),
  inventoryReady: z.boolean().openapi({ description: "The event's inventory accepted its seats; false on a published event means publish must be retried" }),
  publishedAt: z.string().nullable(),
  cancelledAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
};
const Event = z.object(EventFields).openapi("Event");
const PriceFrom = z.number().int().openapi({ description: "The cheapest ticket: the lowest seat price of the layout frozen at publish, else priceCents" });
const ListedEvent = z
  .object({
    ...EventFields,
    venueName: z.string(),
    priceFromCents: PriceFrom,
    availability: Availability.openapi({ description: "From Postgres; may be up to 5 s old" }),
    waitlist: z.object({ waiting: z.number().int().openapi({ description: "People waiting or holding an offer (mirrored from the event's object; may lag a second)" }) }),
  })
  .openapi("ListedEvent");
const EventDetail = z
  .object({
    ...EventFields,
    priceFromCents: PriceFrom,
    layout: Layout.nullable(),
    venue: z.object({ id: z.string().uuid(), name: z.string(), city: z.string(), address: z.string(), timezone: z.string() }),
    availability: Availability,
    refunds: z
      .object({ done: z.number().int(), total: z.number().int(), status: z.enum(["running", "done"]) })
      .nullable()
      .openapi({ description: "A cancelled event's refunds: bookings refunded so far of those to refund; null unless cancelled" }),
  })
  .openapi("EventDetail");

const IdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });
const bearer = [{ bearer: [] }];

const date = (s: string | null | undefined) => (s === undefined ? undefined : s === null ? null : new Date(s));
function toInput<T extends { startsAt?: string; endsAt?: string; salesStartAt?: string | null; salesEndAt?: string | null }>(b: T) {
  return { ...b, startsAt: date(b.startsAt) ?? undefined, endsAt: date(b.endsAt) ?? undefined, salesStartAt: date(b.salesStartAt), salesEndAt: date(b.salesEndAt) };
}

export const eventsRouter = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events",
      tags: ["events"],
      security: bearer,
      ...guarded("event.manage", "new"),
      request: { headers: IdempotencyHeaders, body: { content: { "application/json": { schema: EventBody } }, required: true } },
      responses: { 201: json(Event, "Created as a draft"), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const reply = await idempotent(c.var.db(), c.var.user.id, c.req.valid("header")["idempotency-key"], { route: "POST /v1/events", body: b }, async () => {
        const row = await createEvent(c.var.db(), c.var.user, { ...b, ...toInput(b), startsAt: new Date(b.startsAt), endsAt: new Date(b.endsAt) }, new Date());
        return { status: 201, body: eventJson(row) };
      });
      return c.json(reply.body as ReturnType<typeof eventJson>, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events",
      tags: ["events"],
      description: "Upcoming published events, soonest first. Other statuses: members see their organizations' events, admins all.",
      middleware: [edgeCached, optionalUser],
      request: {
        query: z.object({
          q: z.string().max(200).optional().openapi({ description: "Words matched as prefixes in name and description" }),
          category: z.string().max(50).optional(),
          city: z.string().max(100).optional(),
          orgId: z.string().uuid().optional().openapi({ description: "Only this organization's events" }),
          from: Instant.optional().openapi({ description: "Start time at or after; default now for published events" }),
          to: Instant.optional().openapi({ description: "Start time before" }),
          status: z.enum(["draft", "published", "cancelled", "completed"]).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.string().max(512).optional(),
        }),
      },
      responses: { 200: json(z.object({ data: z.array(ListedEvent), nextCursor: z.string().nullable() }).openapi("EventPage")), 304: { description: "Not modified" }, ...errors(400, 401, 403, 429) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await listEvents(c.var.db(), c.var.user, { ...q, from: date(q.from) ?? undefined, to: date(q.to) ?? undefined }, new Date());
      return c.json(page, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}",
      tags: ["events"],
      description: "A draft is visible to its organization's members and admins only.",
      middleware: [edgeCached, optionalUser, peekEvent],
      request: { params: IdParam },
      responses: { 200: json(EventDetail), 304: { description: "Not modified" }, ...errors(404, 429) },
    }),
    async (c) => c.json(await getEventDetail(c.var.db(), c.env, c.var.user, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/events/{id}",
      tags: ["events"],
      security: bearer,
      ...guarded("event.manage", "event"),
      request: { params: IdParam, body: { content: { "application/json": { schema: EventPatch } }, required: true } },
      responses: { 200: json(Event), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await updateEvent(c.var.db(), c.var.user, id, toInput(c.req.valid("json")), new Date());
      await purge(c, [`/v1/events/${id}`, "/v1/events"]);
      return c.json(eventJson(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/publish",
      tags: ["events"],
      description: "Copies the venue's layout into the event, writes its seats and initializes its inventory. Idempotent.",
      security: bearer,
      ...guarded("event.manage", "event"),
      request: { params: IdParam },
      responses: { 200: json(Event, "Published"), ...errors(401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await publishEvent(c.var.db(), c.env, c.var.user, id, new Date());
      await purge(c, [`/v1/events/${id}`, "/v1/events"]);
      return c.json(eventJson(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/cancel",
      tags: ["events"],
      description:
        "Cancels the event and answers at once: open holds end (holders notified), pending bookings fail, and confirmed bookings are refunded in the background in batches; `GET /v1/events/{id}` shows `refunds` progress. `refundsRequested` is the number of bookings to refund. Cancelling again answers the same.",
      security: bearer,
      ...guarded("event.manage", "event"),
      request: { params: IdParam },
      responses: { 202: json(Event.extend({ refundsRequested: z.number().int() }), "Cancelled; refunds follow"), ...errors(401, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { event, refundsRequested } = await cancelEvent(c.var.db(), c.env, c.var.user, id, new Date());
      await purge(c, [`/v1/events/${id}`, "/v1/events"]);
      return c.json({ ...eventJson(event), refundsRequested }, 202);
    },
  );
