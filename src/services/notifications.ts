import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../db/client";
import { notifications, users } from "../db/schema";
import { keyset } from "../lib/cursor";
import type { NotificationMessage, OrgInvitationMessage } from "../queues/messages";
import type { EmailSender } from "./email";

const SUBJECTS: Record<NotificationMessage["kind"], string> = {
  "booking.confirmed": "Your booking is confirmed",
  "booking.failed": "Your booking could not be completed",
  "booking.cancelled": "Your booking is cancelled",
  "booking.refunded": "Your refund is on its way",
  "waitlist.offered": "Seats are waiting for you",
  "waitlist.event-cancelled": "The event was cancelled; its waitlist is closed",
  "hold.event-cancelled": "The event was cancelled; your held seats are released",
};

/**
 * Stores the notification once per dedupe key, then emails it at most once: the row is claimed
 * (emailed_at set) before sending and unclaimed if sending fails, so a redelivered message
 * neither stores nor emails twice.
 */
export async function deliverNotification(db: Database, email: EmailSender, m: NotificationMessage, now = new Date()): Promise<{ emailed: boolean }> {
  await db
    .insert(notifications)
    .values({ userId: m.userId, dedupeKey: m.dedupeKey, type: m.kind, payload: m.payload })
    .onConflictDoNothing({ target: notifications.dedupeKey });
  const [claimed] = await db
    .update(notifications)
    .set({ emailedAt: now })
    .where(and(eq(notifications.dedupeKey, m.dedupeKey), isNull(notifications.emailedAt)))
    .returning({ id: notifications.id });
  if (!claimed) return { emailed: false };
  try {
    const [user] = await db.select({ email: users.email, name: users.name }).from(users).where(eq(users.id, m.userId));
    if (!user) return { emailed: false };
    await email.send({ to: user.email, subject: SUBJECTS[m.kind], text: render(user.name, m) });
    return { emailed: true };
  } catch (e) {
    await db.update(notifications).set({ emailedAt: null }).where(eq(notifications.id, claimed.id));
    throw e;
  }
}

function render(name: string, m: NotificationMessage): string {
  const p = m.payload as Record<string, unknown>;
  const lines = [`Hello ${name},`, "", SUBJECTS[m.kind] + "."];
  if (p.bookingId) lines.push(`Booking: ${p.bookingId}`);
  if (p.eventName) lines.push(`Event: ${p.eventName}`);
  if (Array.isArray(p.seats) && p.seats.length) lines.push(`Seats: ${p.seats.join(", ")}`);
  if (typeof p.amountCents === "number") lines.push(`Amount: ${(p.amountCents / 100).toFixed(2)} ${p.currency ?? ""}`.trim());
  if (p.reason) lines.push(`Reason: ${p.reason}`);
  if (Array.isArray(p.tickets) && p.tickets.length) {
    lines.push("", "Your tickets (show the code or its QR at the door; GET /v1/tickets/<id>/qr.svg):");
    for (const t of p.tickets as { id: string; seatId: string | null; code: string }[]) lines.push(`- ${t.seatId ? `Seat ${t.seatId}` : "Admission"} (ticket ${t.id}): ${t.code}`);
  }
  return lines.join("\n");
}

/** An invitation to an organization, to an address that may have no account yet. */
export async function sendInvitationEmail(email: EmailSender, m: OrgInvitationMessage): Promise<void> {
  const role = m.role.replace("_", " ");
  await email.send({
    to: m.email,
    subject: `You are invited to ${m.orgName} on Evently`,
    text: [
      "Hello,",
      "",
      `You are invited to join ${m.orgName} as ${role}.`,
      `Sign in (or register) with this address, then accept: ${m.link}`,
      `The link works once, until ${m.expiresAt}.`,
    ].join("\n"),
  });
}

export interface NotificationView {
  id: string;
  type: string;
  payload: unknown;
  emailed: boolean;
  createdAt: string;
}

/** Newest first, keyed by (created_at, id). */
const notificationPages = keyset("notifications", notifications.createdAt, notifications.id, "desc");

export async function listNotifications(db: Database, userId: string, limit: number, cursor: string | undefined): Promise<{ data: NotificationView[]; nextCursor: string | null }> {
  const rows = await db
    .select({ n: notifications, at: notificationPages.at })
    .from(notifications)
    .where(and(eq(notifications.userId, userId), notificationPages.after(cursor)))
    .orderBy(...notificationPages.order)
    .limit(limit + 1);
  return {
    data: rows.slice(0, limit).map(({ n }) => ({ id: n.id, type: n.type, payload: n.payload, emailed: n.emailedAt !== null, createdAt: n.createdAt.toISOString() })),
    nextCursor: notificationPages.next(rows, limit, (r) => ({ at: r.at, id: r.n.id })),
  };
}
