import { describe, expect, it } from "vitest";
import { parseConfig, type Env } from "../../src/env";

const env = (vars: Partial<Record<string, string>>) => ({ JWT_ISSUER: "https://evently.example", JWT_AUDIENCE: "evently-api", ...vars }) as unknown as Env;

describe("CORS_ORIGINS", () => {
  it("allows no origin when it is empty or unset", () => {
    expect(parseConfig(env({ CORS_ORIGINS: "" })).corsOrigins).toEqual([]);
    expect(parseConfig(env({})).corsOrigins).toEqual([]);
  });

  it("lists the origins in the form browsers send them", () => {
    expect(parseConfig(env({ CORS_ORIGINS: " https://app.example/ ,http://localhost:5173,, https://Admin.Example:443" })).corsOrigins).toEqual([
      "https://app.example",
      "http://localhost:5173",
      "https://admin.example",
    ]);
  });

  it("refuses a value that is not an origin, so a typo fails loudly instead of opening or closing CORS", () => {
    expect(() => parseConfig(env({ CORS_ORIGINS: "app.example" }))).toThrow(/CORS_ORIGINS/);
  });
});

describe("PAYMENT_PROVIDER and the STRIPE_* settings", () => {
  const stripe = { STRIPE_SECRET_KEY: "sk_test_abc123", STRIPE_WEBHOOK_SECRET: "whsec_abc123", STRIPE_PUBLISHABLE_KEY: "pk_test_abc123" };

  it("defaults to the sandbox with no Stripe settings", () => {
    expect(parseConfig(env({}))).toMatchObject({ paymentProvider: "sandbox", stripe: null });
    expect(parseConfig(env({ PAYMENT_PROVIDER: "" })).paymentProvider).toBe("sandbox");
  });

  it("takes Stripe with its three keys and an optional API base", () => {
    expect(parseConfig(env({ PAYMENT_PROVIDER: "stripe", ...stripe, STRIPE_API_BASE: "http://127.0.0.1:12111" }))).toMatchObject({
      paymentProvider: "stripe",
      stripe: { secretKey: "sk_test_abc123", webhookSecret: "whsec_abc123", publishableKey: "pk_test_abc123", apiBase: "http://127.0.0.1:12111" },
    });
  });

  it("refuses stripe without the secret key, the webhook secret or the publishable key, naming what is missing", () => {
    expect(() => parseConfig(env({ PAYMENT_PROVIDER: "stripe" }))).toThrow(/STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_PUBLISHABLE_KEY/);
    expect(() => parseConfig(env({ PAYMENT_PROVIDER: "stripe", ...stripe, STRIPE_WEBHOOK_SECRET: "" }))).toThrow(/STRIPE_WEBHOOK_SECRET is required/);
    expect(() => parseConfig(env({ PAYMENT_PROVIDER: "stripe", ...stripe, STRIPE_SECRET_KEY: " " }))).toThrow(/STRIPE_SECRET_KEY is required/);
    expect(() => parseConfig(env({ PAYMENT_PROVIDER: "stripe", ...stripe, STRIPE_PUBLISHABLE_KEY: undefined }))).toThrow(/STRIPE_PUBLISHABLE_KEY/);
  });

  it("refuses a publishable key given as the secret key, an unknown provider and an API base with a path", () => {
    expect(() => parseConfig(env({ ...stripe, STRIPE_SECRET_KEY: "pk_live_abc" }))).toThrow(/not a Stripe secret key/);
    expect(() => parseConfig(env({ PAYMENT_PROVIDER: "paypal" }))).toThrow(/PAYMENT_PROVIDER must be sandbox or stripe/);
    expect(() => parseConfig(env({ ...stripe, STRIPE_API_BASE: "http://127.0.0.1:12111/v1" }))).toThrow(/STRIPE_API_BASE/);
  });
});
