import { createRoute, z } from "@hono/zod-openapi";
import { requireUser } from "../auth/guards";
import { guarded } from "../auth/org-guard";
import { IdempotencyHeaders, errors, json, router } from "../lib/openapi";
import { idempotent } from "../lib/idempotent-request";
import { createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, replayDelivery, updateWebhook, WEBHOOK_TYPES } from "../services/webhooks";

const Webhook = z
  .object({
    id: z.string().uuid(),
    orgId: z.string().uuid().nullable().openapi({ description: "The organization the webhook belongs to; null: a platform admin's global webhook" }),
    url: z.string(),
    events: z.array(z.string()),
    eventId: z.string().uuid().nullable(),
    createdBy: z.string().uuid().openapi({ description: "Who created it (the webhook stays the organization's when they leave)" }),
    createdAt: z.string(),
  })
  .openapi("Webhook");

const Delivery = z
  .object({
    id: z.string().uuid(),
    type: z.string(),
    status: z.enum(["pending", "delivered", "failed", "skipped"]).openapi({ description: "skipped: not sent, the endpoint's owner lost access (the attempt's error says why)" }),
    attempts: z.array(
      z.object({
        at: z.string(),
        statusCode: z.number().int().nullable(),
        error: z.string().nullable().openapi({
          description: "A class, never the raw error: http_3xx, http_4xx, http_5xx, http_other, timeout, connect_failed, url_refused; owner_disabled, owner_lacks_access (a global hook's creator), no_active_manager (no enabled owner or admin left in the hook's organization) for a skipped delivery",
        }),
        durationMs: z.number().int(),
      }),
    ),
    lastStatusCode: z.number().int().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
  })
  .openapi("WebhookDelivery");

const Id = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const security = [{ bearer: [] }];

export const webhookRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks",
      tags: ["webhooks"],
      description:
        "Deliveries are POSTs of {id,type,createdAt,data} with `Evently-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"t.body\">` and `Evently-Delivery: <id>` (dedupe on it). The webhook belongs to an organization: the event's (eventId), else orgId, else the caller's personal organization (a plain account: its only organization with webhook.manage); without eventId it gets every event of that organization. A platform admin naming neither makes a global webhook (every event). The URL must be https on a public address (loopback only where WEBHOOK_ALLOW_LOOPBACK=on, never in production). Delivery errors show as classes (http_5xx, timeout, connect_failed…); a global webhook whose admin lost the role gets no deliveries (status skipped).",
      security,
      ...guarded("webhook.manage", "new"),
      request: {
        headers: IdempotencyHeaders,
        body: {
          content: { "application/json": { schema: z
              .object({
                url: z.string().url().max(2000),
                events: z.array(z.enum(WEBHOOK_TYPES)).min(1),
                eventId: z.string().uuid().optional(),
                orgId: z.string().uuid().optional().openapi({ description: "The organization the webhook belongs to (default: the event's, else see above)" }),
              })
              .openapi("WebhookRequest") } },
          required: true,
        },
      },
      responses: { 201: json(Webhook.extend({ secret: z.string() }), "Created; the signing secret is shown once"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const reply = await idempotent(c.var.db(), c.var.user.id, c.req.valid("header")["idempotency-key"], { route: "POST /v1/webhooks", body }, async () => ({
        status: 201,
        body: await createWebhook(c.env, c.var.db(), c.var.user, body),
      }));
      return c.json(reply.body as Awaited<ReturnType<typeof createWebhook>>, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks",
      tags: ["webhooks"],
      summary: "The webhooks of every organization where my role has webhook.manage (a platform admin: and the global ones)",
      security,
      middleware: [requireUser] as const,
      request: { query: z.object({ orgId: z.string().uuid().optional().openapi({ description: "Only this organization's webhooks (403/404 if it is not mine to manage)" }) }) },
      responses: { 200: json(z.object({ data: z.array(Webhook) })), ...errors(401, 403, 404) },
    }),
    async (c) => c.json({ data: await listWebhooks(c.var.db(), c.var.user, c.req.valid("query").orgId) }, 200),
  )
  .openapi(
    createRoute({ method: "get", path: "/v1/webhooks/{id}", tags: ["webhooks"], security, ...guarded("webhook.manage", "webhook"), request: { params: Id }, responses: { 200: json(Webhook), ...errors(401, 403, 404) } }),
    async (c) => c.json(await getWebhook(c.var.db(), c.var.user, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/webhooks/{id}",
      tags: ["webhooks"],
      summary: "Change a webhook's URL or event types (its organization, event and secret stay)",
      security,
      ...guarded("webhook.manage", "webhook"),
      request: {
        params: Id,
        body: {
          content: {
            "application/json": {
              schema: z
                .object({ url: z.string().url().max(2000).optional(), events: z.array(z.enum(WEBHOOK_TYPES)).min(1).optional() })
                .refine((b) => b.url !== undefined || b.events !== undefined, { message: "Give url or events" })
                .openapi("WebhookPatch"),
            },
          },
          required: true,
        },
      },
      responses: { 200: json(Webhook), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(await updateWebhook(c.env, c.var.db(), c.var.user, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/webhooks/{id}",
      tags: ["webhooks"],
      security,
      ...guarded("webhook.manage", "webhook"),
      request: { params: Id },
      responses: { 204: { description: "Deleted; pending deliveries stop" }, ...errors(401, 403, 404) },
    }),
    async (c) => {
      await deleteWebhook(c.var.db(), c.var.user, c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks/{id}/deliveries",
      tags: ["webhooks"],
      security,
      ...guarded("webhook.manage", "webhook"),
      request: { params: Id, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }) },
      responses: { 200: json(z.object({ data: z.array(Delivery) }), "Newest first, each with every attempt"), ...errors(401, 403, 404) },
    }),
    async (c) => c.json({ data: await listDeliveries(c.var.db(), c.var.user, c.req.valid("param").id, c.req.valid("query").limit) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks/{id}/deliveries/{deliveryId}/replay",
      tags: ["webhooks"],
      security,
      ...guarded("webhook.manage", "webhook"),
      request: { params: Id.extend({ deliveryId: z.string().uuid().openapi({ param: { name: "deliveryId", in: "path" } }) }) },
      responses: { 202: json(z.object({ id: z.string().uuid(), status: z.literal("pending") }), "Queued again, same delivery id"), ...errors(401, 403, 404) },
    }),
    async (c) => {
      const { id, deliveryId } = c.req.valid("param");
      await replayDelivery(c.env, c.var.db(), c.var.user, id, deliveryId);
      return c.json({ id: deliveryId, status: "pending" as const }, 202);
    },
  );
