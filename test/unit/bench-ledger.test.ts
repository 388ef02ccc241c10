import { describe, expect, it } from "vitest";
import { SeatLedger, checkSeatMap, type SeatMap } from "../../bench/lib/ledger";

const map = (statuses: string[], availability: SeatMap["availability"]): SeatMap => ({ seats: statuses.map((status, i) => ({ id: `A-1-${i + 1}`, status })), availability });

describe("bench/holds' ledger", () => {
  it("passes holds that were each released before their seats were granted again", () => {
    const l = new SeatLedger();
    l.grant("h1", ["A-1-1", "A-1-2"]);
    l.releasing("h1");
    l.grant("h2", ["A-1-2", "A-1-3"]); // the release reply may arrive after the next grant
    l.released("h1");
    l.releasing("h2");
    l.released("h2");
    expect(l.problems()).toEqual([]);
    expect([l.grants, l.releases]).toEqual([2, 2]);
  });

  it("fails a seat granted to a second hold while the first still holds it", () => {
    const l = new SeatLedger();
    l.grant("h1", ["A-1-1", "A-1-2"]);
    l.grant("h2", ["A-1-2", "A-1-3"]);
    expect(l.problems().join("\n")).toContain("seat A-1-2 granted to h2 while h1 still holds it");
  });

  it("fails a seat granted meanwhile when the first hold's release then fails", () => {
    const l = new SeatLedger();
    l.grant("h1", ["A-1-1"]);
    l.releasing("h1");
    l.grant("h2", ["A-1-1"]);
    l.releaseFailed("h1");
    expect(l.problems().join("\n")).toContain("seat A-1-1 granted to h2 while h1 still holds it");
  });

  it("fails a run that ends with a hold never released", () => {
    const l = new SeatLedger();
    l.grant("h1", ["A-1-1"]);
    l.releasing("h1");
    l.releaseFailed("h1");
    expect(l.problems()).toEqual(["1 holds granted and never released (h1)"]);
  });

  it("fails a seat map with a seat still held, or counters that disagree with the seats", () => {
    expect(checkSeatMap("e", map(["available", "available"], { capacity: 2, available: 2, held: 0, booked: 0 }), 2)).toEqual([]);
    expect(checkSeatMap("e", map(["available", "held"], { capacity: 2, available: 1, held: 1, booked: 0 }), 2)).toEqual(["e: 1 seats still held or booked after every hold was released"]);
    expect(checkSeatMap("e", map(["available", "available"], { capacity: 2, available: 1, held: 1, booked: 0 }), 2)).toEqual([
      "e: counters say available 1 but 2 seats are available",
      "e: counters say held 1 but 0 seats are held",
    ]);
  });
});
