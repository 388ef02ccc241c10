import { z } from "zod";
import { checkAccess } from "../user-sessions/client";
import { verifyAccessToken, type Role } from "../../src/auth/tokens";
import { parseConfig, type Config, type Env } from "../../src/env";
import { writeMetric } from "../../src/lib/metrics";
import type { InventoryResult, HoldRequest, HoldView } from "../inventory/contract";
import type { AccessDecision } from "../user-sessions/contract";

/**
 * Holds over the live seat-map socket (API.md "Holds over the live socket"). A socket starts
 * anonymous; an `auth` frame verifies the access token with the HTTP path's own code and keeps the
 * caller in the socket's attachment (it survives hibernation). `hold` and `release` frames call the
 * same object methods the RPC path calls, so nothing is decided twice; this module only adds the
 * socket's authority and the `ref` replay table.
 */

/** How long a session's revocation answer is trusted: a logout ends a socket's authority within it. */
export const AUTHORITY_CACHE_MS = 1_000;
/** Replies kept per user; beyond this the oldest are forgotten (storage stays bounded under any rate). */
export const MAX_REFS_PER_USER = 256;
/** Replies this object also keeps in memory (so a new ref costs no read); past it, reads go to SQLite again. */
const MEMORY_REFS_MAX = 100_000;
const MAX_FRAME = 8_192;
const SESSION_CACHE_MAX = 10_000;
/** `ref` doubles as the hold's idempotency key; the prefix keeps it apart from HTTP Idempotency-Keys. */
const REF_KEY_PREFIX = "live:";

const Ref = z.string().min(1).max(64);
// Hold contents are checked by the object's parseHoldRequest, exactly as for HTTP; here only the shape.
const LiveFrame = z.discriminatedUnion("type", [
  z.object({ type: z.literal("auth"), token: z.string().min(1).max(4_096) }),
  z.object({
    type: z.literal("hold"),
    ref: Ref,
    seatIds: z.array(z.string().max(64)).max(50).optional(),
    quantity: z.number().optional(),
    seats: z.array(z.object({ id: z.string().max(64), ticketTypeId: z.string().max(64) })).max(50).optional(),
    items: z.array(z.object({ ticketTypeId: z.string().max(64), quantity: z.number() })).max(20).optional(),
    voucher: z.string().max(64).optional(),
    admission: z.string().max(2_048).optional(),
  }),
  z.object({ type: z.literal("release"), ref: Ref, holdId: z.string().min(1).max(200) }),
]);
type LiveFrame = z.infer<typeof LiveFrame>;
const LIVE_TYPES = new Set(["auth", "hold", "release"]);

const HOLD_FIELDS = ["seatIds", "quantity", "seats", "items", "voucher"] as const;

/** The hold body inside a `hold` frame: the same fields as POST /v1/events/:id/holds. */
function holdRequestOf(frame: Extract<LiveFrame, { type: "hold" }>): HoldRequest {
  return Object.fromEntries(HOLD_FIELDS.filter((k) => frame[k] !== undefined).map((k) => [k, frame[k]])) as HoldRequest;
}

function requestedQuantity(f: Extract<LiveFrame, { type: "hold" }>): number {
  if (f.items) return f.items.reduce((n, i) => n + (Number.isFinite(i.quantity) ? i.quantity : 0), 0);
  return f.seatIds?.length ?? f.seats?.length ?? f.quantity ?? 0;
}

/** What an authenticated socket keeps in its attachment, beside the object's own fields. */
export interface SocketAuthority {
  userId: string;
  role: Role;
  sid: string;
  /** Issued-at and expiry of the access token, epoch seconds. */
  iat: number;
  exp: number;
}

interface ReplyError {
  code: string;
  message: string;
  details?: unknown;
}
type Reply = { type: "reply"; ref: string; ok: true; hold?: HoldView } | { type: "reply"; ref: string; ok: false; error: ReplyError };

/** The object's side: its storage, clock and the same methods its RPC callers use. */
export interface LiveHoldsHost {
  env: Env;
  sql: SqlStorage;
  now(): number;
  eventId(): string;
  holdTtlMs(): number;
  /** `admission`: the waiting room's token, needed while the event is on sale (docs/onsale.md). */
  hold(userId: string, req: HoldRequest, idempotencyKey: string | null, admission: string | null): Promise<InventoryResult<HoldView>>;
  release(holdId: string, byUserId: string | null): Promise<InventoryResult<HoldView>>;
}

export class LiveHolds {
  private config: Config | null = null;
  /** Per session: when its revocation state was last asked and the (possibly pending) answer. */
  private readonly sessions = new Map<string, { at: number; decision: Promise<AccessDecision> }>();
  private lastPurgeAt = 0;
  /**
   * Every reply this instance stored, by user and ref (written through to `live_refs` as well): a
   * ref not here was never answered by this instance, so SQLite is asked only while replies stored
   * before it started (or dropped from here) may still be current: until `coldUntil`.
   */
  private readonly replies = new Map<string, { reply: string; expiresAt: number }>();
  /** Per user, the keys of `replies` in the order they were stored (for the per-user cap). */
  private readonly refsPerUser = new Map<string, string[]>();
  private coldUntil: number | null = null;

  constructor(private readonly host: LiveHoldsHost) {}

  /** Answers `auth`, `hold` and `release` frames; false for any other frame (the object's own). */
  async handle(ws: WebSocket, message: string | ArrayBuffer): Promise<boolean> {
    if (typeof message !== "string" || message.length > MAX_FRAME) return false;
    let raw: unknown;
    try {
      raw = JSON.parse(message);
    } catch {
      return false;
    }
    const type = (raw as { type?: unknown } | null)?.type;
    if (typeof type !== "string" || !LIVE_TYPES.has(type)) return false;
    const parsed = LiveFrame.safeParse(raw);
    if (!parsed.success) {
      const ref = (raw as { ref?: unknown }).ref;
      const message = parsed.error.issues.map((i) => `${i.path.join(".") || "frame"}: ${i.message}`).join("; ");
      if (type === "auth") send(ws, { type: "auth", ok: false, code: "UNAUTHENTICATED", message });
      else if (typeof ref === "string" && Ref.safeParse(ref).success) send(ws, { type: "reply", ref, ok: false, error: { code: "VALIDATION_FAILED", message } });
      else send(ws, { type: "error", code: "BAD_MESSAGE", message });
      return true;
    }
    const frame = parsed.data;
    if (frame.type === "auth") await this.authenticate(ws, frame.token);
    else sendText(ws, await this.request(ws, frame));
    return true;
  }

  private async authenticate(ws: WebSocket, token: string): Promise<void> {
    let authority: SocketAuthority | null = null;
    let message = "The access token is not valid";
    try {
      const claims = await verifyAccessToken(this.host.env, this.configOf(), token);
      const access = await this.askSessions({ userId: claims.sub, role: claims.role, sid: claims.sid, iat: claims.iat, exp: claims.exp }, true);
      if (access.ok) authority = { userId: claims.sub, role: claims.role, sid: claims.sid, iat: claims.iat, exp: claims.exp };
      else message = access.message;
    } catch (e) {
      if (e instanceof Error && (e as { code?: unknown }).code === "UNAUTHENTICATED") message = e.message;
      else console.warn(JSON.stringify({ level: "warn", msg: "socket auth failed", eventId: this.host.eventId(), error: String(e) }));
    }
    // Read after the awaits: a resync in the meantime may have written the attachment.
    const attachment = (ws.deserializeAttachment() ?? {}) as Record<string, unknown>;
    // A failed renewal ends the old authority too: the client asked to be someone it could not prove.
    ws.serializeAttachment({ ...attachment, auth: authority });
    if (authority) send(ws, { type: "auth", ok: true, userId: authority.userId, expiresAt: new Date(authority.exp * 1000).toISOString() });
    else send(ws, { type: "auth", ok: false, code: "UNAUTHENTICATED", message });
  }

  /** The reply frame as sent: a stored reply goes out as the text it was stored as (written once, never parsed back). */
  private async request(ws: WebSocket, frame: Exclude<LiveFrame, { type: "auth" }>): Promise<string> {
    const denied = (error: ReplyError): string => JSON.stringify({ type: "reply", ref: frame.ref, ok: false, error } satisfies Reply);
    const auth = ((ws.deserializeAttachment() ?? {}) as { auth?: SocketAuthority | null }).auth ?? null;
    if (!auth) return denied({ code: "UNAUTHENTICATED", message: 'Authenticate first: {"type":"auth","token":…}' });
    if (this.host.now() >= auth.exp * 1000) return denied({ code: "UNAUTHENTICATED", message: "The access token has expired; send auth again" });
    let access: AccessDecision;
    try {
      access = await this.askSessions(auth, false);
    } catch {
      return denied({ code: "DEPENDENCY_UNAVAILABLE", message: "Could not check the session, retry shortly" });
    }
    if (!access.ok) return denied({ code: "UNAUTHENTICATED", message: access.message });
    if (frame.type === "hold" && this.configOf().rateLimits !== "off") {
      // The HTTP path's own limiter and key: a socket is no way around it.
      const { success } = await this.host.env.HOLD_LIMITER.limit({ key: `hold:${auth.userId}` });
      if (!success) return denied({ code: "RATE_LIMITED", message: "Too many hold requests, slow down" });
    }
    // From here to recording the reply nothing awaits anything but already-settled object methods,
    // so two frames with the same ref cannot both be decided.
    const now = this.host.now();
    const seen = this.seen(auth.userId, frame.ref, now);
    if (seen) return seen;
    const reply = frame.type === "hold" ? await this.hold(auth.userId, frame) : await this.release(auth.userId, frame);
    return this.remember(auth.userId, frame.ref, reply, now);
  }

  /**
   * Sends `frame` to those of `sockets` authenticated as `userId` whose authority still stands
   * (token not expired, session not ended: the same check as a `hold` frame's), and answers how
   * many got it. The user comes from the attachment, so it works on sockets woken from hibernation.
   * A session check that fails sends nothing: the frame is a courtesy, the client can read the booking.
   */
  async sendToUser(sockets: WebSocket[], userId: string, frame: string): Promise<number> {
    const now = this.host.now();
    const mine = sockets
      .map((ws) => ({ ws, auth: ((ws.deserializeAttachment() ?? {}) as { auth?: SocketAuthority | null }).auth ?? null }))
      .filter((s): s is { ws: WebSocket; auth: SocketAuthority } => s.auth?.userId === userId && now < s.auth.exp * 1000);
    const sent = await Promise.all(
      mine.map(async ({ ws, auth }) => {
        const access = await this.askSessions(auth, false).catch(() => null);
        if (!access?.ok) return false;
        return sendText(ws, frame);
      }),
    );
    return sent.filter(Boolean).length;
  }

  /** The stored reply to this user's ref, if still kept: from memory, else from SQLite while older replies may be current. */
  private seen(userId: string, ref: string, now: number): string | null {
    const mem = this.replies.get(`${userId}\u0000${ref}`);
    if (mem && mem.expiresAt > now) return mem.reply;
    this.coldUntil ??= Number(this.host.sql.exec(`SELECT COALESCE(MAX(expires_at), 0) AS t FROM live_refs`).one().t);
    if (now >= this.coldUntil) return null;
    const row = this.host.sql.exec(`SELECT reply FROM live_refs WHERE user_id = ? AND ref = ? AND expires_at > ?`, userId, ref, now).toArray()[0];
    return row ? (row.reply as string) : null;
  }

  private async hold(userId: string, frame: Extract<LiveFrame, { type: "hold" }>): Promise<Reply> {
    // Passed on as sent (two kinds or none too): the object answers VALIDATION_FAILED as it does for HTTP.
    const req = holdRequestOf(frame);
    const started = Date.now();
    const res = await this.host.hold(userId, req, REF_KEY_PREFIX + frame.ref, frame.admission ?? null);
    const eventId = this.host.eventId();
    const latencyMs = Date.now() - started;
    if (!res.ok) {
      writeMetric(this.host.env, { kind: "hold", eventId, outcome: res.code, action: "created", latencyMs, quantity: requestedQuantity(frame) });
      return { type: "reply", ref: frame.ref, ok: false, error: replyError(res) };
    }
    writeMetric(this.host.env, { kind: "hold", eventId, outcome: "ok", action: "created", latencyMs, quantity: res.value.quantity, amountCents: res.value.totalCents });
    return { type: "reply", ref: frame.ref, ok: true, hold: res.value };
  }

  private async release(userId: string, frame: Extract<LiveFrame, { type: "release" }>): Promise<Reply> {
    const started = Date.now();
    const res = await this.host.release(frame.holdId, userId);
    const eventId = this.host.eventId();
    const latencyMs = Date.now() - started;
    if (!res.ok) {
      writeMetric(this.host.env, { kind: "hold", eventId, outcome: res.code, action: "released", latencyMs });
      return { type: "reply", ref: frame.ref, ok: false, error: replyError(res) };
    }
    writeMetric(this.host.env, { kind: "hold", eventId, outcome: "ok", action: "released", latencyMs, quantity: res.value.quantity, amountCents: res.value.totalCents });
    return { type: "reply", ref: frame.ref, ok: true };
  }

  /** Replies are kept for the hold TTL (a ref older than any hold it made means nothing), at most MAX_REFS_PER_USER per user. */
  private remember(userId: string, ref: string, reply: Reply, now: number): string {
    const sql = this.host.sql;
    const text = JSON.stringify(reply);
    const expiresAt = now + this.host.holdTtlMs();
    sql.exec(
      `INSERT INTO live_refs (user_id, ref, reply, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, ref) DO UPDATE SET reply = excluded.reply, created_at = excluded.created_at, expires_at = excluded.expires_at`,
      userId, ref, text, now, expiresAt,
    );
    if (this.replies.size >= MEMORY_REFS_MAX) this.forgetInMemory(now);
    const key = `${userId}\u0000${ref}`;
    this.replies.set(key, { reply: text, expiresAt });
    const mine = this.refsPerUser.get(userId) ?? [];
    mine.push(key);
    this.refsPerUser.set(userId, mine);
    // Trimmed in batches: a user past the cap by a quarter keeps only their newest MAX_REFS_PER_USER.
    if (mine.length > MAX_REFS_PER_USER * 1.25) {
      sql.exec(
        `DELETE FROM live_refs WHERE user_id = ? AND ref IN (SELECT ref FROM live_refs WHERE user_id = ? ORDER BY created_at DESC, ref LIMIT -1 OFFSET ?)`,
        userId, userId, MAX_REFS_PER_USER,
      );
      for (const old of mine.splice(0, mine.length - MAX_REFS_PER_USER)) this.replies.delete(old);
    }
    if (now - this.lastPurgeAt >= 1_000) {
      this.lastPurgeAt = now;
      sql.exec(`DELETE FROM live_refs WHERE expires_at <= ?`, now);
      for (const [k, r] of this.replies) if (r.expiresAt <= now) this.replies.delete(k);
      for (const [user, keys] of this.refsPerUser) {
        const kept = keys.filter((k) => this.replies.has(k));
        if (kept.length === 0) this.refsPerUser.delete(user);
        else if (kept.length < keys.length) this.refsPerUser.set(user, kept);
      }
    }
    return text;
  }

  /** Memory is full: drop what expired; if that is not enough, drop it all and read SQLite until the last one would have expired. */
  private forgetInMemory(now: number): void {
    let latest = 0;
    for (const [key, r] of this.replies) {
      if (r.expiresAt <= now) this.replies.delete(key);
      else latest = Math.max(latest, r.expiresAt);
    }
    if (this.replies.size < MEMORY_REFS_MAX / 2) return;
    this.replies.clear();
    this.refsPerUser.clear();
    this.coldUntil = Math.max(this.coldUntil ?? 0, latest);
  }

  /**
   * The UserSessions object decides whether a session still stands (logout, disable, role change),
   * as for every HTTP request; a socket asks it at most once per AUTHORITY_CACHE_MS per session.
   */
  private askSessions(auth: SocketAuthority, fresh: boolean): Promise<AccessDecision> {
    const now = Date.now();
    const key = `${auth.userId}\u0000${auth.sid}\u0000${auth.iat}\u0000${auth.role}`;
    const cached = this.sessions.get(key);
    if (!fresh && cached && now - cached.at < AUTHORITY_CACHE_MS) return cached.decision;
    if (this.sessions.size >= SESSION_CACHE_MAX) this.sessions.clear();
    const decision = checkAccess(this.host.env, { sub: auth.userId, role: auth.role, sid: auth.sid, iat: auth.iat, exp: auth.exp, jti: "" });
    const entry = { at: now, decision };
    this.sessions.set(key, entry);
    // A failed check is not an answer: the next frame asks again.
    decision.catch(() => {
      if (this.sessions.get(key) === entry) this.sessions.delete(key);
    });
    return decision;
  }

  private configOf(): Config {
    return (this.config ??= parseConfig(this.host.env));
  }
}

/** The object's failures in the API's codes, as the HTTP route maps them. */
function replyError(res: { code: string; message: string; details?: unknown }): ReplyError {
  if (res.code === "NOT_INITIALIZED") return { code: "NOT_FOUND", message: "No such event on sale" };
  return { code: res.code, message: res.message, ...(res.details === undefined ? {} : { details: res.details }) };
}

function send(ws: WebSocket, frame: object): void {
  sendText(ws, JSON.stringify(frame));
}

/** False when the socket is closing (a request's client resends its ref on its next socket). */
function sendText(ws: WebSocket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch {
    return false;
  }
}
