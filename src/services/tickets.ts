// Tickets: issued in the transaction that confirms a booking, listed for their holder, cancelled
// with their booking, transferred by email (docs/tickets.md).
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { bookings, tickets, users } from "../db/schema";
import type { AuthUser } from "../auth/tokens";
import { AppError } from "../lib/errors";
import { keyset } from "../lib/cursor";
import { eventKeys, signTicketCode } from "./ticket-codes";
import { insertDeliveries } from "./webhooks";
import { audit } from "./audit";

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
export const ticketKeysFor = (db: Database, secrets: { SECRETS_KEYS?: string }, eventId: string) => eventKeys(db, secrets, eventId);

/**
 * The tickets of a booking about to be confirmed: one per seat (reserved) or per unit (general
 * admission), each with its ticket type from the booking's priced lines and a code signed with the
 * event's key. The confirm writes `rows` in its statement; `codes` go into the confirmation message.
 */
export async function ticketsFor(keys: Keys, b: Pick<Booking, "eventId" | "seats" | "quantity" | "lines">): Promise<{ rows: { id: string; slot: number; seat_id: string | null; ticket_type_id: string | null; code: string }[]; codes: { id: string; seatId: string | null; code: string }[] }> {
  const units = ticketUnits(b);
  const rows = await Promise.all(
    units.map(async (u, i) => {
      const id = crypto.randomUUID();
      return { id, slot: i + 1, seat_id: u.seatId, ticket_type_id: u.ticketTypeId, code: await signTicketCode(keys, { tid: id, eid: b.eventId }) };
    }),
  );
  return { rows, codes: rows.map((r) => ({ id: r.id, seatId: r.seat_id, code: r.code })) };
}

/** Seat and ticket type of each ticket: a reserved seat's line names its type; general admission lines give `quantity` units each. */
export function ticketUnits(b: Pick<Booking, "seats" | "quantity" | "lines">): { seatId: string | null; ticketTypeId: string | null }[] {
  const lines = b.lines ?? [];
  if (b.seats.length) return b.seats.map((s) => ({ seatId: s.id, ticketTypeId: lines.find((l) => l.seatId === s.id)?.ticketTypeId ?? null }));
  const typed = lines.flatMap((l) => Array.from({ length: l.quantity }, () => l.ticketTypeId));
  return Array.from({ length: b.quantity }, (_, i) => ({ seatId: null, ticketTypeId: typed[i] ?? null }));
}

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

/**
 * The holder hands a valid ticket to another account. The event's check-in desk kills the old
 * code first (refused once the ticket got someone in), then one transaction marks the old row
 * `transferred` and issues the recipient a new ticket with a new code. A transfer that failed
 * after the desk step leaves the old code dead at the door; retrying the transfer completes it.
 */
export async function transferTicket(
  db: Database,
  deps: { voidAtDoor: (eventId: string, ticketId: string) => Promise<void>; sendWebhooks: (deliveryIds: string[]) => Promise<unknown>; secrets: { SECRETS_KEYS?: string } },
  user: AuthUser,
  id: string,
  toEmail: string,
  now: Date,
): Promise<TicketView & { transferredTo: { ticketId: string; email: string } }> {
  const [t] = await db.select().from(tickets).where(eq(tickets.id, id));
  if (!t || t.holderId !== user.id || t.status === "transferred") throw new AppError("NOT_FOUND", "No such ticket");
  if (t.status !== "valid") throw new AppError("INVALID_STATE", `A ${t.status} ticket cannot be transferred`, { status: t.status });
  const [to] = await db.select({ id: users.id, name: users.name, email: users.email, disabledAt: users.disabledAt }).from(users).where(sql`lower(${users.email}) = lower(${toEmail})`);
  if (!to || to.disabledAt) throw new AppError("NOT_FOUND", "No account with that email can receive tickets");
  if (to.id === user.id) throw new AppError("VALIDATION_FAILED", "The ticket is already yours", { issues: [{ path: "toEmail", message: "is the holder" }] });
  await deps.voidAtDoor(t.eventId, t.id);
  const keys = await eventKeys(db, deps.secrets, t.eventId);
  const fresh = await db.transaction(async (tx) => {
    // The booking's row, shared-locked: its buyer's cancellation (which refuses a booking with a
    // transferred ticket) and this transfer take turns, so neither misses the other.
    const [booking] = await tx.select({ status: bookings.status }).from(bookings).where(eq(bookings.id, t.bookingId)).for("share");
    if (booking?.status !== "confirmed") throw new AppError("INVALID_STATE", "The booking of this ticket is no longer confirmed");
    const moved = await tx
      .update(tickets)
      .set({ status: "transferred", updatedAt: now })
      .where(and(eq(tickets.id, t.id), eq(tickets.status, "valid")))
      .returning({ id: tickets.id });
    if (!moved.length) throw new AppError("INVALID_STATE", "The ticket changed meanwhile; look again");
    const newId = crypto.randomUUID();
    const [row] = await tx
      .insert(tickets)
      .values({ id: newId, bookingId: t.bookingId, eventId: t.eventId, holderId: to.id, slot: t.slot, seatId: t.seatId, ticketTypeId: t.ticketTypeId, holderName: to.name, code: await signTicketCode(keys, { tid: newId, eid: t.eventId }), transferredFrom: t.id, createdAt: now, updatedAt: now })
      .returning();
    await audit(tx, { action: "ticket.transferred", actorId: user.id, subjectId: t.id, detail: { newTicketId: newId, toUserId: to.id, eventId: t.eventId, bookingId: t.bookingId } });
    // The webhook commits with the transfer (outbox); it is queued after, or by the cron's sweep.
    const deliveries = await insertDeliveries(tx, { type: "ticket.transferred", eventId: t.eventId, dedupeKey: `ticket:${t.id}:transferred`, data: { ticketId: t.id, newTicketId: newId, eventId: t.eventId, bookingId: t.bookingId, seatId: t.seatId, fromUserId: user.id, toUserId: to.id } });
    return { ...row, deliveries };
  });
  await deps.sendWebhooks(fresh.deliveries);
  const [old] = await db.select().from(tickets).where(eq(tickets.id, t.id));
  return { ...ticketView(old), transferredTo: { ticketId: fresh.id, email: to.email } };
}
