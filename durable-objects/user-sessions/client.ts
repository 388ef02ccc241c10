import type { AccessDecision, StatusChange } from "./contract";
import type { Config, Env } from "../../src/env";
import type { AccessClaims } from "../../src/auth/tokens";

// A session revoked while a refresh was in flight may still mint one token a moment later.
const REVOCATION_MARGIN_SECONDS = 60;

const sessions = (env: Env, userId: string) => env.USER_SESSIONS.get(env.USER_SESSIONS.idFromName(userId));

/** Whether a verified access token is still usable: not logged out, user not disabled, role unchanged. */
export function checkAccess(env: Env, claims: AccessClaims): Promise<AccessDecision> {
  return sessions(env, claims.sub).check({ sid: claims.sid, role: claims.role, iat: claims.iat });
}

/** Every access token of the session stops working on the next request, in every location. */
export async function revokeSession(env: Env, config: Config, userId: string, sid: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<void> {
  await sessions(env, userId).revokeSession(sid, nowSeconds + config.accessTokenTtlSeconds + REVOCATION_MARGIN_SECONDS);
}

export async function setUserStatus(env: Env, userId: string, change: StatusChange): Promise<void> {
  await sessions(env, userId).setStatus(change);
}
