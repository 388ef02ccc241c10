/**
 * Proof of work on joining a waiting room (docs/onsale.md). A challenge is
 * `<eventId>.<expiresAtMs>.<random>.<mac>`, signed so the server keeps no state; a solution is a
 * nonce such that sha256(`<challenge>:<userId>:<nonce>`) starts with `difficulty` zero bits. The
 * user id is in the hash, so one solution buys one place for one account. Runtime-independent.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

export const CHALLENGE_TTL_MS = 5 * 60_000;
export const MAX_DIFFICULTY = 32;
const enc = new TextEncoder();

async function mac(key: CryptoKey, body: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(`pow:${body}`));
  return bytesToHex(new Uint8Array(sig)).slice(0, 32);
}

export async function makeChallenge(key: CryptoKey, eventId: string, now: number, random = crypto.randomUUID()): Promise<{ challenge: string; expiresAt: number }> {
  const expiresAt = now + CHALLENGE_TTL_MS;
  const body = `${eventId}.${expiresAt}.${random.replace(/-/g, "")}`;
  return { challenge: `${body}.${await mac(key, body)}`, expiresAt };
}

/** Leading zero bits of a digest. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

export function powDigest(challenge: string, userId: string, nonce: string): Uint8Array {
  return sha256(enc.encode(`${challenge}:${userId}:${nonce}`));
}

/** Finds a nonce (what a client does; tests and the bench use it). Expected 2^difficulty hashes. */
export function solveChallenge(challenge: string, userId: string, difficulty: number): string {
  for (let n = 0; ; n++) if (leadingZeroBits(powDigest(challenge, userId, String(n))) >= difficulty) return String(n);
}

export type PowCheck = { ok: true } | { ok: false; reason: string };

export async function checkSolution(key: CryptoKey, eventId: string, userId: string, difficulty: number, challenge: string | undefined, nonce: string | undefined, now: number): Promise<PowCheck> {
  if (difficulty <= 0) return { ok: true };
  if (!challenge || nonce === undefined) return { ok: false, reason: `Solve a challenge first: GET /v1/events/${eventId}/queue/challenge` };
  const parts = challenge.split(".");
  if (parts.length !== 4) return { ok: false, reason: "Not a challenge of ours" };
  const [evt, exp, random, sig] = parts;
  if ((await mac(key, `${evt}.${exp}.${random}`)) !== sig) return { ok: false, reason: "Not a challenge of ours" };
  if (evt !== eventId) return { ok: false, reason: "The challenge is for another event" };
  if (!(Number(exp) > now)) return { ok: false, reason: "The challenge has expired; ask for a new one" };
  if (leadingZeroBits(powDigest(challenge, userId, nonce)) < difficulty) return { ok: false, reason: `The nonce does not give ${difficulty} leading zero bits` };
  return { ok: true };
}
