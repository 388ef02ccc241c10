import { describe, expect, it } from "vitest";
import {
  ChangeBatch,
  counterDelta,
  decideBeginConfirm,
  decideCommit,
  decideExpire,
  decideHold,
  decideRelease,
  decideReturnSeats,
  eventIdOfHold,
  flushDelayMs,
  makeHoldId,
  nextAlarmAt,
  parseHoldRequest,
  relayBackoffMs,
  relayDueAt,
  RELAY_MIN_INTERVAL_MS,
  requestHash,
  validateInit,
  type HoldContext,
  type HoldRow,
  type InventoryConfig,
  type NormalizedHoldRequest,
} from "../../durable-objects/inventory/logic/rules";
import { parseClientMessage } from "../../durable-objects/shared/sockets";
import { EMPTY_PRODUCTS, decideProducts } from "../../durable-objects/inventory/engine/products";
import { DEFAULT_TYPE_ID, type InventoryInit } from "../../durable-objects/inventory/contract";

const EVENT = "6f1c0000-0000-4000-8000-000000000001";
const NOW = Date.parse("2026-06-01T12:00:00Z");

const config: InventoryConfig = {
  eventId: EVENT,
  seating: "reserved",
  capacity: 4,
  priceCents: 5000,
  currency: "EUR",
  maxSeatsPerUser: 4,
  holdTtlSeconds: 600,
  paymentDeadlineSeconds: 600,
  waitlistOfferSeconds: 900,
  salesStartMs: null,
  salesEndMs: NOW + 86_400_000,
};
const ga: InventoryConfig = { ...config, seating: "general", capacity: 10 };

const seatsReq = (seatIds: string[]): NormalizedHoldRequest => ({ kind: "seats", seatIds, types: seatIds.map(() => DEFAULT_TYPE_ID), voucher: null });
const qtyReq = (quantity: number): NormalizedHoldRequest => ({ kind: "quantity", quantity, items: [{ ticketTypeId: DEFAULT_TYPE_ID, quantity }], voucher: null });

function ctx(over: Partial<HoldContext> = {}): HoldContext {
  const cfg = over.config ?? config;
  return {
    price: (wanted, voucher) => decideProducts({ config: cfg, products: EMPTY_PRODUCTS, usage: { byType: new Map(), byVoucher: new Map() }, now: NOW, wanted, voucherCode: voucher }),
    config,
    now: NOW,
    userId: "u1",
    req: seatsReq(["A-1-1", "A-1-2"]),
    idempotencyKey: null,
    previous: null,
    seats: [
      { id: "A-1-1", priceCents: 5000, status: "available" },
      { id: "A-1-2", priceCents: 7000, status: "available" },
    ],
    userQuantity: 0,
    available: 0,
    newHoldId: "h1",
    ...over,
  };
}

function hold(over: Partial<HoldRow> = {}): HoldRow {
  return {
    id: "h1",
    userId: "u1",
    status: "active",
    seats: [{ id: "A-1-1", priceCents: 5000 }],
    quantity: 1,
    totalCents: 5000,
    expiresAt: NOW + 600_000,
    createdAt: NOW,
    bookingId: null,
    idempotencyKey: null,
    requestHash: "s:A-1-1",
    ...over,
  };
}

const init = (over: Partial<InventoryInit> = {}): InventoryInit => ({
  eventId: EVENT,
  seating: "reserved",
  seats: [{ id: "A-1-1", section: "A", row: "1", number: 1, priceCents: 5000 }],
  capacity: 1,
  priceCents: 5000,
  currency: "EUR",
  maxSeatsPerUser: 8,
  holdTtlSeconds: 600,
  paymentDeadlineSeconds: 600,
  waitlistOfferSeconds: 900,
  salesStartAt: null,
  salesEndAt: null,
  startsAt: "2026-12-01T19:00:00Z",
  ...over,
});

describe("validateInit", () => {
  it("takes the capacity of reserved seating from its seats and ends sales at the start when no end is given", () => {
    const r = validateInit(init({ capacity: 999 }));
    expect(r.ok && r.value.config.capacity).toBe(1);
    expect(r.ok && r.value.config.salesEndMs).toBe(Date.parse("2026-12-01T19:00:00Z"));
  });

  it("refuses duplicate seat ids, a non-uuid event, and general admission without capacity", () => {
    const dup = init({ seats: [init().seats[0], init().seats[0]] });
    expect(validateInit(dup)).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(validateInit(init({ eventId: "evt-1" }))).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(validateInit(init({ seating: "general", seats: [], capacity: 0 }))).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(validateInit(init({ seating: "general", seats: [], capacity: 500 }))).toMatchObject({ ok: true });
  });
});

describe("hold ids", () => {
  it("carry their event so the object can be found from the id alone", () => {
    const id = makeHoldId(EVENT, "abcdefghij0123456789");
    expect(eventIdOfHold(id)).toBe(EVENT);
  });

  it("reject anything that is not a hold id", () => {
    expect(eventIdOfHold("hld_nope")).toBeNull();
    expect(eventIdOfHold(`hld_${EVENT}_short`)).toBeNull();
    expect(eventIdOfHold(`bkg_${EVENT}_abcdefghij0123456789`)).toBeNull();
  });
});

describe("parseHoldRequest", () => {
  it("refuses a request naming both seats and a quantity, or a seat twice", () => {
    expect(parseHoldRequest({ seatIds: ["A-1-1"], quantity: 1 } as any, config, null)).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(parseHoldRequest({ seatIds: ["A-1-1", "A-1-1"] }, config, null)).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
  });

  it("wants seat ids for reserved seating and a quantity for general admission", () => {
    expect(parseHoldRequest({ quantity: 2 }, config, null)).toMatchObject({ ok: false });
    expect(parseHoldRequest({ seatIds: ["A-1-1"] }, ga, null)).toMatchObject({ ok: false });
    expect(parseHoldRequest({ quantity: 2 }, ga, null)).toEqual({ ok: true, value: qtyReq(2) });
    expect(parseHoldRequest({ quantity: 1.5 }, ga, null)).toMatchObject({ ok: false });
  });

  it("refuses an empty or oversized idempotency key", () => {
    expect(parseHoldRequest({ quantity: 1 }, ga, "")).toMatchObject({ ok: false });
    expect(parseHoldRequest({ quantity: 1 }, ga, "k".repeat(201))).toMatchObject({ ok: false });
  });

  it("treats the same seats in another order as the same request", () => {
    expect(requestHash(seatsReq(["B-1-2", "A-1-1"]))).toBe(requestHash(seatsReq(["A-1-1", "B-1-2"])));
    expect(requestHash(qtyReq(2))).not.toBe(requestHash(qtyReq(3)));
  });
});

describe("decideHold", () => {
  it("holds free seats with their prices and an expiry one TTL away", () => {
    const r = decideHold(ctx());
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.kind !== "create") throw new Error("expected a new hold");
    expect(r.value.hold).toMatchObject({ status: "active", quantity: 2, totalCents: 12_000, expiresAt: NOW + 600_000 });
    expect(r.value.changes).toEqual([
      { id: "A-1-1", status: "held" },
      { id: "A-1-2", status: "held" },
    ]);
  });

  it("names exactly the taken seats and holds none of them", () => {
    const r = decideHold(ctx({ seats: [{ id: "A-1-1", priceCents: 5000, status: "available" }, { id: "A-1-2", priceCents: 7000, status: "booked" }] }));
    expect(r).toEqual({ ok: false, code: "SEAT_UNAVAILABLE", message: expect.any(String), details: { seatIds: ["A-1-2"] } });
  });

  it("refuses unknown seats as a validation failure naming them", () => {
    const r = decideHold(ctx({ seats: [{ id: "A-1-1", priceCents: 5000, status: "available" }] }));
    expect(r).toMatchObject({ ok: false, code: "VALIDATION_FAILED", details: { seatIds: ["A-1-2"] } });
  });

  it("counts held and booked seats against the per-user cap", () => {
    expect(decideHold(ctx({ userQuantity: 2 }))).toMatchObject({ ok: true });
    expect(decideHold(ctx({ userQuantity: 3 }))).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED" });
  });

  it("closes before the sales window opens and at its end", () => {
    expect(decideHold(ctx({ config: { ...config, salesStartMs: NOW + 1 } }))).toMatchObject({ ok: false, code: "SALES_CLOSED" });
    expect(decideHold(ctx({ config: { ...config, salesEndMs: NOW } }))).toMatchObject({ ok: false, code: "SALES_CLOSED" });
    expect(decideHold(ctx({ config: { ...config, salesStartMs: NOW, salesEndMs: NOW + 1 } }))).toMatchObject({ ok: true });
  });

  it("replays the earlier hold for the same key and body, and refuses the same key with another body", () => {
    const previous = hold({ idempotencyKey: "k1", requestHash: "s:A-1-1,A-1-2", status: "expired" });
    expect(decideHold(ctx({ previous, idempotencyKey: "k1" }))).toEqual({ ok: true, value: { kind: "replay", hold: previous } });
    const other = decideHold(ctx({ previous, idempotencyKey: "k1", req: seatsReq(["A-1-1"]) }));
    expect(other).toMatchObject({ ok: false, code: "IDEMPOTENCY_CONFLICT" });
  });

  it("holds a general admission quantity only while enough is left", () => {
    const base = { config: ga, req: qtyReq(3), seats: [] };
    const r = decideHold(ctx({ ...base, available: 3 }));
    expect(r.ok && r.value.kind === "create" && r.value.hold).toMatchObject({ quantity: 3, totalCents: 15_000, seats: [] });
    expect(decideHold(ctx({ ...base, available: 2 }))).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE", details: { available: 2 } });
  });
});

describe("hold transitions", () => {
  it("expires an active hold exactly at its expiry and not a millisecond before", () => {
    const h = hold();
    expect(decideExpire(h, NOW + 599_999).changed).toBe(false);
    const t = decideExpire(h, NOW + 600_000);
    expect(t).toMatchObject({ changed: true, history: "expired", hold: { status: "expired" }, changes: [{ id: "A-1-1", status: "available" }] });
  });

  it("never expires a confirming hold by the clock", () => {
    expect(decideExpire(hold({ status: "confirming", expiresAt: null, bookingId: "b1" }), NOW + 10 ** 9).changed).toBe(false);
  });

  it("lets the owner or the system release, answers NOT_FOUND to anyone else, and repeats as a no-op", () => {
    expect(decideRelease(hold(), "u2")).toMatchObject({ ok: false, code: "NOT_FOUND" });
    const r = decideRelease(hold(), "u1");
    expect(r).toMatchObject({ ok: true, value: { changed: true, history: "released", hold: { status: "released" } } });
    expect(decideRelease(hold({ status: "released" }), "u1")).toMatchObject({ ok: true, value: { changed: false } });
    expect(decideRelease(hold({ status: "committed", bookingId: "b1" }), null)).toMatchObject({ ok: true, value: { changed: false } });
  });

  it("keeps a confirming hold from its owner but lets the saga release it", () => {
    const confirming = hold({ status: "confirming", bookingId: "b1", expiresAt: null });
    expect(decideRelease(confirming, "u1")).toMatchObject({ ok: false, code: "INVALID_STATE" });
    expect(decideRelease(confirming, null)).toMatchObject({ ok: true, value: { changed: true, hold: { status: "released" } } });
  });

  it("confirms once per booking and refuses a second booking", () => {
    const t = decideBeginConfirm(hold(), "b1");
    expect(t).toMatchObject({ ok: true, value: { changed: true, hold: { status: "confirming", expiresAt: null, bookingId: "b1" } } });
    const confirming = (t as any).value.hold as HoldRow;
    expect(decideBeginConfirm(confirming, "b1")).toMatchObject({ ok: true, value: { changed: false } });
    expect(decideBeginConfirm(confirming, "b2")).toMatchObject({ ok: false, code: "INVALID_STATE" });
    expect(decideBeginConfirm(hold({ status: "expired" }), "b1")).toMatchObject({ ok: false, code: "HOLD_EXPIRED" });
  });

  it("commits a confirming hold to booked seats, idempotently, and answers HOLD_EXPIRED after a release", () => {
    const confirming = hold({ status: "confirming", bookingId: "b1", expiresAt: null });
    const t = decideCommit(confirming, "b1");
    expect(t).toMatchObject({ ok: true, value: { history: "committed", changes: [{ id: "A-1-1", status: "booked" }] } });
    expect(decideCommit((t as any).value.hold, "b1")).toMatchObject({ ok: true, value: { changed: false } });
    expect(decideCommit(hold({ status: "released", bookingId: "b1" }), "b1")).toMatchObject({ ok: false, code: "HOLD_EXPIRED" });
    expect(decideCommit(hold({ status: "expired" }), "b1")).toMatchObject({ ok: false, code: "HOLD_EXPIRED" });
    expect(decideCommit(hold(), "b1")).toMatchObject({ ok: false, code: "INVALID_STATE" });
  });

  it("returns booked seats once after a cancellation", () => {
    const committed = hold({ status: "committed", bookingId: "b1", expiresAt: null });
    const t = decideReturnSeats(committed, "b1");
    expect(t).toMatchObject({ ok: true, value: { changed: true, changes: [{ id: "A-1-1", status: "available" }] } });
    expect(decideReturnSeats((t as any).value.hold, "b1")).toMatchObject({ ok: true, value: { changed: false } });
    expect(decideReturnSeats(committed, "b2")).toMatchObject({ ok: false, code: "INVALID_STATE" });
  });

  it("moves the held and booked counters by the hold's quantity", () => {
    expect(counterDelta(null, "active", 2)).toEqual({ held: 2, booked: 0 });
    expect(counterDelta("confirming", "committed", 2)).toEqual({ held: -2, booked: 2 });
    expect(counterDelta("committed", "released", 2)).toEqual({ held: 0, booked: -2 });
    expect(counterDelta("active", "confirming", 2)).toEqual({ held: 0, booked: 0 });
  });
});

describe("alarm and live-map timing", () => {
  it("arms the alarm at the earliest due time", () => {
    expect(nextAlarmAt(null, null)).toBeNull();
    expect(nextAlarmAt(500, null)).toBe(500);
    expect(nextAlarmAt(500, 200)).toBe(200);
    expect(relayBackoffMs(0)).toBeLessThan(relayBackoffMs(1));
    expect(relayBackoffMs(30)).toBe(60_000);
  });

  it("relays soon after a quiet spell but at most once per minimum interval under a stream of holds", () => {
    expect(relayDueAt(10_000, null, 0)).toBe(10_000 + relayBackoffMs(0));
    expect(relayDueAt(10_000, 10_000 - RELAY_MIN_INTERVAL_MS - 1, 0)).toBe(10_000 + relayBackoffMs(0));
    expect(relayDueAt(10_000, 9_900, 0)).toBe(9_900 + RELAY_MIN_INTERVAL_MS);
    // After failures the backoff wins when it is longer than the interval.
    expect(relayDueAt(10_000, 9_900, 5)).toBe(10_000 + relayBackoffMs(5));
  });

  it("batches changes so the last status of a seat wins", () => {
    const b = new ChangeBatch();
    b.add([{ id: "A-1-1", status: "held" }]);
    b.add([{ id: "A-1-1", status: "available" }, { id: "A-1-2", status: "held" }]);
    expect(b.pending).toBe(true);
    expect(b.take()).toEqual([
      { id: "A-1-1", status: "available" },
      { id: "A-1-2", status: "held" },
    ]);
    expect(b.pending).toBe(false);
  });

  it("flushes at once after a quiet spell and at most one window after the last flush otherwise", () => {
    expect(flushDelayMs(1000, 0)).toBe(0);
    expect(flushDelayMs(1000, 980)).toBe(30);
  });

  it("accepts resync and ping and answers anything else with a validation failure", () => {
    expect(parseClientMessage('{"type":"resync"}')).toEqual({ ok: true, value: { type: "resync" } });
    expect(parseClientMessage("not json")).toMatchObject({ ok: false });
    expect(parseClientMessage('{"type":"drop table"}')).toMatchObject({ ok: false });
    expect(parseClientMessage(new ArrayBuffer(4))).toMatchObject({ ok: false });
    expect(parseClientMessage(`{"type":"resync","x":"${"a".repeat(2000)}"}`)).toMatchObject({ ok: false });
  });
});
