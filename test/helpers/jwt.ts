import { testEnv } from "./fixtures";

/** Hand-made JWS compact tokens, so a test can put anything in header, payload and signature. */
export const b64url = (data: string | Uint8Array) => {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

export type Signer = (signingInput: string) => Promise<Uint8Array>;

export const hmacSigner = (secret: string | Uint8Array = testEnv.JWT_SECRET, hash: "SHA-256" | "SHA-384" = "SHA-256"): Signer => async (input) => {
  const raw = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
};

export const keySigner = (key: CryptoKey): Signer => async (input) => {
  const algorithm = key.algorithm.name === "Ed25519" ? { name: "Ed25519" } : { name: "RSASSA-PKCS1-v1_5" };
  return new Uint8Array(await crypto.subtle.sign(algorithm, key, new TextEncoder().encode(input)));
};

export async function jws(header: Record<string, unknown>, payload: Record<string, unknown> | string, signer: Signer | null): Promise<string> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const input = `${b64url(JSON.stringify(header))}.${b64url(body)}`;
  return `${input}.${signer ? b64url(await signer(input)) : ""}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The claims a real access token of this test deployment carries. */
export function claimsFor(userId: string, role = "user", sid: string = crypto.randomUUID()): Record<string, unknown> {
  const now = nowSeconds();
  return { role, sid, iss: "https://evently.example", aud: "evently-api", sub: userId, jti: crypto.randomUUID(), iat: now, exp: now + 900 };
}
