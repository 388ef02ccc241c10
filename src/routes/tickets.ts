import { createRoute, z } from "@hono/zod-openapi";
import { renderSVG } from "uqr";
import { requireUser } from "../auth/guards";
import { IdempotencyHeaders, errors, json, router } from "../lib/openapi";
import { idempotent } from "../lib/idempotent-request";
import { checkinDesk } from "../../durable-objects/checkin-desk/client";
import { getTicket, listTickets, ticketView, transferTicket } from "../services/tickets";
import { sendDeliveries } from "../services/webhooks";
import { AppError } from "../lib/errors";

const Ticket = z
  .object({
    id: z.string().uuid(),
    bookingId: z.string().uuid(),
    eventId: z.string().uuid(),
    seatId: z.string().nullable(),
    ticketTypeId: z.string().nullable(),
    holderName: z.string(),
    status: z.enum(["valid", "cancelled", "transferred"]),
    code: z.string().nullable().openapi({ description: "The signed code (compact JWS, EdDSA) a scanner reads; null once the ticket is no longer valid" }),
    createdAt: z.string(),
  })
  .openapi("Ticket");

const Id = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const security = [{ bearer: [] }];

export const ticketRoutes = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/tickets",
      tags: ["tickets"],
      security,
      middleware: [requireUser] as const,
      request: {
        query: z.object({
          eventId: z.string().uuid().optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.string().max(200).optional(),
        }),
      },
      responses: { 200: json(z.object({ data: z.array(Ticket), nextCursor: z.string().nullable() }), "The caller's tickets, newest first"), ...errors(400, 401) },
    }),
    async (c) => c.json(await listTickets(c.var.db(), c.var.user, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/tickets/{id}",
      tags: ["tickets"],
      security,
      middleware: [requireUser] as const,
      request: { params: Id },
      responses: { 200: json(Ticket), ...errors(401, 404) },
    }),
    async (c) => c.json(ticketView(await getTicket(c.var.db(), c.var.user, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/tickets/{id}/qr.svg",
      tags: ["tickets"],
      description: "The ticket's code as a QR image (SVG). 409 INVALID_STATE for a ticket that no longer scans.",
      security,
      middleware: [requireUser] as const,
      request: { params: Id },
      responses: { 200: { description: "QR code", content: { "image/svg+xml": { schema: z.string() } } }, ...errors(401, 404, 409) },
    }),
    async (c) => {
      const t = await getTicket(c.var.db(), c.var.user, c.req.valid("param").id);
      if (t.status !== "valid") throw new AppError("INVALID_STATE", `A ${t.status} ticket has no code to show`, { status: t.status });
      // Error correction M: a phone screen with some glare still scans.
      const svg = renderSVG(t.code, { ecc: "M", border: 2, pixelSize: 4 });
      return c.body(svg, 200, { "content-type": "image/svg+xml; charset=utf-8", "cache-control": "private, no-store" });
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/tickets/{id}/transfer",
      tags: ["tickets"],
      description: "Hands the ticket to another account: the old code dies at once, the recipient gets a new ticket and code. 409 INVALID_STATE once the ticket was checked in (or is cancelled); 404 when no account has that email.",
      security,
      middleware: [requireUser] as const,
      request: { params: Id, headers: IdempotencyHeaders, body: { content: { "application/json": { schema: z.object({ toEmail: z.string().email().max(320) }).openapi("TicketTransfer") } }, required: true } },
      responses: { 200: json(Ticket.extend({ transferredTo: z.object({ ticketId: z.string().uuid(), email: z.string() }) }), "The old ticket, now transferred"), ...errors(400, 401, 404, 409) },
    }),
    async (c) => {
      const env = c.env;
      const db = c.var.db();
      const id = c.req.valid("param").id;
      const body = c.req.valid("json");
      const reply = await idempotent(db, c.var.user.id, c.req.valid("header")["idempotency-key"], { route: `POST /v1/tickets/${id}/transfer`, body }, async () => ({
        status: 200,
        body: await transferTicket(
          db,
          { voidAtDoor: (eventId, ticketId) => checkinDesk(env, eventId).voidTicket(ticketId), sendWebhooks: (ids) => sendDeliveries(env, db, ids), secrets: env },
          c.var.user,
          id,
          body.toEmail,
          new Date(),
        ),
      }));
      return c.json(reply.body as Awaited<ReturnType<typeof transferTicket>>, 200);
    },
  );
