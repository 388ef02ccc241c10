/**
 * Pure rules of the live seat map (no `cloudflare:*` imports): how many sockets one event's object
 * takes, how often a socket may ask for a full snapshot, and the per-version snapshot cache.
 */
import type { Availability, SeatSpec, SeatStatus } from "./event-inventory.types";

/** Sockets one event's object accepts when `LIVE_MAX_SOCKETS` is not set. */
export const LIVE_MAX_SOCKETS_DEFAULT = 5_000;
/** Close code for a socket refused because the event's live map is full: RFC 6455 "Try Again Later". */
export const LIVE_FULL_CLOSE_CODE = 1013;
/** A socket gets at most one `resync` snapshot per this many milliseconds. */
export const RESYNC_MIN_INTERVAL_MS = 1_000;

/** `LIVE_MAX_SOCKETS` as a positive integer, else the default. */
export function liveSocketCap(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isInteger(n) && n > 0 ? n : LIVE_MAX_SOCKETS_DEFAULT;
}

export type ResyncDecision = { ok: true } | { ok: false; retryAfterMs: number };

export function decideResync(lastResyncAt: number | null, now: number): ResyncDecision {
  if (lastResyncAt === null) return { ok: true };
  const wait = lastResyncAt + RESYNC_MIN_INTERVAL_MS - now;
  return wait <= 0 ? { ok: true } : { ok: false, retryAfterMs: wait };
}

/**
 * Takes one `resync` from a socket's allowance (one per RESYNC_MIN_INTERVAL_MS, kept in its
 * attachment): false, with an error frame sent, when it is spent. Inventory and relay sockets alike.
 */
export function takeResync(ws: WebSocket, now = Date.now()): boolean {
  const attachment = (ws.deserializeAttachment() ?? {}) as { lastResyncAt?: number | null };
  const allowed = decideResync(attachment.lastResyncAt ?? null, now);
  if (!allowed.ok) {
    ws.send(JSON.stringify({ type: "error", code: "RATE_LIMITED", message: "At most one resync per second", retryAfterMs: allowed.retryAfterMs }));
    return false;
  }
  ws.serializeAttachment({ ...attachment, lastResyncAt: now });
  return true;
}

/** Closes a socket back once its peer closed; 1005/1006 describe a missing close frame and may not be sent back. */
export function closeBack(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code === 1005 || code === 1006 || code < 1000 ? 1000 : code, reason);
  } catch {
    // already closed
  }
}

/** Closes a socket that failed. */
export function closeOnError(ws: WebSocket): void {
  try {
    ws.close(1011, "socket error");
  } catch {
    // already closed
  }
}

export type SeatWithStatus = SeatSpec & { status: SeatStatus };

/**
 * The seat map of one version: read once, then served to every `/seats` call and socket snapshot
 * until the version moves (every seat or counter change bumps it), so a hot event's readers cost
 * no scan of its seats while nothing changes.
 */
export class SnapshotCache {
  private entry: { version: number; seats: SeatWithStatus[] | undefined; availability: Availability; frame?: string } | null = null;

  /** The cached seats and availability of `version`, or those `read` returns (then cached). */
  get(version: number, read: () => { seats: SeatWithStatus[] | undefined; availability: Availability }) {
    if (this.entry?.version !== version) this.entry = { version, ...read() };
    return this.entry;
  }

  /** The socket snapshot frame of `version` (ids and statuses only), built once per version. */
  frame(version: number, read: () => { seats: SeatWithStatus[] | undefined; availability: Availability }): string {
    const e = this.get(version, read);
    e.frame ??= JSON.stringify({
      type: "snapshot",
      version,
      ...(e.seats ? { seats: e.seats.map((s) => ({ id: s.id, status: s.status })) } : {}),
      availability: e.availability,
    });
    return e.frame;
  }

  clear(): void {
    this.entry = null;
  }
}
