/**
 * Ticket types and vouchers inside the event's object (docs/products.md). The catalogue pushes the
 * definitions (`setProducts`); every quota, per-order limit, sales window, hidden type and voucher
 * usage is decided here, in the same synchronous transaction as the hold, so none can be oversold.
 * Usage is not a stored counter: it is what the holds that count (active, confirming, committed)
 * carry in their lines, so a usage comes back by itself when its hold expires or is released.
 */
import { fail, linesOf, ok, type HoldRow, type InventoryConfig } from "../logic/rules";
import { DEFAULT_TYPE_ID, TICKET_TYPE_DEFAULTS, type HoldLine, type HoldStatus, type InventoryResult, type ProductSet, type TicketTypeDef, type VoucherDef } from "../contract";

export const EMPTY_PRODUCTS: ProductSet = { revision: 0, types: [], vouchers: [] };

export const implicitDefaultType = (): TicketTypeDef => ({ id: DEFAULT_TYPE_ID, ...TICKET_TYPE_DEFAULTS, salesStartMs: null, salesEndMs: null });

/** The types on sale: the pushed ones, plus the implicit default unless the organizer set it up. */
export function typesOf(set: ProductSet): Map<string, TicketTypeDef> {
  const m = new Map(set.types.map((t) => [t.id, t]));
  if (!m.has(DEFAULT_TYPE_ID)) m.set(DEFAULT_TYPE_ID, implicitDefaultType());
  return m;
}

export const poolOf = (t: TicketTypeDef) => (t.quotaPool ? `pool:${t.quotaPool}` : `type:${t.id}`);

const positiveInt = (n: unknown, max = Number.MAX_SAFE_INTEGER) => Number.isInteger(n) && (n as number) > 0 && (n as number) <= max;
const optTime = (n: unknown) => n === null || (Number.isFinite(n) && typeof n === "number");

/** The object checks what it is pushed on its own (the last line behind the routes' zod). */
export function validateProducts(set: ProductSet): InventoryResult<ProductSet> {
  if (!set || typeof set !== "object" || !Array.isArray(set.types) || !Array.isArray(set.vouchers)) return fail("VALIDATION_FAILED", "products need types and vouchers");
  if (!Number.isFinite(set.revision)) return fail("VALIDATION_FAILED", "products need a revision");
  const ids = new Set<string>();
  for (const t of set.types) {
    if (typeof t?.id !== "string" || !t.id || ids.has(t.id)) return fail("VALIDATION_FAILED", `bad or repeated ticket type id ${JSON.stringify(t?.id)}`);
    ids.add(t.id);
    if (t.priceCents !== null && !(Number.isInteger(t.priceCents) && t.priceCents >= 0)) return fail("VALIDATION_FAILED", `type ${t.id}: bad price`);
    if (t.quota !== null && !(Number.isInteger(t.quota) && t.quota >= 0)) return fail("VALIDATION_FAILED", `type ${t.id}: bad quota`);
    if (!positiveInt(t.minPerOrder) || (t.maxPerOrder !== null && !positiveInt(t.maxPerOrder))) return fail("VALIDATION_FAILED", `type ${t.id}: bad per-order limits`);
    if (!optTime(t.salesStartMs) || !optTime(t.salesEndMs)) return fail("VALIDATION_FAILED", `type ${t.id}: bad sales window`);
    if (t.sections !== null && !(Array.isArray(t.sections) && t.sections.every((s) => typeof s === "string"))) return fail("VALIDATION_FAILED", `type ${t.id}: bad sections`);
  }
  const codes = new Set<string>();
  for (const v of set.vouchers) {
    if (typeof v?.code !== "string" || !v.code || codes.has(v.code.toUpperCase())) return fail("VALIDATION_FAILED", `bad or repeated voucher code`);
    codes.add(v.code.toUpperCase());
    if (!["percent", "fixed", "price"].includes(v.discount?.kind) || !(Number.isInteger(v.discount.value) && v.discount.value >= 0)) return fail("VALIDATION_FAILED", `voucher ${v.code}: bad discount`);
    if (v.discount.kind === "percent" && v.discount.value > 100) return fail("VALIDATION_FAILED", `voucher ${v.code}: percent above 100`);
    if (!positiveInt(v.maxUsages)) return fail("VALIDATION_FAILED", `voucher ${v.code}: bad maxUsages`);
  }
  return ok(set);
}

// ---------------------------------------------------------------------------------------------
// What a hold asks for, normalized: one wanted line per seat or per GA item.

export interface WantedLine {
  ticketTypeId: string;
  quantity: number;
  /** Reserved seating: the seat and its own price. */
  seatId?: string;
  seatPriceCents?: number;
}

/** Per type, and per voucher: what the counting holds (active, confirming, committed) carry. */
export interface Usage {
  byType: Map<string, number>;
  byVoucher: Map<string, number>;
  /** Types no longer in the set that still count in a shared pool: type id -> `quotaPool` (ProductSet.retiredPools). */
  retired?: Map<string, string>;
}

export const counts = (s: HoldStatus | null) => s === "active" || s === "confirming" || s === "committed";

/** Moves usage for one hold going `from` -> `to` (null = not yet existing). */
export function moveUsage(u: Usage, hold: HoldRow, from: HoldStatus | null, to: HoldStatus): void {
  const d = (counts(to) ? 1 : 0) - (counts(from) ? 1 : 0);
  if (d === 0) return;
  for (const l of linesOf(hold)) u.byType.set(l.ticketTypeId, (u.byType.get(l.ticketTypeId) ?? 0) + d * l.quantity);
  if (hold.voucherId) u.byVoucher.set(hold.voucherId, (u.byVoucher.get(hold.voucherId) ?? 0) + d);
}

export function poolUsed(types: Map<string, TicketTypeDef>, u: Usage, pool: string): number {
  let n = 0;
  for (const [id, q] of u.byType) {
    const t = types.get(id);
    const retired = t ? undefined : u.retired?.get(id);
    if ((t ? poolOf(t) : retired !== undefined ? `pool:${retired}` : `type:${id}`) === pool) n += q;
  }
  return n;
}

/** How many more of a type could be held now (its pool's quota), or null when it has no quota. */
export function typeRemaining(types: Map<string, TicketTypeDef>, u: Usage, t: TicketTypeDef): number | null {
  return t.quota === null ? null : Math.max(0, t.quota - poolUsed(types, u, poolOf(t)));
}

const sectionOfSeat = (seatId: string) => {
  const [section, row] = seatId.split("-");
  return { section, row };
};

/** The names a type's `sections` may give a seat: its section, and its section-row. */
export function sectionKeysOf(seatId: string): [string, string] {
  const { section, row } = sectionOfSeat(seatId);
  return [section, `${section}-${row}`];
}

/** Free seats in a type's sections, from per-section and per-row counts (a row inside a listed section counted once). */
export function freeInSections(sections: string[], freeIn: (key: string) => number): number {
  const listed = new Set(sections);
  let n = 0;
  for (const s of listed) {
    const dash = s.indexOf("-");
    if (dash >= 0 && listed.has(s.slice(0, dash))) continue;
    n += freeIn(s);
  }
  return n;
}

export function seatAllowed(t: TicketTypeDef, seatId: string): boolean {
  if (!t.sections) return true;
  const { section, row } = sectionOfSeat(seatId);
  return t.sections.some((s) => s === section || s === `${section}-${row}`);
}

/** Whether `now` is inside a window whose ends may be open (null). */
export const inWindow = (now: number, from: number | null, until: number | null) => (from === null || now >= from) && (until === null || now < until);
const voucherApplies = (v: VoucherDef, typeId: string) => v.ticketTypeIds === null || v.ticketTypeIds.includes(typeId);

/**
 * How many of the `available` seats some type can still sell now: the waiting room admits buyers
 * against this number, not against free seats (docs/onsale.md). Counted are types inside their
 * sales window, each up to what its pool's quota leaves (a pool shared by several types counted
 * once, at the most any of its on-sale types may still take; a remainder below the type's minimum
 * per order sells nothing), and up to the free seats it may be sold for (`freeFor`: reserved
 * seating, the free seats in its sections); a type without a quota sells every such seat. A hidden
 * type counts only while a voucher that unlocks it is valid and has a usage left (a presale by voucher).
 */
export function sellableSeats(products: ProductSet, u: Usage, now: number, available: number, freeFor: (t: TicketTypeDef) => number = () => available): number {
  const types = typesOf(products);
  const unlocked = (t: TicketTypeDef) =>
    products.vouchers.some((v) => v.unlocksHidden && voucherApplies(v, t.id) && inWindow(now, v.validFromMs, v.validUntilMs) && (u.byVoucher.get(v.id) ?? 0) < v.maxUsages);
  const byPool = new Map<string, number>();
  for (const t of types.values()) {
    if (!inWindow(now, t.salesStartMs, t.salesEndMs) || (t.hidden && !unlocked(t))) continue;
    const quotaLeft = typeRemaining(types, u, t);
    const left = Math.min(quotaLeft ?? Number.POSITIVE_INFINITY, freeFor(t));
    const pool = poolOf(t);
    byPool.set(pool, Math.max(byPool.get(pool) ?? 0, left >= t.minPerOrder ? left : 0));
  }
  let n = 0;
  for (const left of byPool.values()) n += left;
  return Math.max(0, Math.min(available, n));
}

/** The discount per unit a voucher gives on a unit price (never more than the price). */
export function unitDiscount(v: VoucherDef, unitCents: number): number {
  const { kind, value } = v.discount;
  if (kind === "percent") return Math.floor((unitCents * value) / 100);
  if (kind === "fixed") return Math.min(value, unitCents);
  return Math.max(0, unitCents - value);
}

export interface PricedHold {
  lines: HoldLine[];
  totalCents: number;
  voucherId: string | null;
  /** Reserved seating: what each seat costs after its discount. */
  seats: { id: string; priceCents: number }[];
}

/**
 * Decides the product rules of one hold and prices it: types exist and are on sale (hidden ones only
 * with an unlocking voucher), per-order limits, seats inside the type's sections, the voucher is
 * valid and has a usage left, and every pool stays within its quota. Pure: `usage` is read only.
 */
export function decideProducts(x: {
  config: InventoryConfig;
  products: ProductSet;
  usage: Usage;
  now: number;
  wanted: WantedLine[];
  voucherCode: string | null;
}): InventoryResult<PricedHold> {
  const types = typesOf(x.products);
  let voucher: VoucherDef | null = null;
  if (x.voucherCode !== null) {
    const code = x.voucherCode.trim().toUpperCase();
    voucher = x.products.vouchers.find((v) => v.code === code) ?? null;
    if (!voucher) return fail("VOUCHER_INVALID", "No such voucher for this event");
    if (!inWindow(x.now, voucher.validFromMs, voucher.validUntilMs)) return fail("VOUCHER_INVALID", "This voucher is not valid now");
    if (!x.wanted.some((w) => voucherApplies(voucher!, w.ticketTypeId))) return fail("VOUCHER_INVALID", "This voucher does not apply to these tickets");
  }

  const perType = new Map<string, number>();
  for (const w of x.wanted) {
    const t = types.get(w.ticketTypeId);
    // A hidden type answers like an unknown one unless the voucher unlocks it: its existence is not public.
    const unlocked = t && (!t.hidden || (voucher !== null && voucher.unlocksHidden && voucherApplies(voucher, t.id)));
    if (!t || !unlocked) return fail("VALIDATION_FAILED", "No such ticket type for this event", { ticketTypeId: w.ticketTypeId });
    if (!inWindow(x.now, t.salesStartMs, t.salesEndMs)) {
      return fail("SALES_CLOSED", `${t.name} is ${t.salesStartMs !== null && x.now < t.salesStartMs ? "not on sale yet" : "no longer on sale"}`, { ticketTypeId: t.id });
    }
    if (w.seatId !== undefined && !seatAllowed(t, w.seatId)) {
      return fail("VALIDATION_FAILED", `${t.name} is not sold for seat ${w.seatId}`, { ticketTypeId: t.id, seatIds: [w.seatId] });
    }
    perType.set(t.id, (perType.get(t.id) ?? 0) + w.quantity);
  }
  for (const [id, n] of perType) {
    const t = types.get(id)!;
    if (n < t.minPerOrder || (t.maxPerOrder !== null && n > t.maxPerOrder)) {
      return fail("LIMIT_EXCEEDED", `${t.name}: ${t.minPerOrder}-${t.maxPerOrder ?? "any"} per order`, { ticketTypeId: id, minPerOrder: t.minPerOrder, maxPerOrder: t.maxPerOrder });
    }
  }
  const perPool = new Map<string, number>();
  for (const [id, n] of perType) {
    const pool = poolOf(types.get(id)!);
    perPool.set(pool, (perPool.get(pool) ?? 0) + n);
  }
  for (const id of perType.keys()) {
    const t = types.get(id)!;
    if (t.quota === null) continue;
    const left = Math.max(0, t.quota - poolUsed(types, x.usage, poolOf(t)));
    if (perPool.get(poolOf(t))! > left) return fail("QUOTA_EXHAUSTED", `Only ${left} ${t.name} tickets are left`, { ticketTypeId: id, available: left });
  }
  if (voucher && (x.usage.byVoucher.get(voucher.id) ?? 0) >= voucher.maxUsages) {
    return fail("VOUCHER_EXHAUSTED", "This voucher has been used up", { voucher: voucher.code });
  }

  const lines: HoldLine[] = [];
  const seats: { id: string; priceCents: number }[] = [];
  let totalCents = 0;
  for (const w of x.wanted) {
    const t = types.get(w.ticketTypeId)!;
    const unitCents = t.priceCents ?? w.seatPriceCents ?? x.config.priceCents;
    const off = voucher && voucherApplies(voucher, t.id) ? unitDiscount(voucher, unitCents) : 0;
    const line: HoldLine = { ticketTypeId: t.id, quantity: w.quantity, unitCents, discountCents: off * w.quantity };
    if (w.seatId !== undefined) {
      line.seatId = w.seatId;
      seats.push({ id: w.seatId, priceCents: unitCents - off });
    }
    lines.push(line);
    totalCents += (unitCents - off) * w.quantity;
  }
  return ok({ lines, totalCents, voucherId: voucher?.id ?? null, seats });
}
