// Invitation links: a JWT naming one invitation, with its own `typ` so it never passes as any other
// token. Postgres keeps only its SHA-256; accepting also needs the row to be open (not accepted,
// revoked or expired), so a link works once.
import { SignJWT, jwtVerify } from "jose";
import type { Config, Env } from "../env";
import { AppError } from "../lib/errors";
import { loadKeys } from "./tokens";

export const INVITATION_TYP = "org-invite+jwt";

export async function signInvitationToken(env: Env, config: Config, invitationId: string, expiresAt: Date): Promise<string> {
  const keys = await loadKeys(env);
  return new SignJWT({})
    .setProtectedHeader({ alg: keys.alg, typ: INVITATION_TYP, ...(keys.kid ? { kid: keys.kid } : {}) })
    .setIssuer(config.jwtIssuer)
    .setAudience(config.jwtAudience)
    .setSubject(invitationId)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(keys.signingKey);
}

/** The invitation id, or INVITATION_INVALID (a forged, mangled or foreign token); an expired one is INVITATION_EXPIRED. */
export async function verifyInvitationToken(env: Env, config: Config, token: string): Promise<string> {
  const keys = await loadKeys(env);
  let expired = false;
  for (const key of keys.verifyWith) {
    try {
      const opts = { algorithms: keys.algorithms, typ: INVITATION_TYP, issuer: config.jwtIssuer, audience: config.jwtAudience, requiredClaims: ["sub", "exp"] };
      const { payload } = typeof key === "function" ? await jwtVerify(token, key, opts) : await jwtVerify(token, key, opts);
      if (typeof payload.sub === "string") return payload.sub;
    } catch (e) {
      if ((e as { code?: string }).code === "ERR_JWT_EXPIRED") expired = true;
    }
  }
  if (expired) throw new AppError("INVITATION_EXPIRED", "The invitation has expired; ask for a new one");
  throw new AppError("INVITATION_INVALID", "The invitation link is not valid");
}

export async function hashInvitationToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
