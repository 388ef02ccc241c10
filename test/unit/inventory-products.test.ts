import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../durable-objects/inventory/store/memory-store";
import { implicitDefaultType, unitDiscount } from "../../durable-objects/inventory/engine/products";
import type { ProductSet, TicketTypeDef, VoucherDef } from "../../durable-objects/inventory/contract";
import type { InventoryInit } from "../../durable-objects/inventory/contract";
import { scenarioEngine, scenarioInit, T0 } from "../helpers/inventory-scenario";
import { rng } from "../helpers/random";

const user = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const HOUR = 3_600_000;

const gaInit: InventoryInit = { ...scenarioInit, seating: "general", seats: [], capacity: 100, priceCents: 5000, maxSeatsPerUser: 10 };

const type = (over: Partial<TicketTypeDef> & { id: string }): TicketTypeDef => ({ ...implicitDefaultType(), name: over.id, priceCents: 4000, ...over });
const voucher = (over: Partial<VoucherDef> & { id: string; code: string }): VoucherDef => ({
  discount: { kind: "percent", value: 10 },
  maxUsages: 2,
  validFromMs: null,
  validUntilMs: null,
  ticketTypeIds: null,
  unlocksHidden: false,
  ...over,
});

function setup(products: Omit<ProductSet, "revision">, init: InventoryInit = gaInit) {
  const store = new MemoryStore();
  const clock = { now: T0 };
  const engine = scenarioEngine(store, clock);
  engine.initialize(init);
  expect(engine.setProducts({ revision: 1, ...products })).toMatchObject({ ok: true, value: { applied: true } });
  return { engine, clock, store };
}

describe("ticket types in the inventory object", () => {
  it("old bodies buy the default type at the event's price, with one line", () => {
    const { engine } = setup({ types: [], vouchers: [] });
    const r = engine.hold(user(1), { quantity: 2 }, null);
    expect(r).toMatchObject({ ok: true, value: { totalCents: 10_000, lines: [{ ticketTypeId: "tt_default", quantity: 2, unitCents: 5000, discountCents: 0 }] } });
  });

  it("prices several types in one hold and never sells a type past its quota", () => {
    const { engine } = setup({ types: [type({ id: "tt_early", priceCents: 3000, quota: 3 }), type({ id: "tt_regular", priceCents: 4500 })], vouchers: [] });
    const a = engine.hold(user(1), { items: [{ ticketTypeId: "tt_early", quantity: 2 }, { ticketTypeId: "tt_regular", quantity: 1 }] }, null);
    expect(a).toMatchObject({ ok: true, value: { quantity: 3, totalCents: 10_500 } });
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_early", quantity: 2 }] }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED", details: { ticketTypeId: "tt_early", available: 1 } });
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_early", quantity: 1 }] }, null)).toMatchObject({ ok: true });
    expect(engine.productStats(T0)).toMatchObject({ ok: true, value: { types: expect.arrayContaining([{ ticketTypeId: "tt_early", used: 3, quota: 3, available: 0 }]) } });
  });

  it("types in one pool count together against each one's quota", () => {
    const { engine } = setup({ types: [type({ id: "tt_adult", quota: 4, quotaPool: "floor" }), type({ id: "tt_child", quota: 2, quotaPool: "floor" })], vouchers: [] });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_adult", quantity: 3 }] }, null)).toMatchObject({ ok: true });
    // The pool holds 3: a child (quota 2) is refused, one more adult (quota 4) is fine.
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_child", quantity: 1 }] }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED" });
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_adult", quantity: 1 }] }, null)).toMatchObject({ ok: true });
    expect(engine.hold(user(3), { items: [{ ticketTypeId: "tt_adult", quantity: 1 }] }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED" });
  });

  it("a type deleted while it is held (the delete raced a hold) keeps counting in its pool, also after a restart, so the pool is never oversold", () => {
    const { engine, store, clock } = setup({ types: [type({ id: "tt_adult", quota: 4, quotaPool: "floor" }), type({ id: "tt_promo", quota: 4, quotaPool: "floor" })], vouchers: [] });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_promo", quantity: 2 }] }, null)).toMatchObject({ ok: true });
    // The organizer deletes the promo type: its route saw no holds a moment before.
    expect(engine.setProducts({ revision: 2, types: [type({ id: "tt_adult", quota: 4, quotaPool: "floor" })], vouchers: [] })).toMatchObject({ ok: true, value: { applied: true } });
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_adult", quantity: 3 }] }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED", details: { available: 2 } });
    const rebuilt = scenarioEngine(store, clock, { n: 50 });
    expect(rebuilt.hold(user(2), { items: [{ ticketTypeId: "tt_adult", quantity: 3 }] }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED" });
    expect(rebuilt.hold(user(2), { items: [{ ticketTypeId: "tt_adult", quantity: 2 }] }, null)).toMatchObject({ ok: true });
    // The deleted type is not sold, nor listed.
    expect(rebuilt.hold(user(3), { items: [{ ticketTypeId: "tt_promo", quantity: 1 }] }, null)).toMatchObject({ ok: false });
    const stats = rebuilt.productStats(clock.now);
    expect(stats.ok && stats.value.types.map((t) => t.ticketTypeId).sort()).toEqual(["tt_adult", "tt_default"]);
  });

  it("gives quota back when a hold expires or is released, keeps it while booked", () => {
    const { engine, clock } = setup({ types: [type({ id: "tt_early", quota: 2 })], vouchers: [] });
    const a = engine.hold(user(1), { items: [{ ticketTypeId: "tt_early", quantity: 2 }] }, null);
    if (!a.ok) throw new Error("hold failed");
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_early", quantity: 1 }] }, null)).toMatchObject({ code: "QUOTA_EXHAUSTED" });
    clock.now += 61_000;
    const b = engine.hold(user(2), { items: [{ ticketTypeId: "tt_early", quantity: 1 }] }, null);
    expect(b).toMatchObject({ ok: true });
    if (!b.ok) throw new Error("hold failed");
    engine.beginConfirm(b.value.id, "bk1");
    engine.commit(b.value.id, "bk1");
    const c = engine.hold(user(3), { items: [{ ticketTypeId: "tt_early", quantity: 1 }] }, null);
    if (!c.ok) throw new Error("hold failed");
    expect(engine.hold(user(4), { items: [{ ticketTypeId: "tt_early", quantity: 1 }] }, null)).toMatchObject({ code: "QUOTA_EXHAUSTED" });
    engine.release(c.value.id, user(3));
    expect(engine.hold(user(4), { items: [{ ticketTypeId: "tt_early", quantity: 1 }] }, null)).toMatchObject({ ok: true });
  });

  it("keeps per-order limits and the type's own sales window", () => {
    const { engine, clock } = setup({ types: [type({ id: "tt_family", minPerOrder: 2, maxPerOrder: 4, salesStartMs: T0, salesEndMs: T0 + HOUR })], vouchers: [] });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_family", quantity: 1 }] }, null)).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED", details: { minPerOrder: 2 } });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_family", quantity: 5 }] }, null)).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED", details: { maxPerOrder: 4 } });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_family", quantity: 2 }] }, null)).toMatchObject({ ok: true });
    clock.now = T0 + HOUR;
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_family", quantity: 2 }] }, null)).toMatchObject({ ok: false, code: "SALES_CLOSED" });
    expect(engine.hold(user(2), { quantity: 2 }, null)).toMatchObject({ ok: true });
  });

  it("the per-user cap counts every type together", () => {
    const { engine } = setup({ types: [type({ id: "tt_a" }), type({ id: "tt_b" })], vouchers: [] });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_a", quantity: 6 }] }, null)).toMatchObject({ ok: true });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_b", quantity: 5 }] }, null)).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED" });
  });

  it("answers an unknown type like a hidden one, and sells a hidden type only with a voucher that unlocks it", () => {
    const { engine } = setup({
      types: [type({ id: "tt_press", hidden: true, priceCents: 0 })],
      vouchers: [voucher({ id: "v1", code: "PRESS", unlocksHidden: true, ticketTypeIds: ["tt_press"], discount: { kind: "fixed", value: 0 } }), voucher({ id: "v2", code: "TENOFF" })],
    });
    const ask = (v?: string) => engine.hold(user(1), { items: [{ ticketTypeId: "tt_press", quantity: 1 }], ...(v ? { voucher: v } : {}) }, null);
    expect(ask()).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_nope", quantity: 1 }] }, null)).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(ask("TENOFF")).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(ask("press")).toMatchObject({ ok: true, value: { totalCents: 0 } });
  });
});

describe("vouchers in the inventory object", () => {
  it("discounts by percent, a fixed amount or a set price, only on the types it names", () => {
    expect(unitDiscount(voucher({ id: "a", code: "A", discount: { kind: "percent", value: 15 } }), 3333)).toBe(499);
    expect(unitDiscount(voucher({ id: "a", code: "A", discount: { kind: "fixed", value: 5000 } }), 3000)).toBe(3000);
    expect(unitDiscount(voucher({ id: "a", code: "A", discount: { kind: "price", value: 1000 } }), 3000)).toBe(2000);
    expect(unitDiscount(voucher({ id: "a", code: "A", discount: { kind: "price", value: 4000 } }), 3000)).toBe(0);
    const { engine } = setup({ types: [type({ id: "tt_a", priceCents: 3000 }), type({ id: "tt_b", priceCents: 2000 })], vouchers: [voucher({ id: "v", code: "SPRING", ticketTypeIds: ["tt_a"] })] });
    const r = engine.hold(user(1), { items: [{ ticketTypeId: "tt_a", quantity: 2 }, { ticketTypeId: "tt_b", quantity: 1 }], voucher: "spring" }, null);
    expect(r).toMatchObject({
      ok: true,
      value: {
        totalCents: 2 * 2700 + 2000,
        lines: [
          { ticketTypeId: "tt_a", quantity: 2, unitCents: 3000, discountCents: 600 },
          { ticketTypeId: "tt_b", quantity: 1, unitCents: 2000, discountCents: 0 },
        ],
      },
    });
  });

  it("refuses an unknown code, one outside its window and one that applies to nothing asked", () => {
    const { engine, clock } = setup({
      types: [type({ id: "tt_a" }), type({ id: "tt_b" })],
      vouchers: [voucher({ id: "v", code: "LATER", validFromMs: T0 + HOUR, validUntilMs: T0 + 2 * HOUR }), voucher({ id: "w", code: "AONLY", ticketTypeIds: ["tt_a"] })],
    });
    const ask = (code: string, t = "tt_a") => engine.hold(user(1), { items: [{ ticketTypeId: t, quantity: 1 }], voucher: code }, null);
    expect(ask("NOPE")).toMatchObject({ ok: false, code: "VOUCHER_INVALID" });
    expect(ask("LATER")).toMatchObject({ ok: false, code: "VOUCHER_INVALID" });
    expect(ask("AONLY", "tt_b")).toMatchObject({ ok: false, code: "VOUCHER_INVALID" });
    clock.now = T0 + HOUR;
    expect(ask("LATER")).toMatchObject({ ok: true });
    clock.now = T0 + 2 * HOUR;
    expect(ask("LATER", "tt_b")).toMatchObject({ ok: false, code: "VOUCHER_INVALID" });
  });

  it("takes one usage per hold, gives it back when the hold expires, is released or its booking fails", () => {
    const { engine, clock } = setup({ types: [type({ id: "tt_a" })], vouchers: [voucher({ id: "v", code: "TWICE", maxUsages: 2 })] });
    const ask = (u: number) => engine.hold(user(u), { items: [{ ticketTypeId: "tt_a", quantity: 1 }], voucher: "TWICE" }, null);
    const a = ask(1);
    const b = ask(2);
    if (!a.ok || !b.ok) throw new Error("holds failed");
    expect(ask(3)).toMatchObject({ ok: false, code: "VOUCHER_EXHAUSTED" });
    engine.release(a.value.id, user(1));
    const c = ask(3);
    expect(c).toMatchObject({ ok: true });
    engine.beginConfirm(b.value.id, "bk");
    engine.release(b.value.id, null); // the saga's compensation: the booking failed
    expect(ask(4)).toMatchObject({ ok: true });
    expect(ask(5)).toMatchObject({ ok: false, code: "VOUCHER_EXHAUSTED" });
    clock.now += 61_000;
    expect(engine.productStats(clock.now)).toMatchObject({ ok: true, value: { vouchers: [{ code: "TWICE", usages: 0, maxUsages: 2 }] } });
    expect(ask(5)).toMatchObject({ ok: true });
  });

  it("an engine rebuilt from its store knows the products and every usage", () => {
    const { engine, store, clock } = setup({ types: [type({ id: "tt_a", quota: 3 })], vouchers: [voucher({ id: "v", code: "ONE", maxUsages: 1 })] });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_a", quantity: 2 }], voucher: "ONE" }, null)).toMatchObject({ ok: true });
    const rebuilt = scenarioEngine(store, clock, { n: 50 });
    expect(rebuilt.productStats(clock.now)).toEqual(engine.productStats(clock.now));
    expect(rebuilt.hold(user(2), { items: [{ ticketTypeId: "tt_a", quantity: 1 }], voucher: "ONE" }, null)).toMatchObject({ code: "VOUCHER_EXHAUSTED" });
    expect(rebuilt.hold(user(2), { items: [{ ticketTypeId: "tt_a", quantity: 2 }] }, null)).toMatchObject({ code: "QUOTA_EXHAUSTED" });
  });

  it("ignores a push older than the set it has, and refuses a malformed one", () => {
    const { engine } = setup({ types: [type({ id: "tt_a" })], vouchers: [] });
    expect(engine.setProducts({ revision: 3, types: [type({ id: "tt_b" })], vouchers: [] })).toMatchObject({ ok: true, value: { applied: true } });
    expect(engine.setProducts({ revision: 2, types: [type({ id: "tt_a" })], vouchers: [] })).toMatchObject({ ok: true, value: { applied: false, revision: 3 } });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_a", quantity: 1 }] }, null)).toMatchObject({ code: "VALIDATION_FAILED" });
    expect(engine.setProducts({ revision: 4, types: [type({ id: "tt_a", quota: -1 })], vouchers: [] })).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
  });

  it("a stale set carrying the same revision as the newer set it has does not overwrite it (a type made in between stays on sale)", () => {
    const { engine } = setup({ types: [type({ id: "tt_a" })], vouchers: [] });
    expect(engine.setProducts({ revision: 5, types: [type({ id: "tt_a" }), type({ id: "tt_new" })], vouchers: [] })).toMatchObject({ ok: true, value: { applied: true } });
    expect(engine.setProducts({ revision: 5, types: [type({ id: "tt_a" })], vouchers: [] })).toEqual({ ok: true, value: { applied: false, revision: 5 } });
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_new", quantity: 1 }] }, null)).toMatchObject({ ok: true });
  });
});

describe("ticket types on reserved seating", () => {
  it("sells a type only in its sections or rows, at its price; the default type at the seat's price", () => {
    const init: InventoryInit = {
      ...scenarioInit,
      seats: [...[1, 2, 3].map((n) => ({ id: `A-1-${n}`, section: "A", row: "1", number: n, priceCents: 1000 })), ...[1, 2].map((n) => ({ id: `B-2-${n}`, section: "B", row: "2", number: n, priceCents: 800 }))],
      capacity: 5,
    };
    const { engine } = setup({ types: [type({ id: "tt_child", priceCents: 500, sections: ["B-2"] }), type({ id: "tt_vip", priceCents: 9000, sections: ["A"], quota: 1 })], vouchers: [] }, init);
    expect(engine.hold(user(1), { seats: [{ id: "A-1-1", ticketTypeId: "tt_child" }] }, null)).toMatchObject({ ok: false, code: "VALIDATION_FAILED", details: { seatIds: ["A-1-1"] } });
    const r = engine.hold(user(1), { seats: [{ id: "B-2-1", ticketTypeId: "tt_child" }, { id: "A-1-1", ticketTypeId: "tt_vip" }] }, null);
    expect(r).toMatchObject({ ok: true, value: { totalCents: 9500, seats: [{ id: "B-2-1", priceCents: 500 }, { id: "A-1-1", priceCents: 9000 }] } });
    expect(engine.hold(user(2), { seats: [{ id: "A-1-2", ticketTypeId: "tt_vip" }] }, null)).toMatchObject({ ok: false, code: "QUOTA_EXHAUSTED" });
    expect(engine.hold(user(2), { seatIds: ["A-1-2"] }, null)).toMatchObject({ ok: true, value: { totalCents: 1000, lines: [{ ticketTypeId: "tt_default", seatId: "A-1-2", unitCents: 1000 }] } });
  });
});

describe("seats some ticket type can still sell (what the waiting room admits against)", () => {
  const ga = (types: TicketTypeDef[]) => setup({ types, vouchers: [] });

  it("counts every free seat while a type without a quota is on sale", () => {
    const { engine } = ga([type({ id: "tt_early", quota: 5 }), type({ id: "tt_regular" })]);
    expect(engine.sellable(T0)).toBe(100);
    expect(engine.hold(user(1), { quantity: 10 }, null)).toMatchObject({ ok: true });
    expect(engine.sellable(T0)).toBe(90);
  });

  it("is bounded by what the on-sale types' quotas leave, a shared pool counted once", () => {
    const { engine } = ga([
      type({ id: "tt_default", quota: 0 }),
      type({ id: "tt_adult", quota: 10, quotaPool: "floor" }),
      type({ id: "tt_child", quota: 4, quotaPool: "floor" }),
      type({ id: "tt_vip", quota: 3 }),
    ]);
    // The floor pool at most 10 (any of its types), plus 3 VIP; the default type sells none.
    expect(engine.sellable(T0)).toBe(13);
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_child", quantity: 4 }] }, null)).toMatchObject({ ok: true });
    expect(engine.sellable(T0)).toBe(9);
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_vip", quantity: 3 }] }, null)).toMatchObject({ ok: true });
    expect(engine.sellable(T0)).toBe(6);
  });

  it("is 0 when every type is out of quota, off sale, outside its window or hidden, with seats still free", () => {
    const { engine, clock } = ga([
      type({ id: "tt_default", quota: 2 }),
      type({ id: "tt_later", salesStartMs: T0 + HOUR }),
      type({ id: "tt_over", salesEndMs: T0 - 1 }),
      type({ id: "tt_secret", hidden: true }),
      type({ id: "tt_pairs", quota: 3, minPerOrder: 2 }),
    ]);
    expect(engine.sellable(T0)).toBe(5);
    const taken = engine.hold(user(1), { quantity: 2 }, null);
    expect(taken).toMatchObject({ ok: true });
    expect(engine.hold(user(2), { items: [{ ticketTypeId: "tt_pairs", quantity: 2 }] }, null)).toMatchObject({ ok: true });
    // One pair ticket left, below the type's minimum per order: nothing sells, 96 seats free.
    expect(engine.stats(T0).available).toBe(96);
    expect(engine.sellable(T0)).toBe(0);
    // The later type's window opens: every free seat sells again.
    clock.now = T0 + HOUR;
    expect(engine.sellable(clock.now)).toBe(engine.stats(clock.now).available);
  });

  it("counts a hidden type only while a voucher that unlocks it has a usage left (a presale by voucher)", () => {
    const { engine } = setup({
      types: [type({ id: "tt_default", salesStartMs: T0 + HOUR }), type({ id: "tt_presale", hidden: true, quota: 10 })],
      vouchers: [voucher({ id: "vch_pre", code: "PRE", maxUsages: 1, unlocksHidden: true, ticketTypeIds: ["tt_presale"] })],
    });
    expect(engine.sellable(T0)).toBe(10);
    expect(engine.hold(user(1), { items: [{ ticketTypeId: "tt_presale", quantity: 2 }], voucher: "PRE" }, null)).toMatchObject({ ok: true });
    // The voucher's one usage is taken: nobody else can buy the hidden type.
    expect(engine.sellable(T0)).toBe(0);
  });

  it("counts a reserved type limited to sections only up to the free seats there", () => {
    const init: InventoryInit = {
      ...scenarioInit,
      seats: [...[1, 2, 3].map((n) => ({ id: `A-1-${n}`, section: "A", row: "1", number: n, priceCents: 1000 })), ...[1, 2].map((n) => ({ id: `B-2-${n}`, section: "B", row: "2", number: n, priceCents: 800 }))],
      capacity: 5,
    };
    // Only section B is sold (the default type is off sale): 2 seats, though 5 are free.
    const { engine } = setup({ types: [type({ id: "tt_default", salesEndMs: T0 - 1 }), type({ id: "tt_b", sections: ["B"] })], vouchers: [] }, init);
    expect(engine.sellable(T0)).toBe(2);
    expect(engine.hold(user(1), { seats: [{ id: "B-2-1", ticketTypeId: "tt_b" }] }, null)).toMatchObject({ ok: true });
    expect(engine.sellable(T0)).toBe(1);
    expect(engine.stats(T0).available).toBe(4);
  });

  it("keeps the free seats per section exact through holds, releases, expiries, bookings and returns (against a count of the seats)", () => {
    const seats = ["A", "B", "C"].flatMap((section) => [1, 2, 3].flatMap((row) => [1, 2, 3, 4].map((n) => ({ id: `${section}-${row}-${n}`, section, row: String(row), number: n, priceCents: 1000 }))));
    const init: InventoryInit = { ...scenarioInit, seats, capacity: seats.length, maxSeatsPerUser: 6 };
    const sections = ["A", "A-1", "B-2"];
    const { engine, clock } = setup({ types: [type({ id: "tt_default", salesEndMs: T0 - 1 }), type({ id: "tt_some", sections })], vouchers: [] }, init);
    const random = rng(7);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
    const live: string[] = [];
    const booked: { holdId: string; bookingId: string }[] = [];
    for (let step = 0; step < 400; step++) {
      const r = random();
      if (r < 0.45) {
        const free = engine.holds.seatMap()!.filter((s) => s.status === "available" && sections.some((x) => x === s.section || x === `${s.section}-${s.row}`));
        if (free.length) {
          const h = engine.hold(user(1 + Math.floor(random() * 20)), { seats: [pick(free)].map((s) => ({ id: s.id, ticketTypeId: "tt_some" })) }, null);
          if (h.ok) live.push(h.value.id);
        }
      } else if (r < 0.6 && live.length) {
        engine.release(live.splice(Math.floor(random() * live.length), 1)[0], null);
      } else if (r < 0.75 && live.length) {
        const holdId = live.splice(Math.floor(random() * live.length), 1)[0];
        const bookingId = `bk_${step}`;
        if (engine.beginConfirm(holdId, bookingId).ok && engine.commit(holdId, bookingId).ok) booked.push({ holdId, bookingId });
      } else if (r < 0.85 && booked.length) {
        const b = booked.splice(Math.floor(random() * booked.length), 1)[0];
        engine.returnSeats(b.holdId, b.bookingId);
      } else {
        clock.now += 20_000;
      }
      const sellable = engine.sellable(clock.now);
      const counted = engine.holds.seatMap()!.filter((s) => s.status === "available" && (s.section === "A" || `${s.section}-${s.row}` === "B-2")).length;
      expect(sellable, `step ${step}`).toBe(counted);
    }
  });

  it("gives the quota back when a hold of the type ends", () => {
    const { engine, clock } = ga([type({ id: "tt_default", quota: 2 })]);
    expect(engine.hold(user(1), { quantity: 2 }, null)).toMatchObject({ ok: true });
    expect(engine.sellable(T0)).toBe(0);
    clock.now = T0 + gaInit.holdTtlSeconds * 1000 + 1;
    expect(engine.sellable(clock.now)).toBe(2);
  });
});
