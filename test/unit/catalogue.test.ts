import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../src/lib/cursor";
import { cacheKey, etagOf, matchesIfNoneMatch } from "../../src/lib/edge-cache";
import {
  buildInventoryInit,
  cancelTransition,
  localIso,
  publishTransition,
  refusedFields,
  timeProblems,
  type PublishedEvent,
} from "../../src/services/event-rules";
import { toPrefixQuery } from "../../src/services/events";
import { LayoutSchema, expandSeats, gridLayout, layoutProblems, layoutSeatCount } from "../../src/services/layout";

describe("layout rules", () => {
  it("accepts a clean layout and counts its seats", () => {
    const layout = gridLayout("A", 10, 20);
    expect(layoutProblems(layout)).toEqual([]);
    expect(layoutSeatCount(layout)).toBe(200);
  });

  it("reports duplicate section names and row labels regardless of case", () => {
    const problems = layoutProblems({
      sections: [
        { name: "Stalls", rows: [{ label: "a", seats: 1 }, { label: "A", seats: 1 }] },
        { name: "stalls", rows: [{ label: "1", seats: 1 }] },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual(["layout.sections.0.rows.1.label", "layout.sections.1.name"]);
  });

  it("allows exactly 100,000 seats and refuses one more", () => {
    expect(layoutProblems(gridLayout("F", 100, 1_000))).toEqual([]);
    const over = gridLayout("F", 100, 1_000);
    over.sections[0].rows[0].seats = 1_001;
    expect(layoutProblems(over)[0].message).toContain("100001 seats");
  });

  it("refuses non-positive and fractional seat counts and labels that would break seat ids", () => {
    for (const seats of [0, -1, 1.5]) expect(LayoutSchema.safeParse({ sections: [{ name: "A", rows: [{ label: "1", seats }] }] }).success).toBe(false);
    expect(LayoutSchema.safeParse({ sections: [{ name: "A-B", rows: [{ label: "1", seats: 1 }] }] }).success).toBe(false);
    expect(LayoutSchema.safeParse({ sections: [] }).success).toBe(false);
  });

  it("expands seats with stable ids and the row's, else the section's, else the event's price", () => {
    const seats = expandSeats({ sections: [{ name: "A", priceCents: 300, rows: [{ label: "1", seats: 2, priceCents: 500 }, { label: "2", seats: 1 }] }, { name: "B", rows: [{ label: "1", seats: 1 }] }] }, 100);
    expect(seats).toEqual([
      { id: "A-1-1", section: "A", row: "1", number: 1, priceCents: 500 },
      { id: "A-1-2", section: "A", row: "1", number: 2, priceCents: 500 },
      { id: "A-2-1", section: "A", row: "2", number: 1, priceCents: 300 },
      { id: "B-1-1", section: "B", row: "1", number: 1, priceCents: 100 },
    ]);
  });
});

describe("event lifecycle rules", () => {
  it("publishes drafts, treats a second publish as a retry, and refuses cancelled and completed events", () => {
    expect(publishTransition("draft").kind).toBe("apply");
    expect(publishTransition("published").kind).toBe("already");
    expect(publishTransition("cancelled").kind).toBe("refuse");
    expect(publishTransition("completed").kind).toBe("refuse");
  });

  it("cancels drafts and published events, answers a repeat the same, and refuses completed events", () => {
    expect(cancelTransition("draft").kind).toBe("apply");
    expect(cancelTransition("published").kind).toBe("apply");
    expect(cancelTransition("cancelled").kind).toBe("already");
    expect(cancelTransition("completed").kind).toBe("refuse");
  });

  it("lets a published event change only descriptive fields and a finished one nothing", () => {
    expect(refusedFields("draft", { priceCents: 1, startsAt: new Date() })).toEqual([]);
    expect(refusedFields("published", { name: "x", priceCents: 1, capacity: undefined })).toEqual(["priceCents"]);
    expect(refusedFields("cancelled", { name: "x" })).toEqual(["name"]);
    expect(refusedFields("completed", { description: "x" })).toEqual(["description"]);
  });

  it("checks start, end and the sales window against each other and the clock", () => {
    const now = new Date("2026-06-01T00:00:00Z");
    const ok = { startsAt: new Date("2026-07-01T18:00:00Z"), endsAt: new Date("2026-07-01T21:00:00Z"), salesStartAt: new Date("2026-06-02T00:00:00Z"), salesEndAt: new Date("2026-07-01T18:00:00Z") };
    expect(timeProblems(ok, now)).toEqual([]);
    expect(timeProblems({ ...ok, endsAt: ok.startsAt }, now).map((p) => p.path)).toContain("endsAt");
    expect(timeProblems(ok, new Date("2026-07-01T18:00:00Z")).map((p) => p.path)).toEqual(["startsAt"]);
    expect(timeProblems({ ...ok, salesEndAt: new Date("2026-06-01T12:00:00Z"), salesStartAt: new Date("2026-06-02T00:00:00Z") }, now).map((p) => p.path)).toEqual(["salesEndAt"]);
    expect(timeProblems({ ...ok, salesEndAt: new Date("2026-07-02T00:00:00Z") }, now).map((p) => p.path)).toEqual(["salesEndAt"]);
  });

  it("shows an instant on the venue's wall clock with its offset, across daylight saving", () => {
    expect(localIso(new Date("2026-12-01T19:00:00Z"), "Europe/Berlin")).toBe("2026-12-01T20:00:00+01:00");
    expect(localIso(new Date("2026-07-01T19:00:00Z"), "Europe/Berlin")).toBe("2026-07-01T21:00:00+02:00");
    expect(localIso(new Date("2026-07-01T19:00:00Z"), "America/St_Johns")).toBe("2026-07-01T16:30:00-02:30");
  });
});

describe("inventory initialization payload", () => {
  const base: PublishedEvent = {
    id: "e1", seating: "reserved", capacity: 3, priceCents: 100, currency: "EUR", maxSeatsPerUser: 8, holdTtlSeconds: 600,
    paymentDeadlineSeconds: 600, waitlistOfferSeconds: 900, salesStartAt: null, salesEndAt: new Date("2026-07-01T18:00:00Z"),
    startTime: new Date("2026-07-01T19:00:00Z"), layout: { sections: [{ name: "A", rows: [{ label: "1", seats: 3, priceCents: 250 }] }] },
  };

  it("carries every seat of a reserved event and its limits", () => {
    const init = buildInventoryInit(base);
    expect(init).toMatchObject({ eventId: "e1", seating: "reserved", capacity: 3, currency: "EUR", salesStartAt: null, salesEndAt: "2026-07-01T18:00:00.000Z", startsAt: "2026-07-01T19:00:00.000Z" });
    expect(init.seats.map((s) => [s.id, s.priceCents])).toEqual([["A-1-1", 250], ["A-1-2", 250], ["A-1-3", 250]]);
    expect(buildInventoryInit(base)).toEqual(init);
  });

  it("carries a capacity and no seats for general admission", () => {
    const init = buildInventoryInit({ ...base, seating: "general", capacity: 500, layout: null });
    expect(init).toMatchObject({ seating: "general", capacity: 500, seats: [], priceCents: 100 });
  });
});

describe("cursors and search terms", () => {
  it("round-trips a cursor and refuses one of another kind or a tampered one", () => {
    const c = encodeCursor("events", ["2026-07-01T19:00:00.123456Z", "0b7c…"]);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor("events", c, 2)).toEqual(["2026-07-01T19:00:00.123456Z", "0b7c…"]);
    expect(() => decodeCursor("venues", c, 2)).toThrow(/cursor/);
    expect(() => decodeCursor("events", `${c}x`, 2)).toThrow();
    expect(() => decodeCursor("events", c, 3)).toThrow();
  });

  it("turns free text into prefix terms and ignores punctuation", () => {
    expect(toPrefixQuery("Rock  conc!")).toBe("rock:* & conc:*");
    expect(toPrefixQuery("Café' & | !")).toBe("café:*");
    expect(toPrefixQuery("!!!")).toBeNull();
  });
});

describe("edge cache helpers", () => {
  it("gives equal queries one key whatever the parameter order", () => {
    expect(cacheKey("https://x.test/v1/events?city=a&category=b&q=")).toBe(cacheKey("https://x.test/v1/events?category=b&city=a"));
    expect(cacheKey("https://x.test/v1/events?city=a")).not.toBe(cacheKey("https://x.test/v1/events?city=b"));
  });

  it("matches If-None-Match weakly, in lists and with a star", async () => {
    const tag = await etagOf(new TextEncoder().encode("{}").buffer as ArrayBuffer);
    expect(matchesIfNoneMatch(`"x", W/${tag}`, tag)).toBe(true);
    expect(matchesIfNoneMatch("*", tag)).toBe(true);
    expect(matchesIfNoneMatch('"x"', tag)).toBe(false);
    expect(matchesIfNoneMatch(undefined, tag)).toBe(false);
  });
});
