// Organizations' webhooks: endpoints per event type, one delivery row per (endpoint, happening),
// each sent through the `webhooks` queue with backoff and a dead-letter queue, every attempt logged
// (docs/tickets.md). A hook belongs to an organization (any member whose role has webhook.manage
// manages it, whoever created it); a platform admin's global hook (no organization) sees every event.
import { and, desc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import type { Env } from "../env";
import type { Database } from "../db/client";
import { events, organizationMembers, users, webhookAttempts, webhookDeliveries, webhooks } from "../db/schema";
import type { AuthUser } from "../auth/tokens";
import { AppError } from "../lib/errors";
import { keyring, needsRewrap, olderKeyIds, seal, unseal, type Keyring } from "../lib/secret-box";
import { type OrgGrant, PERMISSIONS, authorize, roleAllows } from "./permissions";
import { signatureHeader } from "./webhook-signature";
import { deliveryErrorClass, refuseWebhookUrl, webhookUrlPolicy, type DeliveryErrorClass } from "./webhook-urls";

export const WEBHOOK_TYPES = ["booking.confirmed", "booking.cancelled", "event.cancelled", "ticket.transferred", "checkin.redeemed"] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

type Hook = typeof webhooks.$inferSelect;
type Delivery = typeof webhookDeliveries.$inferSelect;

export interface WebhookView {
  id: string;
  orgId: string | null;
  url: string;
  events: string[];
  eventId: string | null;
  createdBy: string;
  createdAt: string;
}

const hookView = (h: Hook): WebhookView => ({ id: h.id, orgId: h.orgId, url: h.url, events: h.types, eventId: h.eventId, createdBy: h.ownerId, createdAt: h.createdAt.toISOString() });

/** A caller as the guard leaves it: `org` is its grant for the route's organization. */
type Caller = AuthUser & { org?: OrgGrant };

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const secretAad = (hookId: string) => `webhook-secret:${hookId}`;

/** The endpoint's signing secret in clear; a clear row or one under an older key is sealed with the newest key on the way. */
async function signingSecret(env: Env, db: Database, h: Hook): Promise<string> {
  const ring = await keyring(env);
  const secret = await unseal(ring, h.secretKeyId, h.secret, secretAad(h.id));
  if (needsRewrap(ring, h.secretKeyId)) await rewrapSecret(db, ring, h, secret).catch(() => undefined);
  return secret;
}

/** Seals the endpoint's secret with the newest key, unless another writer moved it meanwhile. */
async function rewrapSecret(db: Database, ring: Keyring, h: Hook, secret: string): Promise<boolean> {
  const sealed = await seal(ring, secret, secretAad(h.id));
  const done = await db
    .update(webhooks)
    .set({ secret: sealed.value, secretKeyId: sealed.keyId })
    .where(and(eq(webhooks.id, h.id), h.secretKeyId === null ? isNull(webhooks.secretKeyId) : eq(webhooks.secretKeyId, h.secretKeyId)))
    .returning({ id: webhooks.id });
  return done.length > 0;
}

/** Cron: seals up to `limit` webhook secrets still clear or under an older key with the newest key. */
export async function rewrapWebhookSecrets(env: Env, db: Database, limit: number): Promise<number> {
  const ring = await keyring(env);
  if (!ring.newest) return 0;
  // Rows under a key no longer listed cannot be opened: left alone (their deliveries fail and log it).
  const older = olderKeyIds(ring);
  const rows = await db
    .select()
    .from(webhooks)
    .where(and(isNull(webhooks.deletedAt), or(isNull(webhooks.secretKeyId), older.length ? inArray(webhooks.secretKeyId, older) : undefined)))
    .limit(limit);
  let moved = 0;
  for (const h of rows) if (await rewrapSecret(db, ring, h, await unseal(ring, h.secretKeyId, h.secret, secretAad(h.id)))) moved++;
  return moved;
}

/**
 * The organization a new hook goes into: the watched event's; else the named one; else, for a
 * platform admin naming none, no organization (a global hook); else the one the guard granted (the
 * caller's personal organization, or the only one where they may manage webhooks).
 */
async function newHookOrg(db: Database, user: Caller, input: { eventId?: string; orgId?: string }): Promise<string | null> {
  if (input.eventId) {
    const [e] = await db.select({ orgId: events.orgId }).from(events).where(eq(events.id, input.eventId));
    if (!e) throw new AppError("NOT_FOUND", "No such event");
    await authorize(db, user, "webhook.manage", { orgId: e.orgId, eventId: input.eventId });
    if (input.orgId && input.orgId !== e.orgId) throw new AppError("VALIDATION_FAILED", "The event belongs to another organization", { issues: [{ path: "eventId", message: "not this organization's event" }] });
    return e.orgId;
  }
  if (input.orgId) {
    await authorize(db, user, "webhook.manage", { orgId: input.orgId, hidden: true, what: "organization" });
    return input.orgId;
  }
  if (user.role === "admin") return null;
  if (!user.org) throw new AppError("FORBIDDEN", "Name the organization (orgId) the webhook belongs to");
  return user.org.orgId;
}

/** The secret is shown once, in this answer; deliveries are signed with it. */
export async function createWebhook(env: Env, db: Database, user: Caller, input: { url: string; events: WebhookType[]; eventId?: string; orgId?: string }): Promise<WebhookView & { secret: string }> {
  const refused = refuseWebhookUrl(input.url, webhookUrlPolicy(env));
  if (refused) throw new AppError("VALIDATION_FAILED", `The webhook URL is refused: ${refused}`, { issues: [{ path: "url", message: refused }] });
  const orgId = await newHookOrg(db, user, input);
  // Stored sealed (src/lib/secret-box.ts); the clear secret exists only in this answer.
  const id = crypto.randomUUID();
  const secret = newSecret();
  const sealed = await seal(await keyring(env), secret, secretAad(id));
  const [h] = await db
    .insert(webhooks)
    .values({ id, ownerId: user.id, orgId, url: input.url, types: [...new Set(input.events)], eventId: input.eventId ?? null, secret: sealed.value, secretKeyId: sealed.keyId })
    .returning();
  return { ...hookView(h), secret };
}

/**
 * The hooks the caller manages, newest first: those of every organization where their role has
 * webhook.manage (an event manager limited to chosen events: those events' hooks), and for a
 * platform admin the global ones too. `orgId` narrows to one organization (refused if not theirs).
 */
export async function listWebhooks(db: Database, user: Caller, orgId?: string): Promise<WebhookView[]> {
  if (orgId && user.role !== "admin") await authorize(db, user, "webhook.manage", { orgId, hidden: true, what: "organization" });
  const memberships = await db.select().from(organizationMembers).where(eq(organizationMembers.userId, user.id));
  // As every organizer route: a plain account in no organization is refused by function (403).
  if (!memberships.length && user.role === "user") throw new AppError("FORBIDDEN", "This needs a role in an organization");
  const reach = memberships
    .filter((m) => roleAllows(m.role, "webhook.manage") && (!orgId || m.orgId === orgId))
    .map((m) => (m.role === "event_manager" && m.eventIds?.length ? and(eq(webhooks.orgId, m.orgId), inArray(webhooks.eventId, m.eventIds)) : eq(webhooks.orgId, m.orgId)));
  if (user.role === "admin") reach.push(orgId ? eq(webhooks.orgId, orgId) : isNull(webhooks.orgId));
  if (!reach.length) return [];
  const rows = await db.select().from(webhooks).where(and(isNull(webhooks.deletedAt), or(...reach))).orderBy(desc(webhooks.createdAt));
  return rows.map(hookView);
}

/** The hook the guard granted access to (its organization's webhook.manage; a global hook: platform admins). */
async function grantedHook(db: Database, user: Caller, id: string): Promise<Hook> {
  const [h] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  if (!h || h.deletedAt) throw new AppError("NOT_FOUND", "No such webhook");
  if (user.role === "admin") return h;
  if (!h.orgId || user.org?.orgId !== h.orgId) throw new AppError("NOT_FOUND", "No such webhook");
  return h;
}

export async function getWebhook(db: Database, user: Caller, id: string): Promise<WebhookView> {
  return hookView(await grantedHook(db, user, id));
}

/** A new URL or set of types; deliveries already written keep going to the endpoint as it now is. */
export async function updateWebhook(env: Env, db: Database, user: Caller, id: string, input: { url?: string; events?: WebhookType[] }): Promise<WebhookView> {
  await grantedHook(db, user, id);
  if (input.url !== undefined) {
    const refused = refuseWebhookUrl(input.url, webhookUrlPolicy(env));
    if (refused) throw new AppError("VALIDATION_FAILED", `The webhook URL is refused: ${refused}`, { issues: [{ path: "url", message: refused }] });
  }
  const [h] = await db
    .update(webhooks)
    .set({ ...(input.url !== undefined ? { url: input.url } : {}), ...(input.events ? { types: [...new Set(input.events)] } : {}) })
    .where(and(eq(webhooks.id, id), isNull(webhooks.deletedAt)))
    .returning();
  if (!h) throw new AppError("NOT_FOUND", "No such webhook");
  return hookView(h);
}

export async function deleteWebhook(db: Database, user: Caller, id: string): Promise<void> {
  await grantedHook(db, user, id);
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
export async function listDeliveries(db: Database, user: Caller, hookId: string, limit: number): Promise<DeliveryView[]> {
  await grantedHook(db, user, hookId);
  const rows = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hookId)).orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)).limit(limit);
  const attempts = rows.length ? await db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, rows.map((r) => r.id))).orderBy(webhookAttempts.id) : [];
  return rows.map((d) => ({
    id: d.id,
    type: d.type,
    status: d.status,
    attempts: attempts.filter((a) => a.deliveryId === d.id).map((a) => ({ at: a.at.toISOString(), statusCode: a.statusCode, error: shownError(a), durationMs: a.durationMs })),
    lastStatusCode: d.lastStatusCode,
    createdAt: d.createdAt.toISOString(),
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
  }));
}

const ERROR_CLASSES = new Set<string>(["http_3xx", "http_4xx", "http_5xx", "http_other", "timeout", "connect_failed", "url_refused", "owner_disabled", "owner_lacks_access", "no_active_manager"]);

/** Rows written before attempts stored a class may hold a raw error: shown as its class too. */
function shownError(a: { statusCode: number | null; error: string | null }): string | null {
  if (a.error === null || ERROR_CLASSES.has(a.error)) return a.error;
  return deliveryErrorClass({ statusCode: a.statusCode, error: { name: /timeout|timed out/i.test(a.error) ? "TimeoutError" : "Error" } });
}

/** Sends a delivery again (same id: receivers that dedupe see it once), whatever its status. */
export async function replayDelivery(env: Env, db: Database, user: Caller, hookId: string, deliveryId: string): Promise<void> {
  await grantedHook(db, user, hookId);
  const [d] = await db.update(webhookDeliveries).set({ status: "pending", queuedAt: null }).where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.webhookId, hookId))).returning({ id: webhookDeliveries.id });
  if (!d) throw new AppError("NOT_FOUND", "No such delivery");
  await sendDeliveries(env, db, [d.id]);
}

export interface WebhookHappening {
  type: WebhookType;
  eventId: string;
  dedupeKey: string;
  data: Record<string, unknown>;
}

/**
 * The outbox half: one delivery row per matching endpoint, once per `dedupeKey` (a repeated call
 * finds the rows there and returns none). Run it in the transaction of the change it announces, so
 * the change and its webhooks commit together; `sendDeliveries` after the commit, and the cron's
 * sweep (`sweepWebhookOutbox`) for any send that failed or never ran. Endpoints: those of the
 * event, those for every event of the event's organization, and platform admins' global ones.
 */
export async function insertDeliveries(db: Pick<Database, "select" | "insert">, m: WebhookHappening): Promise<string[]> {
  const hooks = await db
    .select({ id: webhooks.id })
    .from(webhooks)
    .where(
      and(
        isNull(webhooks.deletedAt),
        sql`${webhooks.types} ? ${m.type}`,
        or(
          eq(webhooks.eventId, m.eventId),
          and(isNull(webhooks.eventId), sql`${webhooks.orgId} = (select ${events.orgId} from ${events} where ${events.id} = ${m.eventId})`),
          // A global hook: its creator must still be an active platform admin (checked again when sending).
          and(isNull(webhooks.eventId), isNull(webhooks.orgId), sql`exists (select 1 from ${users} u where u.id = ${webhooks.ownerId} and u.role = 'admin' and u.disabled_at is null)`),
        ),
      ),
    );
  if (!hooks.length) return [];
  const created = await db
    .insert(webhookDeliveries)
    .values(hooks.map((h) => ({ webhookId: h.id, dedupeKey: m.dedupeKey, type: m.type, payload: m.data })))
    .onConflictDoNothing()
    .returning({ id: webhookDeliveries.id });
  return created.map((d) => d.id);
}

/** Writes the deliveries of one happening and tries to queue them (a failed send is the sweep's). */
export async function emitWebhook(env: Env, db: Database, m: WebhookHappening): Promise<number> {
  const ids = await insertDeliveries(db, m);
  await sendDeliveries(env, db, ids);
  return ids.length;
}

/**
 * Queues deliveries already written in Postgres, and notes when. Never throws: the work they announce
 * is done, and a delivery that could not be queued stays pending for the cron's sweep.
 */
export async function sendDeliveries(env: Env, db: Database, deliveryIds: string[]): Promise<boolean> {
  if (!deliveryIds.length) return true;
  try {
    await queueDeliveries(env, deliveryIds);
  } catch (e) {
    console.error(JSON.stringify({ level: "error", msg: "webhook deliveries not queued; the cron's sweep sends them", deliveries: deliveryIds.length, error: String(e) }));
    return false;
  }
  await db.update(webhookDeliveries).set({ queuedAt: new Date() }).where(inArray(webhookDeliveries.id, deliveryIds)).catch((e) => {
    // Only the note failed: the sweep may queue them once more (same delivery ids; receivers dedupe).
    console.warn(JSON.stringify({ level: "warn", msg: "webhook deliveries queued but not noted", error: String(e) }));
  });
  return true;
}

async function queueDeliveries(env: Env, deliveryIds: string[]): Promise<void> {
  for (let i = 0; i < deliveryIds.length; i += 100) {
    await env.WEBHOOKS.sendBatch(deliveryIds.slice(i, i + 100).map((deliveryId) => ({ body: { type: "webhook.deliver" as const, deliveryId } })));
  }
}

/** A pending delivery never queued is swept once this old (its own request normally queues it within milliseconds). */
export const OUTBOX_SWEEP_AFTER_MS = 5_000;
/** A queued delivery untouched this long lost its message (the queue retries within 5 minutes): queued again. */
export const OUTBOX_REQUEUE_AFTER_MS = 15 * 60_000;
export const OUTBOX_SWEEP_BATCH = 500;

/**
 * Cron: queues the pending deliveries whose send failed or never ran, oldest first, at most
 * `limit` per run. Claimed with SKIP LOCKED and stamped before the send, so two sweeps never queue
 * the same rows; a failed send clears the stamp again and the next run retries.
 */
export async function sweepWebhookOutbox(env: Env, db: Database, now: Date, limit = OUTBOX_SWEEP_BATCH): Promise<{ queued: number }> {
  const fresh = new Date(now.getTime() - OUTBOX_SWEEP_AFTER_MS).toISOString();
  const stale = new Date(now.getTime() - OUTBOX_REQUEUE_AFTER_MS).toISOString();
  const claimed = await db.execute<{ id: string }>(sql`
    update ${webhookDeliveries} set queued_at = ${now.toISOString()}::timestamptz
    where id in (
      select id from ${webhookDeliveries}
      where status = 'pending' and ((queued_at is null and created_at < ${fresh}::timestamptz) or queued_at < ${stale}::timestamptz)
        -- A deleted endpoint's deliveries stay pending and are never sent: not swept either.
        and webhook_id in (select id from ${webhooks} where deleted_at is null)
      order by created_at limit ${limit} for update skip locked
    )
    returning id`);
  const ids = claimed.rows.map((r) => r.id);
  if (!ids.length) return { queued: 0 };
  try {
    await queueDeliveries(env, ids);
  } catch (e) {
    await db.update(webhookDeliveries).set({ queuedAt: null }).where(and(inArray(webhookDeliveries.id, ids), eq(webhookDeliveries.status, "pending")));
    throw e;
  }
  return { queued: ids.length };
}

/**
 * Why a hook may no longer receive, or null. A global hook answers to its creator: a disabled
 * account, or one no longer a platform admin. An organization's hook is the organization's and
 * keeps working when the member who created it leaves (its deliveries are only ever written for the
 * organization's events), as long as some enabled member may manage its webhooks: a banned
 * organizer's personal organization (its only owner disabled) receives nothing more.
 */
export function ownerLostAccess(
  h: Pick<Hook, "orgId">,
  owner: { role: string; disabledAt: Date | null },
  orgHasActiveManager: boolean,
): "owner_disabled" | "owner_lacks_access" | "no_active_manager" | null {
  if (h.orgId) return orgHasActiveManager ? null : "no_active_manager";
  if (owner.disabledAt) return "owner_disabled";
  return owner.role === "admin" ? null : "owner_lacks_access";
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
  const [row] = await db
    .select({
      d: webhookDeliveries,
      h: webhooks,
      owner: { role: users.role, disabledAt: users.disabledAt },
      orgHasActiveManager: sql<boolean>`exists (select 1 from ${organizationMembers} om join ${users} mu on mu.id = om.user_id
        where om.org_id = ${webhooks.orgId} and mu.disabled_at is null
          and om.role in (${sql.join(PERMISSIONS["webhook.manage"].map((r) => sql`${r}`), sql`, `)}))`,
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(users, eq(users.id, webhooks.ownerId))
    .where(eq(webhookDeliveries.id, deliveryId));
  if (!row || row.d.status !== "pending" || row.h.deletedAt) return { kind: "done" };
  const lost = ownerLostAccess(row.h, row.owner, row.orgHasActiveManager);
  if (lost) {
    // Checked when sending, not only when the row was written: a disabled or demoted platform admin's
    // global hook stops receiving at once, including deliveries already queued or retrying.
    const [skipped] = await db.update(webhookDeliveries).set({ status: "skipped" }).where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, "pending"))).returning({ id: webhookDeliveries.id });
    if (skipped) await db.insert(webhookAttempts).values({ deliveryId, statusCode: null, error: lost, durationMs: 0 });
    console.warn(JSON.stringify({ level: "warn", msg: "webhook delivery skipped", deliveryId, webhookId: row.h.id, reason: lost }));
    return { kind: "done" };
  }
  if (dead) {
    await db.update(webhookDeliveries).set({ status: "failed" }).where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, "pending")));
    console.error(JSON.stringify({ level: "error", msg: "webhook delivery dead-lettered", deliveryId, webhookId: row.h.id, attempts: row.d.attempts }));
    return { kind: "done" };
  }
  const body = JSON.stringify({ id: row.d.id, type: row.d.type, createdAt: row.d.createdAt.toISOString(), data: row.d.payload });
  const started = now();
  let statusCode: number | null = null;
  let error: DeliveryErrorClass | null = null;
  // Checked again at delivery: an endpoint registered under an older, looser rule is never called.
  const refused = refuseWebhookUrl(row.h.url, webhookUrlPolicy(env));
  if (refused) {
    error = "url_refused";
    console.warn(JSON.stringify({ level: "warn", msg: "webhook endpoint refused at delivery", deliveryId, webhookId: row.h.id, reason: refused }));
  } else {
    // Outside the try: a secret that cannot be opened (its key dropped from SECRETS_KEYS) is an
    // operator's error, thrown to the queue and logged, not a receiver's failure.
    const secret = await signingSecret(env, db, row.h);
    try {
      const res = await fetch(row.h.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "Evently-Webhooks/1",
          "evently-delivery": row.d.id,
          "evently-event": row.d.type,
          "evently-signature": await signatureHeader(secret, body, Math.floor(started / 1000)),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      statusCode = res.status;
      await res.body?.cancel();
    } catch (e) {
      // The organizer sees the class; the raw error (which could say what answered on a port) only the logs.
      error = deliveryErrorClass({ error: e });
      console.warn(JSON.stringify({ level: "warn", msg: "webhook attempt failed", deliveryId, webhookId: row.h.id, error: String(e).slice(0, 500) }));
    }
  }
  const delivered = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const [updated] = await db
    .update(webhookDeliveries)
    .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, lastStatusCode: statusCode, queuedAt: new Date(now()), ...(delivered ? { status: "delivered" as const, deliveredAt: new Date(now()) } : refused ? { status: "failed" as const } : {}) })
    .where(eq(webhookDeliveries.id, deliveryId))
    .returning({ attempts: webhookDeliveries.attempts });
  await db.insert(webhookAttempts).values({ deliveryId, statusCode, error: error ?? (delivered ? null : deliveryErrorClass({ statusCode })), durationMs: now() - started });
  return delivered || refused ? { kind: "done" } : { kind: "retry", delaySeconds: webhookRetryDelay(updated.attempts, env) };
}
