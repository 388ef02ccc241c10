import { describe, expect, it } from "vitest";
import { validateInit } from "../../durable-objects/inventory/logic/rules";
import { LayoutSchema, expandSeats } from "../../src/services/layout";

const EVENT = "6f1c2b7e-3d4a-4b5c-8d9e-0f1a2b3c4d5e";

function initFor(sections: { name: string; rows: { label: string; seats: number }[] }[]) {
  const layout = LayoutSchema.parse({ sections });
  const seats = expandSeats(layout, 100);
  return validateInit({
    eventId: EVENT, seating: "reserved", seats, capacity: seats.length, priceCents: 100, currency: "EUR", maxSeatsPerUser: 8,
    holdTtlSeconds: 600, paymentDeadlineSeconds: 600, waitlistOfferSeconds: 900, salesStartAt: null, salesEndAt: null, startsAt: "2026-12-01T19:00:00Z",
  });
}

describe("one rule for venue labels and inventory seat ids", () => {
  it("every label a venue accepts makes seat ids the inventory object accepts", () => {
    for (const label of ["_A", "_", "9", "a_b", "Z".repeat(24), "__0"]) {
      expect(initFor([{ name: label, rows: [{ label, seats: 2 }] }]), label).toMatchObject({ ok: true });
    }
  });

  it("labels the venue refuses are the ones that would make ambiguous seat ids", () => {
    for (const name of ["A-B", "A.B", "A B", "", "Z".repeat(25)]) {
      expect(LayoutSchema.safeParse({ sections: [{ name, rows: [{ label: "1", seats: 1 }] }] }).success, name).toBe(false);
    }
  });
});
