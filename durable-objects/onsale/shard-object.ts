import { DurableObject } from "cloudflare:workers";
import { checkAccess } from "../user-sessions/client";
import { verifyAccessToken } from "../../src/auth/tokens";
import { parseConfig, type Env } from "../../src/env";
import { closeBack, closeOnError } from "../shared/sockets";
import { admissionKey, signAdmission } from "./contract";
import { shardOf } from "./order";
import { checkSolution, makeChallenge } from "./pow";
import { ShardEngine, type ShardConfig, type TickOrder, type TickReport, type Visitor, type VisitorView } from "./shard.logic";
import { HEADS_PER_SHARD, tickInterval } from "./room.logic";
import { QUEUE_LIVE_USER_HEADER } from "./contract";

/**
 * `WRONG_SHARD`: under this shard's settings the user's place is on another shard (or this shard is
 * off in the current room): the caller's settings are stale (another isolate's cache, a room set up
 * again with fewer shards). The client refreshes them and asks again; it never reaches a user.
 */
export type ShardResult<T> = { ok: true; value: T } | { ok: false; code: "NO_QUEUE" | "POW_REQUIRED" | "NOT_FOUND" | "WRONG_SHARD"; message: string };

const wrongShard = { ok: false, code: "WRONG_SHARD", message: "This user's place is on another shard of the room" } as const;

const CONFIG = "config";
const OPENED = "opened";
const POW_DIFFICULTY = "powDifficulty";
const MAX_FRAME = 8_192;
/** Queue sockets one shard accepts; beyond, 503 (a place can be polled with `queue/me`). */
export const QUEUE_SOCKETS_PER_SHARD = 10_000;
/** Sockets per visitor: a newer one closes the oldest. */
export const QUEUE_SOCKETS_PER_VISITOR = 2;
/** A socket that has not authenticated by then is closed (at the next push). */
export const QUEUE_SOCKET_AUTH_MS = 10_000;
/** A failed wake of the room is tried again after this long, doubling up to WAKE_RETRY_MAX_MS. */
const WAKE_RETRY_MS = 1_000;
const WAKE_RETRY_MAX_MS = 10_000;

type Row = { user_id: string; seq: number; joined_at: number; early: number; key: number | null; status: string; admitted_at: number | null; expires_at: number | null; token: string | null; admit_tick: number | null };
const toVisitor = (r: Row): Visitor => ({
  userId: r.user_id, seq: r.seq, joinedAt: r.joined_at, early: r.early === 1, key: r.key, status: r.status as Visitor["status"], admittedAt: r.admitted_at, expiresAt: r.expires_at, token: r.token, admitTick: r.admit_tick,
});

/** A uniform [0,1) from the platform's CSPRNG (the opening's draw must not be guessable). */
function secureRandom(): number {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2));
  return (hi * 2 ** 21 + (lo >>> 11)) / 2 ** 53;
}

interface SocketState {
  userId: string | null;
  /** Epoch ms the socket was opened (unauthenticated sockets are closed after QUEUE_SOCKET_AUTH_MS). */
  openedAt?: number;
}

/**
 * One shard of an event's waiting room (docs/onsale.md), named `<eventId>:<n>`: the places of the
 * visitors whose user id hashes here, their sockets, and their admission tokens. A thin shell over
 * ./onsale/shard.logic.ts; the WaitingRoom coordinator drives it with `tick`.
 */
export class QueueShard extends DurableObject<Env> {
  /** Replaced in tests through runInDurableObject. */
  now: () => number = () => Date.now();
  /** Replaced in tests through runInDurableObject (fault injection): wakes the event's WaitingRoom. */
  wakeRoom: () => Promise<void> = () => this.room().wake();
  readonly engine: ShardEngine;
  private powDifficulty = 0;
  /** The last frame each socket was sent, so a tick only sends what changed (lost on hibernation: then sent again). */
  private readonly lastFrame = new WeakMap<WebSocket, string>();
  /** When the room last ordered a tick here or took a wake (0: not since this instance started). */
  private lastContactAt = 0;
  /** The last report said nobody waits here: the room may go to sleep, so a newcomer wakes it. */
  private reportedIdle = true;
  private wakeRetryMs = WAKE_RETRY_MS;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    const sql = ctx.storage.sql;
    // This object's own SQLite schema: version 1, then 2 (admit_tick: the room's tick that admitted).
    sql.exec(`CREATE TABLE IF NOT EXISTS visitors (
      user_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, joined_at INTEGER NOT NULL, early INTEGER NOT NULL,
      key INTEGER, status TEXT NOT NULL, admitted_at INTEGER, expires_at INTEGER, token TEXT)`);
    const columns = sql.exec<{ name: string }>(`PRAGMA table_info(visitors)`).toArray();
    if (!columns.some((c) => c.name === "admit_tick")) sql.exec(`ALTER TABLE visitors ADD COLUMN admit_tick INTEGER`);
    sql.exec(`CREATE INDEX IF NOT EXISTS visitors_admit_tick ON visitors (admit_tick) WHERE admit_tick IS NOT NULL`);
    this.engine = new ShardEngine({
      find: (userId) => {
        const [row] = sql.exec<Row>(`SELECT * FROM visitors WHERE user_id = ?`, userId).toArray();
        return row ? toVisitor(row) : undefined;
      },
      admittedSince: (since) => sql.exec<Row>(`SELECT * FROM visitors WHERE status = 'admitted' AND admitted_at >= ?`, since).toArray().map(toVisitor),
    });
    // Only the waiting are held in memory; the admitted are read back from SQLite when asked for.
    const waiting = sql.exec<Row>(`SELECT * FROM visitors WHERE status = 'waiting'`).toArray().map(toVisitor);
    const lastSeq = sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM visitors`).one().s ?? 0;
    this.engine.load(ctx.storage.kv.get<ShardConfig>(CONFIG) ?? null, ctx.storage.kv.get<boolean>(OPENED) === true, waiting, lastSeq);
    this.powDifficulty = ctx.storage.kv.get<number>(POW_DIFFICULTY) ?? 0;
  }

  private write(v: Visitor): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO visitors (user_id, seq, joined_at, early, key, status, admitted_at, expires_at, token, admit_tick) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET key = excluded.key, status = excluded.status, admitted_at = excluded.admitted_at, expires_at = excluded.expires_at, token = excluded.token, admit_tick = excluded.admit_tick`,
      v.userId, v.seq, v.joinedAt, v.early ? 1 : 0, v.key, v.status, v.admittedAt, v.expiresAt, v.token, v.admitTick ?? null,
    );
  }

  // RPC (the contract with the WaitingRoom and durable-objects/onsale/client.ts)

  /** The room's settings for this shard. Another on-sale (generation) is a new room: the shard starts empty. */
  async configure(config: ShardConfig, powDifficulty: number): Promise<void> {
    const before = this.engine.config;
    if (before && (before.generation ?? 0) !== (config.generation ?? 0)) {
      this.ctx.storage.transactionSync(() => {
        this.ctx.storage.sql.exec(`DELETE FROM visitors`);
        this.ctx.storage.kv.delete(OPENED);
        this.ctx.storage.kv.put(CONFIG, config);
      });
      this.engine.load(config, false, []);
      this.reportedIdle = true;
      // Sockets of the earlier on-sale follow places that are gone.
      this.broadcast({ type: "closed" });
    }
    this.engine.config = config;
    this.powDifficulty = powDifficulty;
    this.ctx.storage.kv.put(CONFIG, config);
    this.ctx.storage.kv.put(POW_DIFFICULTY, powDifficulty);
    if (!config.enabled) this.broadcast({ type: "closed" });
  }

  /** Visitors who ever joined here in this on-sale (the room keeps its shard count once anyone has). */
  async count(): Promise<number> {
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM visitors`).one().n;
  }

  /** A proof-of-work challenge for joining (stateless: signed and expiring). */
  async challenge(): Promise<ShardResult<{ challenge: string; difficulty: number; expiresAt: string }>> {
    const c = this.engine.config;
    if (!c?.enabled) return { ok: false, code: "NO_QUEUE", message: "This event has no waiting room open" };
    const made = await makeChallenge(await admissionKey(this.env), c.eventId, this.now());
    return { ok: true, value: { challenge: made.challenge, difficulty: this.powDifficulty, expiresAt: new Date(made.expiresAt).toISOString() } };
  }

  async join(userId: string, pow: { challenge?: string; nonce?: string }): Promise<ShardResult<{ view: VisitorView; created: boolean }>> {
    const now = this.now();
    const known = this.engine.visitor(userId);
    const config = this.engine.config;
    if (!known && config && shardOf(userId, config.shards) !== config.shard) return wrongShard;
    if (!known && config?.enabled && this.powDifficulty > 0) {
      const solved = await checkSolution(await admissionKey(this.env), config.eventId, userId, this.powDifficulty, pow.challenge, pow.nonce, now);
      if (!solved.ok) return { ok: false, code: "POW_REQUIRED", message: solved.reason };
    }
    const res = this.engine.join(userId, now);
    if (!res.ok) return res;
    if (res.created) {
      this.write(res.visitor);
      // The coordinator stops ticking when nobody waits or shops: a newcomer it may not know of wakes it.
      if (this.reportedIdle || now - this.lastContactAt > 2 * tickInterval(this.env.ONSALE_TICK_MS)) await this.wake();
    }
    return { ok: true, value: { view: this.engine.view(res.visitor, now), created: res.created } };
  }

  async me(userId: string): Promise<ShardResult<VisitorView>> {
    const v = this.engine.visitor(userId);
    const config = this.engine.config;
    if (!v && config && shardOf(userId, config.shards) !== config.shard) return wrongShard;
    if (!v) return { ok: false, code: "NOT_FOUND", message: "You are not in this event's queue" };
    return { ok: true, value: this.engine.view(v, this.now()) };
  }

  /**
   * Wakes the room; a failure is tried again by this shard's alarm (with backoff) until the room
   * ticks here, so a waiting visitor is never left with a room asleep.
   */
  private async wake(): Promise<void> {
    try {
      await this.wakeRoom();
      this.reportedIdle = false;
      this.lastContactAt = this.now();
      this.wakeRetryMs = WAKE_RETRY_MS;
    } catch (e) {
      console.warn(JSON.stringify({ level: "warn", msg: "waking the waiting room failed; retrying", eventId: this.engine.config?.eventId, error: String(e) }));
      await this.ctx.storage.setAlarm(this.now() + this.wakeRetryMs);
      this.wakeRetryMs = Math.min(WAKE_RETRY_MAX_MS, this.wakeRetryMs * 2);
    }
  }

  async alarm(): Promise<void> {
    if (!this.engine.config?.enabled || this.engine.waitingCount === 0) return;
    // The room ordered a tick since the failed wake: it knows of the waiting.
    if (!this.reportedIdle && this.now() - this.lastContactAt <= 2 * tickInterval(this.env.ONSALE_TICK_MS)) return;
    await this.wake();
  }

  async tick(order: TickOrder): Promise<TickReport> {
    const now = this.now();
    const config = this.engine.config;
    if ((config?.generation ?? 0) !== (order.generation ?? 0)) {
      throw new Error(`this queue shard is configured for on-sale ${config?.generation ?? 0}, not ${order.generation ?? 0}`);
    }
    this.lastContactAt = now;
    // Admissions the room has not recorded yet (its object stopped, or an answer was lost).
    const earlier = this.ctx.storage.sql
      .exec<{ t: number; e: number }>(`SELECT admit_tick AS t, expires_at AS e FROM visitors WHERE admit_tick > ?`, order.ackedThrough ?? 0)
      .toArray()
      .map((r): [number, number] => [r.t, r.e]);
    const wasOpened = this.engine.opened;
    const { drawn, toAdmit } = this.engine.takeOrder(order, secureRandom);
    const key = toAdmit.length ? await admissionKey(this.env) : null;
    const signed: { v: Visitor; token: string; expiresAt: number }[] = [];
    for (const v of toAdmit) {
      const expiresAt = this.engine.sessionEnd(now);
      const token = await signAdmission(key!, { userId: v.userId, eventId: this.engine.config!.eventId, expiresAt, jti: crypto.randomUUID(), generation: this.engine.config!.generation ?? 0 });
      signed.push({ v, token, expiresAt });
    }
    this.ctx.storage.transactionSync(() => {
      // Once drawn, never again: a shard woken after the opening must not take later joiners as early.
      if (!wasOpened && this.engine.opened) this.ctx.storage.kv.put(OPENED, true);
      for (const v of drawn) this.write(v);
      for (const s of signed) {
        this.engine.admit(s.v, s.token, order.at ?? now, s.expiresAt, order.seq ?? null);
        this.write(s.v);
      }
    });
    this.push(now, toAdmit);
    const report = this.engine.report(toAdmit, HEADS_PER_SHARD, now);
    this.reportedIdle = report.waiting === 0;
    return earlier.length ? { ...report, earlier } : report;
  }

  private room() {
    return this.env.WAITING_ROOM.get(this.env.WAITING_ROOM.idFromName(this.engine.config!.eventId));
  }

  // Live queue (hibernatable WebSockets): an `auth` frame names the visitor, then the shard pushes.

  /**
   * A socket on a visitor's place: only for someone with a place here (the route names them), at
   * most QUEUE_SOCKETS_PER_VISITOR each (a newer one closes the oldest) and QUEUE_SOCKETS_PER_SHARD
   * in all; it still has to prove the visitor with an `auth` frame within QUEUE_SOCKET_AUTH_MS.
   */
  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return Response.json({ code: "UPGRADE_REQUIRED", message: "Expected a WebSocket upgrade" }, { status: 426 });
    const userId = request.headers.get(QUEUE_LIVE_USER_HEADER) ?? "";
    if (!userId || !this.engine.visitor(userId)) return Response.json({ code: "NOT_FOUND", message: "You are not in this event's queue: join it first" }, { status: 404 });
    if (this.ctx.getWebSockets().length >= QUEUE_SOCKETS_PER_SHARD) {
      return Response.json({ code: "OVERLOADED", message: "Too many queue sockets: follow your place with GET …/queue/me" }, { status: 503, headers: { "Retry-After": "5" } });
    }
    const mine = this.ctx.getWebSockets(userId);
    for (const old of mine.slice(0, Math.max(0, mine.length - QUEUE_SOCKETS_PER_VISITOR + 1))) closeBack(old, 4000, "Replaced by a newer socket of this visitor");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [userId]);
    server.serializeAttachment({ userId: null, openedAt: this.now() } satisfies SocketState);
    return new Response(null, { status: 101, webSocket: client });
  }



  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string" || message.length > MAX_FRAME) return;
    let frame: { type?: unknown; token?: unknown };
    try {
      frame = JSON.parse(message);
    } catch {
      ws.send(JSON.stringify({ type: "error", code: "BAD_MESSAGE", message: "Frames are JSON" }));
      return;
    }
    if (frame?.type !== "auth" || typeof frame.token !== "string") {
      ws.send(JSON.stringify({ type: "error", code: "BAD_MESSAGE", message: 'Send {"type":"auth","token":…}' }));
      return;
    }
    const denied = (message: string) => ws.send(JSON.stringify({ type: "auth", ok: false, code: "UNAUTHENTICATED", message }));
    let userId: string;
    let exp: number;
    try {
      const claims = await verifyAccessToken(this.env, parseConfig(this.env), frame.token);
      const access = await checkAccess(this.env, claims);
      if (!access.ok) return denied(access.message);
      ({ sub: userId, exp } = claims);
    } catch (e) {
      return denied(e instanceof Error ? e.message : "The access token is not valid");
    }
    const config = this.engine.config;
    if (!config || shardOf(userId, config.shards) !== config.shard || !this.ctx.getTags(ws).includes(userId)) return denied("This socket was opened for another user (the `user` of the URL)");
    ws.serializeAttachment({ userId } satisfies SocketState);
    ws.send(JSON.stringify({ type: "auth", ok: true, userId, expiresAt: new Date(exp * 1000).toISOString() }));
    this.lastFrame.delete(ws);
    this.pushTo(ws, userId, this.now());
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeBack(ws, code, reason);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    closeOnError(ws);
  }

  /**
   * Each authenticated socket gets its visitor's frame when it changed; those just admitted first,
   * in admission order (the sockets' own order is when they connected, which the draw ignores).
   */
  private push(now: number, admitted: Visitor[] = []): void {
    const rank = new Map(admitted.map((v, i) => [v.userId, i]));
    const sockets = this.ctx.getWebSockets().flatMap((ws) => {
      const { userId, openedAt } = (ws.deserializeAttachment() ?? { userId: null }) as SocketState;
      // Sockets that never authenticated within QUEUE_SOCKET_AUTH_MS are closed at a tick.
      if (!userId && openedAt !== undefined && now - openedAt > QUEUE_SOCKET_AUTH_MS) closeBack(ws, 4001, "Not authenticated in time");
      return userId ? [{ ws, userId, rank: rank.get(userId) ?? admitted.length }] : [];
    });
    if (rank.size) sockets.sort((a, b) => a.rank - b.rank);
    for (const s of sockets) this.pushTo(s.ws, s.userId, now);
  }

  private pushTo(ws: WebSocket, userId: string, now: number): void {
    const v = this.engine.visitor(userId);
    if (!v) return;
    const frame = JSON.stringify(toFrame(this.engine.view(v, now)));
    if (this.lastFrame.get(ws) === frame) return;
    this.lastFrame.set(ws, frame);
    try {
      ws.send(frame);
    } catch {
      // closing; the client reconnects and authenticates again
    }
  }

  private broadcast(frame: object): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {
        // closing
      }
    }
  }
}

/** The socket frames of API.md "On-sale mode". */
export function toFrame(view: VisitorView): object {
  switch (view.status) {
    case "waiting":
      return { type: "position", position: view.position, estimatedWaitSeconds: view.estimatedWaitSeconds };
    case "admitted":
      return { type: "admitted", admission: view.admission };
    case "sold_out":
      return { type: "sold_out", ...(view.waitlist ? { waitlist: view.waitlist } : {}) };
    case "expired":
      return { type: "expired" };
  }
}
