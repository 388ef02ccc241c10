// Secrets at rest (webhook signing secrets, events' Ed25519 private keys): AES-256-GCM with a key
// from the Worker secret SECRETS_KEYS, `id:base64(32 bytes)` comma-separated, newest first. The
// newest key seals; every listed key opens (rotation: add a new key in front, let the cron's
// `secretsRewrap` stage move the rows, then drop the old key). The key id is stored beside the
// ciphertext; a row without one is a clear row from before, read as is and sealed on the way.
// The row's identity is the AAD, so a ciphertext copied onto another row does not open.

export interface Keyring {
  /** The key new values are sealed with; null when SECRETS_KEYS is unset (non-production only). */
  newest: { id: string; key: CryptoKey } | null;
  byId: Map<string, CryptoKey>;
}

export interface Sealed {
  /** null: stored in clear (no keys configured). */
  keyId: string | null;
  value: string;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

function fromBase64(s: string): Uint8Array {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The keys of a SECRETS_KEYS value, newest first; throws with what is wrong (never the key). */
export function parseSecretsKeys(spec: string | undefined): { id: string; raw: Uint8Array }[] {
  if (spec === undefined || spec.trim() === "") return [];
  const keys = spec.split(",").map((part, i) => {
    const [id, b64, ...rest] = part.trim().split(":");
    if (!id || !b64 || rest.length || !KEY_ID.test(id)) throw new Error(`SECRETS_KEYS: entry ${i + 1} is not id:base64key`);
    let raw: Uint8Array;
    try {
      raw = fromBase64(b64);
    } catch {
      throw new Error(`SECRETS_KEYS: key ${id} is not base64`);
    }
    if (raw.length !== 32) throw new Error(`SECRETS_KEYS: key ${id} must be 32 bytes (it has ${raw.length})`);
    return { id, raw };
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error("SECRETS_KEYS: a key id appears twice");
  return keys;
}

const rings = new Map<string, Promise<Keyring>>();

/** The keyring of this Worker's SECRETS_KEYS (imported once per isolate and value). */
export function keyring(env: { SECRETS_KEYS?: string }): Promise<Keyring> {
  const spec = env.SECRETS_KEYS ?? "";
  let ring = rings.get(spec);
  if (!ring) {
    ring = (async () => {
      const keys = parseSecretsKeys(spec);
      const byId = new Map<string, CryptoKey>();
      for (const k of keys) byId.set(k.id, await crypto.subtle.importKey("raw", k.raw, "AES-GCM", false, ["encrypt", "decrypt"]));
      return { newest: keys.length ? { id: keys[0].id, key: byId.get(keys[0].id)! } : null, byId };
    })();
    ring.catch(() => rings.delete(spec));
    rings.set(spec, ring);
  }
  return ring;
}

/** Seals `plaintext` with the newest key, bound to `aad` (the row it belongs to). */
export async function seal(ring: Keyring, plaintext: string, aad: string): Promise<Sealed> {
  if (!ring.newest) return { keyId: null, value: plaintext };
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(aad) }, ring.newest.key, new TextEncoder().encode(plaintext)));
  const out = new Uint8Array(iv.length + ct.length);
  out.set(iv);
  out.set(ct, iv.length);
  return { keyId: ring.newest.id, value: toBase64(out) };
}

/** Opens a stored value; a null key id is a clear value from before sealing. Throws on an unknown key or a tampered value. */
export async function unseal(ring: Keyring, keyId: string | null, value: string, aad: string): Promise<string> {
  if (keyId === null) return value;
  const key = ring.byId.get(keyId);
  if (!key) throw new Error(`secret sealed with key ${keyId}, which SECRETS_KEYS no longer lists`);
  const bytes = fromBase64(value);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: new TextEncoder().encode(aad) }, key, bytes.slice(12));
  return new TextDecoder().decode(plain);
}

/** Whether a stored value should be sealed again (clear, or under an older key). */
export const needsRewrap = (ring: Keyring, keyId: string | null): boolean => ring.newest !== null && keyId !== ring.newest.id;

/** The listed keys other than the newest: rows under them are what a rewrap moves (rows under an unlisted key cannot be opened). */
export const olderKeyIds = (ring: Keyring): string[] => [...ring.byId.keys()].filter((id) => id !== ring.newest?.id);
