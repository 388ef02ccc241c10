import { createRoute, z } from "@hono/zod-openapi";
import { requireRole, requireUser } from "../auth/guards";
import { ROLES } from "../auth/tokens";
import { errors, json, router } from "../lib/openapi";
import { clientIp } from "../lib/rate-limit";
import { updateUser } from "../services/auth";
import { User } from "./auth";

const UserUpdate = z
  .strictObject({
    role: z.enum(ROLES).optional(),
    disabled: z.boolean().optional().openapi({ description: "true disables the account; its tokens stop working at once" }),
  })
  .refine((b) => b.role !== undefined || b.disabled !== undefined, { message: "Give role, disabled, or both" })
  .openapi("UserUpdate");

export const adminUsers = router().openapi(
  createRoute({
    method: "patch",
    path: "/v1/admin/users/{id}",
    tags: ["admin"],
    summary: "Change a user's role, disable or enable the account",
    middleware: [requireUser, requireRole("admin")] as const,
    security: [{ bearer: [] }],
    request: {
      params: z.object({ id: z.string().max(64) }),
      body: { required: true, content: { "application/json": { schema: UserUpdate } } },
    },
    responses: { 200: json(User, "The updated account"), ...errors(400, 401, 403, 404, 409) },
  }),
  async (c) => {
    const user = await updateUser(
      { db: c.var.db(), env: c.env, config: c.var.config, ip: clientIp((n) => c.req.header(n)) },
      c.var.user.id,
      c.req.valid("param").id,
      c.req.valid("json"),
    );
    return c.json(user, 200);
  },
);
