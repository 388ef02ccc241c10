/**
 * Ticket types and vouchers (docs/products.md). Postgres keeps the definitions; after every change
 * the whole set is pushed to the event's object, which decides every quota and voucher usage in the
 * same transaction as the hold. Usages and "sold" figures are read back from the object.
 */
import { and, eq, gt, isNotNull, isNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, productRevisions, ticketTypes, vouchers } from "../db/schema";
import type { Env } from "../env";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { DEFAULT_TYPE_ID, TICKET_TYPE_DEFAULTS } from "../../durable-objects/inventory/contract";
import type { ProductSet, ProductStats, TicketTypeDef, VoucherDef } from "../../durable-objects/inventory/contract";
import { audit } from "./audit";
import { type EventRow, assertEventManager, getEventRow, managedEvent as lookUp, readsAsMember } from "./event-access";
import { inventory } from "../../durable-objects/inventory/client";
import type { Actor } from "./venues";
import type { ProductsSync } from "../queues/messages";

type TypeRow = typeof ticketTypes.$inferSelect;
type VoucherRow = typeof vouchers.$inferSelect;
type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

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
// Wall-clock time of the statement (the revision, not this, orders changes: product_revisions).
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

/**
 * The event's whole set as the object should know it, read in one snapshot (a repeatable-read
 * transaction), so the revision names exactly these types and vouchers: a set read while a change
 * commits is either all before it (the older revision) or all after it.
 */
export async function productSet(db: Database, eventId: string): Promise<ProductSet> {
  return db.transaction(
    async (tx) => {
      const [rev] = await tx.select({ revision: productRevisions.revision }).from(productRevisions).where(eq(productRevisions.eventId, eventId));
      const types = await tx.select().from(ticketTypes).where(and(eq(ticketTypes.eventId, eventId), isNull(ticketTypes.deletedAt))).orderBy(ticketTypes.position, ticketTypes.createdAt);
      const vs = await tx.select().from(vouchers).where(eq(vouchers.eventId, eventId));
      return { revision: rev?.revision ?? 0, types: types.map(typeDef), vouchers: vs.map(voucherDef) };
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
}

/**
 * In the transaction of a change: the event's next revision. The upsert locks the event's row, so
 * concurrent changes take turns and commit in the order of their revisions.
 */
async function nextRevision(tx: Tx, eventId: string): Promise<number> {
  const [row] = await tx
    .insert(productRevisions)
    .values({ eventId, revision: 1, changedAt: sql`now()` })
    .onConflictDoUpdate({ target: productRevisions.eventId, set: { revision: sql`${productRevisions.revision} + 1`, changedAt: sql`now()` } })
    .returning({ revision: productRevisions.revision });
  return row.revision;
}

const onSale = (e: Pick<EventRow, "status" | "inventoryReadyAt">) => e.status === "published" && e.inventoryReadyAt !== null;

const log = (level: "warn" | "error", msg: string, extra: Record<string, unknown>) => console[level](JSON.stringify({ level, msg, ...extra }));

/**
 * Sends the event's current set to its object and records the revision it now holds. The object
 * refuses a revision equal to or below its own, so a push that lost a race (or repeats one that
 * landed) changes nothing there and still counts as delivered. Throws while the object does not
 * take it; the revision stays owed.
 */
export async function pushProducts(db: Database, env: Env, eventId: string): Promise<void> {
  const set = await productSet(db, eventId);
  await inventory(env, eventId).setProducts(set);
  if (set.revision === 0) return;
  await db
    .update(productRevisions)
    .set({ pushedRevision: sql`greatest(${productRevisions.pushedRevision}, ${set.revision})` })
    .where(eq(productRevisions.eventId, eventId));
}

/**
 * After a change committed: push now; if the object does not take it, a queue message retries in a
 * second and the cron pushes whatever is still owed (even if the message could not be sent). The
 * change is saved either way: true means the object has not taken it yet.
 */
async function pushAfterChange(db: Database, env: Env, e: EventRow): Promise<boolean> {
  if (!onSale(e)) return false;
  try {
    await pushProducts(db, env, e.id);
    return false;
  } catch (err) {
    log("warn", "products not pushed to the event's inventory; retrying through the queue", { eventId: e.id, error: String(err) });
    const message: ProductsSync = { type: "products.sync", eventId: e.id };
    await env.NOTIFICATIONS.send(message, { delaySeconds: 1 }).catch((qe) => log("error", "products retry not queued; the cron pushes it", { eventId: e.id, error: String(qe) }));
    return true;
  }
}

/** The queue's retry of a push (`products.sync`): throws while the object does not take it. */
export async function pushOwedProducts(db: Database, env: Env, eventId: string): Promise<void> {
  const [row] = await db
    .select({ status: events.status, inventoryReadyAt: events.inventoryReadyAt, revision: productRevisions.revision, pushed: productRevisions.pushedRevision })
    .from(productRevisions)
    .innerJoin(events, eq(events.id, productRevisions.eventId))
    .where(eq(productRevisions.eventId, eventId));
  if (!row || !onSale(row) || row.pushed >= row.revision) return;
  await pushProducts(db, env, eventId);
}

/** Cron backstop: every on-sale event whose object is behind its product set, oldest change first. */
export async function sweepOwedProducts(env: Env, db: Database, limit = 100): Promise<{ pushed: number; failed: number }> {
  const owed = await db
    .select({ eventId: productRevisions.eventId })
    .from(productRevisions)
    .innerJoin(events, eq(events.id, productRevisions.eventId))
    .where(and(gt(productRevisions.revision, productRevisions.pushedRevision), eq(events.status, "published"), isNotNull(events.inventoryReadyAt)))
    .orderBy(productRevisions.changedAt)
    .limit(limit);
  let pushed = 0;
  let failed = 0;
  for (const { eventId } of owed) {
    try {
      await pushProducts(db, env, eventId);
      pushed++;
    } catch (err) {
      failed++;
      log("error", "products still not pushed to the event's inventory", { eventId, error: String(err) });
    }
  }
  return { pushed, failed };
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
  const row = await db.transaction(async (tx) => {
    await nextRevision(tx, e.id);
    const [{ n }] = await tx.select({ n: sql<number>`count(*)::int` }).from(ticketTypes).where(eq(ticketTypes.eventId, e.id));
    const [created] = await tx
      .insert(ticketTypes)
      .values({ eventId: e.id, id: newId("tt"), ...input, position: n + 1, updatedAt: clockNow })
      .returning();
    await audit(tx, { action: "ticket_type.created", actorId: actor.id, subjectId: e.id, detail: { ticketTypeId: created.id } });
    return created;
  });
  return { ...ticketTypeJson(row, null), inventoryPending: await pushAfterChange(db, env, e) };
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
  const row = await db.transaction(async (tx) => {
    await nextRevision(tx, e.id);
    const [updated] = await tx
      .insert(ticketTypes)
      .values({ eventId: e.id, id: typeId, ...merged, position: current.position, updatedAt: clockNow })
      .onConflictDoUpdate({ target: [ticketTypes.eventId, ticketTypes.id], set: { ...merged, updatedAt: clockNow } })
      .returning();
    await audit(tx, { action: "ticket_type.updated", actorId: actor.id, subjectId: e.id, detail: { ticketTypeId: typeId } });
    return updated;
  });
  return { ...ticketTypeJson(row, null), inventoryPending: await pushAfterChange(db, env, e) };
}

export async function deleteTicketType(db: Database, env: Env, actor: Actor, eventId: string, typeId: string): Promise<void> {
  const e = await managedEvent(db, actor, eventId);
  if (typeId === DEFAULT_TYPE_ID) throw new AppError("INVALID_STATE", "The default type cannot be deleted; hide it or end its sales window instead");
  await typeRow(db, e, typeId);
  const used = await usedOf(env, e, typeId);
  if (used > 0) throw new AppError("TICKET_TYPE_SOLD", "Tickets of this type are held or sold; end its sales window instead", { ticketTypeId: typeId, sold: used });
  await db.transaction(async (tx) => {
    await nextRevision(tx, e.id);
    await tx.update(ticketTypes).set({ deletedAt: clockNow, updatedAt: clockNow }).where(and(eq(ticketTypes.eventId, e.id), eq(ticketTypes.id, typeId)));
    await audit(tx, { action: "ticket_type.deleted", actorId: actor.id, subjectId: e.id, detail: { ticketTypeId: typeId } });
  });
  await pushAfterChange(db, env, e);
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
  const rows = await db.transaction(async (tx) => {
    await nextRevision(tx, e.id);
    const made = await tx
      .insert(vouchers)
      .values(codes.map((code) => ({ ...base, id: newId("vch"), code })))
      .onConflictDoNothing({ target: [vouchers.eventId, vouchers.code] })
      .returning();
    // All or none: a refused batch leaves nothing behind, so asking again makes the whole batch once.
    if (made.length < codes.length) {
      if (input.code !== undefined) throw new AppError("CONFLICT", "This event already has a voucher with that code", { code: codes[0] });
      // A generated code met an existing one (about 1 in 10^15 per pair).
      throw new AppError("CONFLICT", "A generated code met an existing one; nothing was made, ask again", { created: 0 });
    }
    await audit(tx, { action: "voucher.created", actorId: actor.id, subjectId: e.id, detail: { count: made.length } });
    return made;
  });
  return { data: rows.map((v) => voucherJson(v, 0)), inventoryPending: await pushAfterChange(db, env, e) };
}

export async function listVouchers(db: Database, env: Env, actor: Actor, eventId: string) {
  const e = await getEventRow(db, eventId);
  assertEventManager(actor, e);
  const rows = await db.select().from(vouchers).where(eq(vouchers.eventId, e.id)).orderBy(vouchers.createdAt, vouchers.code);
  const s = await stats(env, e);
  const usages = new Map((s?.vouchers ?? []).map((v) => [v.voucherId, v.usages]));
  return rows.map((v) => voucherJson(v, usages.get(v.id) ?? 0));
}
