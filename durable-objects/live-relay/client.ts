// The only door to an event's live seat map sockets: on its inventory object, or on one of its relays.
import type { Env } from "../../src/env";
import { inventory } from "../inventory/client";
import { LIVE_USE_RELAY_HEADER, LIVE_USER_HEADER } from "../inventory/contract";
import { LIVE_RELAY_HEADER, liveLayout, relayIndex, relayName } from "./contract";

/** How long this isolate sends an event's new watchers straight to relays after its inventory said it is full. */
const RELAY_MODE_MS = 5_000;
/** Events remembered in relay mode per isolate; past this the memory starts over (the inventory is asked again). */
const RELAY_MODE_MAX = 1_000;
const relayModeUntil = new Map<string, number>();

/**
 * Opens a live seat map socket of a published event: on its inventory object while it serves fewer
 * than `LIVE_DIRECT_SOCKETS`, else on one of the event's relays, picked by hashing the request id.
 * Answers the object's response (101 with the socket, or its refusal).
 */
export async function openLiveSocket(env: Env, eventId: string, url: string, incoming: Headers, userId: string | null, requestId: string): Promise<Response> {
  const headers = new Headers(incoming);
  headers.delete(LIVE_USER_HEADER);
  headers.delete(LIVE_RELAY_HEADER);
  headers.delete(LIVE_USE_RELAY_HEADER);
  if (userId) headers.set(LIVE_USER_HEADER, userId);
  const { relays } = liveLayout(env);
  const now = Date.now();
  if (relays === 0 || (relayModeUntil.get(eventId) ?? 0) <= now) {
    if (relays > 0) headers.set(LIVE_USE_RELAY_HEADER, String(relays));
    const res = await inventory(env, eventId).openLive(new Request(url, { method: "GET", headers }));
    if (res.headers.get(LIVE_USE_RELAY_HEADER) === null) return res;
    if (relayModeUntil.size >= RELAY_MODE_MAX) relayModeUntil.clear();
    relayModeUntil.set(eventId, now + RELAY_MODE_MS);
    headers.delete(LIVE_USE_RELAY_HEADER);
  }
  const name = relayName(eventId, relayIndex(requestId, relays));
  headers.set(LIVE_RELAY_HEADER, name);
  return env.LIVE_RELAY.get(env.LIVE_RELAY.idFromName(name)).fetch(new Request(url, { method: "GET", headers }));
}
