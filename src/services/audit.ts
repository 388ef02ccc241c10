import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { auditLog } from "../db/schema";

export type AuditAction =
  | "auth.register"
  | "auth.login"
  | "auth.login_failed"
  | "auth.logout"
  | "auth.refresh_reuse"
  | "auth.session_revoked"
  | "admin.user_updated"
  | "admin.user_created"
  // Catalogue and money: who published or cancelled what, venue changes, cancellations and refunds.
  // `detail.actorRole` tells an admin acting on someone else's event or venue apart from its owner.
  | "event.published"
  | "event.cancelled"
  | "venue.created"
  | "venue.updated"
  | "venue.deleted"
  | "booking.cancelled"
  | "booking.refunded"
  // Products: prices and discounts are money too.
  | "ticket_type.created"
  | "ticket_type.updated"
  | "ticket_type.deleted"
  | "voucher.created"
  | "ticket.transferred"
  // Organizations (docs/organizations.md): subjectId is the organization; detail names the member.
  | "org.created"
  | "org.invited"
  | "org.invitation_revoked"
  | "org.invitation_accepted"
  | "org.role_changed"
  | "org.member_removed"
  | "org.member_left";

export interface AuditEntry {
  action: AuditAction;
  actorId?: string | null;
  subjectId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

/** Appends one audit row; runs inside the caller's transaction when given one. */
export async function audit(db: PgDatabase<PgQueryResultHKT, any>, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    action: entry.action,
    actorId: entry.actorId ?? null,
    subjectId: entry.subjectId ?? null,
    ip: entry.ip ?? null,
    detail: entry.detail ?? null,
  });
}
