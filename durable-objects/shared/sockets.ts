/**
 * Socket helpers every object with hibernatable WebSockets uses (inventory, relays, queue shards):
 * close codes, closing back, the resync allowance and the frames every live socket understands.
 * No `cloudflare:*` imports.
 */

/** Close code for a socket refused because the event's live map is full: RFC 6455 "Try Again Later". */
export const LIVE_FULL_CLOSE_CODE = 1013;
/** A socket gets at most one `resync` snapshot per this many milliseconds. */
export const RESYNC_MIN_INTERVAL_MS = 1_000;


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

export type ClientMessage = { type: "resync" } | { type: "ping" };
const MAX_CLIENT_MESSAGE = 1024;

/** The frames every live socket understands (inventory and relay); other frame types are the caller's. */
export function parseClientMessage(raw: string | ArrayBuffer): { ok: true; value: ClientMessage } | { ok: false; code: "VALIDATION_FAILED"; message: string } {
  const fail = (message: string) => ({ ok: false as const, code: "VALIDATION_FAILED" as const, message });
  if (typeof raw !== "string") return fail("Send JSON text frames");
  if (raw.length > MAX_CLIENT_MESSAGE) return fail("Message too large");
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return fail("Message is not JSON");
  }
  const type = (msg as { type?: unknown } | null)?.type;
  if (type === "resync" || type === "ping") return { ok: true, value: { type } };
  return fail('Unknown message; send {"type":"resync"}');
}
