// The demo world of `npm run dev` (docs/catalogue.md, "The demo world"): venues in five cities and
// time zones and a dozen events over the coming weeks. Only a description: scripts/lib/seed.ts
// creates it through the running Worker's HTTP API, the same paths a client takes.
import { type Layout, gridLayout } from "./layout";

export interface DemoVenue {
  key: string;
  name: string;
  city: string;
  address: string;
  timezone: string;
  capacity: number;
  layout: Layout;
}

/** What the seed does with an event beyond publishing it. */
export type DemoRole =
  | "plain"
  /** Put in on-sale mode (docs/onsale.md): its waiting room opens a minute after the seed runs. */
  | "on-sale"
  /** The demo buyer holds a confirmed booking here. */
  | "buyer-booking"
  /** All but `leave` seats are booked by the demo crowd account: the card says "N left". */
  | "nearly-sold-out"
  /** Every ticket booked by the crowd, and the demo fan waits on the waitlist. */
  | "waitlist"
  /** The buyer booked, then the organizer cancelled the event: the booking shows as refunded. */
  | "cancelled";

export interface DemoEvent {
  key: string;
  venue: string;
  name: string;
  description: string;
  category: string;
  seating: "reserved" | "general";
  capacity?: number;
  priceCents: number;
  currency: string;
  /** Days from today, and the start on the venue's wall clock. */
  inDays: number;
  localTime: string;
  hours: number;
  maxSeatsPerUser?: number;
  role: DemoRole;
  /** nearly-sold-out: seats left unsold. */
  leave?: number;
}

/** The venue the older tools (soak, benchmarks) also use: 10 rows of 20 seats, or 500 standing. */
export const DEMO_VENUE_NAME = "Evently Demo Hall";

export const DEMO_VENUES: DemoVenue[] = [
  {
    key: "berlin", name: DEMO_VENUE_NAME, city: "Berlin", address: "Demo Strasse 1", timezone: "Europe/Berlin", capacity: 500,
    layout: { sections: [{ name: "A", rows: Array.from({ length: 10 }, (_, i) => ({ label: String(i + 1), seats: 20, priceCents: i < 3 ? 8_000 : 5_000 })) }] },
  },
  {
    key: "lisbon", name: "Harbour Jazz Club", city: "Lisbon", address: "Rua do Cais 12", timezone: "Europe/Lisbon", capacity: 30,
    layout: { sections: [{ name: "Floor", rows: ["A", "B", "C"].map((label, i) => ({ label, seats: 8, priceCents: 3_500 - i * 500 })) }] },
  },
  {
    key: "london", name: "Cellar Comedy Rooms", city: "London", address: "14 Cellar Lane", timezone: "Europe/London", capacity: 120,
    layout: gridLayout("Main", 6, 12, 2_200),
  },
  {
    key: "chicago", name: "Lakeside Arena", city: "Chicago", address: "600 Lake Shore Dr", timezone: "America/Chicago", capacity: 2_000,
    layout: {
      sections: [
        { name: "Floor", priceCents: 9_500, rows: ["A", "B", "C", "D"].map((label) => ({ label, seats: 16 })) },
        { name: "Balcony", priceCents: 5_500, rows: ["E", "F", "G"].map((label, i) => ({ label, seats: 20, ...(i === 2 ? { priceCents: 3_900 } : {}) })) },
      ],
    },
  },
  {
    key: "sydney", name: "Harbourside Theatre", city: "Sydney", address: "2 Circular Quay", timezone: "Australia/Sydney", capacity: 800,
    layout: {
      sections: [
        { name: "Stalls", rows: Array.from({ length: 8 }, (_, i) => ({ label: String(i + 1), seats: 14, priceCents: i < 2 ? 12_000 : 8_500 })) },
        { name: "Circle", priceCents: 6_000, rows: Array.from({ length: 4 }, (_, i) => ({ label: String(i + 1), seats: 18 })) },
      ],
    },
  },
];

export const DEMO_EVENTS: DemoEvent[] = [
  { key: "reserved-night", venue: "berlin", name: "Evently Demo: Reserved Seating Night", description: "A string quartet in the round: pick your seat.", category: "music", seating: "reserved", priceCents: 4_500, currency: "EUR", inDays: 9, localTime: "19:30", hours: 3, role: "buyer-booking" },
  { key: "ga-festival", venue: "berlin", name: "Evently Demo: General Admission Festival", description: "Standing, first come first served.", category: "festival", seating: "general", capacity: 500, priceCents: 4_500, currency: "EUR", inDays: 23, localTime: "16:00", hours: 8, role: "plain" },
  { key: "techno", venue: "berlin", name: "Warehouse Techno Night", description: "Called off by the organizer: every booking is refunded.", category: "music", seating: "general", capacity: 400, priceCents: 3_000, currency: "EUR", inDays: 19, localTime: "23:00", hours: 6, role: "cancelled" },
  { key: "fado", venue: "lisbon", name: "Fado by the Harbour", description: "Twenty-four seats, candles, and the best voices of Alfama.", category: "music", seating: "reserved", priceCents: 3_000, currency: "EUR", inDays: 5, localTime: "21:00", hours: 2, maxSeatsPerUser: 24, role: "nearly-sold-out", leave: 3 },
  { key: "late-jazz", venue: "lisbon", name: "Late Jazz Session", description: "Standing room only. Sold out: join the waitlist for returns.", category: "music", seating: "general", capacity: 30, priceCents: 2_000, currency: "EUR", inDays: 12, localTime: "22:30", hours: 3, maxSeatsPerUser: 30, role: "waitlist" },
  { key: "standup", venue: "london", name: "Stand-up Saturday", description: "Five comics, one microphone.", category: "comedy", seating: "reserved", priceCents: 2_200, currency: "GBP", inDays: 4, localTime: "20:00", hours: 2, role: "plain" },
  { key: "improv", venue: "london", name: "Improv Jam", description: "You shout the prompts.", category: "comedy", seating: "reserved", priceCents: 1_800, currency: "GBP", inDays: 18, localTime: "19:45", hours: 2, role: "plain" },
  { key: "planets", venue: "chicago", name: "Lakeside Symphony: The Planets", description: "Holst with the full orchestra; floor and balcony.", category: "classical", seating: "reserved", priceCents: 5_500, currency: "USD", inDays: 16, localTime: "19:30", hours: 3, role: "plain" },
  { key: "blues", venue: "chicago", name: "Chicago Blues Marathon", description: "Twelve bands, one long night.", category: "music", seating: "general", capacity: 2_000, priceCents: 4_000, currency: "USD", inDays: 3, localTime: "18:00", hours: 7, role: "plain" },
  { key: "brunch", venue: "chicago", name: "Jazz Brunch on the Lake", description: "Reserved tables on the floor.", category: "music", seating: "reserved", priceCents: 3_500, currency: "USD", inDays: 38, localTime: "11:00", hours: 3, role: "plain" },
  { key: "opera", venue: "sydney", name: "Opera under the Sails: Tosca", description: "Puccini on the harbour.", category: "opera", seating: "reserved", priceCents: 9_000, currency: "AUD", inDays: 27, localTime: "19:00", hours: 3, role: "plain" },
  { key: "film", venue: "sydney", name: "Harbour Lights Film Night", description: "A classic on the big screen, standing bar at the back.", category: "film", seating: "general", capacity: 800, priceCents: 1_500, currency: "AUD", inDays: 8, localTime: "20:15", hours: 3, role: "plain" },
  { key: "on-sale", venue: "berlin", name: "Evently Demo: On-Sale Rush", description: "A hot on-sale: join the waiting room, get admitted, then pick seats.", category: "music", seating: "general", capacity: 200, priceCents: 4_500, currency: "EUR", inDays: 30, localTime: "20:00", hours: 3, role: "on-sale" },
];

/** Offset of `timeZone` from UTC at `at`, in minutes (east positive). */
function offsetMinutes(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return Math.round((Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute")) - Math.floor(at / 60_000) * 60_000) / 60_000);
}

/** The instant at which the venue's wall clock shows `localTime` on the day `inDays` after `now`'s (UTC) date. */
export function venueWallClock(now: Date, inDays: number, localTime: string, timeZone: string): Date {
  const [h, m] = localTime.split(":").map(Number);
  const wall = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + inDays, h, m);
  // Twice: the offset at the first guess may differ from the offset at the answer around a DST change.
  let at = wall - offsetMinutes(wall, timeZone) * 60_000;
  at = wall - offsetMinutes(at, timeZone) * 60_000;
  return new Date(at);
}

/** The demo event's start and end as the API takes them. */
export function demoEventTimes(e: DemoEvent, timeZone: string, now: Date): { startsAt: string; endsAt: string } {
  const start = venueWallClock(now, e.inDays, e.localTime, timeZone);
  return { startsAt: start.toISOString(), endsAt: new Date(start.getTime() + e.hours * 3_600_000).toISOString() };
}
