import { createRoute, z } from "@hono/zod-openapi";
import { requireRole, requireUser } from "../auth/guards";
import { guarded } from "../auth/org-guard";
import { AppError } from "../lib/errors";
import { errors, json, router } from "../lib/openapi";
import { dailySeries, eventAnalytics, findEvent, overview, popularEvents, type DayRange } from "../services/analytics";
import { assertEventManager } from "../services/event-access";

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;
const MAX_DAYS = 3_660;
const MAX_DAILY_DAYS = 366;

const Day = z.iso.date().openapi({ example: "2026-05-01", description: "A UTC day, YYYY-MM-DD; both ends of a range are included" });
const RangeQuery = z.object({ from: Day.optional(), to: Day.optional() });

/** Defaults to the last 30 UTC days, today included. */
function dayRange(q: { from?: string; to?: string }, maxDays: number, now = new Date()): DayRange {
  const to = q.to ?? now.toISOString().slice(0, 10);
  const from = q.from ?? new Date(Date.parse(to) - (DEFAULT_DAYS - 1) * DAY_MS).toISOString().slice(0, 10);
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  if (days < 1) throw new AppError("VALIDATION_FAILED", "`from` must not be after `to`", { from, to });
  if (days > maxDays) throw new AppError("VALIDATION_FAILED", `A range may span at most ${maxDays} days`, { from, to, days });
  return { from, to };
}

const Money = z.record(z.string(), z.number().int()).openapi({ example: { EUR: 125000 }, description: "Minor units per currency" });
const Counts = z.object({ total: z.number().int(), confirmed: z.number().int(), cancelled: z.number().int(), failed: z.number().int(), pending: z.number().int() });
const AsOf = z.string().nullable().openapi({ description: "When the daily rollup these numbers come from was last rebuilt (every 5 minutes); null before the first rebuild" });

const Overview = z
  .object({
    from: Day,
    to: Day,
    asOf: AsOf,
    bookings: Counts,
    seatsSold: z.number().int(),
    revenueCents: Money,
    cancellationRate: z.number().nullable(),
    utilization: z.object({ rate: z.number().nullable(), events: z.number().int(), capacity: z.number().int(), seatsSold: z.number().int() }),
  })
  .openapi("AnalyticsOverview");

const Popular = z
  .object({
    asOf: AsOf,
    data: z.array(
      z.object({
        eventId: z.string(),
        name: z.string(),
        status: z.string(),
        startsAt: z.string(),
        capacity: z.number().int(),
        seatsSold: z.number().int(),
        bookings: z.number().int(),
        revenueCents: z.number().int(),
        currency: z.string(),
        utilization: z.number(),
      }),
    ),
  })
  .openapi("AnalyticsPopularEvents");

const Daily = z
  .object({
    from: Day,
    to: Day,
    asOf: AsOf,
    data: z.array(
      z.object({
        day: Day,
        bookings: z.number().int(),
        confirmed: z.number().int(),
        seatsSold: z.number().int(),
        revenueCents: Money,
        cancellations: z.number().int(),
        refundedCents: Money,
      }),
    ),
  })
  .openapi("AnalyticsDaily");

const EventStats = z
  .object({
    event: z.object({ id: z.string(), name: z.string(), status: z.string(), startsAt: z.string(), capacity: z.number().int(), currency: z.string() }),
    bookings: Counts,
    seatsSold: z.number().int(),
    revenueCents: z.number().int(),
    utilization: z.number(),
    cancellationRate: z.number().nullable(),
    daily: z.array(
      z.object({ day: Day, bookings: z.number().int(), confirmed: z.number().int(), seatsSold: z.number().int(), revenueCents: z.number().int(), cancellations: z.number().int() }),
    ),
    holds: z.object({
      created: z.number().int(),
      committed: z.number().int(),
      released: z.number().int(),
      expired: z.number().int(),
      open: z.number().int(),
      conversionRate: z.number().nullable(),
    }),
    ticketTypes: z
      .array(
        z.object({
          ticketTypeId: z.string(),
          name: z.string(),
          sold: z.number().int(),
          revenueCents: z.number().int(),
          discountCents: z.number().int(),
          quota: z.number().int().nullable(),
          quotaUse: z.number().nullable(),
        }),
      )
      .openapi({ description: "Per ticket type, from confirmed bookings (docs/products.md)" }),
    vouchers: z
      .array(z.object({ voucherId: z.string(), code: z.string(), redemptions: z.number().int(), maxUsages: z.number().int(), discountCents: z.number().int() }))
      .openapi({ description: "Voucher redemptions by confirmed bookings" }),
    waitlist: z.object({
      size: z.number().int(),
      waitingSeats: z.number().int(),
      offered: z.number().int(),
      expired: z.number().int(),
      converted: z.number().int(),
      left: z.number().int(),
      cancelled: z.number().int().openapi({ description: "Entries ended by the event's cancellation" }),
      offersMade: z.number().int(),
      offerConversionRate: z.number().nullable(),
    }),
  })
  .openapi("AnalyticsEvent");

const adminOnly = [requireUser, requireRole("admin")];
const common = { tags: ["analytics"], security: [{ bearer: [] }] };

export const analytics = router()
  .openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/admin/analytics/overview",
      middleware: adminOnly,
      summary: "Totals over a range of days: bookings, seats sold, revenue, cancellation rate, utilization",
      request: { query: RangeQuery },
      responses: { 200: json(Overview), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await overview(c.var.db(), dayRange(c.req.valid("query"), MAX_DAYS)), 200),
  )
  .openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/admin/analytics/events/popular",
      middleware: adminOnly,
      summary: "Events ranked by seats sold (all time, or bookings made within from..to)",
      request: { query: RangeQuery.extend({ limit: z.coerce.number().int().min(1).max(100).default(10) }) },
      responses: { 200: json(Popular), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const range = q.from || q.to ? dayRange(q, MAX_DAYS) : undefined;
      return c.json(await popularEvents(c.var.db(), { limit: q.limit, range }), 200);
    },
  )
  .openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/admin/analytics/daily",
      middleware: adminOnly,
      summary: "Per-day bookings, cancellations and revenue",
      request: { query: RangeQuery },
      responses: { 200: json(Daily), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await dailySeries(c.var.db(), dayRange(c.req.valid("query"), MAX_DAILY_DAYS)), 200),
  )
  .openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/admin/analytics/events/{id}",
      ...guarded("analytics.read", "event"),
      summary: "One event, live: utilization, daily bookings, hold-to-booking conversion, waitlist (admin or the event's organizer)",
      request: { params: z.object({ id: z.guid() }) },
      responses: { 200: json(EventStats), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const db = c.var.db();
      const event = await findEvent(db, c.req.valid("param").id);
      if (!event) throw new AppError("NOT_FOUND", "No such event");
      assertEventManager(c.var.user, event);
      return c.json(await eventAnalytics(db, event), 200);
    },
  );
