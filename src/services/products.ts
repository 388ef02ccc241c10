/**
 * Ticket types and vouchers (docs/products.md). Postgres keeps the definitions; after every change
 * the whole set is pushed to the event's object, which decides every quota and voucher usage in the
 * same transaction as the hold. Usages and "sold" figures are read back from the object.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { ticketTypes, vouchers } from "../db/schema";
import type { Env } from "../env";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { DEFAULT_TYPE_ID, TICKET_TYPE_DEFAULTS } from "../../durable-objects/inventory/contract";
import type { ProductSet, ProductStats, TicketTypeDef, VoucherDef } from "../../durable-objects/inventory/contract";
import { audit } from "./audit";
import { type EventRow, assertEventManager, getEventRow, managedEvent as lookUp, readsAsMember } from "./event-access";
import { inventory } from "../../durable-objects/inventory/client";
import type { Actor } from "./venues";

type TypeRow = typeof ticketTypes.$inferSelect;
type VoucherRow = typeof vouchers.$inferSelect;

export interface TicketTypeInput {
  name: string;
  priceCents: number | null;
  quota: number | null;
  quotaPool: string | null;
  minPerOrder: number;
  maxPerOrder: number | null;
  salesStartAt: Date | null;
  salesEndAt: Date | null;
  hidden: boolean;
  sections: string[] | null;
}

export interface VoucherInput {
  code?: string;
  count?: number;
  discount: { kind: "percent" | "fixed" | "price"; value: number };
  maxUsages: number;
  validFrom: Date | null;
  validUntil: Date | null;
  ticketTypeIds: string[] | null;
  unlocksHidden: boolean;
}

const ms = (d: Date | null) => (d ? d.getTime() : null);
const iso = (d: Date | null) => (d ? d.toISOString() : null);
// Wall-clock time of the statement, not of the transaction, so a later write always has a later revision.
const clockNow = sql`clock_timestamp()`;

/** What every event sells when its organizer has not set the default type up. */
function implicitDefaultRow(e: EventRow): TypeRow {
  return {
    eventId: e.id,
    id: DEFAULT_TYPE_ID,
    ...TICKET_TYPE_DEFAULTS,
    sections: null,
    salesStartAt: null,
    salesEndAt: null,
    position: 0,
    createdAt: e.createdAt,
    updatedAt: e.createdAt,
    deletedAt: null,
  };
}

const typeDef = (t: TypeRow): TicketTypeDef => ({
  id: t.id,
  name: t.name,
  priceCents: t.priceCents,
  quota: t.quota,
  quotaPool: t.quotaPool,
  minPerOrder: t.minPerOrder,
  maxPerOrder: t.maxPerOrder,
  salesStartMs: ms(t.salesStartAt),
  salesEndMs: ms(t.salesEndAt),
  hidden: t.hidden,
  sections: t.sections,
});

const voucherDef = (v: VoucherRow): VoucherDef => ({
  id: v.id,
  code: v.code,
  discount: { kind: v.discountKind, value: v.discountValue },
  maxUsages: v.maxUsages,
  validFromMs: ms(v.validFrom),
  validUntilMs: ms(v.validUntil),
  ticketTypeIds: v.ticketTypeIds,
  unlocksHidden: v.unlocksHidden,
});

/** The event's whole set as the object should know it; the revision is the latest change in microseconds. */
export async function productSet(db: Database, eventId: string): Promise<ProductSet> {
  const [types, vs, [rev]] = await Promise.all([
    db.select().from(ticketTypes).where(and(eq(ticketTypes.eventId, eventId), isNull(ticketTypes.deletedAt))).orderBy(ticketTypes.position, ticketTypes.createdAt),
    db.select().from(vouchers).where(eq(vouchers.eventId, eventId)),
    db.execute<{ revision: string | null }>(sql`
      SELECT (extract(epoch FROM greatest(
        (SELECT max(updated_at) FROM ticket_types WHERE event_id = ${eventId}),
        (SELECT max(updated_at) FROM vouchers WHERE event_id = ${eventId}))) * 1000000)::bigint AS revision`).then((r) => r.rows),
  ]);
  return { revision: Number(rev?.revision ?? 0), types: types.map(typeDef), vouchers: vs.map(voucherDef) };
}

const onSale = (e: EventRow) => e.status === "published" && e.inventoryReadyAt !== null;

/**
 * Sends the set to the event's object (only once its inventory exists; publishing pushes it then).
 * A failure is a 503 after the write committed: repeating the request pushes again.
 */
export async function pushProducts(db: Database, env: Env, e: EventRow, force = false): Promise<void> {
  if (!force && !onSale(e)) return;
  const set = await productSet(db, e.id);
  try {
    await inventory(env, e.id).setProducts(set);
  } catch (err) {
    if (err instanceof AppError && err.code !== "OVERLOADED") throw err;
    console.error(JSON.stringify({ level: "error", msg: "products push failed", eventId: e.id, error: String(err) }));
    throw new AppError("DEPENDENCY_UNAVAILABLE", "Saved, but the event's inventory has not taken the change yet; repeat the request", { eventId: e.id }, { "Retry-After": "1" });
  }
}

async function stats(env: Env, e: EventRow): Promise<ProductStats | null> {
  return onSale(e) ? inventory(env, e.id).productStats() : null;
}

const managedEvent = (db: Database, actor: Actor, eventId: string): Promise<EventRow> => lookUp(db, actor, eventId, { open: true });

function checkType(e: EventRow, t: TicketTypeInput): void {
  if (t.sections && e.seating !== "reserved") throw new AppError("VALIDATION_FAILED", "sections are for reserved seating only");
  if (t.maxPerOrder !== null && t.maxPerOrder < t.minPerOrder) throw new AppError("VALIDATION_FAILED", "maxPerOrder is below minPerOrder");
  if (t.salesStartAt && t.salesEndAt && t.salesEndAt <= t.salesStartAt) throw new AppError("VALIDATION_FAILED", "salesEndAt must be after salesStartAt");
}

export function ticketTypeJson(t: TypeRow, usage?: { used: number; available: number } | null) {
  return {
    id: t.id,
    eventId: t.eventId,
    name: t.name,
    priceCents: t.priceCents,
    quota: t.quota,
    quotaPool: t.quotaPool,
    minPerOrder: t.minPerOrder,
    maxPerOrder: t.maxPerOrder,
    salesStartAt: iso(t.salesStartAt),
    salesEndAt: iso(t.salesEndAt),
    hidden: t.hidden,
    sections: t.sections,
    isDefault: t.id === DEFAULT_TYPE_ID,
    sold: usage?.used ?? 0,
    available: usage?.available ?? null,
  };
}

export async function createTicketType(db: Database, env: Env, actor: Actor, eventId: string, input: TicketTypeInput) {
  const e = await managedEvent(db, actor, eventId);
  checkType(e, input);
  const [{ n }] = await db.select({ n: sql<number>`count(*)::int` }).from(ticketTypes).where(eq(ticketTypes.eventId, e.id));
  const [row] = await db
    .insert(ticketTypes)
    .values({ eventId: e.id, id: newId("tt"), ...input, position: n + 1, updatedAt: clockNow })
    .returning();
  await audit(db, { action: "ticket_type.created", actorId: actor.id, subjectId: e.id, detail: { ticketTypeId: row.id } });
  await pushProducts(db, env, e);
  return ticketTypeJson(row, null);
}

async function typeRow(db: Database, e: EventRow, typeId: string): Promise<TypeRow> {
  const [row] = await db.select().from(ticketTypes).where(and(eq(ticketTypes.eventId, e.id), eq(ticketTypes.id, typeId), isNull(ticketTypes.deletedAt)));
  if (row) return row;
  if (typeId === DEFAULT_TYPE_ID) return implicitDefaultRow(e);
  throw new AppError("NOT_FOUND", "No such ticket type");
}

/** Held or sold so far (from the object; nothing before the inventory exists). */
async function usedOf(env: Env, e: EventRow, typeId: string): Promise<number> {
  const s = await stats(env, e);
  return s?.types.find((t) => t.ticketTypeId === typeId)?.used ?? 0;
}

/**
 * Once a type has tickets held or sold, what they were sold as stays: price and sections cannot
 * change (409 TICKET_TYPE_SOLD) and the quota cannot drop below what is used. Name, windows, limits
 * and visibility can.
 */
export async function updateTicketType(db: Database, env: Env, actor: Actor, eventId: string, typeId: string, patch: Partial<TicketTypeInput>) {
  const e = await managedEvent(db, actor, eventId);
  const current = await typeRow(db, e, typeId);
  const merged: TicketTypeInput = {
    name: patch.name ?? current.name,
    priceCents: patch.priceCents !== undefined ? patch.priceCents : current.priceCents,
    quota: patch.quota !== undefined ? patch.quota : current.quota,
    quotaPool: patch.quotaPool !== undefined ? patch.quotaPool : current.quotaPool,
    minPerOrder: patch.minPerOrder ?? current.minPerOrder,
    maxPerOrder: patch.maxPerOrder !== undefined ? patch.maxPerOrder : current.maxPerOrder,
    salesStartAt: patch.salesStartAt !== undefined ? patch.salesStartAt : current.salesStartAt,
    salesEndAt: patch.salesEndAt !== undefined ? patch.salesEndAt : current.salesEndAt,
    hidden: patch.hidden ?? current.hidden,
    sections: patch.sections !== undefined ? patch.sections : current.sections,
  };
  if (typeId !== DEFAULT_TYPE_ID && merged.priceCents === null) throw new AppError("VALIDATION_FAILED", "priceCents is required (only the default type may follow the seat's price)");
  checkType(e, merged);
  const used = await usedOf(env, e, typeId);
  if (used > 0) {
    const repriced = merged.priceCents !== current.priceCents || JSON.stringify(merged.sections) !== JSON.stringify(current.sections);
    if (repriced) throw new AppError("TICKET_TYPE_SOLD", "Tickets of this type are held or sold: its price and sections are fixed", { ticketTypeId: typeId, sold: used });
    if (merged.quota !== null && merged.quota < used) throw new AppError("TICKET_TYPE_SOLD", `The quota cannot drop below the ${used} tickets held or sold`, { ticketTypeId: typeId, sold: used });
  }
  const [row] = await db
    .insert(ticketTypes)
    .values({ eventId: e.id, id: typeId, ...merged, position: current.position, updatedAt: clockNow })
    .onConflictDoUpdate({ target: [ticketTypes.eventId, ticketTypes.id], set: { ...merged, updatedAt: clockNow } })
    .returning();
  await audit(db, { action: "ticket_type.updated", actorId: actor.id, subjectId: e.id, detail: { ticketTypeId: typeId } });
  await pushProducts(db, env, e);
  return ticketTypeJson(row, null);
}

export async function deleteTicketType(db: Database, env: Env, actor: Actor, eventId: string, typeId: string): Promise<void> {
  const e = await managedEvent(db, actor, eventId);
  if (typeId === DEFAULT_TYPE_ID) throw new AppError("INVALID_STATE", "The default type cannot be deleted; hide it or end its sales window instead");
  await typeRow(db, e, typeId);
  const used = await usedOf(env, e, typeId);
  if (used > 0) throw new AppError("TICKET_TYPE_SOLD", "Tickets of this type are held or sold; end its sales window instead", { ticketTypeId: typeId, sold: used });
  await db.update(ticketTypes).set({ deletedAt: clockNow, updatedAt: clockNow }).where(and(eq(ticketTypes.eventId, e.id), eq(ticketTypes.id, typeId)));
  await audit(db, { action: "ticket_type.deleted", actorId: actor.id, subjectId: e.id, detail: { ticketTypeId: typeId } });
  await pushProducts(db, env, e);
}

/**
 * The types on sale with what is left of each. Hidden types: for the organization's members and admins, or for a
 * caller showing a voucher that unlocks them.
 */
export async function listTicketTypes(db: Database, env: Env, viewer: Actor | undefined, eventId: string, voucherCode: string | undefined) {
  const e = await getEventRow(db, eventId);
  const manager = readsAsMember(e, viewer);
  if (e.status === "draft" && !manager) throw new AppError("NOT_FOUND", "No such event");
  const rows = await db.select().from(ticketTypes).where(and(eq(ticketTypes.eventId, e.id), isNull(ticketTypes.deletedAt))).orderBy(ticketTypes.position, ticketTypes.createdAt);
  if (!rows.some((r) => r.id === DEFAULT_TYPE_ID)) rows.unshift(implicitDefaultRow(e));
  let unlocking: VoucherRow | null = null;
  if (voucherCode) {
    const [v] = await db.select().from(vouchers).where(and(eq(vouchers.eventId, e.id), eq(vouchers.code, voucherCode.trim().toUpperCase())));
    if (v?.unlocksHidden) unlocking = v;
  }
  const visible = rows.filter((t) => !t.hidden || manager || (unlocking && (!unlocking.ticketTypeIds || unlocking.ticketTypeIds.includes(t.id))));
  const s = await stats(env, e).catch(() => null);
  const capacityLeft = e.capacity - e.seatsSold;
  return visible.map((t) => {
    const u = s?.types.find((x) => x.ticketTypeId === t.id);
    return ticketTypeJson(t, u ? { used: u.used, available: u.available } : { used: 0, available: t.quota === null ? capacityLeft : Math.min(t.quota, capacityLeft) });
  });
}

function voucherJson(v: VoucherRow, usages: number) {
  return {
    id: v.id,
    eventId: v.eventId,
    code: v.code,
    discount: { kind: v.discountKind, value: v.discountValue },
    maxUsages: v.maxUsages,
    usages,
    validFrom: iso(v.validFrom),
    validUntil: iso(v.validUntil),
    ticketTypeIds: v.ticketTypeIds,
    unlocksHidden: v.unlocksHidden,
  };
}

const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/** A generated code: 10 characters without look-alikes (0/O, 1/I), about 50 bits. */
function generatedCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return [...bytes].map((b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join("");
}

export async function createVouchers(db: Database, env: Env, actor: Actor, eventId: string, input: VoucherInput) {
  const e = await managedEvent(db, actor, eventId);
  if ((input.code === undefined) === (input.count === undefined)) throw new AppError("VALIDATION_FAILED", "Give exactly one of code or count");
  if (input.discount.kind === "percent" && input.discount.value > 100) throw new AppError("VALIDATION_FAILED", "A percent discount is at most 100");
  if (input.validFrom && input.validUntil && input.validUntil <= input.validFrom) throw new AppError("VALIDATION_FAILED", "validUntil must be after validFrom");
  if (input.ticketTypeIds) {
    const known = new Set((await db.select({ id: ticketTypes.id }).from(ticketTypes).where(and(eq(ticketTypes.eventId, e.id), isNull(ticketTypes.deletedAt)))).map((r) => r.id));
    known.add(DEFAULT_TYPE_ID);
    const unknown = input.ticketTypeIds.filter((id) => !known.has(id));
    if (unknown.length) throw new AppError("VALIDATION_FAILED", "Unknown ticket types", { ticketTypeIds: unknown });
  }
  const codes = input.code !== undefined ? [input.code.trim().toUpperCase()] : Array.from({ length: input.count! }, generatedCode);
  const base = {
    eventId: e.id,
    discountKind: input.discount.kind,
    discountValue: input.discount.value,
    maxUsages: input.maxUsages,
    validFrom: input.validFrom,
    validUntil: input.validUntil,
    ticketTypeIds: input.ticketTypeIds,
    unlocksHidden: input.unlocksHidden,
    updatedAt: clockNow,
  };
  const rows = await db
    .insert(vouchers)
    .values(codes.map((code) => ({ ...base, id: newId("vch"), code })))
    .onConflictDoNothing({ target: [vouchers.eventId, vouchers.code] })
    .returning();
  if (rows.length < codes.length) {
    if (input.code !== undefined) throw new AppError("CONFLICT", "This event already has a voucher with that code", { code: codes[0] });
    // A generated code met an existing one (about 1 in 10^15 per pair): the rest were made; say so.
    throw new AppError("CONFLICT", `Only ${rows.length} of ${codes.length} codes were new; ask again for the rest`, { created: rows.length });
  }
  await audit(db, { action: "voucher.created", actorId: actor.id, subjectId: e.id, detail: { count: rows.length } });
  await pushProducts(db, env, e);
  return rows.map((v) => voucherJson(v, 0));
}

export async function listVouchers(db: Database, env: Env, actor: Actor, eventId: string) {
  const e = await getEventRow(db, eventId);
  assertEventManager(actor, e);
  const rows = await db.select().from(vouchers).where(eq(vouchers.eventId, e.id)).orderBy(vouchers.createdAt, vouchers.code);
  const s = await stats(env, e);
  const usages = new Map((s?.vouchers ?? []).map((v) => [v.voucherId, v.usages]));
  return rows.map((v) => voucherJson(v, usages.get(v.id) ?? 0));
}
