import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { OnSaleInput } from "../../durable-objects/onsale/contract";
import { optionalUser, requireUser } from "../auth/guards";
import { guarded } from "../auth/org-guard";
import type { AppEnv } from "../app-env";
import { AppError } from "../lib/errors";
import { errors, json, router } from "../lib/openapi";
import { enforceRateLimit, knownClientIp } from "../lib/rate-limit";
import { managedEvent as lookUp } from "../services/event-access";
import { waitingRoom } from "../../durable-objects/onsale/client";

// On-sale mode: the event's waiting room (API.md "On-sale mode", docs/onsale.md).

const EventParam = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const bearer = [{ bearer: [] }];

const OnSaleBody = OnSaleInput.openapi("OnSaleRequest");
const OnSaleConfig = z
  .object({
    eventId: z.string().uuid(),
    opensAt: z.string(),
    shards: z.number().int(),
    maxActiveShoppers: z.number().int(),
    admitPerMinute: z.number().int().nullable(),
    shopperSessionSeconds: z.number().int(),
    powDifficulty: z.number().int(),
    status: z.enum(["scheduled", "open", "off"]),
  })
  .openapi("OnSale");
const Admission = z.object({ token: z.string(), expiresAt: z.string() }).openapi("Admission");
const Place = z
  .object({
    status: z.enum(["waiting", "admitted", "expired", "sold_out"]),
    position: z.number().int().nullable().optional().openapi({ description: "1-based; null for an early arrival until the opening's draw" }),
    estimatedWaitSeconds: z.number().int().optional(),
    opensAt: z.string().optional(),
    admission: Admission.optional().openapi({ description: "Send as X-Admission-Token (HTTP) or `admission` (socket hold frame)" }),
    waitlist: z.string().optional().openapi({ description: "Sold out: where to queue for seats that come back; absent while the waitlist is closed (always, while the room is on)" }),
  })
  .openapi("QueuePlace");
const JoinBody = z
  .object({
    challenge: z.string().max(256).optional(),
    nonce: z.string().max(64).optional().openapi({ description: "sha256(`<challenge>:<userId>:<nonce>`) must start with `difficulty` zero bits" }),
  })
  .strict()
  .openapi("QueueJoin");
const Stats = z
  .object({
    waiting: z.number().int(),
    admitted: z.number().int(),
    activeShoppers: z.number().int(),
    admitPerMinute: z.number().int(),
    soldOut: z.boolean(),
    shards: z.number().int(),
    status: z.enum(["scheduled", "open", "off"]),
    opensAt: z.string(),
  })
  .openapi("QueueStats");

/** The event, managed by the caller (owner or admin). */
const managedEvent = (c: Context<AppEnv>, id: string) => lookUp(c.var.db(), c.var.user, id);

const JOIN_LIMIT_PERIOD_SECONDS = 60;

export const onSale = router()
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/events/{id}/on-sale",
      tags: ["on-sale"],
      security: bearer,
      description:
        "Puts a published event in on-sale mode: from now on its holds need an admission token from its waiting room. Changeable until it opens; once open, the same body again is a retry (409 for other settings). A PUT after DELETE starts a new room: admissions of the earlier one are refused (403 ADMISSION_SUPERSEDED). 503 DEPENDENCY_UNAVAILABLE: the switch did not complete (holds already need an admission); send the same PUT again.",
      ...guarded("onsale.manage", "event"),
      request: { params: EventParam, body: { content: { "application/json": { schema: OnSaleBody } }, required: true } },
      responses: { 200: json(OnSaleConfig, "The on-sale configuration"), ...errors(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      const e = await managedEvent(c, id);
      if (e.status !== "published") throw new AppError("INVALID_STATE", "Only a published event can go on sale");
      return c.json(await waitingRoom(c.env, id).configure(c.req.valid("json")), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/events/{id}/on-sale",
      tags: ["on-sale"],
      security: bearer,
      description: "Ends on-sale mode: holds are open to all again.",
      ...guarded("onsale.manage", "event"),
      request: { params: EventParam },
      responses: { 204: { description: "Ended (also when it was not on)" }, ...errors(401, 403, 404) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      await managedEvent(c, id);
      await waitingRoom(c.env, id).end();
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/queue/challenge",
      tags: ["on-sale"],
      description: "A proof-of-work challenge for joining (needed when the room's difficulty is above 0): find a nonce such that sha256(`<challenge>:<userId>:<nonce>`) starts with `difficulty` zero bits.",
      request: { params: EventParam },
      responses: { 200: json(z.object({ challenge: z.string(), difficulty: z.number().int(), expiresAt: z.string() }).openapi("QueueChallenge"), "A challenge"), ...errors(409) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      c.header("Cache-Control", "no-store");
      return c.json(await waitingRoom(c.env, id).challenge(), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/queue",
      tags: ["on-sale"],
      security: bearer,
      description: "Join the waiting room. One place per user: joining again answers the same place (200), never a better one.",
      middleware: [requireUser] as const,
      request: { params: EventParam, body: { content: { "application/json": { schema: JoinBody } }, required: false } },
      responses: { 201: json(Place, "Joined"), 200: json(Place, "Already in the queue: your place as it is"), ...errors(400, 401, 403, 409, 429) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      const ip = knownClientIp((n) => c.req.header(n));
      if (ip) await enforceRateLimit(c.var.config, c.env.QUEUE_JOIN_LIMITER, `queue:${ip}`, JOIN_LIMIT_PERIOD_SECONDS, "queue joins from this address");
      const body = c.req.valid("json") ?? {};
      const res = await waitingRoom(c.env, id).join(c.var.user.id, body);
      c.header("Cache-Control", "no-store");
      return c.json(res.view, res.created ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/queue/me",
      tags: ["on-sale"],
      security: bearer,
      middleware: [requireUser] as const,
      request: { params: EventParam },
      responses: { 200: json(Place, "Your place, or your admission"), ...errors(401, 404) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      c.header("Cache-Control", "no-store");
      return c.json(await waitingRoom(c.env, id).me(c.var.user.id), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/queue/live",
      tags: ["on-sale"],
      description:
        'WebSocket of your place: send `{"type":"auth","token":…}` within 10 s; then frames `position`, `admitted` (with the admission), `sold_out`, `expired`. The socket lands on your queue shard: give `?user=<your user id>` (not a secret; the auth frame must prove it). Only for a user with a place (404 before joining); at most two sockets per visitor (a third closes the oldest); 503 when the shard has no room for more sockets (poll `queue/me`).',
      middleware: [optionalUser] as const,
      request: { params: EventParam, query: z.object({ user: z.string().min(1).max(100).optional() }) },
      responses: { 101: { description: "Switching to the live queue" }, ...errors(400, 404, 409, 426, 503) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new AppError("UPGRADE_REQUIRED", "This endpoint speaks WebSocket", undefined, { Upgrade: "websocket" });
      }
      const userId = c.var.user?.id ?? c.req.valid("query").user;
      if (!userId) throw new AppError("VALIDATION_FAILED", "Name the user whose place this socket follows: ?user=<user id>");
      const res = await waitingRoom(c.env, id).openLive(userId, new Request(c.req.raw.url, { method: "GET", headers: c.req.raw.headers }));
      return res as never;
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/queue/stats",
      tags: ["on-sale"],
      security: bearer,
      ...guarded("onsale.stats", "event"),
      request: { params: EventParam },
      responses: { 200: json(Stats, "The room as the organizer sees it"), ...errors(401, 403, 404, 409) },
    }),
    async (c) => {
      const id = c.req.valid("param").id.toLowerCase();
      await managedEvent(c, id);
      c.header("Cache-Control", "no-store");
      return c.json(await waitingRoom(c.env, id).stats(), 200);
    },
  );
