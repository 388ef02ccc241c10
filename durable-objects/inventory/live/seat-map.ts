/**
 * The live seat map over hibernatable WebSockets: accepting sockets (capped per event), the
 * per-version snapshot cache, batched deltas, and client frames dispatched by type. The pure rules
 * are in ../event-inventory.live.ts.
 */
import { ChangeBatch, flushDelayMs, type SeatChange } from "../logic/rules";
import { LIVE_FULL_CLOSE_CODE, parseClientMessage, takeResync } from "../../shared/sockets";
import { LIVE_USE_RELAY_HEADER, LIVE_USER_HEADER, type Availability, type Snapshot } from "../contract";
import { SnapshotCache } from "./snapshot-cache";
import type { InventoryEngine } from "../engine/engine";


export interface SocketAttachment {
  userId: string | null;
  connectedAt: number;
  /** When this socket last got a `resync` snapshot (epoch ms). */
  lastResyncAt?: number | null;
}


/** Fan-out to relay objects (live-relay/object.ts): when to send a watcher to a relay, and what to do with each delta. */
export interface RelayHooks {
  useRelay(sockets: number, request: Request): boolean;
  onDelta(version: number, frame: string): void;
}

/** A handler of one client frame type; other frame types (socket holds) plug in here. */
export type FrameHandler = (ws: WebSocket, frame: { type: string } & Record<string, unknown>) => void | Promise<void>;

export class LiveSeatMap {
  private readonly batch = new ChangeBatch();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private lastFlushAt = 0;
  private readonly cache = new SnapshotCache();
  readonly handlers = new Map<string, FrameHandler>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly engine: InventoryEngine,
    /** Expires due holds before anything is shown. */
    private readonly catchUp: () => void,
    private readonly maxSockets: () => number,
    private readonly relays?: RelayHooks,
  ) {
    this.handlers.set("ping", (ws) => ws.send('{"type":"pong"}'));
    this.handlers.set("resync", (ws) => this.resync(ws));
  }

  snapshot(): Snapshot {
    const { holds } = this.engine;
    if (!holds.config) return { version: 0, seating: "reserved", seats: [], availability: holds.availability() };
    this.catchUp();
    this.flush();
    if (holds.config.seating === "general") return { version: holds.version, seating: "general", availability: holds.availability() };
    const cached = this.cache.get(holds.version, () => this.read());
    return { version: holds.version, seating: "reserved", seats: cached.seats, availability: cached.availability };
  }

  private read(): { seats: ReturnType<InventoryEngine["holds"]["seatMap"]>; availability: Availability } {
    return { seats: this.engine.holds.seatMap(), availability: this.engine.holds.availability() };
  }

  private frame(): string {
    return this.cache.frame(this.engine.holds.version, () => this.read());
  }

  async upgrade(request: Request): Promise<Response> {
    if (!this.engine.config) return Response.json({ code: "NOT_FOUND", message: "No such event inventory" }, { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ code: "VALIDATION_FAILED", message: "Expected a WebSocket upgrade" }, { status: 426 });
    }
    const sockets = this.ctx.getWebSockets().length;
    if (this.relays?.useRelay(sockets, request)) return new Response(null, { status: 204, headers: { [LIVE_USE_RELAY_HEADER]: "1" } });
    const { 0: client, 1: server } = new WebSocketPair();
    if (sockets >= this.maxSockets()) {
      // Refused as a close frame, which a browser can read (a failed upgrade's HTTP status it cannot).
      server.accept();
      server.close(LIVE_FULL_CLOSE_CODE, "This event's live seat map is full, try again later");
      return new Response(null, { status: 101, webSocket: client });
    }
    this.ctx.acceptWebSocket(server);
    const attachment: SocketAttachment = { userId: request.headers.get(LIVE_USER_HEADER) || null, connectedAt: Date.now(), lastResyncAt: null };
    server.serializeAttachment(attachment);
    this.catchUp();
    this.flush();
    server.send(this.frame());
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Parses a client frame and hands it to the handler of its type. */
  async message(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const msg = parseClientMessage(message);
    if (!msg.ok) {
      ws.send(JSON.stringify({ type: "error", code: "BAD_MESSAGE", message: msg.message }));
      return;
    }
    await this.handlers.get(msg.value.type)?.(ws, msg.value);
  }

  private resync(ws: WebSocket): void {
    if (!takeResync(ws)) return;
    this.catchUp();
    this.flush();
    ws.send(this.frame());
  }

  /** Queues changes for the next delta; a quiet object sends at once, a busy one every window. */
  announce(changes: SeatChange[]): void {
    this.batch.add(changes);
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, flushDelayMs(Date.now(), this.lastFlushAt));
  }

  /** Sends pending changes as one delta with the next version. */
  flush(): void {
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (!this.batch.pending) return;
    const changes = this.batch.take();
    const version = this.engine.holds.bumpVersion();
    this.lastFlushAt = Date.now();
    const frame = JSON.stringify({ type: "delta", version, changes, availability: this.engine.holds.availability() });
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // a socket closing right now gets a snapshot when it reconnects
      }
    }
    this.relays?.onDelta(version, frame);
  }

  /** The current version and its snapshot frame (cached per version), for a relay. */
  relayFrame(): { version: number; frame: string } {
    this.catchUp();
    this.flush();
    return { version: this.engine.holds.version, frame: this.frame() };
  }
}
