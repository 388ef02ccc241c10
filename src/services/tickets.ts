// Tickets: issued in the transaction that confirms a booking, listed for their holder, cancelled
// with their booking, transferred by email (docs/tickets.md).
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { bookings, tickets, users } from "../db/schema";
import type { AuthUser } from "../auth/guards";
import { AppError } from "../lib/errors";
import { keyset } from "../lib/cursor";
import { eventKeys, signTicketCode } from "./ticket-codes";

export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
type Ticket = typeof tickets.$inferSelect;
type Booking = typeof bookings.$inferSelect;
type Keys = Awaited<ReturnType<typeof eventKeys>>;

export interface TicketView {
  id: string;
  bookingId: string;
  eventId: string;
  seatId: string | null;
  ticketTypeId: string | null;
  holderName: string;
  status: Ticket["status"];
  code: string | null;
  createdAt: string;
}

/** A dead ticket's code is never shown again: it could only confuse a scanner. */
export function ticketView(t: Ticket): TicketView {
  return {
    id: t.id,
    bookingId: t.bookingId,
    eventId: t.eventId,
    seatId: t.seatId,
    ticketTypeId: t.ticketTypeId,
    holderName: t.holderName,
    status: t.status,
    code: t.status === "valid" ? t.code : null,
    createdAt: t.createdAt.toISOString(),
  };
}

/** The event's signing keys, loaded (or made) before the confirming transaction opens. */
export const ticketKeysFor = (db: Database, eventId: string) => eventKeys(db, eventId);

/** One ticket per seat (reserved) or per unit (general admission), inside the confirming transaction. */
export async function issueTickets(tx: Tx, keys: Keys, b: Booking, now: Date): Promise<number> {
  const [holder] = await tx.select({ name: users.name }).from(users).where(eq(users.id, b.userId));
  const units: (string | null)[] = b.seats.length ? b.seats.map((s) => s.id) : Array.from({ length: b.quantity }, () => null);
  const rows = await Promise.all(
    units.map(async (seatId, i) => {
      const id = crypto.randomUUID();
      return { id, bookingId: b.id, eventId: b.eventId, holderId: b.userId, slot: i + 1, seatId, holderName: holder?.name ?? "", code: await signTicketCode(keys, { tid: id, eid: b.eventId }), createdAt: now, updatedAt: now };
    }),
  );
  if (rows.length) await tx.insert(tickets).values(rows);
  return rows.length;
}

/** A cancelled or refunded booking's tickets stop scanning (the check-in answers `cancelled`). */
export async function cancelTicketsOf(tx: Pick<Database, "update">, bookingIds: string[], now: Date): Promise<void> {
  if (!bookingIds.length) return;
  await tx.update(tickets).set({ status: "cancelled", updatedAt: now }).where(and(inArray(tickets.bookingId, bookingIds), eq(tickets.status, "valid")));
}

const ticketPages = keyset("tickets", tickets.createdAt, tickets.id, "desc");

/** The holder's tickets, newest first; transferred-away ones are no longer theirs and are left out. */
export async function listTickets(db: Database, user: AuthUser, q: { eventId?: string; limit: number; cursor?: string }): Promise<{ data: TicketView[]; nextCursor: string | null }> {
  const rows = await db
    .select({ t: tickets, at: ticketPages.at })
    .from(tickets)
    .where(and(eq(tickets.holderId, user.id), sql`${tickets.status} <> 'transferred'`, q.eventId ? eq(tickets.eventId, q.eventId) : undefined, ticketPages.after(q.cursor)))
    .orderBy(...ticketPages.order)
    .limit(q.limit + 1);
  return { data: rows.slice(0, q.limit).map((r) => ticketView(r.t)), nextCursor: ticketPages.next(rows, q.limit, (r) => ({ at: r.at, id: r.t.id })) };
}

/** Holder or admin; anyone else (and a holder who transferred it away) gets 404. */
export async function getTicket(db: Database, user: AuthUser, id: string): Promise<Ticket> {
  const [t] = await db.select().from(tickets).where(eq(tickets.id, id));
  if (!t || (user.role !== "admin" && (t.holderId !== user.id || t.status === "transferred"))) throw new AppError("NOT_FOUND", "No such ticket");
  return t;
}

/** The codes of a booking's live tickets, for its confirmation email and notification. */
export async function ticketCodesOf(db: Database, bookingId: string): Promise<{ id: string; seatId: string | null; code: string }[]> {
  const rows = await db.select({ id: tickets.id, seatId: tickets.seatId, code: tickets.code }).from(tickets).where(and(eq(tickets.bookingId, bookingId), eq(tickets.status, "valid"))).orderBy(tickets.slot);
  return rows;
}
