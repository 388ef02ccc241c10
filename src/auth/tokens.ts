import { type CryptoKey, type JWK, type JWTPayload, type JWTVerifyGetKey, SignJWT, createLocalJWKSet, errors as joseErrors, importJWK, jwtVerify } from "jose";
import type { Config, Env } from "../env";
import { AppError } from "../lib/errors";
import type { OrgGrant } from "../services/permissions";

/** The caller as a verified access token names them. */
export interface AuthUser {
  id: string;
  role: Role;
  /** Set by the organization guard (src/auth/org-guard.ts): what the caller may do, in which organization. */
  org?: OrgGrant;
  /** The session (refresh-token family) the access token belongs to; logout revokes it. */
  sid: string;
  jti: string;
  exp: number;
}

export type Role = "user" | "organizer" | "admin";

export interface AccessClaims {
  sub: string;
  role: Role;
  /** Session id: the refresh-token family this access token was issued from. Logout revokes it. */
  sid: string;
  jti: string;
  iat: number;
  exp: number;
}

export const ROLES = ["user", "organizer", "admin"] as const satisfies readonly Role[];
const ROLE_SET = new Set<string>(ROLES);

const MAX_TOKEN_LENGTH = 4096;
// RFC 9068: access tokens say what they are, so no other JWT signed with the same key passes as one.
const ACCESS_TYP = "at+jwt";
const CLOCK_TOLERANCE_SECONDS = 5;
const ASYMMETRIC_ALGS = new Set(["EdDSA", "Ed25519", "RS256"]);
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * The keys of this deployment. HS256 from JWT_SECRET (plus JWT_SECRET_PREVIOUS while rotating) by
 * default; when JWT_PRIVATE_JWK is set, EdDSA or RS256 with that key's kid, and HS256 is refused.
 */
interface KeySet {
  alg: string;
  kid?: string;
  signingKey: CryptoKey | Uint8Array;
  /** Keys tried on verify, in order; several only while a rotation is under way. */
  verifyWith: Array<CryptoKey | Uint8Array | JWTVerifyGetKey>;
  algorithms: string[];
  /** Public keys for /.well-known/jwks.json; empty in HS256 mode. */
  publicJwks: JWK[];
}

// Importing keys costs a few hundred microseconds: do it once per isolate and configuration.
const keyCache = new Map<string, Promise<KeySet>>();

export function loadKeys(env: Env): Promise<KeySet> {
  const cacheKey = [env.JWT_PRIVATE_JWK ?? "", env.JWT_PUBLIC_JWKS ?? "", env.JWT_SECRET ?? "", env.JWT_SECRET_PREVIOUS ?? ""].join("\u0000");
  let keys = keyCache.get(cacheKey);
  if (!keys) {
    if (keyCache.size >= 8) keyCache.clear();
    keys = buildKeys(env);
    keyCache.set(cacheKey, keys);
    keys.catch(() => keyCache.delete(cacheKey));
  }
  return keys;
}

function misconfigured(message: string): AppError {
  return new AppError("INTERNAL", `Token keys are misconfigured: ${message}`);
}

/**
 * Imported once per isolate (through keyCache): handed raw bytes, jose would import the HMAC key
 * again on every sign and verify.
 */
function hsSecret(secret: string | undefined, name: string): Promise<CryptoKey> {
  if (!secret || secret.length < 32) throw misconfigured(`${name} is missing or shorter than 32 characters`);
  return crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]) as Promise<CryptoKey>;
}

function parseJson(raw: string, name: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw misconfigured(`${name} is not valid JSON`);
  }
}

/** A verification key must name itself and its algorithm, so a token can never pick a different one. */
function checkPublicJwk(jwk: JWK, name: string): JWK {
  if (typeof jwk.kid !== "string" || !jwk.kid) throw misconfigured(`${name}: every key needs a kid`);
  if (typeof jwk.alg !== "string" || !ASYMMETRIC_ALGS.has(jwk.alg)) throw misconfigured(`${name}: key ${jwk.kid} needs alg EdDSA, Ed25519 or RS256`);
  const pub: JWK = { ...jwk, use: "sig" };
  for (const member of PRIVATE_JWK_MEMBERS) delete (pub as Record<string, unknown>)[member];
  delete pub.key_ops;
  return pub;
}

async function buildKeys(env: Env): Promise<KeySet> {
  if (!env.JWT_PRIVATE_JWK) {
    const verifyWith = [await hsSecret(env.JWT_SECRET, "JWT_SECRET")];
    if (env.JWT_SECRET_PREVIOUS) verifyWith.push(await hsSecret(env.JWT_SECRET_PREVIOUS, "JWT_SECRET_PREVIOUS"));
    return { alg: "HS256", signingKey: verifyWith[0], verifyWith, algorithms: ["HS256"], publicJwks: [] };
  }
  const privateJwk = parseJson(env.JWT_PRIVATE_JWK, "JWT_PRIVATE_JWK") as JWK;
  if (typeof privateJwk !== "object" || privateJwk === null || typeof privateJwk.d !== "string") {
    throw misconfigured("JWT_PRIVATE_JWK must be a private JWK (with d)");
  }
  const current = checkPublicJwk(privateJwk, "JWT_PRIVATE_JWK");
  const previous = env.JWT_PUBLIC_JWKS ? (parseJson(env.JWT_PUBLIC_JWKS, "JWT_PUBLIC_JWKS") as { keys?: JWK[] }).keys : [];
  if (!Array.isArray(previous)) throw misconfigured('JWT_PUBLIC_JWKS must be {"keys":[…]}');
  const publicJwks = [current, ...previous.filter((k) => k.kid !== current.kid).map((k) => checkPublicJwk(k, "JWT_PUBLIC_JWKS"))];
  const signingKey = (await importJWK({ ...privateJwk, ext: false }, privateJwk.alg)) as CryptoKey;
  return {
    alg: privateJwk.alg!,
    kid: privateJwk.kid,
    signingKey,
    verifyWith: [requireKid(createLocalJWKSet({ keys: publicJwks }))],
    algorithms: [...new Set(publicJwks.map((k) => k.alg!))],
    publicJwks,
  };
}

/** With several keys in play a token must name its key; we never guess one for it. */
function requireKid(jwks: JWTVerifyGetKey): JWTVerifyGetKey {
  return (header, token) => {
    if (typeof header.kid !== "string" || !header.kid) throw new joseErrors.JWKSNoMatchingKey("The token names no key (kid)");
    return jwks(header, token);
  };
}

export async function signAccessToken(
  env: Env,
  config: Config,
  user: { id: string; role: Role },
  sid: string,
  now = Math.floor(Date.now() / 1000),
): Promise<{ token: string; jti: string; expiresIn: number }> {
  const keys = await loadKeys(env);
  const jti = crypto.randomUUID();
  const token = await new SignJWT({ role: user.role, sid })
    .setProtectedHeader({ alg: keys.alg, typ: ACCESS_TYP, ...(keys.kid ? { kid: keys.kid } : {}) })
    .setIssuer(config.jwtIssuer)
    .setAudience(config.jwtAudience)
    .setSubject(user.id)
    .setJti(jti)
    .setIssuedAt(now)
    .setExpirationTime(now + config.accessTokenTtlSeconds)
    .sign(keys.signingKey);
  return { token, jti, expiresIn: config.accessTokenTtlSeconds };
}

export const unauthenticated = (message: string) =>
  new AppError("UNAUTHENTICATED", message, undefined, { "WWW-Authenticate": 'Bearer realm="evently"' });

/**
 * Verifies signature, pinned algorithm, typ, issuer, audience, time, lifetime and required claims.
 * Anything wrong is one 401; the message says what without helping an attacker tune a forgery.
 */
export async function verifyAccessToken(env: Env, config: Config, token: string, now?: Date): Promise<AccessClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated("The access token is too large");
  const keys = await loadKeys(env);
  const options = {
    algorithms: keys.algorithms,
    typ: ACCESS_TYP,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    requiredClaims: ["sub", "jti", "exp", "iat", "role", "sid"],
    maxTokenAge: config.accessTokenTtlSeconds,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ...(now ? { currentDate: now } : {}),
  };
  let payload: JWTPayload | undefined;
  let lastError: unknown;
  for (const key of keys.verifyWith) {
    try {
      // One overload per key kind; both verify the same way.
      ({ payload } = typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
      break;
    } catch (e) {
      lastError = e;
      // Only a signature mismatch may be the other key of a rotation; any other failure is final.
      if (!(e instanceof joseErrors.JWSSignatureVerificationFailed)) break;
    }
  }
  if (!payload) {
    if (lastError instanceof joseErrors.JWTExpired) throw unauthenticated("The access token has expired");
    throw unauthenticated("The access token is not valid");
  }
  const { sub, role, sid, jti, iat, exp } = payload;
  if (typeof sub !== "string" || !sub || typeof role !== "string" || !ROLE_SET.has(role) || typeof sid !== "string" || !sid || typeof jti !== "string" || !jti) {
    throw unauthenticated("The access token is missing required claims");
  }
  // A token that claims to live longer than this deployment issues was not issued by it.
  if (exp! - iat! > config.accessTokenTtlSeconds) throw unauthenticated("The access token is not valid");
  return { sub, role: role as Role, sid, jti, iat: iat!, exp: exp! };
}

/** The public half of the signing keys (current and, during rotation, previous); empty for HS256. */
export async function publicJwks(env: Env): Promise<JWK[]> {
  return (await loadKeys(env)).publicJwks;
}
