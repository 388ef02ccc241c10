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
