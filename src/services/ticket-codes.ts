// Ticket codes: a compact JWS (EdDSA, Ed25519) over {tid, eid, n}, signed with the event's own key.
// A scanner holding the event's public key tells a real code from a forged or altered one offline;
// the random `n` makes every issued code (a transfer's new one too) different and unguessable.
import { CompactSign, type CryptoKey, type JWK, compactVerify, exportJWK, generateKeyPair, importJWK } from "jose";
import { and, eq, inArray, isNull, or } from "drizzle-orm";
import { keyring, needsRewrap, olderKeyIds, seal, unseal, type Keyring } from "../lib/secret-box";
import { eventSigningKeys } from "../db/schema";
import type { Database } from "../db/client";

export const TICKET_CODE_TYP = "evently-ticket";
const ALG = "EdDSA";
/** Longer input is never a code of ours; refusing it early keeps a scanner's junk off the crypto. */
export const MAX_CODE_LENGTH = 1024;

export interface TicketClaims {
  /** Ticket id. */
  tid: string;
  /** Event id. */
  eid: string;
}

type Tx = Pick<Database, "insert" | "select" | "update">;

interface EventKeys {
  kid: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

// Importing a key costs more than signing with it: once per isolate and event.
const imported = new Map<string, Promise<EventKeys>>();

function b64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const aadOf = (eventId: string) => `event-signing-key:${eventId}`;

/**
 * The event's key pair, made on first use. Concurrent first uses agree: the first row written wins.
 * The private key is stored sealed (src/lib/secret-box.ts); a clear row from before is sealed here.
 */
export async function eventKeys(db: Tx, secrets: { SECRETS_KEYS?: string }, eventId: string): Promise<EventKeys> {
  const cached = imported.get(eventId);
  if (cached) return cached;
  const ring = await keyring(secrets);
  let [row] = await db.select().from(eventSigningKeys).where(eq(eventSigningKeys.eventId, eventId));
  if (!row) {
    const pair = await generateKeyPair(ALG, { crv: "Ed25519", extractable: true });
    const kid = `tk_${b64url(crypto.getRandomValues(new Uint8Array(9)))}`;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: ALG, use: "sig" };
    const sealed = await seal(ring, JSON.stringify({ ...(await exportJWK(pair.privateKey)), kid, alg: ALG }), aadOf(eventId));
    await db.insert(eventSigningKeys).values({ eventId, kid, publicJwk, privateJwk: sealed.keyId ? sealed.value : JSON.parse(sealed.value), privateKeyId: sealed.keyId }).onConflictDoNothing();
    [row] = await db.select().from(eventSigningKeys).where(eq(eventSigningKeys.eventId, eventId));
  }
  const loaded = (async () => {
    const privateJwk = await openPrivateJwk(ring, row);
    if (needsRewrap(ring, row.privateKeyId)) await rewrapEventKey(db, ring, row, privateJwk).catch(() => undefined);
    const publicJwk = row.publicJwk as JWK;
    return {
      kid: row.kid,
      publicJwk,
      privateKey: (await importJWK(privateJwk, ALG)) as CryptoKey,
      publicKey: (await importJWK(publicJwk, ALG)) as CryptoKey,
    };
  })();
  if (imported.size > 256) imported.clear();
  imported.set(eventId, loaded);
  loaded.catch(() => imported.delete(eventId));
  return loaded;
}

type KeyRow = typeof eventSigningKeys.$inferSelect;

async function openPrivateJwk(ring: Keyring, row: KeyRow): Promise<JWK> {
  if (row.privateKeyId === null) return row.privateJwk as JWK;
  return JSON.parse(await unseal(ring, row.privateKeyId, row.privateJwk as string, aadOf(row.eventId)));
}

/** Seals the row's private key with the newest key, unless another writer moved it meanwhile. */
async function rewrapEventKey(db: Pick<Database, "update">, ring: Keyring, row: KeyRow, privateJwk: JWK): Promise<boolean> {
  const sealed = await seal(ring, JSON.stringify(privateJwk), aadOf(row.eventId));
  const done = await db
    .update(eventSigningKeys)
    .set({ privateJwk: sealed.value, privateKeyId: sealed.keyId })
    .where(and(eq(eventSigningKeys.eventId, row.eventId), row.privateKeyId === null ? isNull(eventSigningKeys.privateKeyId) : eq(eventSigningKeys.privateKeyId, row.privateKeyId)))
    .returning({ eventId: eventSigningKeys.eventId });
  return done.length > 0;
}

/** Cron: seals up to `limit` event keys still clear or under an older key with the newest key. */
export async function rewrapEventKeys(db: Database, secrets: { SECRETS_KEYS?: string }, limit: number): Promise<number> {
  const ring = await keyring(secrets);
  if (!ring.newest) return 0;
  // Rows under a key no longer listed cannot be opened: left alone (and logged where they are used).
  const older = olderKeyIds(ring);
  const rows = await db
    .select()
    .from(eventSigningKeys)
    .where(or(isNull(eventSigningKeys.privateKeyId), older.length ? inArray(eventSigningKeys.privateKeyId, older) : undefined))
    .limit(limit);
  let moved = 0;
  for (const row of rows) if (await rewrapEventKey(db, ring, row, await openPrivateJwk(ring, row))) moved++;
  return moved;
}

export async function signTicketCode(keys: EventKeys, claims: TicketClaims): Promise<string> {
  const payload = { v: 1, tid: claims.tid, eid: claims.eid, n: b64url(crypto.getRandomValues(new Uint8Array(12))) };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: ALG, kid: keys.kid, typ: TICKET_CODE_TYP })
    .sign(keys.privateKey);
}

/** Verifies signature, algorithm and shape; null for anything that is not a genuine code of this key. */
export async function verifyTicketCode(publicKey: CryptoKey, code: string): Promise<TicketClaims | null> {
  if (code.length > MAX_CODE_LENGTH) return null;
  try {
    const { payload, protectedHeader } = await compactVerify(code, publicKey, { algorithms: [ALG] });
    if (protectedHeader.typ !== TICKET_CODE_TYP) return null;
    const body = JSON.parse(new TextDecoder().decode(payload));
    if (body?.v !== 1 || typeof body.tid !== "string" || typeof body.eid !== "string") return null;
    return { tid: body.tid, eid: body.eid };
  } catch {
    return null;
  }
}

