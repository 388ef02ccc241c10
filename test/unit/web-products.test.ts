import { describe, expect, it } from "vitest";
// @ts-expect-error plain browser module without types
import { typedHoldBody } from "../../public/products.js";

const state = (seating: string, products: unknown) => ({ ev: { seating }, products });
const picks = (typeId = "tt_default", voucher = "", bySeat: [string, string][] = []) => ({ types: [], bySeat: new Map(bySeat), typeId, voucher });

describe("the web page's hold body with ticket types and a voucher", () => {
  it("keeps the old bodies when the buyer picked only the default type and no code", () => {
    expect(typedHoldBody(state("general", picks()), { quantity: 2 })).toEqual({ quantity: 2 });
    expect(typedHoldBody(state("reserved", picks()), { seatIds: ["A-1-1"] })).toEqual({ seatIds: ["A-1-1"] });
    expect(typedHoldBody(state("general", undefined), { quantity: 1 })).toEqual({ quantity: 1 });
  });

  it("names a type per seat, or the type of a general admission order, with the voucher", () => {
    expect(typedHoldBody(state("general", picks("tt_kid", "SPRING")), { quantity: 3 })).toEqual({ items: [{ ticketTypeId: "tt_kid", quantity: 3 }], voucher: "SPRING" });
    expect(typedHoldBody(state("reserved", picks("tt_default", "", [["A-1-2", "tt_kid"]])), { seatIds: ["A-1-1", "A-1-2"] })).toEqual({
      seats: [{ id: "A-1-1", ticketTypeId: "tt_default" }, { id: "A-1-2", ticketTypeId: "tt_kid" }],
    });
    expect(typedHoldBody(state("reserved", picks("tt_default", "TENOFF")), { seatIds: ["A-1-1"] })).toEqual({ seatIds: ["A-1-1"], voucher: "TENOFF" });
  });
});
