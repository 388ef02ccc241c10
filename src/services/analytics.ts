import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";

// Metric definitions live in docs/analytics.md; keep the two in step.
// Queries of one answer run one after another on purpose: in parallel each would open its own
// connection of the request's fresh Pool, and a connection costs more than these queries.

/** A range of whole UTC days, both ends included, as YYYY-MM-DD. */
export interface DayRange {
  from: string;
  to: string;
}

export type Money = Record<string, number>;

export interface BookingCounts {
  total: number;
  confirmed: number;
  cancelled: number;
  failed: number;
  pending: number;
}

export interface Overview {
  from: string;
  to: string;
  asOf: string | null;
  bookings: BookingCounts;
  seatsSold: number;
  revenueCents: Money;
  cancellationRate: number | null;
  utilization: { rate: number | null; events: number; capacity: number; seatsSold: number };
}

export interface PopularEvent {
  eventId: string;
  name: string;
  status: string;
  startsAt: string;
  capacity: number;
  seatsSold: number;
  bookings: number;
  revenueCents: number;
  currency: string;
  utilization: number;
}

export interface DailyPoint {
  day: string;
  bookings: number;
  confirmed: number;
  seatsSold: number;
  revenueCents: Money;
  cancellations: number;
  refundedCents: Money;
}

export interface EventAnalytics {
  event: { id: string; name: string; status: string; startsAt: string; capacity: number; currency: string };
  bookings: BookingCounts;
  seatsSold: number;
  revenueCents: number;
  utilization: number;
  cancellationRate: number | null;
  daily: Array<{ day: string; bookings: number; confirmed: number; seatsSold: number; revenueCents: number; cancellations: number }>;
  holds: { created: number; committed: number; released: number; expired: number; open: number; conversionRate: number | null };
  waitlist: {
    size: number;
    waitingSeats: number;
    offered: number;
    expired: number;
    converted: number;
    left: number;
    /** Ended by the event's cancellation (the object ends every waiting entry and open offer). */
    cancelled: number;
    offersMade: number;
    offerConversionRate: number | null;
  };
  ticketTypes: TicketTypeFigures[];
  vouchers: VoucherFigures[];
}

export const DAILY_STATS = "booking_daily_stats";

// Postgres sums come back as strings (bigint/numeric); cents stay far below 2^53.
const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const rate = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const dayString = (v: unknown): string => (v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10));

async function rows<T = Record<string, unknown>>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const res = await db.execute(query);
  return res.rows as T[];
}

const DAILY_VALUES = ["bookings", "confirmed", "cancelled", "failed", "pending", "seats_sold", "revenue_cents", "cancellations", "refunded_cents"];

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

/**
 * Makes `table` equal to the rows of `fresh`, writing only the difference: changed rows are
 * updated, new ones inserted, vanished ones deleted. Unchanged rows (most past days) are not
 * rewritten, so the table does not bloat. Table and column names are constants of this module.
 */
async function syncTable(tx: Tx, table: string, keys: string[], values: string[], fresh: SQL): Promise<{ rows: number; changed: number }> {
  const cols = sql.raw([...keys, ...values].join(", "));
  const set = sql.raw(values.map((v) => `${v} = excluded.${v}`).join(", "));
  const before = sql.raw(values.map((v) => `t.${v}`).join(", "));
  const after = sql.raw(values.map((v) => `excluded.${v}`).join(", "));
  const same = sql.raw(keys.map((k) => `f.${k} = t.${k}`).join(" and "));
  const name = sql.raw(table);
  const res = await tx.execute(sql`
    with fresh as materialized (${fresh}),
    upserted as (
      insert into ${name} as t (${cols}) select ${cols} from fresh
      on conflict (${sql.raw(keys.join(", "))}) do update set ${set}
      where (${before}) is distinct from (${after})
      returning 1
    ),
    deleted as (delete from ${name} t where not exists (select 1 from fresh f where ${same}) returning 1)
    select (select count(*) from fresh) as rows, (select count(*) from upserted) + (select count(*) from deleted) as changed`);
  const [r] = res.rows as Array<{ rows: unknown; changed: unknown }>;
  return { rows: n(r.rows), changed: n(r.changed) };
}

/**
 * Recomputes the analytics rollups from `bookings` in one transaction (readers see the previous
 * rollup until it commits): booking_daily_stats per day, event and currency; from it
 * booking_daily_totals per day and currency (overview, daily series) and event_sales_totals per
 * event (popular events, utilization). A full recomputation (a few seconds at 1,000,000 bookings)
 * is chosen over incremental upkeep because bookings change status long after the day they were
 * made (a cancellation weeks later), and it needs no change tracking from the code that writes them.
 */
export async function refreshDailyStats(db: Database, now = new Date()): Promise<{ rows: number; changed: number; durationMs: number }> {
  const started = Date.now();
  return db.transaction(async (tx) => {
    // Two refreshes at once (overlapping crons, tests) would insert the same keys: take turns.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${DAILY_STATS}))`);
    const daily = await syncTable(tx, "booking_daily_stats", ["day", "event_id", "currency"], DAILY_VALUES, sql`
      select day, event_id, currency, sum(bookings)::int as bookings, sum(confirmed)::int as confirmed,
             sum(cancelled)::int as cancelled, sum(failed)::int as failed, sum(pending)::int as pending,
             sum(seats_sold)::int as seats_sold, sum(revenue_cents)::bigint as revenue_cents,
             sum(cancellations)::int as cancellations, sum(refunded_cents)::bigint as refunded_cents
      from (
        select (created_at at time zone 'UTC')::date as day, event_id, currency,
               count(*) as bookings,
               count(*) filter (where status = 'confirmed') as confirmed,
               count(*) filter (where status = 'cancelled') as cancelled,
               count(*) filter (where status = 'failed') as failed,
               count(*) filter (where status = 'pending') as pending,
               coalesce(sum(quantity) filter (where status = 'confirmed'), 0) as seats_sold,
               coalesce(sum(total_amount_cents) filter (where status = 'confirmed'), 0) as revenue_cents,
               0 as cancellations, 0 as refunded_cents
        from bookings group by 1, 2, 3
        union all
        select (cancelled_at at time zone 'UTC')::date, event_id, currency, 0, 0, 0, 0, 0, 0, 0,
               count(*), sum(total_amount_cents)
        from bookings where status = 'cancelled' and cancelled_at is not null group by 1, 2, 3
      ) parts
      group by day, event_id, currency`);
    const totals = await syncTable(tx, "booking_daily_totals", ["day", "currency"], DAILY_VALUES, sql`
      select day, currency, ${sql.raw(DAILY_VALUES.map((v) => `sum(${v})::${v.endsWith("cents") ? "bigint" : "int"} as ${v}`).join(", "))}
      from booking_daily_stats group by day, currency`);
    const perEvent = await syncTable(tx, "event_sales_totals", ["event_id", "currency"], ["bookings", "seats_sold", "revenue_cents"], sql`
      select event_id, currency, sum(bookings)::int as bookings, sum(seats_sold)::int as seats_sold, sum(revenue_cents)::bigint as revenue_cents
      from booking_daily_stats group by event_id, currency`);
    const result = { rows: daily.rows, changed: daily.changed + totals.changed + perEvent.changed, durationMs: Date.now() - started };
    await tx.execute(sql`
      insert into analytics_rollups (name, refreshed_at, duration_ms, row_count)
      values (${DAILY_STATS}, ${now.toISOString()}, ${result.durationMs}, ${result.rows})
      on conflict (name) do update set refreshed_at = excluded.refreshed_at, duration_ms = excluded.duration_ms, row_count = excluded.row_count`);
    return result;
  });
}

export async function rollupState(db: Database): Promise<{ refreshedAt: string; durationMs: number; rowCount: number } | null> {
  const [row] = await rows(db, sql`select refreshed_at, duration_ms, row_count from analytics_rollups where name = ${DAILY_STATS}`);
  return row ? { refreshedAt: iso(row.refreshed_at), durationMs: n(row.duration_ms), rowCount: n(row.row_count) } : null;
}

function money(list: Array<{ currency: unknown; cents: unknown }>): Money {
  const out: Money = {};
  for (const r of list) if (n(r.cents) !== 0) out[String(r.currency)] = (out[String(r.currency)] ?? 0) + n(r.cents);
  return out;
}

export async function overview(db: Database, range: DayRange): Promise<Overview> {
  const byCurrency = await rows(db, sql`
      select currency, sum(bookings) as bookings, sum(confirmed) as confirmed, sum(cancelled) as cancelled,
             sum(failed) as failed, sum(pending) as pending, sum(seats_sold) as seats, sum(revenue_cents) as cents
      from booking_daily_totals where day between ${range.from}::date and ${range.to}::date
      group by currency`);
  const [util] = await rows(db, sql`
      select count(*) as events, coalesce(sum(e.capacity), 0) as capacity, coalesce(sum(t.seats), 0) as seats
      from (select id, capacity from events
            where status in ('published', 'completed')
              and start_time >= ${range.from}::date::timestamp at time zone 'UTC'
              and start_time < (${range.to}::date + 1)::timestamp at time zone 'UTC') e
      left join (select event_id, sum(seats_sold) as seats from event_sales_totals group by event_id) t on t.event_id = e.id`);
  const state = await rollupState(db);
  const sum = (k: string) => byCurrency.reduce((a, r) => a + n(r[k]), 0);
  const bookings = { total: sum("bookings"), confirmed: sum("confirmed"), cancelled: sum("cancelled"), failed: sum("failed"), pending: sum("pending") };
  return {
    from: range.from,
    to: range.to,
    asOf: state?.refreshedAt ?? null,
    bookings,
    seatsSold: sum("seats"),
    revenueCents: money(byCurrency.map((r) => ({ currency: r.currency, cents: r.cents }))),
    cancellationRate: rate(bookings.cancelled, bookings.confirmed + bookings.cancelled),
    utilization: { rate: rate(n(util.seats), n(util.capacity)), events: n(util.events), capacity: n(util.capacity), seatsSold: n(util.seats) },
  };
}

export async function popularEvents(db: Database, opts: { limit: number; range?: DayRange }): Promise<{ asOf: string | null; data: PopularEvent[] }> {
  // All time reads the per-event totals (one row per event); a range sums the daily rows.
  const perEvent = opts.range
    ? sql`select event_id, sum(seats_sold) as seats, sum(bookings) as bookings, sum(revenue_cents) as cents
          from booking_daily_stats where day between ${opts.range.from}::date and ${opts.range.to}::date group by event_id`
    : sql`select event_id, sum(seats_sold) as seats, sum(bookings) as bookings, sum(revenue_cents) as cents
          from event_sales_totals group by event_id`;
  const ranked = await rows(db, sql`
      select e.id, e.name, e.status, e.start_time, e.capacity, e.currency, s.seats, s.bookings, s.cents
      from (${perEvent} order by seats desc, event_id limit ${opts.limit}) s
      join events e on e.id = s.event_id
      order by s.seats desc, e.id`);
  const state = await rollupState(db);
  return {
    asOf: state?.refreshedAt ?? null,
    data: ranked.map((r) => ({
      eventId: String(r.id),
      name: String(r.name),
      status: String(r.status),
      startsAt: iso(r.start_time),
      capacity: n(r.capacity),
      seatsSold: n(r.seats),
      bookings: n(r.bookings),
      revenueCents: n(r.cents),
      currency: String(r.currency),
      utilization: n(r.seats) / n(r.capacity),
    })),
  };
}

export async function dailySeries(db: Database, range: DayRange): Promise<{ from: string; to: string; asOf: string | null; data: DailyPoint[] }> {
  const byDay = await rows(db, sql`
      select d::date as day, s.currency, coalesce(s.bookings, 0) as bookings, coalesce(s.confirmed, 0) as confirmed,
             coalesce(s.seats, 0) as seats, coalesce(s.cents, 0) as cents,
             coalesce(s.cancellations, 0) as cancellations, coalesce(s.refunded, 0) as refunded
      from generate_series(${range.from}::date, ${range.to}::date, interval '1 day') d
      left join (
        select day, currency, bookings, confirmed, seats_sold as seats, revenue_cents as cents, cancellations, refunded_cents as refunded
        from booking_daily_totals where day between ${range.from}::date and ${range.to}::date
      ) s on s.day = d::date
      order by 1, 2`);
  const state = await rollupState(db);
  const data: DailyPoint[] = [];
  for (const r of byDay) {
    const day = dayString(r.day);
    let point = data.at(-1);
    if (point?.day !== day) {
      point = { day, bookings: 0, confirmed: 0, seatsSold: 0, revenueCents: {}, cancellations: 0, refundedCents: {} };
      data.push(point);
    }
    point.bookings += n(r.bookings);
    point.confirmed += n(r.confirmed);
    point.seatsSold += n(r.seats);
    point.cancellations += n(r.cancellations);
    if (n(r.cents)) point.revenueCents[String(r.currency)] = n(r.cents);
    if (n(r.refunded)) point.refundedCents[String(r.currency)] = n(r.refunded);
  }
  return { from: range.from, to: range.to, asOf: state?.refreshedAt ?? null, data };
}

export interface EventRef {
  id: string;
  organizerId: string;
  orgId: string;
  name: string;
  status: string;
  startsAt: string;
  capacity: number;
  currency: string;
}

export async function findEvent(db: Database, eventId: string): Promise<EventRef | null> {
  const [r] = await rows(db, sql`select id, organizer_id, org_id, name, status, start_time, capacity, currency from events where id = ${eventId}`);
  if (!r) return null;
  return {
    id: String(r.id),
    organizerId: String(r.organizer_id),
    orgId: String(r.org_id),
    name: String(r.name),
    status: String(r.status),
    startsAt: iso(r.start_time),
    capacity: n(r.capacity),
    currency: String(r.currency),
  };
}

/** Read live from bookings, hold_history and waitlist_entries: one event is small enough to need no rollup. */
export async function eventAnalytics(db: Database, event: EventRef): Promise<EventAnalytics> {
  const daily = await rows(db, sql`
      select day, sum(bookings) as bookings, sum(confirmed) as confirmed, sum(cancelled) as cancelled, sum(failed) as failed,
             sum(pending) as pending, sum(seats) as seats, sum(cents) as cents, sum(cancellations) as cancellations
      from (
        select (created_at at time zone 'UTC')::date as day, count(*) as bookings,
               count(*) filter (where status = 'confirmed') as confirmed,
               count(*) filter (where status = 'cancelled') as cancelled,
               count(*) filter (where status = 'failed') as failed,
               count(*) filter (where status = 'pending') as pending,
               coalesce(sum(quantity) filter (where status = 'confirmed'), 0) as seats,
               coalesce(sum(total_amount_cents) filter (where status = 'confirmed'), 0) as cents,
               0 as cancellations
        from bookings where event_id = ${event.id} group by 1
        union all
        select (cancelled_at at time zone 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, count(*)
        from bookings where event_id = ${event.id} and status = 'cancelled' and cancelled_at is not null group by 1
      ) parts
      group by day order by day`);
  const holdKinds = await rows(db, sql`select kind, count(*) as holds from hold_history where event_id = ${event.id} group by kind`);
  const waitlist = await rows(db, sql`
      select count(*) filter (where status = 'waiting') as waiting,
             coalesce(sum(quantity) filter (where status = 'waiting'), 0) as waiting_seats,
             count(*) filter (where status = 'offered') as offered,
             count(*) filter (where status = 'expired') as expired,
             count(*) filter (where status = 'converted') as converted,
             count(*) filter (where status = 'left') as left_,
             count(*) filter (where status = 'cancelled') as cancelled,
             count(*) filter (where offered_at is not null) as offers_made
      from waitlist_entries where event_id = ${event.id}`);
  const products = await productFigures(db, event.id);
  const total = (k: string) => daily.reduce((a, r) => a + n(r[k]), 0);
  const bookings = { total: total("bookings"), confirmed: total("confirmed"), cancelled: total("cancelled"), failed: total("failed"), pending: total("pending") };
  const seatsSold = total("seats");
  const kind = (k: string) => n(holdKinds.find((r) => r.kind === k)?.holds);
  const holds = { created: kind("created"), committed: kind("committed"), released: kind("released"), expired: kind("expired") };
  const w = waitlist[0] ?? {};
  return {
    event: { id: event.id, name: event.name, status: event.status, startsAt: event.startsAt, capacity: event.capacity, currency: event.currency },
    bookings,
    seatsSold,
    revenueCents: total("cents"),
    utilization: seatsSold / event.capacity,
    cancellationRate: rate(bookings.cancelled, bookings.confirmed + bookings.cancelled),
    daily: daily.map((r) => ({
      day: dayString(r.day),
      bookings: n(r.bookings),
      confirmed: n(r.confirmed),
      seatsSold: n(r.seats),
      revenueCents: n(r.cents),
      cancellations: n(r.cancellations),
    })),
    holds: {
      ...holds,
      open: Math.max(0, holds.created - holds.committed - holds.released - holds.expired),
      conversionRate: rate(holds.committed, holds.created),
    },
    waitlist: {
      size: n(w.waiting),
      waitingSeats: n(w.waiting_seats),
      offered: n(w.offered),
      expired: n(w.expired),
      converted: n(w.converted),
      left: n(w.left_),
      cancelled: n(w.cancelled),
      offersMade: n(w.offers_made),
      offerConversionRate: rate(n(w.converted), n(w.offers_made)),
    },
    ...products,
  };
}

export interface TicketTypeFigures {
  ticketTypeId: string;
  name: string;
  sold: number;
  revenueCents: number;
  discountCents: number;
  quota: number | null;
  /** sold / quota; null without a quota. */
  quotaUse: number | null;
}

export interface VoucherFigures {
  voucherId: string;
  code: string;
  /** Confirmed bookings that used it. */
  redemptions: number;
  maxUsages: number;
  discountCents: number;
}

/**
 * Per ticket type and per voucher, from confirmed bookings' priced lines (docs/products.md). Bookings
 * made before ticket types existed have no lines: they count for the default type at their total.
 */
async function productFigures(db: Database, eventId: string): Promise<{ ticketTypes: TicketTypeFigures[]; vouchers: VoucherFigures[] }> {
  const byType = await rows(db, sql`
      select type_id, sum(sold) as sold, sum(revenue) as revenue, sum(discount) as discount from (
        select l."ticketTypeId" as type_id, sum(l.quantity) as sold, sum(l."unitCents" * l.quantity - l."discountCents") as revenue, sum(l."discountCents") as discount
        from bookings b cross join lateral jsonb_to_recordset(b.lines) as l("ticketTypeId" text, quantity bigint, "unitCents" bigint, "discountCents" bigint)
        where b.event_id = ${eventId} and b.status = 'confirmed' group by 1
        union all
        select 'tt_default', sum(quantity), sum(total_amount_cents), 0 from bookings
        where event_id = ${eventId} and status = 'confirmed' and jsonb_array_length(lines) = 0 having count(*) > 0
      ) parts group by type_id`);
  const types = await rows(db, sql`select id, name, quota from ticket_types where event_id = ${eventId} order by position, created_at`);
  const byVoucher = await rows(db, sql`
      select v.id, v.code, v.max_usages, count(b.id) as redemptions,
             coalesce(sum((select sum((l->>'discountCents')::bigint) from jsonb_array_elements(b.lines) l)), 0) as discount
      from vouchers v left join bookings b on b.voucher_id = v.id and b.event_id = v.event_id and b.status = 'confirmed'
      where v.event_id = ${eventId} group by v.id, v.code, v.max_usages, v.created_at order by v.created_at, v.code`);
  const known = new Map(types.map((t) => [String(t.id), t]));
  const ids = [...new Set(["tt_default", ...types.map((t) => String(t.id)), ...byType.map((r) => String(r.type_id))])];
  return {
    ticketTypes: ids.map((id) => {
      const r = byType.find((x) => x.type_id === id);
      const t = known.get(id);
      const quota = t?.quota === null || t?.quota === undefined ? null : n(t.quota);
      const sold = n(r?.sold);
      return { ticketTypeId: id, name: t ? String(t.name) : id === "tt_default" ? "Standard" : id, sold, revenueCents: n(r?.revenue), discountCents: n(r?.discount), quota, quotaUse: quota ? sold / quota : null };
    }),
    vouchers: byVoucher.map((v) => ({ voucherId: String(v.id), code: String(v.code), redemptions: n(v.redemptions), maxUsages: n(v.max_usages), discountCents: n(v.discount) })),
  };
}
