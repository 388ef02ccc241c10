/**
 * Admission tokens of the waiting room (docs/onsale.md): a short-lived HS256 JWT naming the user,
 * the event and the session's end. A queue shard signs one when it admits its head; the event's
 * inventory object checks it on every hold while the event is on sale. The key is ADMISSION_SECRET
 * when set, else derived from JWT_SECRET (HMAC-SHA256 over a fixed label), so an admission token is
 * never an access token and the other way round (own key, own `typ`, own audience).
 * Runtime-independent: WebCrypto and jose only.
 */
import { SignJWT, jwtVerify } from "jose";
import { z } from "zod";

const TYP = "evently-admission+jwt";
const AUDIENCE = "evently-admission";
const LABEL = "evently admission token v1";
const MAX_TOKEN_LENGTH = 2_048;

export interface AdmissionSecrets {
  ADMISSION_SECRET?: string;
  JWT_SECRET?: string;
}

export interface AdmissionClaims {
  userId: string;
  eventId: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  jti: string;
  /**
   * The on-sale this admission belongs to: every PUT after a DELETE starts a new room with the next
   * generation, and the inventory refuses tokens of an earlier one. 0 in tokens signed before rooms
   * had generations (claim `gen` absent).
   */
  generation: number;
}

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for admission tokens; imported once per isolate and secret. */
export function admissionKey(env: AdmissionSecrets): Promise<CryptoKey> {
  const own = env.ADMISSION_SECRET;
  const base = own ?? env.JWT_SECRET;
  if (!base || base.length < 32) return Promise.reject(new Error("ADMISSION_SECRET (or JWT_SECRET) is missing or shorter than 32 characters"));
  const cacheKey = `${own ? "own" : "derived"}\u0000${base}`;
  let key = keys.get(cacheKey);
  if (!key) {
    if (keys.size >= 4) keys.clear();
    key = (async () => {
      const enc = new TextEncoder();
      let raw: ArrayBuffer | Uint8Array = enc.encode(base);
      if (!own) {
        const master = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
        raw = await crypto.subtle.sign("HMAC", master, enc.encode(LABEL));
      }
      return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    })();
    keys.set(cacheKey, key);
  }
  return key;
}

export async function signAdmission(key: CryptoKey, claims: Omit<AdmissionClaims, "generation"> & { generation?: number }): Promise<string> {
  return new SignJWT({ evt: claims.eventId, gen: claims.generation ?? 0 })
    .setProtectedHeader({ alg: "HS256", typ: TYP })
    .setSubject(claims.userId)
    .setAudience(AUDIENCE)
    .setJti(claims.jti)
    .setIssuedAt(Math.floor(Date.now() / 1000))
    .setExpirationTime(Math.floor(claims.expiresAt / 1000))
    .sign(key);
}

export type AdmissionCheck = { ok: true; claims: AdmissionClaims } | { ok: false; reason: string };

/** Valid only for this user and this event, before its expiry (`now`, epoch ms; no clock tolerance). */
export async function verifyAdmission(key: CryptoKey, token: string, userId: string, eventId: string, now: number): Promise<AdmissionCheck> {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: "The admission token is too large" };
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: ["HS256"], typ: TYP, audience: AUDIENCE, requiredClaims: ["sub", "exp", "jti"], currentDate: new Date(now) }));
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { ok: false, reason: code === "ERR_JWT_EXPIRED" ? "The admission has expired; your shopping session is over" : "The admission token is not valid" };
  }
  if (payload.evt !== eventId) return { ok: false, reason: "The admission token is for another event" };
  if (payload.sub !== userId) return { ok: false, reason: "The admission token belongs to another user" };
  const generation = typeof payload.gen === "number" && Number.isSafeInteger(payload.gen) ? payload.gen : 0;
  return { ok: true, claims: { userId, eventId, expiresAt: payload.exp! * 1000, jti: payload.jti!, generation } };
}

/** The body of `PUT /v1/events/:id/on-sale`: a room's settings (docs/onsale.md). */
export const OnSaleInput = z
  .object({
    opensAt: z.string().datetime({ offset: true }),
    shards: z.number().int().min(1).max(64).optional(),
    maxActiveShoppers: z.number().int().min(1).max(100_000).optional(),
    admitPerMinute: z.number().int().min(1).max(1_000_000).nullable().optional(),
    shopperSessionSeconds: z.number().int().min(60).max(3_600).optional(),
    powDifficulty: z.number().int().min(0).max(24).optional(),
  })
  .strict();
export type OnSaleInput = z.infer<typeof OnSaleInput>;

/** The visitor a queue socket follows, named by the Worker when it forwards the upgrade to their shard. */
export const QUEUE_LIVE_USER_HEADER = "x-evently-queue-user";

/** A queue shard object's name: the event id and the shard's number, `eventId:n`. */
export const shardName = (eventId: string, n: number): string => `${eventId}:${n}`;
