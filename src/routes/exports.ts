import { createRoute, z } from "@hono/zod-openapi";
import { guarded } from "../auth/org-guard";
import { errors, router } from "../lib/openapi";
import { managedEvent } from "../services/event-access";
import { csvStream, type ExportKind } from "../services/exports";

const security = [{ bearer: [] }];

function exportRoute(kind: ExportKind) {
  return createRoute({
    method: "get",
    path: `/v1/events/{id}/exports/${kind}.csv`,
    tags: ["exports"],
    description: `The event's ${kind} as CSV (RFC 4180, UTF-8, CRLF), streamed page by page.`,
    security,
    ...guarded("sales.export", "event"),
    request: { params: z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) }) },
    responses: { 200: { description: "CSV", content: { "text/csv": { schema: z.string() } } }, ...errors(401, 403, 404) },
  });
}

export const exportRoutes = router();
for (const kind of ["attendees", "bookings"] as const) {
  exportRoutes.openapi(exportRoute(kind), async (c) => {
    const eventId = c.req.valid("param").id;
    await managedEvent(c.var.db(), c.var.user, eventId);
    return c.body(csvStream(c.env, kind, eventId), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${kind}-${eventId}.csv"`,
      "cache-control": "private, no-store",
    });
  });
}
