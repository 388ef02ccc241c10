import { createRoute, z } from "@hono/zod-openapi";
import { requireUser } from "../auth/guards";
import { errors, json, router } from "../lib/openapi";
import { listNotifications } from "../services/notifications";

const Notification = z
  .object({ id: z.string().uuid(), type: z.string(), payload: z.unknown(), emailed: z.boolean(), createdAt: z.string() })
  .openapi("Notification");

export const notificationRoutes = router().openapi(
  createRoute({
    method: "get",
    path: "/v1/notifications",
    tags: ["notifications"],
    security: [{ bearer: [] }],
    middleware: [requireUser] as const,
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().max(200).optional() }) },
    responses: { 200: json(z.object({ data: z.array(Notification), nextCursor: z.string().nullable() }), "Own notifications, newest first"), ...errors(400, 401) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    return c.json(await listNotifications(c.var.db(), c.var.user.id, q.limit, q.cursor), 200);
  },
);
