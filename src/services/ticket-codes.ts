// Ticket codes: a compact JWS (EdDSA, Ed25519) over {tid, eid, n}, signed with the event's own key.
// A scanner holding the event's public key tells a real code from a forged or altered one offline;
// the random `n` makes every issued code (a transfer's new one too) different and unguessable.
import { CompactSign, type CryptoKey, type JWK, compactVerify, exportJWK, generateKeyPair, importJWK } from "jose";
import { eq } from "drizzle-orm";
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

type Tx = Pick<Database, "insert" | "select">;

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

/** The event's key pair, made on first use. Concurrent first uses agree: the first row written wins. */
export async function eventKeys(db: Tx, eventId: string): Promise<EventKeys> {
  const cached = imported.get(eventId);
  if (cached) return cached;
  let [row] = await db.select().from(eventSigningKeys).where(eq(eventSigningKeys.eventId, eventId));
  if (!row) {
    const pair = await generateKeyPair(ALG, { crv: "Ed25519", extractable: true });
    const kid = `tk_${b64url(crypto.getRandomValues(new Uint8Array(9)))}`;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: ALG, use: "sig" };
    const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg: ALG };
    await db.insert(eventSigningKeys).values({ eventId, kid, publicJwk, privateJwk }).onConflictDoNothing();
    [row] = await db.select().from(eventSigningKeys).where(eq(eventSigningKeys.eventId, eventId));
  }
  const loaded = (async () => {
    const privateJwk = row.privateJwk as JWK;
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

