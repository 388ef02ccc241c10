import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { MAX_SEATS_PER_REQUEST, eventIdOfHold } from "../../durable-objects/inventory/contract";
import type { HoldRequest } from "../../durable-objects/inventory/contract";
import { optionalUser, requireUser } from "../auth/guards";
import type { AppEnv } from "../app-env";
import { AppError } from "../lib/errors";
import { coloOf, measured } from "../lib/metrics";
import { admissionKey, verifyAdmission } from "../../durable-objects/onsale/contract";
import { isUuid } from "../lib/ids";
import { laneOverBudget, throughLane } from "../lib/load-shedding";
import { ErrorResponse, errors, json, router } from "../lib/openapi";
import { inventory } from "../../durable-objects/inventory/client";
import { openLiveSocket } from "../../durable-objects/live-relay/client";
import { wasPublished } from "../services/published-events";

const Seat = z.object({ id: z.string(), priceCents: z.number().int() });
export const HoldLine = z
  .object({
    ticketTypeId: z.string().openapi({ example: "tt_default" }),
    seatId: z.string().optional(),
    quantity: z.number().int(),
    unitCents: z.number().int(),
    discountCents: z.number().int().openapi({ description: "Voucher discount for the whole line" }),
  })
  .openapi("HoldLine");
const Hold = z
  .object({
    id: z.string().openapi({ example: "hld_6f1c…_k2…" }),
    eventId: z.string().uuid(),
    userId: z.string(),
    status: z.enum(["active", "confirming", "committed", "released", "expired"]),
    seats: z.array(Seat),
    quantity: z.number().int(),
    totalCents: z.number().int(),
    currency: z.string(),
    lines: z.array(HoldLine).openapi({ description: "Priced once by the event's object; totalCents is their sum less discounts" }),
    voucherId: z.string().nullable(),
    expiresAt: z.string().nullable(),
    createdAt: z.string(),
    bookingId: z.string().nullable(),
  })
  .openapi("Hold");

// Only the shape: the event's object validates a hold's contents (counts, seat ids, exactly one of
// the two) once, for HTTP and socket holds alike, and its VALIDATION_FAILED is the answer.
const HoldBody = z
  .object({
    seatIds: z
      .array(z.string())
      .optional()
      .openapi({ example: ["A-3-12", "A-3-13"], description: `Reserved seating: 1-${MAX_SEATS_PER_REQUEST} distinct seat ids` }),
    quantity: z.number().optional().openapi({ description: `General admission: 1-${MAX_SEATS_PER_REQUEST} tickets of the default type` }),
    seats: z
      .array(z.object({ id: z.string(), ticketTypeId: z.string() }))
      .optional()
      .openapi({ example: [{ id: "A-3-12", ticketTypeId: "tt_default" }], description: "Reserved seating: seats with a ticket type each" }),
    items: z
      .array(z.object({ ticketTypeId: z.string(), quantity: z.number() }))
      .optional()
      .openapi({ example: [{ ticketTypeId: "tt_default", quantity: 2 }], description: "General admission: tickets per type" }),
    voucher: z.string().optional().openapi({ example: "SPRING", description: "A voucher code (case-insensitive)" }),
  })
  .openapi({ description: "Give exactly one of seatIds, seats, quantity or items; optionally a voucher (docs/products.md)" })
  .openapi("HoldRequest");

const Availability = z.object({ capacity: z.number(), available: z.number(), held: z.number(), booked: z.number() }).openapi("Availability");
const SeatMap = z
  .object({
    version: z.number().int(),
    seating: z.enum(["reserved", "general"]),
    seats: z
      .array(z.object({ id: z.string(), section: z.string(), row: z.string(), number: z.number(), priceCents: z.number(), status: z.enum(["available", "held", "booked"]) }))
      .optional(),
    availability: Availability,
  })
  .openapi("SeatMap");

const EventParam = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const HoldParam = z.object({ id: z.string().min(1).max(200).openapi({ param: { name: "id", in: "path" } }) });
const IdempotencyHeader = z.object({
  "idempotency-key": z.string().min(1).max(200).optional(),
  "x-admission-token": z.string().min(1).max(2_048).optional().openapi({ description: "While the event is on sale: the waiting room's admission token (docs/onsale.md)" }),
});

/**
 * Load shedding per event (src/lib/load-shedding.ts). The lane measures only the object's share of
 * a request (`throughLane` around the object call): that is the queue shedding protects. Measured
 * around the whole request it also counted this isolate's own queue (authentication, the session
 * check, the rest of the crowd's requests on the same thread), so a busy front end shed buyers an
 * idle object could have served at once (bench/onsale.ts: a third of admitted buyers' first holds).
 * The middleware refuses early, before authentication, only when the lane is already over budget.
 */
const shedLoad = (eventIdOf: (c: Context<AppEnv>) => string | null) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const raw = eventIdOf(c);
    // Nothing is kept for a path that is not an event id (the route's validation answers it). A
    // request with an admission token is decided in `throughLane`, once the token is checked.
    if (isUuid(raw) && !c.req.header("x-admission-token") && laneOverBudget(raw, c.var.config.holdMaxInflight)) throw overloaded();
    await next();
  });

const overloaded = () => new AppError("OVERLOADED", "This event is very busy, retry shortly", undefined, { "Retry-After": "1" });

/** Whether `token` is a valid admission of this user to this event (false when the secret is missing: the object answers that). */
const admitted = (c: Context<AppEnv>, token: string, eventId: string) =>
  admissionKey(c.env)
    .then((key) => verifyAdmission(key, token, c.var.user.id, eventId, Date.now()))
    .then((r) => r.ok, () => false);

/** Runs `call` (the event object's share of a hold request) in the event's lane, or refuses it with 503. */
const inLane = <T>(c: Context<AppEnv>, eventId: string, call: () => Promise<T>, metered = false): Promise<T> =>
  throughLane(eventId, c.var.config.holdMaxInflight, metered, call, overloaded);

const holdLimit = createMiddleware<AppEnv>(async (c, next) => {
  if (c.var.config.rateLimits !== "off") {
    const { success } = await c.env.HOLD_LIMITER.limit({ key: `hold:${c.var.user.id}` });
    if (!success) throw new AppError("RATE_LIMITED", "Too many hold requests, slow down", undefined, { "Retry-After": "10" });
  }
  await next();
});

/** Tickets a hold body asks for, for metrics only (the object validates the body). */
export function requestedQuantity(b: { seatIds?: unknown[]; seats?: unknown[]; quantity?: number; items?: { quantity?: unknown }[] }): number {
  if (b.items) return b.items.reduce((n, i) => n + (Number.isFinite(i?.quantity) ? Number(i.quantity) : 0), 0);
  return b.seatIds?.length ?? b.seats?.length ?? b.quantity ?? 0;
}

const holdEvent = (c: Context<AppEnv>) => eventIdOfHold(c.req.param("id") ?? "");

export const holds = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/holds",
      tags: ["holds"],
      security: [{ bearer: [] }],
      middleware: [shedLoad((c) => c.req.param("id") ?? null), requireUser, holdLimit] as const,
      request: { params: EventParam, headers: IdempotencyHeader, body: { content: { "application/json": { schema: HoldBody } }, required: true } },
      responses: {
        201: json(Hold, "The seats are held until expiresAt"),
        ...errors(400, 401, 403, 404, 409, 422, 429, 503),
        409: json(ErrorResponse, "SEAT_UNAVAILABLE, SALES_CLOSED, QUOTA_EXHAUSTED (details.ticketTypeId, available), VOUCHER_EXHAUSTED, IDEMPOTENCY_CONFLICT"),
        422: json(ErrorResponse, "LIMIT_EXCEEDED (per user or per order), VOUCHER_INVALID"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const key = c.req.valid("header")["idempotency-key"] ?? null;
      const admission = c.req.valid("header")["x-admission-token"] ?? null;
      const req = body as HoldRequest;
      if (!(await wasPublished(c.var.db(), id))) throw new AppError("NOT_FOUND", "No such event on sale");
      // Checked here only to choose the lane's rule; the object checks it again and decides.
      const metered = admission !== null && (await admitted(c, admission, id));
      const asked = { kind: "hold" as const, eventId: id, action: "created", quantity: requestedQuantity(body), colo: coloOf(c.req.raw) };
      const hold = await measured(c.env, asked, () => inLane(c, id, () => inventory(c.env, id).hold(c.var.user.id, req, key, admission), metered), (h) => ({ quantity: h.quantity, amountCents: h.totalCents }));
      return c.json(hold, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/holds/{id}",
      tags: ["holds"],
      security: [{ bearer: [] }],
      middleware: [requireUser] as const,
      request: { params: HoldParam },
      responses: { 200: json(Hold, "The hold"), ...errors(401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const eventId = eventIdOfHold(id);
      if (!eventId) throw new AppError("NOT_FOUND", "No such hold");
      const hold = await inventory(c.env, eventId).getHold(id);
      if (c.var.user.role !== "admin" && hold.userId !== c.var.user.id) throw new AppError("NOT_FOUND", "No such hold");
      return c.json(hold, 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/holds/{id}",
      tags: ["holds"],
      security: [{ bearer: [] }],
      middleware: [shedLoad(holdEvent), requireUser] as const,
      request: { params: HoldParam },
      responses: { 204: { description: "Released (also when it had already ended)" }, ...errors(401, 404, 409, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const eventId = eventIdOfHold(id);
      if (!eventId) throw new AppError("NOT_FOUND", "No such hold");
      await measured(c.env, { kind: "hold", eventId, action: "released", colo: coloOf(c.req.raw) }, () => inLane(c, eventId, () => inventory(c.env, eventId).release(id, c.var.user.id)), (h) => ({ quantity: h.quantity, amountCents: h.totalCents }));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/seats",
      tags: ["holds"],
      request: { params: EventParam },
      responses: { 200: json(SeatMap, "Live status of every seat (general admission: counts)"), ...errors(404, 429) },
    }),
    async (c) => {
      // Lower case: the object is found by name, and another spelling of the id would be another object.
      const id = c.req.valid("param").id.toLowerCase();
      if (!(await wasPublished(c.var.db(), id))) throw new AppError("NOT_FOUND", "No such event on sale");
      const snap = await inventory(c.env, id).seatMap();
      c.header("Cache-Control", "no-store");
      return c.json(snap, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/live",
      tags: ["holds"],
      description:
        'WebSocket: a snapshot with a version, then deltas with the next versions. After an `{"type":"auth","token":…}` frame the socket also takes `hold` and `release` frames answered by `reply` frames with the same `ref` (same rules and error codes as the HTTP hold routes). See docs/inventory.md.',
      middleware: [optionalUser] as const,
      request: { params: EventParam },
      responses: { 101: { description: "Switching to the live seat map" }, ...errors(404, 426, 429) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new AppError("UPGRADE_REQUIRED", "This endpoint speaks WebSocket", undefined, { Upgrade: "websocket" });
      }
      if (!(await wasPublished(c.var.db(), id))) throw new AppError("NOT_FOUND", "No such event on sale");
      const res = await openLiveSocket(c.env, id, c.req.raw.url, c.req.raw.headers, c.var.user?.id ?? null, c.var.requestId);
      if (res.status === 101) return res as never;
      const body = (await res.json().catch(() => ({}))) as { message?: string };
      throw new AppError(res.status === 404 ? "NOT_FOUND" : "UPGRADE_REQUIRED", body.message ?? "Could not open the live seat map");
    },
  );
