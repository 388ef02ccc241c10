import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireUser } from "../auth/guards";
import type { AppEnv } from "../app-env";
import { AppError } from "../lib/errors";
import { errors, json, router } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import { inventory } from "../../durable-objects/inventory/client";
import { wasPublished } from "../services/published-events";

const Entry = z
  .object({
    id: z.string(),
    eventId: z.string().uuid(),
    quantity: z.number().int(),
    status: z.enum(["waiting", "offered", "expired", "converted", "left", "cancelled"]).openapi({ description: "cancelled: the event was cancelled while you waited (or your offer was open)" }),
    position: z.number().int().nullable().openapi({ description: "1 = offered next; null once no longer waiting" }),
    holdId: z.string().nullable().openapi({ description: "The hold reserved for you while offered: book it with POST /v1/bookings {holdId}" }),
    offerExpiresAt: z.string().nullable(),
    joinedAt: z.string(),
    offeredAt: z.string().nullable(),
  })
  .openapi("WaitlistEntry");

const JoinBody = z.object({ quantity: z.number().int().min(1).max(50) }).openapi("WaitlistJoin");
const EventParam = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });

/** The entry as the API shows it: the object's view without the user id (it is always the caller). */
function shape(e: { userId: string } & z.infer<typeof Entry>): z.infer<typeof Entry> {
  const { userId: _userId, ...rest } = e;
  return rest;
}

const WAITLIST_LIMIT_PERIOD_SECONDS = 10;

/** Per user on join and leave: each is a write in the event's object, which every buyer shares. */
const limitWaitlist = (c: Context<AppEnv>) =>
  enforceRateLimit(c.var.config, c.env.WAITLIST_LIMITER, `waitlist:${c.var.user.id}`, WAITLIST_LIMIT_PERIOD_SECONDS, "waitlist changes");

export const waitlist = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/waitlist",
      tags: ["waitlist"],
      security: [{ bearer: [] }],
      description: "Join the event's waitlist. Seats that come back are offered in arrival order as a hold reserved for you.",
      middleware: [requireUser] as const,
      request: { params: EventParam, body: { content: { "application/json": { schema: JoinBody } }, required: true } },
      responses: {
        201: json(Entry, "Joined: waiting at `position`"),
        200: json(Entry, "Already on this waitlist: your entry as it is"),
        ...errors(400, 401, 404, 409, 422, 429),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { quantity } = c.req.valid("json");
      await limitWaitlist(c);
      if (!(await wasPublished(c.var.db(), id))) throw new AppError("NOT_FOUND", "No such event");
      const res = await inventory(c.env, id).joinWaitlist(c.var.user.id, quantity);
      return c.json(shape(res.entry), res.created ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/waitlist/me",
      tags: ["waitlist"],
      security: [{ bearer: [] }],
      middleware: [requireUser] as const,
      request: { params: EventParam },
      responses: { 200: json(Entry, "Your latest entry in this event's waitlist"), ...errors(401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!(await wasPublished(c.var.db(), id))) throw new AppError("NOT_FOUND", "No such event");
      const entry = await inventory(c.env, id).waitlistEntry(c.var.user.id);
      c.header("Cache-Control", "no-store");
      return c.json(shape(entry), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/events/{id}/waitlist/me",
      tags: ["waitlist"],
      security: [{ bearer: [] }],
      description: "Leave the waitlist. While offered, the reserved hold is released and offered to the next in line.",
      middleware: [requireUser] as const,
      request: { params: EventParam },
      responses: { 204: { description: "Left (also when the entry had already ended)" }, ...errors(401, 404, 409, 429) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await limitWaitlist(c);
      if (!(await wasPublished(c.var.db(), id))) throw new AppError("NOT_FOUND", "No such event");
      await inventory(c.env, id).leaveWaitlist(c.var.user.id);
      return c.body(null, 204);
    },
  );
