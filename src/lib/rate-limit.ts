import { createMiddleware } from "hono/factory";
import type { Config } from "../env";
import type { AppEnv } from "../app-env";
import { AppError } from "./errors";

/**
 * One step of the Workers Rate Limiting binding. Its window is the binding's period (10 or 60 s),
 * so that is the honest Retry-After. `RATE_LIMITS=off` (load tests only) skips every limiter.
 */
export async function enforceRateLimit(
  config: Config,
  limiter: RateLimit,
  key: string,
  periodSeconds: number,
  what: string,
): Promise<void> {
  if (config.rateLimits === "off") return;
  const { success } = await limiter.limit({ key });
  if (!success) {
    throw new AppError("RATE_LIMITED", `Too many ${what}; try again in ${periodSeconds} seconds`, { retryAfterSeconds: periodSeconds }, { "Retry-After": String(periodSeconds) });
  }
}

/** The caller's address as Cloudflare saw it; the edge overwrites any value a client sends. */
export function clientIp(header: (name: string) => string | undefined): string {
  return header("cf-connecting-ip") ?? "unknown";
}

/** The caller's address when Cloudflare named one; requests without it (local tools, tests) have none. */
export function knownClientIp(header: (name: string) => string | undefined): string | undefined {
  return header("cf-connecting-ip") || undefined;
}

export const PUBLIC_READ_LIMIT_PERIOD_SECONDS = 10;
export const LIVE_LIMIT_PERIOD_SECONDS = 60;
const PUBLIC_READ = /^\/v1\/(events|venues)(\/[^/]+(\/seats)?)?\/?$/;
const LIVE = /^\/v1\/events\/[^/]+\/live\/?$/;

/**
 * Per client address on the anonymous surface: listings, an event or venue, the seat map, and the
 * live seat map's WebSocket upgrade (limited harder: every socket occupies the event's object).
 * Keyed by CF-Connecting-IP, which the edge always sets; a request without it is not counted,
 * because one shared bucket for every unknown caller would throttle them all together.
 */
export const limitPublicReads = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method === "GET" || c.req.method === "HEAD") {
    const ip = knownClientIp((n) => c.req.header(n));
    if (ip && LIVE.test(c.req.path)) {
      await enforceRateLimit(c.var.config, c.env.LIVE_LIMITER, `live:${ip}`, LIVE_LIMIT_PERIOD_SECONDS, "live seat map connections from this address");
    } else if (ip && PUBLIC_READ.test(c.req.path)) {
      await enforceRateLimit(c.var.config, c.env.PUBLIC_READ_LIMITER, `read:${ip}`, PUBLIC_READ_LIMIT_PERIOD_SECONDS, "requests from this address");
    }
  }
  await next();
});
