import { describe, expect, it } from "vitest";

// The page's pure helpers are plain browser modules (public/, no build step); they load in Node too.
// Imported by URL, as the TypeScript project does not type-check the page's JavaScript.
const load = (file: string): Promise<any> => import(new URL(`../../public/${file}`, import.meta.url).href);

describe("event card availability", () => {
  it("says how many are left near the end, sold out, or the waitlist's length, never only a colour", async () => {
    const { availabilityOf } = await load("events.js");
    const ev = (available: number, capacity: number, waiting = 0, status = "published") => ({ status, availability: { available, capacity }, waitlist: { waiting } });
    expect(availabilityOf(ev(180, 200))).toEqual({ kind: "available", text: "180 available" });
    expect(availabilityOf(ev(20, 200))).toEqual({ kind: "few", text: "20 left" });
    expect(availabilityOf(ev(21, 200))).toEqual({ kind: "available", text: "21 available" });
    expect(availabilityOf(ev(10, 24))).toEqual({ kind: "few", text: "10 left" });
    expect(availabilityOf(ev(0, 30))).toEqual({ kind: "soldout", text: "Sold out" });
    expect(availabilityOf(ev(0, 30, 3))).toEqual({ kind: "waitlist", text: "Waitlist · 3 waiting" });
    expect(availabilityOf(ev(5, 30, 0, "cancelled"))).toEqual({ kind: "cancelled", text: "Cancelled" });
  });
});

describe("seat map price legend", () => {
  it("groups neighbouring rows that share a price, per section", async () => {
    const { priceLegend } = await load("seatmap.js");
    const seats = [
      ...["1", "2", "3"].map((row) => ({ section: "Stalls", row, priceCents: row === "3" ? 8_500 : 12_000 })),
      { section: "Circle", row: "1", priceCents: 6_000 },
      { section: "Circle", row: "2", priceCents: 6_000 },
    ];
    expect(priceLegend(seats, "AUD")).toEqual([
      { section: "Stalls", parts: [{ rows: "rows 1–2", price: "A$120.00" }, { rows: "row 3", price: "A$85.00" }] },
      { section: "Circle", parts: [{ rows: "all rows", price: "A$60.00" }] },
    ]);
  });
});

describe("money and venue time", () => {
  it("uses each currency's own minor unit and names the venue's clock by its city", async () => {
    const { money, venueTime } = await load("dom.js");
    expect(money(4_550, "EUR")).toBe("€45.50");
    expect(money(1_500, "JPY")).toBe("¥1,500");
    const t = venueTime("2026-12-02T21:00:00Z", "America/Chicago");
    expect(t.text).toBe("Wed, 2 Dec 2026, 15:00 Chicago time");
  });
});

describe("My organizations", () => {
  it("names a member's role in words, and how many events a limited event manager has", async () => {
    const { roleText } = await load("orgs.js");
    expect(roleText("box_office", null)).toBe("Box office");
    expect(roleText("event_manager", null)).toBe("Event manager");
    expect(roleText("event_manager", ["e1", "e2"])).toBe("Event manager (2 events)");
    expect(roleText("event_manager", ["e1"])).toBe("Event manager (1 event)");
  });
});
