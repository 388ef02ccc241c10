// The only door to an event's waiting room (docs/onsale.md): the WaitingRoom coordinator and its
// QueueShard objects. Stubs, typed calls, one mapping of their results to AppError, and a short
// per-isolate cache of each room's settings so a join costs one call to its shard only.
import type { QueueShard, ShardResult } from "./shard-object";
import type { WaitingRoom, RoomStats } from "./room-object";
import { shardOf } from "./order";
import { QUEUE_LIVE_USER_HEADER, shardName, type OnSaleInput } from "./contract";
import type { RoomConfigView, RoomResult } from "./room.logic";
import type { VisitorView } from "./shard.logic";
import type { Env } from "../../src/env";
import { AppError } from "../../src/lib/errors";

export type { OnSaleInput, RoomConfigView, RoomStats, VisitorView };

/** How long an isolate trusts a room's settings (shard count); a room changes them only before anyone joined. */
const SETTINGS_TTL_MS = 2_000;
const SETTINGS_MAX = 1_000;
const settingsCache = new Map<string, { at: number; value: Promise<RoomConfigView> }>();

function roomFor(env: Env, eventId: string): DurableObjectStub<WaitingRoom> {
  return env.WAITING_ROOM.get(env.WAITING_ROOM.idFromName(eventId));
}

function shardFor(env: Env, eventId: string, n: number): DurableObjectStub<QueueShard> {
  return env.QUEUE_SHARD.get(env.QUEUE_SHARD.idFromName(shardName(eventId, n)));
}

function unwrap<T>(res: RoomResult<T> | ShardResult<T>): T {
  if (res.ok) return res.value;
  // Only when settings read afresh are stale again at once (the room set up twice in a moment).
  if (res.code === "WRONG_SHARD") throw new AppError("DEPENDENCY_UNAVAILABLE", "The waiting room is being set up again; try again shortly");
  throw new AppError(res.code, res.message);
}

/** The room's settings, through the isolate's cache (a NO_QUEUE answer is not cached). */
function settings(env: Env, eventId: string): Promise<RoomConfigView> {
  const now = Date.now();
  const hit = settingsCache.get(eventId);
  if (hit && now - hit.at < SETTINGS_TTL_MS) return hit.value;
  if (settingsCache.size >= SETTINGS_MAX) settingsCache.clear();
  const value = roomFor(env, eventId)
    .settings()
    .then((r) => unwrap(r as RoomResult<RoomConfigView>));
  settingsCache.set(eventId, { at: now, value });
  value.catch(() => settingsCache.delete(eventId));
  return value;
}

/** The shard holding this user's place, or NO_QUEUE when the event is not in on-sale mode. */
async function openShard(env: Env, eventId: string, userId: string) {
  const s = await settings(env, eventId);
  if (s.status === "off") throw new AppError("NO_QUEUE", "This event has no waiting room open");
  return shardFor(env, eventId, shardOf(userId, s.shards));
}

/**
 * Calls the user's shard; a shard whose settings place the user elsewhere (this isolate's cached
 * shard count is stale: the room was set up again elsewhere within the cache's life) answers
 * WRONG_SHARD, and the call is made once more with settings read afresh from the room.
 */
async function onUserShard<T>(env: Env, eventId: string, userId: string, fn: (shard: DurableObjectStub<QueueShard>) => Promise<ShardResult<T>>): Promise<T> {
  let res = await fn(await openShard(env, eventId, userId));
  if (!res.ok && res.code === "WRONG_SHARD") {
    settingsCache.delete(eventId);
    res = await fn(await openShard(env, eventId, userId));
  }
  return unwrap(res);
}

export function waitingRoom(env: Env, eventId: string) {
  return {
    configure: async (input: OnSaleInput): Promise<RoomConfigView> => {
      settingsCache.delete(eventId);
      return unwrap((await roomFor(env, eventId).configure(eventId, input)) as RoomResult<RoomConfigView>);
    },
    /** Ends on-sale mode; a room that was never configured is fine too (holds are open to all either way). */
    end: async (): Promise<void> => {
      settingsCache.delete(eventId);
      const res = (await roomFor(env, eventId).end(eventId)) as RoomResult<null>;
      if (!res.ok && res.code !== "NO_QUEUE") unwrap(res);
    },
    settings: (): Promise<RoomConfigView> => settings(env, eventId),
    stats: async (): Promise<RoomStats> => unwrap((await roomFor(env, eventId).stats()) as RoomResult<RoomStats>),
    /** A challenge from any shard (anonymous callers are spread at random). */
    challenge: async (): Promise<{ challenge: string; difficulty: number; expiresAt: string }> => {
      const s = await settings(env, eventId);
      if (s.status === "off") throw new AppError("NO_QUEUE", "This event has no waiting room open");
      const res = await shardFor(env, eventId, Math.floor(Math.random() * s.shards)).challenge();
      return unwrap(res as ShardResult<{ challenge: string; difficulty: number; expiresAt: string }>);
    },
    join: async (userId: string, pow: { challenge?: string; nonce?: string }): Promise<{ view: VisitorView; created: boolean }> => {
      return onUserShard(env, eventId, userId, async (shard) => (await shard.join(userId, pow)) as ShardResult<{ view: VisitorView; created: boolean }>);
    },
    me: async (userId: string): Promise<VisitorView> => {
      try {
        return await onUserShard(env, eventId, userId, async (shard) => (await shard.me(userId)) as ShardResult<VisitorView>);
      } catch (e) {
        throw e instanceof AppError && e.code === "NO_QUEUE" ? new AppError("NOT_FOUND", "You are not in this event's queue") : e;
      }
    },
    /** Forwards a WebSocket upgrade to the shard of `userId` (the socket's auth frame must prove it). */
    openLive: async (userId: string, request: Request): Promise<Response> => {
      const headers = new Headers(request.headers);
      headers.set(QUEUE_LIVE_USER_HEADER, userId);
      const forward = async () => (await openShard(env, eventId, userId)).fetch(new Request(request.url, { method: "GET", headers }));
      let res = await forward();
      // No place there: maybe this isolate's shard count is stale (see onUserShard); ask once more afresh.
      if (res.status === 404) {
        settingsCache.delete(eventId);
        res = await forward();
      }
      if (res.status === 101) return res;
      // The shard refused (no place, or no room for more sockets): the API's one error shape.
      const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
      if (res.status === 404) throw new AppError("NOT_FOUND", body.message ?? "You are not in this event's queue");
      if (res.status === 503) throw new AppError("OVERLOADED", body.message ?? "Too many queue sockets", undefined, { "Retry-After": res.headers.get("retry-after") ?? "5" });
      throw new AppError("INTERNAL", `queue shard answered ${res.status}`);
    },
    /** Runs one admission round now (the alarm runs them on its own; tests and the bench call it). */
    tick: async (): Promise<RoomStats | null> => (await roomFor(env, eventId).tick()) as RoomStats | null,
  };
}
