import { describe, expect, it } from "vitest";
import type { HoldRow, InventoryConfig, SeatRow } from "../../durable-objects/inventory/logic/rules";
import {
  decideJoin,
  decideLeave,
  decideOffer,
  entryAfterHold,
  entryView,
  latestMirrors,
  mirrorOf,
  offerNotification,
  type JoinContext,
  type OfferContext,
  type WaitlistEntryRow,
} from "../../durable-objects/inventory/logic/waitlist";
import { NotificationMessage } from "../../src/queues/messages";
import { EMPTY_PRODUCTS, decideProducts, implicitDefaultType } from "../../durable-objects/inventory/engine/products";
import type { ProductSet, TicketTypeDef } from "../../durable-objects/inventory/contract";

const EVENT = "6f1c0000-0000-4000-8000-000000000001";
const USER = "6f1c0000-0000-4000-8000-0000000000aa";
const NOW = Date.parse("2026-06-01T12:00:00Z");

const reserved: InventoryConfig = {
  eventId: EVENT,
  seating: "reserved",
  capacity: 6,
  priceCents: 5000,
  currency: "EUR",
  maxSeatsPerUser: 4,
  holdTtlSeconds: 600,
  paymentDeadlineSeconds: 600,
  waitlistOfferSeconds: 900,
  salesStartMs: null,
  salesEndMs: NOW + 86_400_000,
};
const ga: InventoryConfig = { ...reserved, seating: "general", capacity: 10 };

const waiting = (over: Partial<WaitlistEntryRow> = {}): WaitlistEntryRow => ({
  seq: 1,
  id: "wl_1",
  userId: USER,
  quantity: 2,
  status: "waiting",
  holdId: null,
  joinedAt: NOW - 60_000,
  offeredAt: null,
  offerExpiresAt: null,
  updatedAt: NOW - 60_000,
  ...over,
});

function join(over: Partial<JoinContext> = {}): JoinContext {
  return { config: ga, now: NOW, userId: USER, quantity: 2, existing: null, userQuantity: 0, available: 1, newEntryId: "wl_new", ...over };
}

const seat = (id: string, priceCents = 5000, status: SeatRow["status"] = "available"): SeatRow => ({ id, priceCents, status });

/** Prices offers as the object does, against a product set (the implicit default type when none). */
const pricer = (config: InventoryConfig, products: ProductSet = EMPTY_PRODUCTS): OfferContext["price"] => (wanted, voucher) =>
  decideProducts({ config, products, usage: { byType: new Map(), byVoucher: new Map() }, now: NOW, wanted, voucherCode: voucher });

function offer(over: Partial<OfferContext> = {}): OfferContext {
  const config = over.config ?? ga;
  return { config, now: NOW, head: waiting(), available: 2, seats: [], userQuantity: 0, newHoldId: "hld_offer", price: pricer(config), ...over };
}

const defaultType = (over: Partial<TicketTypeDef>): ProductSet => ({ revision: 1, types: [{ ...implicitDefaultType(), ...over }], vouchers: [] });

describe("joining the waitlist", () => {
  it("creates a waiting entry when the quantity cannot be held now", () => {
    const d = decideJoin(join({ available: 1 }));
    expect(d).toMatchObject({ ok: true, value: { kind: "create", entry: { id: "wl_new", status: "waiting", quantity: 2, holdId: null, joinedAt: NOW } } });
  });

  it("refuses with SEATS_AVAILABLE when the quantity can be held now", () => {
    expect(decideJoin(join({ available: 2 }))).toMatchObject({ ok: false, code: "SEATS_AVAILABLE", details: { available: 2 } });
  });

  it("returns the user's active entry instead of queueing them twice, even when seats are free now", () => {
    const existing = waiting({ status: "offered", holdId: "hld_x" });
    expect(decideJoin(join({ existing, available: 10 }))).toEqual({ ok: true, value: { kind: "existing", entry: existing } });
  });

  it("applies the per-user cap over what the user already holds or bought", () => {
    expect(decideJoin(join({ userQuantity: 3 }))).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED", details: { maxSeatsPerUser: 4, alreadyHeldOrBooked: 3 } });
    expect(decideJoin(join({ userQuantity: 2 }))).toMatchObject({ ok: true });
  });

  it("refuses to queue anyone for more seats than the event has, which would hold back the whole line for good", () => {
    const small = { ...ga, capacity: 3, maxSeatsPerUser: 8 };
    expect(decideJoin(join({ config: small, quantity: 4, available: 0 }))).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED", details: { capacity: 3 } });
    expect(decideJoin(join({ config: small, quantity: 3, available: 0 }))).toMatchObject({ ok: true, value: { kind: "create" } });
  });

  it("refuses outside the sales window and rejects bad quantities", () => {
    expect(decideJoin(join({ config: { ...ga, salesEndMs: NOW } }))).toMatchObject({ ok: false, code: "SALES_CLOSED" });
    expect(decideJoin(join({ config: { ...ga, salesStartMs: NOW + 1 } }))).toMatchObject({ ok: false, code: "SALES_CLOSED" });
    for (const quantity of [0, -1, 1.5, 51, "2", null]) {
      expect(decideJoin(join({ quantity }))).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    }
  });
});

describe("offering seats to the head of the queue", () => {
  it("holds a general admission quantity for the head for waitlistOfferSeconds", () => {
    const d = decideOffer(offer({ available: 3 }));
    if (d.kind !== "offer") throw new Error(d.kind);
    expect(d.hold).toMatchObject({ id: "hld_offer", userId: USER, status: "active", quantity: 2, seats: [], totalCents: 10_000, expiresAt: NOW + 900_000, idempotencyKey: null });
    expect(d.entry).toMatchObject({ status: "offered", holdId: "hld_offer", offeredAt: NOW, offerExpiresAt: NOW + 900_000 });
    expect(d.changes).toEqual([]);
  });

  it("offers the first free seats in seat order for reserved seating, at their prices", () => {
    const d = decideOffer(offer({ config: reserved, available: 3, seats: [seat("A-1-3", 4000), seat("A-1-5", 6000), seat("A-1-6")] }));
    if (d.kind !== "offer") throw new Error(d.kind);
    expect(d.hold.seats).toEqual([{ id: "A-1-3", priceCents: 4000 }, { id: "A-1-5", priceCents: 6000 }]);
    expect(d.hold.totalCents).toBe(10_000);
    expect(d.changes).toEqual([{ id: "A-1-3", status: "held" }, { id: "A-1-5", status: "held" }]);
  });

  it("waits when fewer seats are free than the head asks for (nobody behind it is served)", () => {
    expect(decideOffer(offer({ available: 1 }))).toEqual({ kind: "wait" });
    expect(decideOffer(offer({ config: reserved, available: 2, seats: [seat("A-1-1"), seat("A-1-2", 5000, "held")] }))).toEqual({ kind: "wait" });
  });

  it("waits while sales are closed", () => {
    expect(decideOffer(offer({ config: { ...ga, salesEndMs: NOW }, available: 5 }))).toEqual({ kind: "wait" });
  });

  it("ends the head's entry as expired when an offer would break the per-user cap", () => {
    expect(decideOffer(offer({ userQuantity: 3, available: 5 }))).toEqual({ kind: "close", entry: { ...waiting(), status: "expired", updatedAt: NOW } });
  });

  it("prices an offer as a hold of the default type: its price, with lines", () => {
    const d = decideOffer(offer({ available: 3, price: pricer(ga, defaultType({ priceCents: 7500 })) }));
    if (d.kind !== "offer") throw new Error(d.kind);
    expect(d.hold).toMatchObject({ totalCents: 15_000, lines: [{ ticketTypeId: "tt_default", quantity: 2, unitCents: 7500, discountCents: 0 }], voucherId: null });
    const r = decideOffer(offer({ config: reserved, available: 3, seats: [seat("A-1-3", 4000), seat("A-1-5", 6000)], price: pricer(reserved, defaultType({ priceCents: 100 })) }));
    if (r.kind !== "offer") throw new Error(r.kind);
    expect(r.hold.seats).toEqual([{ id: "A-1-3", priceCents: 100 }, { id: "A-1-5", priceCents: 100 }]);
  });

  it("waits while the default type is off sale, hidden or out of quota, and ends a head its per-order limit can never serve", () => {
    for (const over of [{ salesEndMs: NOW }, { salesStartMs: NOW + 1 }, { hidden: true }, { quota: 1 }]) {
      expect(decideOffer(offer({ available: 5, price: pricer(ga, defaultType(over)) })), JSON.stringify(over)).toEqual({ kind: "wait" });
    }
    expect(decideOffer(offer({ available: 5, price: pricer(ga, defaultType({ maxPerOrder: 1 })) }))).toEqual({ kind: "close", entry: { ...waiting(), status: "expired", updatedAt: NOW } });
  });

  it("makes offered holds that no client idempotency key can replay", () => {
    const d = decideOffer(offer());
    if (d.kind !== "offer") throw new Error(d.kind);
    expect(d.hold.requestHash).toBe("w:wl_1");
  });
});

describe("an offered entry follows its hold", () => {
  const offered = waiting({ status: "offered", holdId: "hld_offer", offeredAt: NOW, offerExpiresAt: NOW + 900_000 });

  it("is converted when the hold is committed", () => {
    expect(entryAfterHold(offered, "confirming", "committed", NOW + 1)).toMatchObject({ status: "converted", holdId: "hld_offer", offeredAt: NOW, updatedAt: NOW + 1 });
  });

  it("is expired when the hold lapses or its payment fails, and left when the user lets it go", () => {
    expect(entryAfterHold(offered, "active", "expired", NOW)).toMatchObject({ status: "expired" });
    expect(entryAfterHold(offered, "confirming", "released", NOW)).toMatchObject({ status: "expired" });
    expect(entryAfterHold(offered, "active", "released", NOW)).toMatchObject({ status: "left" });
  });

  it("stays offered while the hold is active or being confirmed", () => {
    expect(entryAfterHold(offered, "active", "confirming", NOW)).toBeNull();
    expect(entryAfterHold(waiting(), "active", "expired", NOW)).toBeNull();
  });
});

describe("leaving", () => {
  it("a waiting entry leaves at once; an offered one releases its hold; an ended one stays as it is", () => {
    expect(decideLeave(waiting(), NOW)).toEqual({ kind: "left", entry: { ...waiting(), status: "left", updatedAt: NOW } });
    expect(decideLeave(waiting({ status: "offered", holdId: "hld_o" }), NOW)).toEqual({ kind: "release-offer", holdId: "hld_o" });
    const converted = waiting({ status: "converted", holdId: "hld_o" });
    expect(decideLeave(converted, NOW)).toEqual({ kind: "unchanged", entry: converted });
  });
});

describe("views and outbox rows", () => {
  it("shows a position only while waiting and an offer expiry only while offered", () => {
    expect(entryView(waiting(), EVENT, 3)).toMatchObject({ position: 3, status: "waiting", holdId: null, offerExpiresAt: null });
    const offered = waiting({ status: "offered", holdId: "h", offeredAt: NOW, offerExpiresAt: NOW + 900_000 });
    expect(entryView(offered, EVENT, 3)).toMatchObject({ position: null, holdId: "h", offerExpiresAt: new Date(NOW + 900_000).toISOString() });
    expect(entryView({ ...offered, status: "expired" }, EVENT, null)).toMatchObject({ offerExpiresAt: null, offeredAt: new Date(NOW).toISOString() });
  });

  it("keeps only the last state of each entry in a relay batch, in first-seen order", () => {
    const a1 = mirrorOf(waiting({ id: "a" }), EVENT);
    const b1 = mirrorOf(waiting({ id: "b" }), EVENT);
    const a2 = mirrorOf(waiting({ id: "a", status: "offered", holdId: "h", updatedAt: NOW }), EVENT);
    expect(latestMirrors([a1, b1, a2])).toEqual([a2, b1]);
  });

  it("builds a notification.send message the queue consumer accepts, keyed by entry and hold", () => {
    const hold: HoldRow = {
      id: "hld_o", userId: USER, status: "active", seats: [{ id: "A-1-1", priceCents: 5000 }], quantity: 1, totalCents: 5000,
      expiresAt: NOW + 900_000, createdAt: NOW, bookingId: null, idempotencyKey: null, requestHash: "w:wl_1",
    };
    const msg = offerNotification(waiting(), hold, reserved);
    expect(NotificationMessage.parse(msg)).toEqual(msg);
    expect(msg).toMatchObject({ dedupeKey: "waitlist.offered:wl_1:hld_o", kind: "waitlist.offered", payload: { holdId: "hld_o", seatIds: ["A-1-1"], offerExpiresAt: new Date(NOW + 900_000).toISOString() } });
  });
});
