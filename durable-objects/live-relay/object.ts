import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";
import { inventoryFor, type InventoryStub } from "../inventory/client";
import { LIVE_USER_HEADER, type InventoryResult } from "../inventory/contract";
import { LIVE_FULL_CLOSE_CODE, closeBack, closeOnError, parseClientMessage, takeResync } from "../shared/sockets";
import { LiveHolds } from "../shared/socket-holds";
import { LIVE_RELAY_HEADER, eventOfRelay, liveLayout, type LiveRelayRpc } from "./contract";
import { decideDelivery } from "./logic";

interface RelayAttachment {
  userId: string | null;
  connectedAt: number;
  lastResyncAt?: number | null;
}

/**
 * Serves a share of one event's live seat map watchers (Cloudflare's fan-out pattern), so the
 * event's inventory object spends its one thread on holds instead of on thousands of socket sends:
 * the inventory calls `deliver` once per delta batch, the relay sends that frame to its sockets.
 * Clients see the same frames as on the inventory (snapshot, delta, error, pong). Snapshots come
 * from the inventory, cached here per version; a relay that sees a gap in the versions fetches a
 * snapshot and sends it to every socket, so no client misses a change.
 */
export class LiveRelay extends DurableObject<Env> implements LiveRelayRpc {
  /** Sockets this relay accepts (`LIVE_RELAY_SOCKETS`); replaced in tests through runInDurableObject. */
  liveMaxSockets: number;
  private name: string | null;
  /** The version the sockets have seen last; stored, so a relay woken from hibernation goes on from it. */
  private version: number | null;
  private snapshot: { version: number; frame: string } | null = null;
  /** `auth`, `hold` and `release` frames: the socket's authority is checked here, the inventory decides. */
  private readonly liveHolds: LiveHolds;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.liveMaxSockets = liveLayout(env).perRelay;
    this.name = ctx.storage.kv.get<string>("name") ?? null;
    this.version = ctx.storage.kv.get<number>("version") ?? null;
    // The same replay table as the inventory's (inventory/store/schema.sql.ts), for the refs of this relay's sockets.
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS live_refs (user_id TEXT NOT NULL, ref TEXT NOT NULL, reply TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (user_id, ref)) WITHOUT ROWID;
       CREATE INDEX IF NOT EXISTS live_refs_expiry_idx ON live_refs (expires_at);
       CREATE INDEX IF NOT EXISTS live_refs_user_age_idx ON live_refs (user_id, created_at)`,
    );
    this.liveHolds = new LiveHolds({
      env,
      sql: ctx.storage.sql,
      now: () => Date.now(),
      eventId: () => (this.name === null ? "" : (eventOfRelay(this.name) ?? "")),
      // The event's own hold TTL lives in the inventory; refs are kept for the default one.
      holdTtlMs: () => RELAY_REF_TTL_MS,
      // A ref is also the hold's idempotency key in the inventory, so a repeat decided on another relay still finds the same hold.
      // The admission token travels with the hold: during an on-sale the inventory checks it (docs/onsale.md).
      hold: async (userId, req, key, admission) => this.inventory()?.hold(userId, req, key, admission) ?? notFound(),
      release: async (holdId, userId) => this.inventory()?.release(holdId, userId) ?? notFound(),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  async fetch(request: Request): Promise<Response> {
    const name = request.headers.get(LIVE_RELAY_HEADER);
    if (!name || eventOfRelay(name) === null) return Response.json({ code: "NOT_FOUND", message: "No such relay" }, { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ code: "VALIDATION_FAILED", message: "Expected a WebSocket upgrade" }, { status: 426 });
    }
    if (this.name !== name) {
      this.name = name;
      this.ctx.storage.kv.put("name", name);
    }
    const { 0: client, 1: server } = new WebSocketPair();
    if (this.ctx.getWebSockets().length >= this.liveMaxSockets) {
      server.accept();
      server.close(LIVE_FULL_CLOSE_CODE, "This event's live seat map is full, try again later");
      return new Response(null, { status: 101, webSocket: client });
    }
    const frame = await this.currentSnapshot();
    if (frame === null) return Response.json({ code: "NOT_FOUND", message: "No such event inventory" }, { status: 404 });
    // Accepted only now, in the same turn as its snapshot is sent: no delta can reach it first.
    this.ctx.acceptWebSocket(server);
    const attachment: RelayAttachment = { userId: request.headers.get(LIVE_USER_HEADER) || null, connectedAt: Date.now(), lastResyncAt: null };
    server.serializeAttachment(attachment);
    server.send(frame);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** One delta batch from the inventory; answers how many sockets this relay still serves (0: unregister it). */
  async deliver(version: number, frame: string): Promise<{ sockets: number }> {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return { sockets: 0 };
    const d = decideDelivery(this.version, version);
    if (d === "skip") return { sockets: sockets.length };
    if (d === "resync") {
      const snapshot = await this.currentSnapshot();
      if (snapshot !== null) for (const ws of this.ctx.getWebSockets()) trySend(ws, snapshot);
      return { sockets: this.ctx.getWebSockets().length };
    }
    this.setVersion(version);
    for (const ws of sockets) trySend(ws, frame);
    return { sockets: sockets.length };
  }

  /** A booking's outcome for one user's sockets here (the inventory's `pushBooking`). */
  async pushToUser(userId: string, frame: string): Promise<{ sockets: number }> {
    return { sockets: await this.liveHolds.sendToUser(this.ctx.getWebSockets(), userId, frame) };
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (await this.liveHolds.handle(ws, message)) return;
    const msg = parseClientMessage(message);
    if (!msg.ok) {
      ws.send(JSON.stringify({ type: "error", code: "BAD_MESSAGE", message: msg.message }));
      return;
    }
    if (msg.value.type === "ping") {
      ws.send('{"type":"pong"}');
      return;
    }
    // A relay only passes the seat map on: any other request a client may send belongs to the inventory.
    if (msg.value.type !== "resync") {
      ws.send(JSON.stringify({ type: "error", code: "BAD_MESSAGE", message: 'Unknown message; send {"type":"resync"}' }));
      return;
    }
    if (!takeResync(ws)) return;
    const frame = await this.currentSnapshot();
    if (frame !== null) trySend(ws, frame);
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeBack(ws, code, reason);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    closeOnError(ws);
  }

  /**
   * The snapshot frame of the version this relay's sockets are at: the cached one, else fetched
   * from the inventory (which registers this relay for the deltas after it). Other calls wait
   * meanwhile, so a delta that arrives during the fetch is judged against the new version.
   */
  private async currentSnapshot(): Promise<string | null> {
    if (this.snapshot !== null && this.snapshot.version === this.version) return this.snapshot.frame;
    const inventory = this.inventory();
    if (inventory === null) return null;
    return this.ctx.blockConcurrencyWhile(async () => {
      if (this.snapshot !== null && this.snapshot.version === this.version) return this.snapshot.frame;
      const res = await inventory.relaySnapshot(this.name!);
      if (!res.ok) return null;
      this.snapshot = res.value;
      this.setVersion(res.value.version);
      return res.value.frame;
    });
  }

  private inventory(): InventoryStub | null {
    const eventId = this.name === null ? null : eventOfRelay(this.name);
    return eventId === null ? null : inventoryFor(this.env, eventId);
  }

  private setVersion(version: number): void {
    this.version = version;
    this.ctx.storage.kv.put("version", version);
  }
}

const RELAY_REF_TTL_MS = 600_000;

function notFound(): InventoryResult<never> {
  return { ok: false, code: "NOT_INITIALIZED", message: "This event has no inventory (not published)" };
}

function trySend(ws: WebSocket, frame: string): void {
  try {
    ws.send(frame);
  } catch {
    // a socket closing right now gets a snapshot when it reconnects
  }
}
