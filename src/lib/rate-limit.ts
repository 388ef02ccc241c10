import type { Config } from "../env";
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
