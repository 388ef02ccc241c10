/**
 * The contract of the LiveRelay objects (one per event and number, `eventId:n`): how an event's
 * watchers are spread over its inventory object and its relays, the relays' names, the header the
 * Worker forwards an upgrade with, and the call the inventory feeds them through. Imports nothing local.
 */

/** Header the Worker sets on an upgrade it forwards to a relay: the relay's name, `eventId:n`. */
export const LIVE_RELAY_HEADER = "x-evently-live-relay";

/** Sockets one event's live map takes in all (inventory and relays) when `LIVE_MAX_SOCKETS` is not set. */
export const LIVE_MAX_SOCKETS_DEFAULT = 5_000;

/** `LIVE_MAX_SOCKETS` as a positive integer, else the default. */
export function liveSocketCap(raw: string | undefined): number {
  return positiveInt(raw, LIVE_MAX_SOCKETS_DEFAULT);
}

/** Sockets the inventory object serves itself before new watchers go to relays. */
export const LIVE_DIRECT_SOCKETS_DEFAULT = 500;
/** Sockets one relay object accepts; more are closed with 1013, like the inventory's own cap. */
export const LIVE_RELAY_SOCKETS_DEFAULT = 2_000;

export interface LiveLayout {
  /** Sockets on the inventory object before the Worker sends new ones to relays. */
  direct: number;
  /** Sockets each relay accepts. */
  perRelay: number;
  /** Relays of one event: enough for `LIVE_MAX_SOCKETS` watchers in all (0: no relays, the inventory takes every socket). */
  relays: number;
}

function positiveInt(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isInteger(n) && n > 0 ? n : fallback;
}

/** `LIVE_DIRECT_SOCKETS`, `LIVE_RELAY_SOCKETS` and `LIVE_MAX_SOCKETS` (the event's total) as a layout. */
export function liveLayout(env: { LIVE_DIRECT_SOCKETS?: string; LIVE_RELAY_SOCKETS?: string; LIVE_MAX_SOCKETS?: string }): LiveLayout {
  const total = positiveInt(env.LIVE_MAX_SOCKETS, LIVE_MAX_SOCKETS_DEFAULT);
  const direct = Math.min(positiveInt(env.LIVE_DIRECT_SOCKETS, LIVE_DIRECT_SOCKETS_DEFAULT), total);
  const perRelay = positiveInt(env.LIVE_RELAY_SOCKETS, LIVE_RELAY_SOCKETS_DEFAULT);
  return { direct, perRelay, relays: Math.ceil((total - direct) / perRelay) };
}

/** A relay object's name: the event id and the relay's number, `eventId:n`. */
export function relayName(eventId: string, n: number): string {
  return `${eventId}:${n}`;
}

/** The event id of a relay name, or null when it is not one. */
export function eventOfRelay(name: string): string | null {
  const i = name.lastIndexOf(":");
  return i > 0 && /^\d+$/.test(name.slice(i + 1)) ? name.slice(0, i) : null;
}

/** The relay (0 … relays-1) a connection goes to: FNV-1a of its key, so connections spread evenly. */
export function relayIndex(key: string, relays: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % relays;
}

/** What the inventory calls on a relay. */
export interface LiveRelayRpc {
  /** One delta batch frame for every socket; answers how many sockets it has left. */
  deliver(version: number, frame: string): Promise<{ sockets: number }>;
  /** A frame for the sockets authenticated as `userId` only (a booking's outcome); answers how many got it. */
  pushToUser(userId: string, frame: string): Promise<{ sockets: number }>;
}
