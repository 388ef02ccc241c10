// Check-in: lists, scanners, and scans decided by the event's CheckinDesk object, mirrored to
// Postgres (docs/tickets.md).
import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Env, Config } from "../env";
import type { Database } from "../db/client";
import { checkinLists, checkins, scanners, tickets } from "../db/schema";
import type { AuthUser } from "../auth/tokens";
import { type ScannerClaims, signScannerToken } from "../auth/scanner-tokens";
import { AppError } from "../lib/errors";
import { managedEvent } from "./event-access";
import type { Direction, ScanResult, TicketFacts } from "../../durable-objects/checkin-desk/contract";
import { checkinDesk } from "../../durable-objects/checkin-desk/client";
import { eventKeys, verifyTicketCode } from "./ticket-codes";
import { insertDeliveries, sendDeliveries } from "./webhooks";

type List = typeof checkinLists.$inferSelect;

export interface ListView {
  id: string;
  eventId: string;
  name: string;
  ticketTypeIds: string[] | null;
  allowReentry: boolean;
  createdAt: string;
}

const listView = (l: List): ListView => ({ id: l.id, eventId: l.eventId, name: l.name, ticketTypeIds: l.ticketTypeIds ?? null, allowReentry: l.allowReentry, createdAt: l.createdAt.toISOString() });

export async function createList(db: Database, user: AuthUser, eventId: string, input: { name: string; ticketTypeIds?: string[]; allowReentry: boolean }): Promise<ListView> {
  await managedEvent(db, user, eventId);
  const [l] = await db.insert(checkinLists).values({ eventId, name: input.name, ticketTypeIds: input.ticketTypeIds ?? null, allowReentry: input.allowReentry }).returning();
  return listView(l);
}

export async function listLists(db: Database, eventId: string): Promise<ListView[]> {
  return (await db.select().from(checkinLists).where(eq(checkinLists.eventId, eventId)).orderBy(checkinLists.createdAt)).map(listView);
}

/** A scanner token lives until a day after the event ends (at least an hour), unless the scanner is revoked. */
export async function createScanner(env: Env, config: Config, db: Database, user: AuthUser, eventId: string, name: string, now: Date): Promise<{ id: string; eventId: string; name: string; token: string; expiresAt: string }> {
  const e = await managedEvent(db, user, eventId);
  const [s] = await db.insert(scanners).values({ eventId, name, createdBy: user.id }).returning();
  const expiresAt = new Date(Math.max(e.endTime.getTime() + 86_400_000, now.getTime() + 3_600_000));
  const token = await signScannerToken(env, config, { scannerId: s.id, eventId }, expiresAt, Math.floor(now.getTime() / 1000));
  return { id: s.id, eventId, name, token, expiresAt: expiresAt.toISOString() };
}

/** A scanner token stops at once when its scanner is revoked (or its event deleted). */
export async function assertScannerActive(db: Database, s: ScannerClaims): Promise<void> {
  const [row] = await db.select({ revokedAt: scanners.revokedAt, eventId: scanners.eventId }).from(scanners).where(eq(scanners.id, s.scannerId));
  if (!row || row.revokedAt || row.eventId !== s.eventId) throw new AppError("UNAUTHENTICATED", "The scanner token is no longer valid");
}

/** The public keys that verify this event's ticket codes offline (a JWKS). */
export async function checkinKeys(env: Env, db: Database, eventId: string): Promise<{ keys: unknown[] }> {
  const keys = await eventKeys(db, env, eventId);
  return { keys: [keys.publicJwk] };
}

export interface ScanInput {
  code: string;
  nonce: string;
  direction: Direction;
  /** The device's scan time (ms) for an offline upload; null for an online scan (the desk times it). */
  at: number | null;
}

export interface ScanReply {
  nonce: string;
  result: ScanResult;
  ticket?: { id: string; seatId: string | null; ticketTypeId: string | null; holderName: string };
  firstRedeemedAt?: string;
}

export type CheckinActor = { user: AuthUser; scanner?: undefined } | { scanner: ScannerClaims; user?: undefined };

/** The device a scan comes from: nonces are unique per device and list (a scanner's, or an organizer's own account). */
export const deviceOf = (actor: CheckinActor): string => (actor.scanner ? `scanner:${actor.scanner.scannerId}` : `user:${actor.user.id}`);

/** Who may scan at a list: a scanner of its event, a member whose role may check in, or an admin. */
async function listFor(db: Database, actor: CheckinActor, listId: string): Promise<List> {
  const [list] = await db.select().from(checkinLists).where(eq(checkinLists.id, listId));
  if (!list) throw new AppError("NOT_FOUND", "No such check-in list");
  if (actor.scanner) {
    if (actor.scanner.eventId !== list.eventId) throw new AppError("FORBIDDEN", "This scanner checks in at another event");
  } else {
    await managedEvent(db, actor.user, list.eventId, { action: "checkin.manage" });
  }
  return list;
}

/**
 * Verifies each code offline-style (signature with the event's key), looks its ticket up, and has
 * the event's desk decide every scan in one call. Accepted scans are mirrored to Postgres and
 * announced to webhooks (checkin.redeemed) once, however often the same device sends the same nonce.
 */
export async function redeemScans(env: Env, db: Database, actor: CheckinActor, listId: string, scans: ScanInput[]): Promise<ScanReply[]> {
  const list = await listFor(db, actor, listId);
  const device = deviceOf(actor);
  const keys = await eventKeys(db, env, list.eventId);
  const claims = await Promise.all(scans.map((s) => verifyTicketCode(keys.publicKey, s.code)));
  const ids = [...new Set(claims.filter((c) => c && c.eid === list.eventId).map((c) => c!.tid))];
  const rows = ids.length ? await db.select().from(tickets).where(and(eq(tickets.eventId, list.eventId), inArray(tickets.id, ids))) : [];
  const byId = new Map(rows.map((t) => [t.id, t]));
  const facts: TicketFacts[] = claims.map((c, i) => {
    const t = c && c.eid === list.eventId ? byId.get(c.tid) : undefined;
    // The scanned code must be the very code issued for the ticket: a valid signature alone (a
    // leaked signing key minting codes for real ticket ids) gets nobody in.
    if (!t || t.code !== scans[i].code) return { ticketId: null, status: "unknown", onList: false };
    // The code itself must be the ticket's current one: a transfer's old code names a dead row.
    return { ticketId: t.id, status: t.status, onList: !list.ticketTypeIds || (t.ticketTypeId !== null && list.ticketTypeIds.includes(t.ticketTypeId)) };
  });
  const outcomes = await checkinDesk(env, list.eventId).redeem({
    listId,
    device,
    allowReentry: list.allowReentry,
    items: scans.map((s, i) => ({ nonce: s.nonce, direction: s.direction, at: s.at, facts: facts[i] })),
  });
  const accepted = outcomes.map((o, i) => ({ o, s: scans[i] })).filter(({ o }) => o.result === "ok" && o.ticketId);
  if (accepted.length) {
    // The mirror and its webhooks commit together (outbox); they are queued after, or by the cron's sweep.
    const deliveries = await db.transaction(async (tx) => {
      const mirrored = await tx
        .insert(checkins)
        .values(accepted.map(({ o, s }) => ({ listId, device, nonce: s.nonce, ticketId: o.ticketId!, direction: s.direction, at: new Date(o.at), scannerId: actor.scanner?.scannerId ?? null })))
        .onConflictDoNothing()
        .returning({ nonce: checkins.nonce, ticketId: checkins.ticketId, direction: checkins.direction, at: checkins.at });
      const ids: string[] = [];
      for (const m of mirrored) {
        if (m.direction !== "entry") continue;
        ids.push(...(await insertDeliveries(tx, { type: "checkin.redeemed", eventId: list.eventId, dedupeKey: `checkin:${listId}:${device}:${m.nonce}`, data: { ticketId: m.ticketId, listId, eventId: list.eventId, at: m.at.toISOString() } })));
      }
      return ids;
    });
    await sendDeliveries(env, db, deliveries);
  }
  return outcomes.map((o, i) => {
    const t = o.ticketId ? byId.get(o.ticketId) : undefined;
    return {
      nonce: scans[i].nonce,
      result: o.result,
      ...(t && o.result !== "invalid" ? { ticket: { id: t.id, seatId: t.seatId, ticketTypeId: t.ticketTypeId, holderName: t.holderName } } : {}),
      ...(o.firstRedeemedAt !== null && o.result !== "invalid" ? { firstRedeemedAt: new Date(o.firstRedeemedAt).toISOString() } : {}),
    };
  });
}

/** Revokes a scanner of the event: its token stops working on the next request. */
export async function revokeScanner(db: Database, user: AuthUser, eventId: string, scannerId: string): Promise<void> {
  await managedEvent(db, user, eventId);
  const done = await db.update(scanners).set({ revokedAt: new Date() }).where(and(eq(scanners.id, scannerId), eq(scanners.eventId, eventId), isNull(scanners.revokedAt))).returning({ id: scanners.id });
  if (!done.length) throw new AppError("NOT_FOUND", "No such active scanner");
}
