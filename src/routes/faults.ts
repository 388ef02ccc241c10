// Fault injection for `npm run soak` (scripts/soak.ts), local only. The routes exist only when the
// Worker runs with EVENTLY_FAULTS=on, a variable the soak passes with `--var`; wrangler.toml and
// production never set it, and without it every path here answers the same 404 as any unknown path.
// Admin only even then. Not part of the public API, so not in the OpenAPI document.
import { Hono } from "hono";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { requireRole, requireUser } from "../auth/guards";
import { bookings } from "../db/schema";
import type { AppEnv } from "../app-env";
import { AppError } from "../lib/errors";
import type { SagaMessage } from "../queues/messages";
import { inventory } from "../../durable-objects/inventory/client";

const OutageBody = z.object({ on: z.boolean() });
const Uuid = z.string().uuid();

export const faults = new Hono<AppEnv>()
  .use("/_local/faults/*", async (c, next) => {
    if (c.env.EVENTLY_FAULTS !== "on") throw new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`);
    await next();
  })
  .use("/_local/faults/*", requireUser, requireRole())
  // The event's inventory object is reset as a crash would (ctx.abort); the next call gets a fresh instance.
  .post("/_local/faults/inventory/:eventId/abort", async (c) => {
    const eventId = Uuid.safeParse(c.req.param("eventId"));
    if (!eventId.success) throw new AppError("VALIDATION_FAILED", "eventId must be a UUID");
    try {
      const res = await inventory(c.env, eventId.data).faultAbort();
      if (!res.ok) throw new AppError("NOT_FOUND", "The object refused the fault");
    } catch (e) {
      if (e instanceof AppError) throw e;
      // ctx.abort() ends the call with an error: that is the fault landing.
      return c.json({ aborted: true, eventId: eventId.data, error: String(e) }, 202);
    }
    throw new AppError("INTERNAL", "the object did not abort");
  })
  // The sandbox card network fails every call like an outage until switched back.
  .post("/_local/faults/payments/outage", async (c) => {
    const body = OutageBody.safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw new AppError("VALIDATION_FAILED", "Expected {\"on\": boolean}");
    await c.env.PAYMENT_SANDBOX.get(c.env.PAYMENT_SANDBOX.idFromName("card-network")).setOutage(body.data.on);
    return c.json({ outage: body.data.on }, 200);
  })
  // The card network's own ledger: what was really charged and refunded.
  .get("/_local/faults/payments/ledger", async (c) => {
    const entries = await c.env.PAYMENT_SANDBOX.get(c.env.PAYMENT_SANDBOX.idFromName("card-network")).ledger();
    return c.json({ data: entries }, 200);
  })
  // The booking's saga message once more: a queue delivering it twice.
  .post("/_local/faults/bookings/:id/redeliver", async (c) => {
    const id = Uuid.safeParse(c.req.param("id"));
    if (!id.success) throw new AppError("VALIDATION_FAILED", "id must be a UUID");
    const [b] = await c.var.db().select({ id: bookings.id, status: bookings.status }).from(bookings).where(eq(bookings.id, id.data));
    if (!b) throw new AppError("NOT_FOUND", "No such booking");
    const message: SagaMessage = b.status === "cancelled" ? { type: "booking.cancel-requested", bookingId: b.id } : { type: "booking.requested", bookingId: b.id };
    await c.env.BOOKING_SAGA.send(message);
    return c.json({ sent: message }, 202);
  });
