import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";

/** The most a public catalogue answer may lag behind Postgres (the Cache API caches per location). */
export const EDGE_TTL_SECONDS = 5;

/** The cache key of a URL: query parameters sorted and empty ones dropped, so equal queries share an entry. */
export function cacheKey(url: string): string {
  const u = new URL(url);
  const params = [...u.searchParams.entries()].filter(([, v]) => v !== "").sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  u.search = new URLSearchParams(params).toString();
  u.hash = "";
  return u.toString();
}

export async function etagOf(body: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  let hex = "";
  for (const b of digest.subarray(0, 16)) hex += b.toString(16).padStart(2, "0");
  return `"${hex}"`;
}

/** RFC 9110 If-None-Match: `*` or a list of (possibly weak) tags, compared weakly. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => strip(t) === strip(etag));
}

// Clients revalidate every time (a 304 is cheap); only our edge keeps a copy, so the bound holds end to end.
const CLIENT_CACHE_CONTROL = "public, no-cache";

function answer(c: Context<AppEnv>, body: ArrayBuffer, headers: Headers, cacheStatus: "HIT" | "MISS"): Response {
  const etag = headers.get("etag")!;
  const out: Record<string, string> = { ETag: etag, "Cache-Control": CLIENT_CACHE_CONTROL, "X-Cache": cacheStatus, Vary: "Authorization" };
  if (matchesIfNoneMatch(c.req.header("if-none-match"), etag)) return c.body(null, 304, out);
  return c.body(body, 200, { ...out, "Content-Type": headers.get("content-type") ?? "application/json" });
}

/**
 * For public GETs: anonymous requests are answered from the location's cache for at most
 * EDGE_TTL_SECONDS, every answer carries an ETag, and `If-None-Match` gets 304. Requests with an
 * Authorization header may see owner-only data, so they bypass the cache and are marked private.
 */
export const edgeCached = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.header("authorization")) {
    await next();
    c.header("Cache-Control", "private, no-store");
    c.header("Vary", "Authorization");
    return;
  }
  const key = cacheKey(c.req.url);
  const cache = caches.default;
  const hit = await cache.match(key);
  if (hit) return answer(c, await hit.arrayBuffer(), hit.headers, "HIT");

  await next();
  if (c.res.status !== 200) return;
  const body = await c.res.clone().arrayBuffer();
  const headers = new Headers({ "Content-Type": c.res.headers.get("content-type") ?? "application/json", ETag: await etagOf(body), "Cache-Control": `public, max-age=${EDGE_TTL_SECONDS}` });
  // Awaited, not waitUntil: the next request in this location must find it (and tests rely on that order).
  await cache.put(key, new Response(body, { status: 200, headers }));
  c.res = answer(c, body, headers, "MISS");
});

/** Drops what a write made stale in this location; other locations age out within EDGE_TTL_SECONDS. */
export async function purge(c: Context<AppEnv>, paths: string[]): Promise<void> {
  const origin = new URL(c.req.url).origin;
  await Promise.all(paths.map((p) => caches.default.delete(cacheKey(origin + p))));
}
