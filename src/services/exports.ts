// Attendee and booking exports of an event as CSV (RFC 4180), streamed: a ReadableStream pulls one
// keyset page at a time from Postgres, so memory stays flat however many rows there are.
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Env } from "../env";
import { createDb, closeDb, type Database } from "../db/client";
import { bookings, tickets, users } from "../db/schema";
import { csvLine } from "../lib/csv";

const PAGE = 2000;
const START = "00000000-0000-0000-0000-000000000000";

interface Export<Row> {
  header: string[];
  page: (db: Database, eventId: string, after: string) => Promise<Row[]>;
  id: (r: Row) => string;
  fields: (r: Row) => unknown[];
}

const attendees: Export<{ id: string; bookingId: string; seatId: string | null; ticketTypeId: string | null; holderName: string; holderEmail: string; status: string; checkedInAt: string | null; createdAt: Date }> = {
  header: ["ticketId", "bookingId", "seatId", "ticketTypeId", "holderName", "holderEmail", "status", "checkedInAt", "issuedAt"],
  page: (db, eventId, after) =>
    db
      .select({
        id: tickets.id,
        bookingId: tickets.bookingId,
        seatId: tickets.seatId,
        ticketTypeId: tickets.ticketTypeId,
        holderName: tickets.holderName,
        holderEmail: users.email,
        status: tickets.status,
        checkedInAt: sql<string | null>`(select to_char(min(c.at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') from checkins c where c.ticket_id = ${tickets.id} and c.direction = 'entry')`,
        createdAt: tickets.createdAt,
      })
      .from(tickets)
      .innerJoin(users, eq(users.id, tickets.holderId))
      // Transferred-away rows are history: the recipient's ticket is the attendee.
      .where(and(eq(tickets.eventId, eventId), gt(tickets.id, after), sql`${tickets.status} <> 'transferred'`))
      .orderBy(asc(tickets.id))
      .limit(PAGE),
  id: (r) => r.id,
  fields: (r) => [r.id, r.bookingId, r.seatId, r.ticketTypeId, r.holderName, r.holderEmail, r.status, r.checkedInAt, r.createdAt],
};

const bookingRows: Export<{ id: string; status: string; name: string; email: string; quantity: number; seats: { id: string }[]; totalCents: number; currency: string; createdAt: Date; confirmedAt: Date | null; cancelledAt: Date | null }> = {
  header: ["bookingId", "status", "buyerName", "buyerEmail", "quantity", "seats", "totalCents", "currency", "createdAt", "confirmedAt", "cancelledAt"],
  page: (db, eventId, after) =>
    db
      .select({
        id: bookings.id,
        status: bookings.status,
        name: users.name,
        email: users.email,
        quantity: bookings.quantity,
        seats: bookings.seats,
        totalCents: bookings.totalAmountCents,
        currency: bookings.currency,
        createdAt: bookings.createdAt,
        confirmedAt: bookings.confirmedAt,
        cancelledAt: bookings.cancelledAt,
      })
      .from(bookings)
      .innerJoin(users, eq(users.id, bookings.userId))
      .where(and(eq(bookings.eventId, eventId), gt(bookings.id, after)))
      .orderBy(asc(bookings.id))
      .limit(PAGE),
  id: (r) => r.id,
  fields: (r) => [r.id, r.status, r.name, r.email, r.quantity, r.seats.map((s) => s.id).join(" "), r.totalCents, r.currency, r.createdAt, r.confirmedAt, r.cancelledAt],
};

export const EXPORTS = { attendees, bookings: bookingRows } as const;
export type ExportKind = keyof typeof EXPORTS;

/**
 * The CSV as a byte stream. It opens its own Pool (the request's closes when the handler returns,
 * before the body is read) and ends it when the last page is sent or the client goes away.
 */
export function csvStream(env: Env, kind: ExportKind, eventId: string): ReadableStream<Uint8Array> {
  const spec = EXPORTS[kind] as Export<unknown>;
  const enc = new TextEncoder();
  let db: Database | null = null;
  let after: string | null = null;
  const finish = async () => {
    if (db) await closeDb(db);
    db = null;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (after === null) {
          db = createDb(env, "export");
          after = START;
          controller.enqueue(enc.encode(csvLine(spec.header)));
          return;
        }
        const rows = await spec.page(db!, eventId, after);
        if (rows.length) {
          let chunk = "";
          for (const r of rows) chunk += csvLine(spec.fields(r));
          controller.enqueue(enc.encode(chunk));
          after = spec.id(rows[rows.length - 1]);
        }
        if (rows.length < PAGE) {
          await finish();
          controller.close();
        }
      } catch (e) {
        console.error(JSON.stringify({ level: "error", msg: "export failed mid-stream", kind, eventId, error: String(e) }));
        await finish();
        controller.error(e);
      }
    },
    async cancel() {
      await finish();
    },
  });
}
