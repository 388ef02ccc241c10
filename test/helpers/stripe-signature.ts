/**
 * Stripe's webhook signature, `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`
 * (the whole `whsec_…` string is the key). WebCrypto only, so the Node-side fake and the workerd
 * tests sign the same way; the Worker verifies with the official client, not with this.
 */
export async function stripeSignatureHeader(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${payload}`)));
  return `t=${timestamp},v1=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The Stripe settings of the Workers test projects (vitest.config.ts): test-mode shaped, known only to the fake. */
export const TEST_STRIPE_KEYS = {
  secretKey: "sk_test_evently_workers",
  webhookSecret: "whsec_evently_fake_0123456789",
  publishableKey: "pk_test_evently_workers",
} as const;
