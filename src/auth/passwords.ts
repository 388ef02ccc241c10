import { argon2id } from "@noble/hashes/argon2.js";

/** Argon2id cost parameters as stored in the PHC string: memory in KiB, iterations, lanes. */
export interface ArgonParams {
  m: number;
  t: number;
  p: number;
}

/** OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 lane. */
export const CURRENT_PARAMS: ArgonParams = { m: 19_456, t: 2, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const ARGON2_VERSION = 0x13;
// Anything above this is a stored string we did not write; refusing it bounds the work a bad row can cause.
const MAX_PARAMS: ArgonParams = { m: 262_144, t: 10, p: 4 };

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

/** The one password rule: 12-128 characters (code points), not only whitespace. */
export function passwordProblem(password: string): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return `must be at least ${PASSWORD_MIN} characters`;
  if (length > PASSWORD_MAX) return `must be at most ${PASSWORD_MAX} characters`;
  if (password.trim().length === 0) return "must not be only whitespace";
  return null;
}

/** The same password typed on two keyboards can differ in Unicode composition; NFC makes them one. */
const encode = (password: string) => new TextEncoder().encode(password.normalize("NFC"));

function derive(password: string, salt: Uint8Array, params: ArgonParams): Uint8Array {
  return argon2id(encode(password), salt, { ...params, dkLen: HASH_BYTES, version: ARGON2_VERSION, maxmem: 2 ** 31 });
}

/** Hashes into the PHC string form `$argon2id$v=19$m=…,t=…,p=…$salt$hash`, so parameters travel with the hash. */
export function hashPassword(password: string, params: ArgonParams = CURRENT_PARAMS): string {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = derive(password, salt, params);
  return `$argon2id$v=${ARGON2_VERSION}$m=${params.m},t=${params.t},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

interface Phc {
  params: ArgonParams;
  salt: Uint8Array;
  hash: Uint8Array;
}

const PHC = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{16,})$/;

export function parsePhc(stored: string): Phc | null {
  const m = PHC.exec(stored);
  if (!m) return null;
  const params = { m: Number(m[1]), t: Number(m[2]), p: Number(m[3]) };
  if (params.m < 8 * params.p || params.t < 1 || params.p < 1) return null;
  if (params.m > MAX_PARAMS.m || params.t > MAX_PARAMS.t || params.p > MAX_PARAMS.p) return null;
  try {
    return { params, salt: unb64(m[4]), hash: unb64(m[5]) };
  } catch {
    return null;
  }
}

export interface VerifyResult {
  ok: boolean;
  /** True when the stored hash was made with other parameters than CURRENT_PARAMS: store a fresh one. */
  needsRehash: boolean;
}

/** Verifies in constant time; a malformed stored hash never matches. */
export function verifyPassword(password: string, stored: string, current: ArgonParams = CURRENT_PARAMS): VerifyResult {
  const phc = parsePhc(stored);
  if (!phc) {
    burnOneHash(password);
    return { ok: false, needsRehash: false };
  }
  const candidate = derive(password, phc.salt, phc.params);
  const ok = constantTimeEqual(candidate, phc.hash);
  const p = phc.params;
  return { ok, needsRehash: ok && (p.m !== current.m || p.t !== current.t || p.p !== current.p || phc.hash.length !== HASH_BYTES) };
}

/**
 * Spends the same work as one verification. Login calls it for an unknown email so the
 * answer time does not tell whether an account exists.
 */
export function burnOneHash(password: string): void {
  derive(password, crypto.getRandomValues(new Uint8Array(SALT_BYTES)), CURRENT_PARAMS);
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// PHC strings use standard base64 without padding.
function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/=+$/, "");
}

function unb64(s: string): Uint8Array {
  const bin = atob(s + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}
