// Organizers' webhooks: endpoints per event type, one delivery row per (endpoint, happening),
// each sent through the `webhooks` queue with backoff and a dead-letter queue, every attempt logged
// (docs/tickets.md).
import { and, desc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { events, users, webhookAttempts, webhookDeliveries, webhooks } from "../db/schema";
import type { AuthUser } from "../auth/tokens";
import { AppError } from "../lib/errors";
import { authorize } from "./permissions";
import { signatureHeader } from "./webhook-signature";
import { refuseWebhookUrl } from "./webhook-urls";

export const WEBHOOK_TYPES = ["booking.confirmed", "booking.cancelled", "event.cancelled", "ticket.transferred", "checkin.redeemed"] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

type Hook = typeof webhooks.$inferSelect;
type Delivery = typeof webhookDeliveries.$inferSelect;

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  eventId: string | null;
  createdAt: string;
}

const hookView = (h: Hook): WebhookView => ({ id: h.id, url: h.url, events: h.types, eventId: h.eventId, createdAt: h.createdAt.toISOString() });

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The secret is shown once, in this answer; deliveries are signed with it. */
export async function createWebhook(env: Env, db: Database, user: AuthUser, input: { url: string; events: WebhookType[]; eventId?: string }): Promise<WebhookView & { secret: string }> {
  const refused = refuseWebhookUrl(input.url, env.ENVIRONMENT === "production");
  if (refused) throw new AppError("VALIDATION_FAILED", `The webhook URL is refused: ${refused}`, { issues: [{ path: "url", message: refused }] });
  if (input.eventId) {
    const [e] = await db.select({ orgId: events.orgId }).from(events).where(eq(events.id, input.eventId));
    if (!e) throw new AppError("NOT_FOUND", "No such event");
    await authorize(db, user, "webhook.manage", { orgId: e.orgId, eventId: input.eventId });
  }
  const [h] = await db.insert(webhooks).values({ ownerId: user.id, url: input.url, types: [...new Set(input.events)], eventId: input.eventId ?? null, secret: newSecret() }).returning();
  return { ...hookView(h), secret: h.secret };
}

export async function listWebhooks(db: Database, user: AuthUser): Promise<WebhookView[]> {
  const rows = await db.select().from(webhooks).where(and(eq(webhooks.ownerId, user.id), isNull(webhooks.deletedAt))).orderBy(desc(webhooks.createdAt));
  return rows.map(hookView);
}

async function ownHook(db: Database, user: AuthUser, id: string): Promise<Hook> {
  const [h] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  if (!h || h.deletedAt || (h.ownerId !== user.id && user.role !== "admin")) throw new AppError("NOT_FOUND", "No such webhook");
  return h;
}

export async function deleteWebhook(db: Database, user: AuthUser, id: string): Promise<void> {
  await ownHook(db, user, id);
  await db.update(webhooks).set({ deletedAt: new Date() }).where(eq(webhooks.id, id));
}

export interface DeliveryView {
  id: string;
  type: string;
  status: Delivery["status"];
  attempts: { at: string; statusCode: number | null; error: string | null; durationMs: number }[];
  lastStatusCode: number | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** The newest deliveries of an endpoint with every attempt of each. */
export async function listDeliveries(db: Database, user: AuthUser, hookId: string, limit: number): Promise<DeliveryView[]> {
  await ownHook(db, user, hookId);
  const rows = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hookId)).orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)).limit(limit);
  const attempts = rows.length ? await db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, rows.map((r) => r.id))).orderBy(webhookAttempts.id) : [];
  return rows.map((d) => ({
    id: d.id,
    type: d.type,
    status: d.status,
    attempts: attempts.filter((a) => a.deliveryId === d.id).map((a) => ({ at: a.at.toISOString(), statusCode: a.statusCode, error: a.error, durationMs: a.durationMs })),
    lastStatusCode: d.lastStatusCode,
    createdAt: d.createdAt.toISOString(),
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
  }));
}

/** Sends a delivery again (same id: receivers that dedupe see it once), whatever its status. */
export async function replayDelivery(env: Env, db: Database, user: AuthUser, hookId: string, deliveryId: string): Promise<void> {
  await ownHook(db, user, hookId);
  const [d] = await db.update(webhookDeliveries).set({ status: "pending" }).where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.webhookId, hookId))).returning({ id: webhookDeliveries.id });
  if (!d) throw new AppError("NOT_FOUND", "No such delivery");
  await env.WEBHOOKS.send({ type: "webhook.deliver", deliveryId: d.id });
}

/**
 * One delivery per matching endpoint, once per `dedupeKey` (a repeated emit finds the rows there):
 * endpoints of the event, and endpoints without an event of its organizer or of an admin.
 */
export async function emitWebhook(env: Env, db: Database, m: { type: WebhookType; eventId: string; dedupeKey: string; data: Record<string, unknown> }): Promise<number> {
  const hooks = await db
    .select({ id: webhooks.id })
    .from(webhooks)
    .innerJoin(users, eq(users.id, webhooks.ownerId))
    .where(
      and(
        isNull(webhooks.deletedAt),
        sql`${webhooks.types} ? ${m.type}`,
        or(
          eq(webhooks.eventId, m.eventId),
          and(isNull(webhooks.eventId), or(eq(users.role, "admin"), sql`${webhooks.ownerId} = (select organizer_id from events where id = ${m.eventId})`)),
        ),
      ),
    );
  if (!hooks.length) return 0;
  const created = await db
    .insert(webhookDeliveries)
    .values(hooks.map((h) => ({ webhookId: h.id, dedupeKey: m.dedupeKey, type: m.type, payload: m.data })))
    .onConflictDoNothing()
    .returning({ id: webhookDeliveries.id });
  await sendDeliveries(env, created.map((d) => d.id));
  return created.length;
}

/** Queues deliveries written in Postgres (by `emitWebhook`, or by a booking's confirm with its sale). */
export async function sendDeliveries(env: Env, deliveryIds: string[]): Promise<void> {
  for (let i = 0; i < deliveryIds.length; i += 100) {
    await env.WEBHOOKS.sendBatch(deliveryIds.slice(i, i + 100).map((deliveryId) => ({ body: { type: "webhook.deliver" as const, deliveryId } })));
  }
}

export const WEBHOOK_TIMEOUT_MS = 10_000;

/** Backoff between attempts: 10 s, 20 s, 40 s … (the consumer caps every retry at 5 minutes; WEBHOOK_RETRY_MAX_DELAY_SECONDS lowers the cap). */
export function webhookRetryDelay(attempts: number, env: { WEBHOOK_RETRY_MAX_DELAY_SECONDS?: string }): number {
  const cap = Number(env.WEBHOOK_RETRY_MAX_DELAY_SECONDS);
  const max = Number.isInteger(cap) && cap >= 1 ? Math.min(cap, 3600) : 3600;
  return Math.min(max, 10 * 2 ** Math.max(0, attempts - 1));
}

/**
 * One attempt of one delivery: POST the signed body, log the attempt, and say whether to retry.
 * `dead` (the dead-letter queue) gives up: the delivery is marked failed and can be replayed.
 */
export async function deliverWebhook(env: Env, db: Database, deliveryId: string, dead: boolean, now = () => Date.now()): Promise<{ kind: "done" } | { kind: "retry"; delaySeconds: number }> {
  const [row] = await db.select({ d: webhookDeliveries, h: webhooks }).from(webhookDeliveries).innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId)).where(eq(webhookDeliveries.id, deliveryId));
  if (!row || row.d.status !== "pending" || row.h.deletedAt) return { kind: "done" };
  if (dead) {
    await db.update(webhookDeliveries).set({ status: "failed" }).where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, "pending")));
    console.error(JSON.stringify({ level: "error", msg: "webhook delivery dead-lettered", deliveryId, webhookId: row.h.id, attempts: row.d.attempts }));
    return { kind: "done" };
  }
  const body = JSON.stringify({ id: row.d.id, type: row.d.type, createdAt: row.d.createdAt.toISOString(), data: row.d.payload });
  const started = now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(row.h.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Evently-Webhooks/1",
        "evently-delivery": row.d.id,
        "evently-event": row.d.type,
        "evently-signature": await signatureHeader(row.h.secret, body, Math.floor(started / 1000)),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    statusCode = res.status;
    await res.body?.cancel();
  } catch (e) {
    error = String(e).slice(0, 500);
  }
  const delivered = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const [updated] = await db
    .update(webhookDeliveries)
    .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, lastStatusCode: statusCode, ...(delivered ? { status: "delivered" as const, deliveredAt: new Date(now()) } : {}) })
    .where(eq(webhookDeliveries.id, deliveryId))
    .returning({ attempts: webhookDeliveries.attempts });
  await db.insert(webhookAttempts).values({ deliveryId, statusCode, error: error ?? (delivered ? null : `HTTP ${statusCode}`), durationMs: now() - started });
  return delivered ? { kind: "done" } : { kind: "retry", delaySeconds: webhookRetryDelay(updated.attempts, env) };
}
