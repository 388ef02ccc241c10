import { describe, expect, it } from "vitest";
import { decideRestore, type HoldRow } from "../../durable-objects/inventory/logic/rules";

const hold = (over: Partial<HoldRow> = {}): HoldRow => ({
  id: "h1", userId: "u1", status: "released", seats: [{ id: "A-1-1", priceCents: 5000 }, { id: "A-1-2", priceCents: 5000 }], quantity: 2, totalCents: 10_000,
  expiresAt: null, createdAt: 0, bookingId: "b1", idempotencyKey: null, requestHash: "x", ...over,
});
const free = [{ id: "A-1-1", priceCents: 5000, status: "available" as const }, { id: "A-1-2", priceCents: 5000, status: "available" as const }];

describe("decideRestore (reconciliation books a confirmed booking's seats again)", () => {
  it("books the seats of a released hold of this booking again when every one is free", () => {
    expect(decideRestore(hold(), "b1", free, 0, "reserved")).toMatchObject({
      ok: true, value: { changed: true, history: "committed", hold: { status: "committed" }, changes: [{ id: "A-1-1", status: "booked" }, { id: "A-1-2", status: "booked" }] },
    });
  });

  it("refuses with SEAT_UNAVAILABLE when another hold has one of the seats", () => {
    expect(decideRestore(hold({ status: "expired" }), "b1", [free[0], { ...free[1], status: "held" }], 0, "reserved")).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE" });
  });

  it("counts places for general admission, and leaves a committed hold unchanged", () => {
    const ga = hold({ seats: [] });
    expect(decideRestore(ga, "b1", [], 2, "general")).toMatchObject({ ok: true, value: { changed: true, hold: { status: "committed" } } });
    expect(decideRestore(ga, "b1", [], 1, "general")).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE" });
    expect(decideRestore(hold({ status: "committed" }), "b1", free, 0, "reserved")).toMatchObject({ ok: true, value: { changed: false } });
  });

  it("never touches a hold of another booking or one still active", () => {
    expect(decideRestore(hold(), "b2", free, 0, "reserved")).toMatchObject({ ok: false, code: "INVALID_STATE" });
    expect(decideRestore(hold({ status: "active", bookingId: null }), "b1", free, 0, "reserved")).toMatchObject({ ok: false, code: "INVALID_STATE" });
  });
});
