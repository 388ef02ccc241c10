import { describe, expect, it } from "vitest";
import { keyring, needsRewrap, parseSecretsKeys, seal, unseal } from "../../src/lib/secret-box";

const key = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");

describe("sealing secrets at rest (AES-256-GCM, newest key first)", () => {
  it("seals with the newest key, opens with any listed key, and refuses another row's ciphertext or a tampered one", async () => {
    const k1 = `k1:${key()}`;
    const k2 = `k2:${key()}`;
    const old = await keyring({ SECRETS_KEYS: k1 });
    const sealed = await seal(old, "whsec_abc", "webhook-secret:1");
    expect(sealed.keyId).toBe("k1");
    expect(sealed.value).not.toContain("whsec_abc");
    expect((await seal(old, "whsec_abc", "webhook-secret:1")).value).not.toBe(sealed.value);

    const rotated = await keyring({ SECRETS_KEYS: `${k2},${k1}` });
    expect(await unseal(rotated, sealed.keyId, sealed.value, "webhook-secret:1")).toBe("whsec_abc");
    expect(needsRewrap(rotated, sealed.keyId)).toBe(true);
    expect((await seal(rotated, "x", "a")).keyId).toBe("k2");

    await expect(unseal(rotated, sealed.keyId, sealed.value, "webhook-secret:2")).rejects.toThrow();
    const flipped = Buffer.from(sealed.value, "base64");
    flipped[flipped.length - 1] ^= 1;
    await expect(unseal(rotated, sealed.keyId, flipped.toString("base64"), "webhook-secret:1")).rejects.toThrow();
    await expect(unseal(await keyring({ SECRETS_KEYS: k2 }), sealed.keyId, sealed.value, "webhook-secret:1")).rejects.toThrow(/k1/);
  });

  it("reads a clear value (no key id) as is, and stores clear only where no key is configured", async () => {
    const ring = await keyring({ SECRETS_KEYS: `k1:${key()}` });
    expect(await unseal(ring, null, "whsec_legacy", "x")).toBe("whsec_legacy");
    expect(needsRewrap(ring, null)).toBe(true);
    const none = await keyring({});
    expect(await seal(none, "s", "x")).toEqual({ keyId: null, value: "s" });
    expect(needsRewrap(none, null)).toBe(false);
  });

  it("refuses malformed SECRETS_KEYS without echoing the key", () => {
    const k = key();
    expect(() => parseSecretsKeys(`k1:${Buffer.from("short").toString("base64")}`)).toThrow(/32 bytes/);
    expect(() => parseSecretsKeys(k)).toThrow(/id:base64key/);
    expect(() => parseSecretsKeys(`k1:${k},k1:${k}`)).toThrow(/twice/);
    expect(() => parseSecretsKeys(`bad id:${k}`)).toThrow(/id:base64key/);
    try {
      parseSecretsKeys(`k1:${k.slice(0, 20)}`);
    } catch (e) {
      expect(String(e)).not.toContain(k.slice(0, 20));
    }
    expect(parseSecretsKeys(` k2:${k} , k1:${k}`).map((x) => x.id)).toEqual(["k2", "k1"]);
    expect(parseSecretsKeys(undefined)).toEqual([]);
  });
});
