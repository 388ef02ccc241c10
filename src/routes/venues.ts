import { createRoute, z } from "@hono/zod-openapi";
import { guarded } from "../auth/org-guard";
import { edgeCached, purge } from "../lib/edge-cache";
import { idempotent } from "../lib/idempotent-request";
import { IdempotencyHeaders, errors, json, router } from "../lib/openapi";
import { LayoutSchema } from "../services/layout";
import { createVenue, deleteVenue, getVenue, listVenues, updateVenue, venueJson } from "../services/venues";

const Text = (max: number) => z.string().trim().min(1).max(max);

// Defined in the service (no Hono there), so it is documented inline rather than as a named component.
export const Layout = LayoutSchema;

const VenueBody = z
  .object({
    name: Text(200),
    city: Text(100),
    address: Text(500),
    timezone: Text(64).openapi({ example: "Europe/Berlin" }),
    layout: Layout.optional().openapi({ description: "Reserved seating; at most 100,000 seats, unique section names and row labels" }),
    capacity: z.number().int().openapi({ description: "General admission capacity; defaults to the layout's seat count" }).optional(),
    orgId: z.string().uuid().optional().openapi({ description: "The organization that will own the venue; default: the caller's personal organization" }),
  })
  .openapi("VenueInput");

const VenuePatch = VenueBody.omit({ orgId: true })
  .partial()
  .extend({ layout: Layout.nullable().optional() })
  .openapi("VenuePatch", { description: "A new layout without a capacity resets the capacity to its seat count" });

export const Venue = z
  .object({
    id: z.string().uuid(),
    orgId: z.string().uuid(),
    ownerId: z.string().uuid().openapi({ description: "Who created the venue" }),
    name: z.string(),
    city: z.string(),
    address: z.string(),
    timezone: z.string(),
    layout: Layout.nullable(),
    capacity: z.number().int(),
    seatCount: z.number().int().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Venue");

const IdParam = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const bearer = [{ bearer: [] }];

export const venuesRouter = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/venues",
      tags: ["venues"],
      security: bearer,
      ...guarded("venue.manage", "new"),
      request: { headers: IdempotencyHeaders, body: { content: { "application/json": { schema: VenueBody } }, required: true } },
      responses: { 201: json(Venue, "Created"), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const reply = await idempotent(c.var.db(), c.var.user.id, c.req.valid("header")["idempotency-key"], { route: "POST /v1/venues", body }, async () => {
        const row = await createVenue(c.var.db(), c.var.user, body, new Date());
        await purge(c, ["/v1/venues"]);
        return { status: 201, body: venueJson(row) };
      });
      return c.json(reply.body as ReturnType<typeof venueJson>, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/venues",
      tags: ["venues"],
      middleware: [edgeCached],
      request: {
        query: z.object({
          city: z.string().max(100).optional(),
          orgId: z.string().uuid().optional().openapi({ description: "Only this organization's venues" }),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.string().max(512).optional(),
        }),
      },
      responses: { 200: json(z.object({ data: z.array(Venue), nextCursor: z.string().nullable() }).openapi("VenuePage")), 304: { description: "Not modified" }, ...errors(400, 429) },
    }),
    async (c) => {
      const page = await listVenues(c.var.db(), c.req.valid("query"));
      return c.json({ data: page.data.map(venueJson), nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/venues/{id}",
      tags: ["venues"],
      middleware: [edgeCached],
      request: { params: IdParam },
      responses: { 200: json(Venue), 304: { description: "Not modified" }, ...errors(404, 429) },
    }),
    async (c) => c.json(venueJson(await getVenue(c.var.db(), c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/venues/{id}",
      tags: ["venues"],
      security: bearer,
      ...guarded("venue.manage", "venue"),
      request: { params: IdParam, body: { content: { "application/json": { schema: VenuePatch } }, required: true } },
      responses: { 200: json(Venue), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await updateVenue(c.var.db(), c.var.user, id, c.req.valid("json"), new Date());
      await purge(c, [`/v1/venues/${id}`, "/v1/venues"]);
      return c.json(venueJson(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/venues/{id}",
      tags: ["venues"],
      security: bearer,
      ...guarded("venue.manage", "venue"),
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errors(401, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await deleteVenue(c.var.db(), c.var.user, id);
      await purge(c, [`/v1/venues/${id}`, "/v1/venues"]);
      return c.body(null, 204);
    },
  );
