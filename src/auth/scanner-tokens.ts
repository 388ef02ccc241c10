// Scanner tokens: a JWT that can do nothing but check in at one event. It carries its own `typ`,
// so it never passes as an access token (and an access token never passes as one).
import { SignJWT, decodeProtectedHeader, jwtVerify } from "jose";
import type { Config, Env } from "../env";
import { loadKeys, unauthenticated } from "./tokens";

export const SCANNER_TYP = "scanner+jwt";

export interface ScannerClaims {
  scannerId: string;
  eventId: string;
}

export async function signScannerToken(env: Env, config: Config, s: ScannerClaims, expiresAt: Date, now = Math.floor(Date.now() / 1000)): Promise<string> {
  const keys = await loadKeys(env);
  return new SignJWT({ evt: s.eventId, role: "scanner" })
    .setProtectedHeader({ alg: keys.alg, typ: SCANNER_TYP, ...(keys.kid ? { kid: keys.kid } : {}) })
    .setIssuer(config.jwtIssuer)
    .setAudience(config.jwtAudience)
    .setSubject(s.scannerId)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(keys.signingKey);
}

/** True when a bearer token says it is a scanner token (its signature is checked by verifyScannerToken). */
export function looksLikeScannerToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === SCANNER_TYP;
  } catch {
    return false;
  }
}

export async function verifyScannerToken(env: Env, config: Config, token: string): Promise<ScannerClaims> {
  const keys = await loadKeys(env);
  for (const key of keys.verifyWith) {
    try {
      const opts = { algorithms: keys.algorithms, typ: SCANNER_TYP, issuer: config.jwtIssuer, audience: config.jwtAudience, requiredClaims: ["sub", "exp", "evt"], clockTolerance: 5 };
      const { payload } = typeof key === "function" ? await jwtVerify(token, key, opts) : await jwtVerify(token, key, opts);
      if (typeof payload.sub !== "string" || typeof payload.evt !== "string") break;
      return { scannerId: payload.sub, eventId: payload.evt };
    } catch {
      // the next key of a rotation, if any
    }
  }
  throw unauthenticated("The scanner token is not valid");
}
