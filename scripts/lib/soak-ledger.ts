// The soak's ledger: after the run has drained, money, seats, tickets and memory are checked against
// Postgres (read directly with `pg`), the card network's own ledger and the objects' seat maps.
import pg from "pg";

export interface SoakEvent {
  id: string;
  name: string;
  seating: "reserved" | "general";
  cancelMidRun: boolean;
  cancelled: boolean;
}

export interface LedgerRow {
  check: string;
  ok: boolean;
  evidence: string;
}

interface ProviderCharge {
  idempotencyKey: string;
  reference: string;
  status: "processing" | "succeeded" | "declined" | "voided";
  refundRef: string | null;
  amountCents: number;
}

export interface LedgerInput {
  base: string;
  databaseUrl: string;
  adminToken: string;
  events: SoakEvent[];
  drainLimitMs: number;
  log: (s: string) => void;
}

const QUIET_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Waits (bounded) until no booking is pending and nothing in the saga's tables has changed for a
 * few seconds: the queues have settled. Returns what was seen last.
 */
async function drain(input: LedgerInput): Promise<{ settled: boolean; pending: number; waitedMs: number }> {
  const started = Date.now();
  let pending = -1;
  while (Date.now() - started < input.drainLimitMs) {
    try {
      const [r] = await query<{ pending: string; idle_ms: string }>(
        input.databaseUrl,
        `select (select count(*) from bookings where status = 'pending') as pending,
                extract(epoch from (now() - greatest(
                  (select max(updated_at) from bookings), (select max(updated_at) from saga_steps),
                  (select max(created_at) from payments), (select max(created_at) from notifications)))) * 1000 as idle_ms`,
      );
      pending = Number(r.pending);
      if (pending === 0 && Number(r.idle_ms) >= QUIET_MS) return { settled: true, pending, waitedMs: Date.now() - started };
    } catch (e) {
      input.log(`drain: ${(e as Error).message}`);
    }
    await sleep(2_000);
  }
  return { settled: false, pending, waitedMs: Date.now() - started };
}

const sample = (xs: string[], n = 5) => (xs.length ? ` e.g. ${xs.slice(0, n).join("; ")}` : "");

export interface TicketRow {
  id: string;
  bookingId: string;
  eventId: string;
  seatId: string | null;
  slot: number;
  status: "valid" | "cancelled" | "transferred";
}

export interface TicketBookingRow {
  id: string;
  status: string;
  quantity: number;
}

/**
 * The tickets against their bookings (pure, so a seeded violation is unit-tested): a code that
 * scans must belong to a sale that stands, one seat admits one person, and a paid booking has its
 * tickets. A transfer leaves its old row `transferred` and a new `valid` one for the same slot.
 */
export function ticketLedger(tickets: TicketRow[], bookings: TicketBookingRow[]): LedgerRow[] {
  const bookingById = new Map(bookings.map((b) => [b.id, b]));
  const valid = tickets.filter((t) => t.status === "valid");
  const onDeadSale = valid.filter((t) => bookingById.get(t.bookingId)?.status !== "confirmed");
  const bySeat = new Map<string, string[]>();
  for (const t of valid) {
    // Reserved seating: one per seat of the event; general admission: one per unit (slot) of the booking.
    const key = t.seatId !== null ? `${t.eventId}/${t.seatId}` : `${t.bookingId}#${t.slot}`;
    bySeat.set(key, [...(bySeat.get(key) ?? []), t.id]);
  }
  const doubles = [...bySeat].filter(([, ids]) => ids.length > 1);
  const validPerBooking = new Map<string, number>();
  for (const t of valid) validPerBooking.set(t.bookingId, (validPerBooking.get(t.bookingId) ?? 0) + 1);
  const confirmed = bookings.filter((b) => b.status === "confirmed");
  const short = confirmed.filter((b) => (validPerBooking.get(b.id) ?? 0) !== b.quantity);
  return [
    {
      check: "no ticket is valid on a booking that is not confirmed (refunded, cancelled, failed)",
      ok: onDeadSale.length === 0,
      evidence: `${valid.length} valid tickets of ${tickets.length}, ${onDeadSale.length} on a booking not confirmed${sample(onDeadSale.map((t) => `${t.id} on ${t.bookingId} (${bookingById.get(t.bookingId)?.status ?? "missing"})`))}`,
    },
    {
      check: "no seat (or general admission unit) has two valid tickets",
      ok: doubles.length === 0,
      evidence: `${bySeat.size} seats or units with a valid ticket, ${doubles.length} with two or more${sample(doubles.map(([k, ids]) => `${k} x${ids.length}`))}`,
    },
    {
      check: "every confirmed booking has one valid ticket per seat or unit",
      ok: short.length === 0,
      evidence: `${confirmed.length} confirmed bookings, ${short.length} with another count${sample(short.map((b) => `${b.id}: ${validPerBooking.get(b.id) ?? 0} of ${b.quantity}`))}`,
    },
  ];
}

/** Checks the ledger; `requests` counts the HTTP requests it sent to the Worker. */
export async function checkLedger(input: LedgerInput): Promise<{ rows: LedgerRow[]; requests: number }> {
  input.log(`draining (at most ${Math.round(input.drainLimitMs / 1000)} s)…`);
  const drained = await drain(input);
  input.log(`drain: ${drained.settled ? "settled" : "NOT settled"} after ${Math.round(drained.waitedMs / 1000)} s, ${drained.pending} pending`);
  const rows: LedgerRow[] = [];
  const db = input.databaseUrl;

  // 1. Money: the card network's ledger against bookings and the payments table.
  let requests = 1;
  const res = await fetch(`${input.base}/_local/faults/payments/ledger`, { headers: { authorization: `Bearer ${input.adminToken}` }, signal: AbortSignal.timeout(15_000) });
  if (!res.ok) throw new Error(`card network ledger: ${res.status} ${await res.text()}`);
  const charges = ((await res.json()) as { data: ProviderCharge[] }).data.filter((c) => c.idempotencyKey.endsWith(":charge"));
  const bookingRows = await query<{ id: string; status: string; failure_reason: string | null }>(db, `select id, status, failure_reason from bookings`);
  const bookingById = new Map(bookingRows.map((b) => [b.id, b]));
  const paymentRows = await query<{ booking_id: string; kind: string; n: string }>(db, `select booking_id, kind, count(*) as n from payments where status = 'succeeded' group by booking_id, kind`);
  const paid = (id: string, kind: string) => Number(paymentRows.find((p) => p.booking_id === id && p.kind === kind)?.n ?? 0);
  let kept = 0;
  let refunded = 0;
  const bad: string[] = [];
  for (const c of charges) {
    const b = bookingById.get(c.reference);
    if (c.status === "processing") {
      bad.push(`${c.reference}: charge still processing (booking ${b?.status ?? "missing"})`);
      continue;
    }
    if (c.status !== "succeeded") continue;
    if (!b) bad.push(`${c.reference}: charged, no booking row`);
    else if (b.status === "confirmed" && c.refundRef === null && paid(b.id, "charge") === 1 && paid(b.id, "refund") === 0) kept++;
    else if (b.status !== "confirmed" && c.refundRef !== null && paid(b.id, "refund") === 1) refunded++;
    else {
      const what = b.status === "confirmed" ? (c.refundRef ? "confirmed but refunded" : "confirmed, no payments row") : c.refundRef ? "refunded at the provider, no refund row" : "charged, never refunded";
      bad.push(`${b.id}: ${b.status}, ${what}${b.failure_reason ? ` (${b.failure_reason})` : ""}`);
    }
  }
  const succeeded = charges.filter((c) => c.status === "succeeded").length;
  rows.push({
    check: "every successful charge is matched by exactly one confirmed booking or one refund",
    ok: bad.length === 0,
    evidence: `${succeeded} charges: ${kept} kept by a confirmed booking, ${refunded} refunded, ${bad.length} unmatched${sample(bad)}`,
  });
  const chargedKeys = new Set(charges.filter((c) => c.status === "succeeded" && c.refundRef === null).map((c) => c.reference));
  const unpaid = bookingRows.filter((b) => b.status === "confirmed" && !chargedKeys.has(b.id)).map((b) => b.id);
  rows.push({
    check: "every confirmed booking holds a charge that was not refunded",
    ok: unpaid.length === 0,
    evidence: `${bookingRows.filter((b) => b.status === "confirmed").length} confirmed, ${unpaid.length} without a kept charge${sample(unpaid)}`,
  });

  // A cancelled event keeps nothing sold: its bookings are cancelled and refunded, none confirmed.
  const cancelledIds = input.events.filter((e) => e.cancelled).map((e) => e.id);
  const keptOnCancelled = cancelledIds.length
    ? await query<{ id: string; created_at: Date; confirmed_at: Date | null; cancelled_at: Date | null }>(
        db,
        `select b.id, b.created_at, b.confirmed_at, e.cancelled_at from bookings b join events e on e.id = b.event_id
          where b.event_id = any($1::uuid[]) and b.status = 'confirmed'`,
        [cancelledIds],
      )
    : [];
  rows.push({
    check: "a cancelled event keeps no confirmed booking (every one cancelled and refunded)",
    ok: keptOnCancelled.length === 0,
    evidence: cancelledIds.length
      ? `${keptOnCancelled.length} confirmed bookings left on the cancelled event${sample(keptOnCancelled.map((k) => `${k.id} created ${k.created_at.toISOString()}, confirmed ${k.confirmed_at?.toISOString()}, event cancelled ${k.cancelled_at?.toISOString()}`), 3)}`
      : "no event was cancelled",
  });

  // 2. No seat in two confirmed bookings (from booking_seats and, independently, from the bookings' own seat lists).
  const doubles = await query<{ event_id: string; seat_id: string; n: string }>(
    db,
    `select event_id, seat_id, count(*) as n from (
       select b.event_id, s->>'id' as seat_id from bookings b, jsonb_array_elements(b.seats) s where b.status = 'confirmed'
     ) x group by event_id, seat_id having count(*) > 1`,
  );
  const activeDoubles = await query<{ n: string }>(
    db,
    `select count(*) as n from (select bs.event_id, bs.seat_id from booking_seats bs join bookings b on b.id = bs.booking_id
       where b.status = 'confirmed' group by 1, 2 having count(*) > 1) x`,
  );
  const soldSeats = await query<{ n: string }>(db, `select count(*) as n from booking_seats bs join bookings b on b.id = bs.booking_id where b.status = 'confirmed'`);
  rows.push({
    check: "no seat is in two confirmed bookings",
    ok: doubles.length === 0 && Number(activeDoubles[0].n) === 0,
    evidence: `${soldSeats[0].n} seats in confirmed bookings, ${doubles.length + Number(activeDoubles[0].n)} sold twice${sample(doubles.map((d) => `${d.seat_id} x${d.n}`))}`,
  });

  // 3. Every object's seat map agrees with Postgres.
  const drift: string[] = [];
  const summary: string[] = [];
  for (const e of input.events) {
    requests++;
    const r = await fetch(`${input.base}/v1/events/${e.id}/seats`, { signal: AbortSignal.timeout(15_000) });
    if (!r.ok) {
      drift.push(`${e.name}: seat map answered ${r.status}`);
      continue;
    }
    const map = (await r.json()) as { seats?: { id: string; status: string }[]; availability: { booked: number; held: number } };
    const [pgRow] = await query<{ sold: string; seats_sold: number; booked_rows: string }>(
      db,
      `select (select coalesce(sum(quantity), 0) from bookings where event_id = $1 and status = 'confirmed') as sold,
              (select seats_sold from events where id = $1) as seats_sold,
              (select count(*) from seats where event_id = $1 and status = 'booked') as booked_rows`,
      [e.id],
    );
    const sold = Number(pgRow.sold);
    if (e.seating === "reserved") {
      const objectBooked = new Set((map.seats ?? []).filter((s) => s.status === "booked").map((s) => s.id));
      const pgBooked = new Set(
        (await query<{ seat_id: string }>(db, `select bs.seat_id from booking_seats bs join bookings b on b.id = bs.booking_id where b.event_id = $1 and b.status = 'confirmed' and bs.active`, [e.id])).map((x) => x.seat_id),
      );
      const onlyObject = [...objectBooked].filter((s) => !pgBooked.has(s));
      const onlyPg = [...pgBooked].filter((s) => !objectBooked.has(s));
      if (onlyObject.length) drift.push(`${e.name}: ${onlyObject.length} seats booked in the object only (${onlyObject.slice(0, 5).join(", ")})`);
      if (onlyPg.length) drift.push(`${e.name}: ${onlyPg.length} seats sold in Postgres only (${onlyPg.slice(0, 5).join(", ")})`);
      if (Number(pgRow.booked_rows) !== pgBooked.size) drift.push(`${e.name}: seats.status booked ${pgRow.booked_rows} vs ${pgBooked.size} in confirmed bookings`);
      summary.push(`${e.name}${e.cancelled ? " (cancelled)" : ""}: object ${objectBooked.size} booked / ${map.availability.held} held, Postgres ${pgBooked.size}`);
    } else {
      if (map.availability.booked !== sold) drift.push(`${e.name}: object booked ${map.availability.booked} vs ${sold} in confirmed bookings`);
      summary.push(`${e.name}${e.cancelled ? " (cancelled)" : ""}: object ${map.availability.booked} booked / ${map.availability.held} held, Postgres ${sold}`);
    }
    if (pgRow.seats_sold !== sold) drift.push(`${e.name}: events.seats_sold ${pgRow.seats_sold} vs ${sold} in confirmed bookings`);
  }
  rows.push({ check: "every object's seat map agrees with Postgres", ok: drift.length === 0, evidence: drift.length ? drift.join("; ") : summary.join("; ") });

  // 4. Tickets: none valid on a sale that does not stand, none twice for a seat, none missing.
  const ticketRows = await query<{ id: string; booking_id: string; event_id: string; seat_id: string | null; slot: number; status: TicketRow["status"] }>(
    db,
    `select id, booking_id, event_id, seat_id, slot, status from tickets`,
  );
  const ticketBookings = await query<{ id: string; status: string; quantity: number }>(db, `select id, status, quantity from bookings`);
  rows.push(
    ...ticketLedger(
      ticketRows.map((t) => ({ id: t.id, bookingId: t.booking_id, eventId: t.event_id, seatId: t.seat_id, slot: t.slot, status: t.status })),
      ticketBookings,
    ),
  );

  // 5. Nothing pending past its payment deadline plus one minute.
  const stale = await query<{ id: string; payment_deadline: Date; payment_method: string }>(
    db,
    `select id, payment_deadline, payment_method from bookings where status = 'pending' and payment_deadline + interval '1 minute' < now()`,
  );
  const counts = await query<{ status: string; n: string }>(db, `select status, count(*) as n from bookings group by status order by status`);
  const reasons = await query<{ reason: string; n: string }>(
    db,
    `select coalesce(failure_reason, '?') as reason, count(*) as n from bookings where status = 'failed' group by 1 order by 2 desc limit 6`,
  );
  rows.push({
    check: "no booking is pending past its payment deadline plus one minute",
    ok: stale.length === 0,
    evidence: `drain ${drained.settled ? "settled" : "did not settle"} in ${Math.round(drained.waitedMs / 1000)} s; bookings ${counts.map((c) => `${c.status} ${c.n}`).join(", ")}; failed because: ${reasons.map((r) => `${r.reason} ${r.n}`).join(", ") || "none"}; ${stale.length} stale${sample(stale.map((s) => `${s.id} (${s.payment_method}, deadline ${s.payment_deadline.toISOString()})`))}`,
  });

  return { rows, requests };
}

export function printTable(rows: LedgerRow[], problems: string[]): void {
  console.log("| check | result | evidence |");
  console.log("|---|---|---|");
  for (const r of rows) console.log(`| ${r.check} | ${r.ok ? "ok" : "VIOLATED"} | ${r.evidence.replaceAll("|", "/")} |`);
  for (const p of problems) console.log(`| the fault schedule ran | VIOLATED | ${p.replaceAll("|", "/")} |`);
  if (!problems.length) console.log("| the fault schedule ran | ok | every fault landed |");
}
