import { createRoute, z } from "@hono/zod-openapi";
import { requireUser } from "../auth/guards";
import { AppError } from "../lib/errors";
import { idempotent } from "../lib/idempotent-request";
import { coloOf, measured, writeMetric } from "../lib/metrics";
import { eventIdOfHold } from "../../durable-objects/inventory/contract";
import { IdempotencyHeaders, errors, json, router } from "../lib/openapi";
import { cancelBooking, cancelCutoffSeconds, getBooking, listBookings, requestBooking, type BookingView, type CheckoutPayment as CheckoutPaymentView } from "../services/bookings";
import { bookingEventStream } from "../services/booking-events";
import { PAYMENT_METHODS } from "../services/payments";
import { HoldLine } from "./holds";

const Booking = z
  .object({
    id: z.string().uuid(),
    eventId: z.string().uuid(),
    holdId: z.string(),
    status: z.enum(["pending", "confirmed", "failed", "cancelled"]),
    seats: z.array(z.object({ id: z.string(), priceCents: z.number().int() })),
    lines: z.array(HoldLine),
    voucherId: z.string().nullable(),
    quantity: z.number().int(),
    totalCents: z.number().int(),
    currency: z.string(),
    paymentMethod: z.string(),
    paymentDeadline: z.string(),
    failureReason: z.string().nullable(),
    createdAt: z.string(),
    confirmedAt: z.string().nullable(),
    cancelledAt: z.string().nullable(),
  })
  .openapi("Booking");

/** POST /v1/bookings only: how the page pays (docs/bookings.md#taking-real-payments). */
const CheckoutPayment = z
  .object({
    provider: z.enum(["sandbox", "stripe"]),
    clientSecret: z.string().optional().openapi({ description: "Stripe: the PaymentIntent's client secret, for the Payment Element (stripe.confirmPayment)" }),
    publishableKey: z.string().optional().openapi({ description: "Stripe: the publishable key Stripe.js is started with" }),
  })
  .openapi("CheckoutPayment");

const BookingAccepted = Booking.extend({ payment: CheckoutPayment }).openapi("BookingAccepted");

const BookingRequest = z
  .object({
    holdId: z.string().min(1).max(200),
    paymentMethod: z.enum(PAYMENT_METHODS).default("pm_card_ok").openapi({ description: "Sandbox payment method (API.md)" }),
  })
  .openapi("BookingRequest");

const Id = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const security = [{ bearer: [] }];

export const bookingRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/bookings",
      tags: ["bookings"],
      description:
        "409 codes: EVENT_CANCELLED (the hold's event was cancelled; nothing is charged), INVALID_STATE, IDEMPOTENCY_CONFLICT. 410 HOLD_EXPIRED. 503 DEPENDENCY_UNAVAILABLE with Retry-After: (Stripe) the booking is made but its PaymentIntent could not be created; the same request again answers the booking with its `payment`.",
      security,
      middleware: [requireUser] as const,
      request: { headers: IdempotencyHeaders, body: { content: { "application/json": { schema: BookingRequest } }, required: true } },
      responses: { 202: json(BookingAccepted, "Booking accepted; the saga takes it on"), 200: json(BookingAccepted, "The booking already made for this hold"), ...errors(400, 401, 404, 409, 410, 429, 503) },
    }),
    async (c) => {
      const user = c.var.user;
      if (c.var.config.rateLimits !== "off") {
        const { success } = await c.env.BOOKING_LIMITER.limit({ key: `booking:${user.id}` });
        if (!success) throw new AppError("RATE_LIMITED", "Too many bookings, slow down", undefined, { "Retry-After": "10" });
      }
      const input = c.req.valid("json");
      const reply = await measured(
        c.env,
        { kind: "booking", eventId: eventIdOfHold(input.holdId) ?? "", action: "requested", colo: coloOf(c.req.raw) },
        () =>
          idempotent(c.var.db(), user.id, c.req.valid("header")["idempotency-key"], { route: "POST /v1/bookings", body: input }, async () => {
            const r = await requestBooking(c.env, c.var.db(), user, input, new Date(), c.var.keep);
            return { status: r.status, body: { ...r.booking, payment: r.payment } };
          }),
        (r) => ({ quantity: (r.body as BookingView).quantity, amountCents: (r.body as BookingView).totalCents }),
      );
      return c.json(reply.body as BookingView & { payment: CheckoutPaymentView }, reply.status as 200 | 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/bookings",
      tags: ["bookings"],
      security,
      middleware: [requireUser] as const,
      request: {
        query: z.object({
          status: z.enum(["pending", "confirmed", "failed", "cancelled"]).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.string().max(200).optional(),
        }),
      },
      responses: { 200: json(z.object({ data: z.array(Booking), nextCursor: z.string().nullable() }), "Own bookings, newest first"), ...errors(400, 401) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(await listBookings(c.var.db(), c.var.user.id, { status: q.status, limit: q.limit, cursor: q.cursor }), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/bookings/{id}",
      tags: ["bookings"],
      security,
      middleware: [requireUser] as const,
      request: { params: Id },
      responses: { 200: json(Booking), ...errors(401, 404) },
    }),
    async (c) => c.json(await getBooking(c.var.db(), c.var.user, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/bookings/{id}/events",
      tags: ["bookings"],
      description:
        'Server-sent events instead of polling: `event: booking` with `data: {"id","status","failureReason"?}` for the current status at once, then the outcome when the booking reaches `confirmed`, `failed` or `cancelled`, then the stream ends (`: ping` comments every 15 s meanwhile). A stream still pending after 5 minutes ends too: connect again. See docs/bookings.md.',
      security,
      middleware: [requireUser] as const,
      request: { params: Id },
      responses: {
        200: { description: "The booking's status events, until a final one", content: { "text/event-stream": { schema: z.string() } } },
        ...errors(401, 404, 503),
      },
    }),
    async (c) => (await bookingEventStream(c.env, c.var.db(), c.var.user.id, c.req.valid("param").id)) as never,
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/bookings/{id}/cancel",
      tags: ["bookings"],
      security,
      middleware: [requireUser] as const,
      request: { params: Id },
      responses: { 202: json(Booking, "Cancelled; seats return and the refund follows"), ...errors(401, 404, 409) },
    }),
    async (c) => {
      const started = Date.now();
      const booking = await cancelBooking(c.env, c.var.db(), c.var.user, c.req.valid("param").id, cancelCutoffSeconds(c.env), new Date());
      writeMetric(c.env, { kind: "booking", eventId: booking.eventId, outcome: "ok", action: "cancelled", latencyMs: Date.now() - started, quantity: booking.quantity, amountCents: booking.totalCents, colo: coloOf(c.req.raw) });
      return c.json(booking, 202);
    },
  );
