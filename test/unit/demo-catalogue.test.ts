import { describe, expect, it } from "vitest";
import { DEMO_EVENTS, DEMO_VENUES, demoEventTimes, venueWallClock } from "../../src/services/demo-catalogue";
import { localIso, timeProblems } from "../../src/services/event-rules";
import { LayoutSchema, layoutProblems, layoutSeatCount } from "../../src/services/layout";

describe("the demo world", () => {
  it("has venues in several cities and time zones, each with a valid layout", () => {
    expect(new Set(DEMO_VENUES.map((v) => v.timezone)).size).toBeGreaterThanOrEqual(4);
    expect(new Set(DEMO_VENUES.map((v) => v.city)).size).toBe(DEMO_VENUES.length);
    for (const v of DEMO_VENUES) {
      expect(LayoutSchema.safeParse(v.layout).success, v.name).toBe(true);
      expect(layoutProblems(v.layout), v.name).toEqual([]);
    }
  });

  it("has a dozen events over the coming weeks, one of each story, that the API would accept", () => {
    expect(DEMO_EVENTS.length).toBeGreaterThanOrEqual(12);
    expect(new Set(DEMO_EVENTS.map((e) => e.key)).size).toBe(DEMO_EVENTS.length);
    expect(new Set(DEMO_EVENTS.map((e) => e.name)).size).toBe(DEMO_EVENTS.length);
    for (const role of ["buyer-booking", "nearly-sold-out", "waitlist", "cancelled"]) expect(DEMO_EVENTS.filter((e) => e.role === role), role).toHaveLength(1);
    const now = new Date("2026-11-27T10:00:00Z");
    for (const e of DEMO_EVENTS) {
      const venue = DEMO_VENUES.find((v) => v.key === e.venue)!;
      expect(venue, e.name).toBeDefined();
      const { startsAt, endsAt } = demoEventTimes(e, venue.timezone, now);
      expect(timeProblems({ startsAt: new Date(startsAt), endsAt: new Date(endsAt), salesStartAt: null, salesEndAt: null }, now), e.name).toEqual([]);
      expect(e.inDays).toBeLessThanOrEqual(42);
      if (e.seating === "general") expect(e.capacity!).toBeLessThanOrEqual(venue.capacity);
      const sold = e.seating === "general" ? e.capacity! : layoutSeatCount(venue.layout);
      // The crowd account fills these in one hold, so its cap must allow it.
      if (e.role === "nearly-sold-out") expect(e.maxSeatsPerUser).toBeGreaterThanOrEqual(sold - e.leave!);
      if (e.role === "waitlist") expect(e.maxSeatsPerUser).toBeGreaterThanOrEqual(sold);
    }
  });
});

describe("venueWallClock", () => {
  it("starts an event at the venue's local time, on either side of a daylight-saving change", () => {
    const now = new Date("2026-03-25T12:00:00Z");
    // Berlin moves to summer time on 29 March: 19:30 is 18:30Z before, 17:30Z after.
    expect(venueWallClock(now, 2, "19:30", "Europe/Berlin").toISOString()).toBe("2026-03-27T18:30:00.000Z");
    expect(venueWallClock(now, 5, "19:30", "Europe/Berlin").toISOString()).toBe("2026-03-30T17:30:00.000Z");
    // Sydney leaves summer time on 5 April; Chicago is already on it.
    expect(localIso(venueWallClock(now, 12, "20:15", "Australia/Sydney"), "Australia/Sydney")).toBe("2026-04-06T20:15:00+10:00");
    expect(localIso(venueWallClock(now, 1, "11:00", "America/Chicago"), "America/Chicago")).toBe("2026-03-26T11:00:00-05:00");
  });
});
