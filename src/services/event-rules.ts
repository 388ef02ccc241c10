// Pure rules of the event lifecycle: no database, no bindings, so they are unit-tested in Node.
import { SALE_LIMIT_DEFAULTS, saleLimitsOf, type InventoryInit, type SaleLimits } from "../../durable-objects/inventory/contract";
import { type Layout, expandSeats } from "./layout";

export type EventStatus = "draft" | "published" | "cancelled" | "completed";
export type Seating = "reserved" | "general";

export const EVENT_DEFAULTS = SALE_LIMIT_DEFAULTS;

/** Fields a PATCH may change, per state: a published event keeps what its buyers and inventory rely on. */
export const EDITABLE_FIELDS: Record<EventStatus, ReadonlySet<string>> = {
  draft: new Set([
    "venueId", "name", "description", "category", "startsAt", "endsAt", "seating", "capacity", "priceCents", "currency",
    "salesStartAt", "salesEndAt", "maxSeatsPerUser", "holdTtlSeconds", "paymentDeadlineSeconds", "waitlistOfferSeconds",
  ]),
  published: new Set(["name", "description", "category"]),
  cancelled: new Set(),
  completed: new Set(),
};

/** The fields of `patch` that the state does not allow changing (empty = the patch is allowed). */
export function refusedFields(status: EventStatus, patch: Record<string, unknown>): string[] {
  return Object.keys(patch).filter((k) => patch[k] !== undefined && !EDITABLE_FIELDS[status].has(k));
}

export type Transition = { kind: "apply" } | { kind: "already" } | { kind: "refuse"; message: string };

/** draft -> published; publishing again re-runs the idempotent inventory step (a retry after a failure). */
export function publishTransition(status: EventStatus): Transition {
  if (status === "draft") return { kind: "apply" };
  if (status === "published") return { kind: "already" };
  return { kind: "refuse", message: `A ${status} event cannot be published` };
}

/** draft or published -> cancelled; cancelling again answers the same. A completed event stays completed. */
export function cancelTransition(status: EventStatus): Transition {
  if (status === "draft" || status === "published") return { kind: "apply" };
  if (status === "cancelled") return { kind: "already" };
  return { kind: "refuse", message: "A completed event cannot be cancelled" };
}

export interface EventTimes {
  startsAt: Date;
  endsAt: Date;
  salesStartAt: Date | null;
  salesEndAt: Date | null;
}

/** Problems with an event's times, as `{path, message}` for a 400; `now` bounds the start of what can still be sold. */
export function timeProblems(t: EventTimes, now: Date): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (t.startsAt.getTime() <= now.getTime()) problems.push({ path: "startsAt", message: "startsAt must be in the future" });
  if (t.endsAt.getTime() <= t.startsAt.getTime()) problems.push({ path: "endsAt", message: "endsAt must be after startsAt" });
  if (t.salesStartAt && t.salesEndAt && t.salesEndAt.getTime() <= t.salesStartAt.getTime()) {
    problems.push({ path: "salesEndAt", message: "salesEndAt must be after salesStartAt" });
  }
  if (t.salesEndAt && t.salesEndAt.getTime() > t.endsAt.getTime()) problems.push({ path: "salesEndAt", message: "sales must end by the end of the event" });
  if (t.salesStartAt && t.salesStartAt.getTime() >= t.endsAt.getTime()) problems.push({ path: "salesStartAt", message: "sales must start before the event ends" });
  return problems;
}

/** The event fields the inventory needs, as stored in Postgres at publish time. */
export interface PublishedEvent extends SaleLimits {
  id: string;
  seating: Seating;
  capacity: number;
  priceCents: number;
  currency: string;
  salesStartAt: Date | null;
  salesEndAt: Date | null;
  startTime: Date;
  /** The layout copied from the venue at publish (reserved seating); null for general admission. */
  layout: Layout | null;
}

/** What `EventInventory.initialize` gets: a pure function of the published event, so every retry sends the same. */
export function buildInventoryInit(e: PublishedEvent): InventoryInit {
  if (e.seating === "reserved" && !e.layout) throw new Error(`reserved event ${e.id} has no layout`);
  const seats = e.seating === "reserved" ? expandSeats(e.layout!, e.priceCents) : [];
  return {
    eventId: e.id,
    seating: e.seating,
    seats,
    capacity: e.seating === "reserved" ? seats.length : e.capacity,
    priceCents: e.priceCents,
    currency: e.currency,
    ...saleLimitsOf(e),
    salesStartAt: e.salesStartAt?.toISOString() ?? null,
    salesEndAt: e.salesEndAt?.toISOString() ?? null,
    startsAt: e.startTime.toISOString(),
  };
}

/** `2026-12-01T20:00:00+01:00`: the instant as the venue's wall clock shows it, for display. */
export function localIso(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  const offsetMin = Math.round((wall - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = new Date(wall).toISOString().slice(0, 19);
  return `${date}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
