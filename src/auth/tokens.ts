import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import type { Config, Env } from "../env";
import { AppError } from "../lib/errors";

export type Role = "user" | "organizer" | "admin";

export interface AccessClaims {
  sub: string;
  role: Role;
  jti: string;
  iat: number;
  exp: number;
}

const MAX_TOKEN_LENGTH = 4096;
const ROLES = new Set<Role>(["user", "organizer", "admin"]);

function hsKey(env: Env): Uint8Array {
  if (!env.JWT_SECRET || env.JWT_SECRET.length < 32) {
    throw new AppError("INTERNAL", "JWT_SECRET is missing or shorter than 32 characters");
  }
  return new TextEncoder().encode(env.JWT_SECRET);
}

export async function signAccessToken(
  env: Env,
  config: Config,
  user: { id: string; role: Role },
  now = Math.floor(Date.now() / 1000),
): Promise<{ token: string; jti: string; expiresIn: number }> {
  const jti = crypto.randomUUID();
  const token = await new SignJWT({ role: user.role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(config.jwtIssuer)
    .setAudience(config.jwtAudience)
    .setSubject(user.id)
    .setJti(jti)
    .setIssuedAt(now)
    .setExpirationTime(now + config.accessTokenTtlSeconds)
    .sign(hsKey(env));
  return { token, jti, expiresIn: config.accessTokenTtlSeconds };
}

const unauthenticated = (message: string) => new AppError("UNAUTHENTICATED", message, undefined, { "WWW-Authenticate": 'Bearer realm="evently"' });

/** Verifies signature, algorithm, issuer, audience, time and required claims; anything else is 401. */
export async function verifyAccessToken(env: Env, config: Config, token: string): Promise<AccessClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated("The access token is too large");
  try {
    const { payload } = await jwtVerify(token, hsKey(env), {
      algorithms: ["HS256"],
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      requiredClaims: ["sub", "jti", "exp", "iat"],
    });
    const role = payload.role as Role;
    if (typeof payload.sub !== "string" || !payload.sub || !ROLES.has(role) || typeof payload.jti !== "string") {
      throw unauthenticated("The access token is missing required claims");
    }
    return { sub: payload.sub, role, jti: payload.jti, iat: payload.iat!, exp: payload.exp! };
  } catch (e) {
    if (e instanceof AppError) throw e;
    if (e instanceof joseErrors.JWTExpired) throw unauthenticated("The access token has expired");
    throw unauthenticated("The access token is not valid");
  }
}

export { unauthenticated };
