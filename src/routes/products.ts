import { createRoute, z } from "@hono/zod-openapi";
import { optionalUser } from "../auth/guards";
import { guarded, peekEvent } from "../auth/org-guard";
import { idempotent } from "../lib/idempotent-request";
import { IdempotencyHeaders, errors, json, router } from "../lib/openapi";
import { MAX_PRICE_CENTS } from "../services/layout";
import { createTicketType, createVouchers, deleteTicketType, listTicketTypes, listVouchers, updateTicketType } from "../services/products";
import { TICKET_TYPE_DEFAULTS } from "../../durable-objects/inventory/contract";

const Instant = z.iso.datetime({ offset: true }).openapi({ example: "2026-12-01T19:00:00+01:00" });
const date = (s: string | null | undefined) => (s === undefined ? undefined : s === null ? null : new Date(s));
const Label = z.string().regex(/^[A-Za-z0-9_]{1,24}(-[A-Za-z0-9_]{1,24})?$/);

const TicketTypeFields = {
  name: z.string().trim().min(1).max(100).openapi({ example: "Early bird" }),
  priceCents: z.number().int().min(0).max(MAX_PRICE_CENTS).openapi({ example: 3000 }),
  quota: z.number().int().min(0).max(1_000_000).nullable().optional().openapi({ description: "Most tickets of this type's pool held or sold at once; none = only the event's capacity" }),
  quotaPool: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/)
    .nullable()
    .optional()
    .openapi({ description: "Types naming the same pool count together against each one's quota" }),
  minPerOrder: z.number().int().min(1).max(50).optional(),
  maxPerOrder: z.number().int().min(1).max(50).nullable().optional(),
  salesStartAt: Instant.nullable().optional(),
  salesEndAt: Instant.nullable().optional(),
  hidden: z.boolean().optional().openapi({ description: "Sold only with a voucher that unlocks it" }),
  sections: z.array(Label).min(1).max(200).nullable().optional().openapi({ example: ["A", "B-3"], description: "Reserved seating: sections (`A`) or rows (`A-3`) this type may sell" }),
};
const TicketTypeBody = z.object(TicketTypeFields).strict().openapi("TicketTypeInput");
const TicketTypePatch = z
  .object({ ...TicketTypeFields, priceCents: TicketTypeFields.priceCents.nullable() })
  .partial()
  .strict()
  .openapi("TicketTypePatch", { description: "Once tickets are held or sold: price and sections are fixed (409 TICKET_TYPE_SOLD), the quota cannot drop below them" });

const InventoryPendingText =
  "On the answer of a write: true when the change is saved but the event's inventory has not taken it yet (it is pushed again within seconds, at the latest by the cron); false when it is on sale as answered. A replayed answer (same Idempotency-Key) says what the first one said.";

const TicketType = z
  .object({
    id: z.string().openapi({ example: "tt_k2…" }),
    eventId: z.string().uuid(),
    name: z.string(),
    priceCents: z.number().int().nullable().openapi({ description: "null (default type only): the seat's price, or the event's for general admission" }),
    quota: z.number().int().nullable(),
    quotaPool: z.string().nullable(),
    minPerOrder: z.number().int(),
    maxPerOrder: z.number().int().nullable(),
    salesStartAt: z.string().nullable(),
    salesEndAt: z.string().nullable(),
    hidden: z.boolean(),
    sections: z.array(z.string()).nullable(),
    isDefault: z.boolean(),
    sold: z.number().int().openapi({ description: "Held or sold now" }),
    available: z.number().int().nullable().openapi({ description: "What can be held now: the quota left, at most the event's availability" }),
    inventoryPending: z.boolean().optional().openapi({ description: InventoryPendingText }),
  })
  .openapi("TicketType");

const VoucherBody = z
  .object({
    code: z.string().trim().regex(/^[A-Za-z0-9_-]{3,64}$/).optional().openapi({ example: "SPRING" }),
    count: z.number().int().min(1).max(1000).optional().openapi({ description: "Generate this many random codes instead of giving one" }),
    discount: z.object({ kind: z.enum(["percent", "fixed", "price"]), value: z.number().int().min(0).max(MAX_PRICE_CENTS) }).openapi({
      description: "percent: value % off each ticket; fixed: value minor units off each ticket; price: each ticket costs value",
    }),
    maxUsages: z.number().int().min(1).max(1_000_000).openapi({ description: "Holds (orders) that may use the code; a usage comes back when its hold ends unbooked" }),
    validFrom: Instant.nullable().optional(),
    validUntil: Instant.nullable().optional(),
    ticketTypeIds: z.array(z.string().max(64)).min(1).max(100).nullable().optional().openapi({ description: "The types it applies to; none = every type" }),
    unlocksHidden: z.boolean().optional(),
  })
  .strict()
  .openapi("VoucherInput", { description: "Give exactly one of code or count" });

const Voucher = z
  .object({
    id: z.string(),
    eventId: z.string().uuid(),
    code: z.string(),
    discount: z.object({ kind: z.enum(["percent", "fixed", "price"]), value: z.number().int() }),
    maxUsages: z.number().int(),
    usages: z.number().int().openapi({ description: "Holds using it now (active, being booked or booked)" }),
    validFrom: z.string().nullable(),
    validUntil: z.string().nullable(),
    ticketTypeIds: z.array(z.string()).nullable(),
    unlocksHidden: z.boolean(),
  })
  .openapi("Voucher");

const CreatedVouchers = z.object({ data: z.array(Voucher), inventoryPending: z.boolean().openapi({ description: InventoryPendingText }) }).openapi("VoucherList");

const EventParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });
const TypeParam = EventParam.extend({ typeId: z.string().max(64).openapi({ param: { name: "typeId", in: "path" } }) });
const bearer = [{ bearer: [] }];

function typeInput(b: Partial<z.infer<typeof TicketTypePatch>>) {
  const out: Record<string, unknown> = { ...b };
  if ("salesStartAt" in b) out.salesStartAt = date(b.salesStartAt);
  if ("salesEndAt" in b) out.salesEndAt = date(b.salesEndAt);
  return out;
}

export const products = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/ticket-types",
      tags: ["products"],
      security: bearer,
      ...guarded("product.manage", "event"),
      request: { params: EventParam, headers: IdempotencyHeaders, body: { content: { "application/json": { schema: TicketTypeBody } }, required: true } },
      responses: { 201: json(TicketType, "Created; on sale at once on a published event"), ...errors(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const b = c.req.valid("json");
      const reply = await idempotent(c.var.db(), c.var.user.id, c.req.valid("header")["idempotency-key"], { route: "POST /v1/events/:id/ticket-types", body: { id, ...b } }, async () => {
        const { name: _name, priceCents: _price, ...defaults } = TICKET_TYPE_DEFAULTS;
        const input = {
          ...defaults,
          sections: null,
          salesStartAt: null,
          salesEndAt: null,
          ...typeInput(b),
        } as Parameters<typeof createTicketType>[4];
        return { status: 201, body: await createTicketType(c.var.db(), c.env, c.var.user, id, input) };
      });
      return c.json(reply.body as z.infer<typeof TicketType>, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/ticket-types",
      tags: ["products"],
      description: "Every event has the default type `tt_default`. Hidden types appear for the organization's members and admins, or with `?voucher=` naming a code that unlocks them.",
      middleware: [optionalUser, peekEvent] as const,
      request: { params: EventParam, query: z.object({ voucher: z.string().max(64).optional() }) },
      responses: { 200: json(z.object({ data: z.array(TicketType) }).openapi("TicketTypeList")), ...errors(404) },
    }),
    async (c) => {
      const data = await listTicketTypes(c.var.db(), c.env, c.var.user, c.req.valid("param").id, c.req.valid("query").voucher);
      c.header("Cache-Control", "no-store");
      return c.json({ data }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/events/{id}/ticket-types/{typeId}",
      tags: ["products"],
      security: bearer,
      ...guarded("product.manage", "event"),
      request: { params: TypeParam, body: { content: { "application/json": { schema: TicketTypePatch } }, required: true } },
      responses: { 200: json(TicketType), ...errors(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { id, typeId } = c.req.valid("param");
      return c.json(await updateTicketType(c.var.db(), c.env, c.var.user, id, typeId, typeInput(c.req.valid("json"))), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/events/{id}/ticket-types/{typeId}",
      tags: ["products"],
      security: bearer,
      ...guarded("product.manage", "event"),
      request: { params: TypeParam },
      responses: { 204: { description: "Deleted" }, ...errors(401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { id, typeId } = c.req.valid("param");
      await deleteTicketType(c.var.db(), c.env, c.var.user, id, typeId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events/{id}/vouchers",
      tags: ["products"],
      security: bearer,
      ...guarded("product.manage", "event"),
      request: { params: EventParam, headers: IdempotencyHeaders, body: { content: { "application/json": { schema: VoucherBody } }, required: true } },
      responses: { 201: json(CreatedVouchers, "Created (one per generated code); all or none"), ...errors(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const b = c.req.valid("json");
      const reply = await idempotent(c.var.db(), c.var.user.id, c.req.valid("header")["idempotency-key"], { route: "POST /v1/events/:id/vouchers", body: { id, ...b } }, async () => {
        const body = await createVouchers(c.var.db(), c.env, c.var.user, id, {
          ...b,
          validFrom: date(b.validFrom) ?? null,
          validUntil: date(b.validUntil) ?? null,
          ticketTypeIds: b.ticketTypeIds ?? null,
          unlocksHidden: b.unlocksHidden ?? false,
        });
        return { status: 201, body };
      });
      return c.json(reply.body as z.infer<typeof CreatedVouchers>, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}/vouchers",
      tags: ["products"],
      security: bearer,
      ...guarded("voucher.read", "event"),
      request: { params: EventParam },
      responses: { 200: json(z.object({ data: z.array(Voucher) })), ...errors(401, 403, 404) },
    }),
    async (c) => c.json({ data: await listVouchers(c.var.db(), c.env, c.var.user, c.req.valid("param").id) }, 200),
  );
