import { describe, expect, it } from "vitest";
import { MAX_SEATS_PER_REQUEST } from "../../durable-objects/inventory/contract";
import { MAX_PRICE_CENTS } from "../../src/services/layout";
import { makePublished, makeVenue } from "../helpers/catalogue";
import { call, makeUser } from "../helpers/fixtures";
import { eventually } from "../helpers/wait";

describe("money at the largest amounts the catalogue and the inventory accept", () => {
  it("a hold of the most seats one request may take, each at the highest price, books and confirms", async () => {
    const [organizer, buyer] = [await makeUser("organizer"), await makeUser()];
    const venue = await makeVenue(organizer, {
      layout: { sections: [{ name: "VIP", rows: [{ label: "1", seats: MAX_SEATS_PER_REQUEST, priceCents: MAX_PRICE_CENTS }] }] },
      capacity: MAX_SEATS_PER_REQUEST,
    });
    const event = await makePublished(organizer, venue.id, { priceCents: MAX_PRICE_CENTS, maxSeatsPerUser: MAX_SEATS_PER_REQUEST });
    const seatIds = Array.from({ length: MAX_SEATS_PER_REQUEST }, (_, i) => `VIP-1-${i + 1}`);
    const held = await call(`/v1/events/${event.id}/holds`, { method: "POST", headers: buyer.auth, json: { seatIds } });
    const hold: any = await held.json();
    expect(held.status, JSON.stringify(hold)).toBe(201);
    const total = MAX_SEATS_PER_REQUEST * MAX_PRICE_CENTS;
    expect(total).toBeGreaterThan(2 ** 31 - 1);
    expect(hold.totalCents).toBe(total);

    const res = await call("/v1/bookings", { method: "POST", headers: buyer.auth, json: { holdId: hold.id } });
    const booking: any = await res.json();
    expect(res.status, JSON.stringify(booking)).toBe(202);
    expect(booking.totalCents).toBe(total);
    const settled: any = await eventually(async () => {
      const b: any = await (await call(`/v1/bookings/${booking.id}`, { headers: buyer.auth })).json();
      return b.status !== "pending" ? b : null;
    }, 20_000, "booking settled");
    expect(settled).toMatchObject({ status: "confirmed", totalCents: total, quantity: MAX_SEATS_PER_REQUEST });
  });
});
