/**
 * The live seat map over its WebSocket (`GET /v1/events/:id/live`, docs/inventory.md): keeps the
 * seat statuses current from the snapshot and deltas, asks for a snapshot when it sees a version
 * gap, holds and releases seats over the socket after an `auth` frame, and reconnects with
 * exponential backoff (and jitter) when the socket drops. Requests still waiting when the socket
 * drops are sent again after the reconnect with the same `ref`, which the server answers once.
 * With a token, the socket also carries the user's booking outcomes (`booking` frames):
 * `bookingOutcome(id)` waits for one instead of polling the booking.
 */
import type { components } from "./api";

export type SeatStatus = "available" | "held" | "booked";
export type Availability = components["schemas"]["Availability"];
export type HoldView = components["schemas"]["Hold"];
export type BookingStatus = components["schemas"]["Booking"]["status"];

export type ServerFrame =
  | { type: "snapshot"; version: number; seats?: { id: string; status: SeatStatus }[]; availability: Availability }
  | { type: "delta"; version: number; changes: { id: string; status: SeatStatus }[]; availability: Availability }
  | { type: "error"; code: string; message: string; retryAfterMs?: number }
  | { type: "auth"; ok: true; userId: string; expiresAt: string }
  | { type: "auth"; ok: false; code: string; message?: string }
  | { type: "reply"; ref: string; ok: true; hold?: HoldView }
  | { type: "reply"; ref: string; ok: false; error: { code: string; message: string; details?: unknown } }
  | { type: "booking"; id: string; status: BookingStatus; failureReason?: string }
  | { type: "pong" };

export type ClientFrame =
  | { type: "resync" }
  | { type: "ping" }
  | { type: "auth"; token: string }
  | { type: "hold"; ref: string; seatIds?: string[]; quantity?: number }
  | { type: "release"; ref: string; holdId: string };

export type Reply = Extract<ServerFrame, { type: "reply" }>;
export type BookingFrame = Extract<ServerFrame, { type: "booking" }>;

/** Final `booking` frames kept per socket client, so `bookingOutcome` called after the frame came still gets it. */
const BOOKING_FRAMES_KEPT = 50;

/** The part of the WebSocket interface used here (the browser's, Node 22's global, or the `ws` package's). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "close" | "error" | "message", listener: (event: any) => void): void;
}
export type SocketConstructor = new (url: string) => SocketLike;

export interface LiveSeatMapOptions {
  /** Where the API answers (http or https), e.g. http://127.0.0.1:8787. */
  baseUrl: string;
  eventId: string;
  /** Access token sent in an `auth` frame on every (re)connect; needed for holds. */
  token?: string;
  /** Defaults to the global WebSocket (browsers, Node 22+); on Node 20 pass `ws`'s. */
  WebSocket?: SocketConstructor;
  /** Reconnect delays: the first, the cap (each attempt doubles, with up to 50% jitter). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Called after every snapshot or applied delta. */
  onChange?: (map: LiveSeatMap) => void;
  /** Called with every frame as it arrives (errors, auth answers, replies included). */
  onFrame?: (frame: ServerFrame) => void;
}

const OPEN = 1;

export class LiveSeatMap {
  /** Seat id to status; empty for general admission (see `availability`). */
  readonly seats = new Map<string, SeatStatus>();
  availability: Availability | undefined;
  /** The version of the state held; -1 before the first snapshot. */
  version = -1;
  /** Resyncs asked for because a delta skipped a version. */
  gaps = 0;
  /** Sockets opened after the first (reconnects). */
  reconnects = 0;

  private socket: SocketLike | undefined;
  private closed = false;
  private attempt = 0;
  private awaitingSnapshot = true;
  private refCounter = 0;
  /** Whether this socket's `auth` frame was accepted; requests wait for it when there is a token. */
  private authed = false;
  private readonly pending = new Map<string, { frame: ClientFrame; resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly snapshotWaiters: (() => void)[] = [];
  private authWaiter: ((f: Extract<ServerFrame, { type: "auth" }>) => void) | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly outcomes = new Map<string, BookingFrame>();
  private readonly outcomeWaiters = new Map<string, { resolve: (f: BookingFrame) => void; reject: (e: Error) => void }[]>();

  constructor(private readonly opts: LiveSeatMapOptions) {
    this.connect();
  }

  /** Resolves once a snapshot has been applied (at once if one has). */
  ready(): Promise<void> {
    return this.version >= 0 && !this.awaitingSnapshot ? Promise.resolve() : new Promise((resolve) => this.snapshotWaiters.push(resolve));
  }

  /** Holds seats (reserved seating) or a quantity (general admission) over the socket. */
  hold(what: { seatIds: string[] } | { quantity: number }, ref = this.nextRef()): Promise<Reply> {
    return this.request({ type: "hold", ref, ...what });
  }

  release(holdId: string, ref = this.nextRef()): Promise<Reply> {
    return this.request({ type: "release", ref, holdId });
  }

  /** Sends a new token (renewal before expiry, or a first sign-in) and resolves with the answer. */
  authenticate(token: string): Promise<Extract<ServerFrame, { type: "auth" }>> {
    this.opts.token = token;
    return new Promise((resolve) => {
      this.authWaiter = resolve;
      this.send({ type: "auth", token });
    });
  }

  /**
   * Resolves with the booking's final `booking` frame (confirmed, failed or cancelled) once the
   * server pushes it to this user's socket (a token is needed). The push is a courtesy: a frame sent
   * while the socket was down is not sent again, so after a reconnect also read the booking
   * (`GET /v1/bookings/{id}`, or its server-sent events) if this has not resolved.
   */
  bookingOutcome(bookingId: string): Promise<BookingFrame> {
    if (this.closed) return Promise.reject(new Error("live seat map closed"));
    const known = this.outcomes.get(bookingId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const waiters = this.outcomeWaiters.get(bookingId) ?? [];
      waiters.push({ resolve, reject });
      this.outcomeWaiters.set(bookingId, waiters);
    });
  }

  /** Closes the socket for good: no reconnect; waiting requests and booking outcomes are rejected. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.socket?.close(1000, "done");
    for (const [ref, p] of this.pending) {
      this.pending.delete(ref);
      p.reject(new Error("live seat map closed"));
    }
    for (const waiters of this.outcomeWaiters.values()) for (const w of waiters) w.reject(new Error("live seat map closed"));
    this.outcomeWaiters.clear();
  }

  private nextRef(): string {
    return `c-${Date.now().toString(36)}-${++this.refCounter}`;
  }

  private request(frame: Extract<ClientFrame, { ref: string }>): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error("live seat map closed"));
    return new Promise((resolve, reject) => {
      this.pending.set(frame.ref, { frame, resolve, reject });
      // Before the socket's auth answer, the request waits: the server could take it ahead of the auth.
      if (this.authed || !this.opts.token) this.send(frame);
    });
  }

  /** Sends every request still waiting for its reply (again, after a reconnect: same `ref`, one answer). */
  private flushPending(): void {
    for (const p of this.pending.values()) this.send(p.frame);
  }

  private send(frame: ClientFrame): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame));
    // Otherwise the frame goes out on the next open (auth first, then the waiting requests).
  }

  private connect(): void {
    const Ctor = this.opts.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Ctor) throw new Error("no WebSocket: pass the `ws` package's WebSocket as options.WebSocket");
    const url = `${this.opts.baseUrl.replace(/^http/, "ws").replace(/\/$/, "")}/v1/events/${encodeURIComponent(this.opts.eventId)}/live`;
    const socket = new Ctor(url);
    this.socket = socket;
    this.awaitingSnapshot = true;
    this.authed = false;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      if (this.opts.token) socket.send(JSON.stringify({ type: "auth", token: this.opts.token }));
      else this.flushPending();
    });
    socket.addEventListener("message", (e: { data: unknown }) => this.receive(String(e.data)));
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.closed) return;
      this.socket = undefined;
      const base = this.opts.backoff?.initialMs ?? 250;
      const delay = Math.min(this.opts.backoff?.maxMs ?? 10_000, base * 2 ** this.attempt++) * (1 + Math.random() / 2);
      this.reconnectTimer = setTimeout(() => {
        this.reconnects += 1;
        this.connect();
      }, delay);
    });
    // An error is followed by close, which schedules the reconnect.
    socket.addEventListener("error", () => {});
  }

  private receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    this.opts.onFrame?.(frame);
    switch (frame.type) {
      case "snapshot":
        this.seats.clear();
        for (const s of frame.seats ?? []) this.seats.set(s.id, s.status);
        this.version = frame.version;
        this.availability = frame.availability;
        this.awaitingSnapshot = false;
        this.snapshotWaiters.splice(0).forEach((w) => w());
        this.opts.onChange?.(this);
        break;
      case "delta":
        if (this.awaitingSnapshot || frame.version <= this.version) break;
        if (frame.version !== this.version + 1) {
          // A version was missed: the state is unknown until a snapshot replaces it.
          this.gaps += 1;
          this.awaitingSnapshot = true;
          this.send({ type: "resync" });
          break;
        }
        for (const c of frame.changes) this.seats.set(c.id, c.status);
        this.version = frame.version;
        this.availability = frame.availability;
        this.opts.onChange?.(this);
        break;
      case "error":
        // A resync refused for its rate: ask again once the server allows it.
        if (frame.code === "RATE_LIMITED" && this.awaitingSnapshot) setTimeout(() => this.awaitingSnapshot && this.send({ type: "resync" }), frame.retryAfterMs ?? 1_000);
        break;
      case "auth":
        if (frame.ok && !this.authed) {
          this.authed = true;
          this.flushPending();
        } else if (!frame.ok && !this.authed) {
          // Refused (an expired token, say): waiting requests get their UNAUTHENTICATED replies
          // rather than waiting forever; `authenticate` with a fresh token, then hold again.
          this.flushPending();
        }
        this.authWaiter?.(frame);
        this.authWaiter = undefined;
        break;
      case "reply": {
        const p = this.pending.get(frame.ref);
        this.pending.delete(frame.ref);
        p?.resolve(frame);
        break;
      }
      case "booking": {
        if (frame.status === "pending") break;
        this.outcomes.set(frame.id, frame);
        if (this.outcomes.size > BOOKING_FRAMES_KEPT) this.outcomes.delete(this.outcomes.keys().next().value!);
        for (const w of this.outcomeWaiters.get(frame.id) ?? []) w.resolve(frame);
        this.outcomeWaiters.delete(frame.id);
        break;
      }
    }
  }
}
