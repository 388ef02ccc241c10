import { z } from "zod";
import { parseSecretsKeys } from "./lib/secret-box";

/** Bindings from wrangler.toml (generated `Cloudflare.Env`) plus secrets and local-only variables. */
export interface Env extends Cloudflare.Env {
  JWT_SECRET: string;
  /** While rotating the HS256 secret: the old one, still accepted on verify (never used to sign). */
  JWT_SECRET_PREVIOUS?: string;
  /** A private JWK (EdDSA or RS256, with kid and alg): switches signing to it and HS256 off. */
  JWT_PRIVATE_JWK?: string;
  /** `{"keys":[…]}` of public JWKs still accepted during a key rotation (the previous key). */
  JWT_PUBLIC_JWKS?: string;
  DATABASE_URL: string;
  /** Local only: ws:// address of the WebSocket-to-TCP proxy in front of a local Postgres. */
  DB_WS_PROXY?: string;
  /** "true" lets the sandbox card network charge in a production Worker (staging); never in real production. */
  ALLOW_SANDBOX_PAYMENTS?: string;
  /** Hold requests in flight per event in one isolate before new ones are shed with 503 whatever their wait (default 256). */
  HOLD_MAX_INFLIGHT?: string;
  /** Upper bound of a queue message's retry delay in seconds (default 300). */
  SAGA_RETRY_MAX_DELAY_SECONDS?: string;
  /** Live seat map sockets of one event in all (its object and its relays); more are closed with 1013 (default 5000). */
  LIVE_MAX_SOCKETS?: string;
  /** Live sockets the event's inventory object serves itself; watchers beyond go to relay objects (default 500). */
  LIVE_DIRECT_SOCKETS?: string;
  /** Live sockets one relay object serves (default 2000); the relays of an event cover LIVE_MAX_SOCKETS. */
  LIVE_RELAY_SOCKETS?: string;
  /** Upper bound of a webhook delivery's retry delay in seconds (default 3600; tests lower it). */
  WEBHOOK_RETRY_MAX_DELAY_SECONDS?: string;
  /**
   * `id:base64(32 bytes)`, comma-separated, newest first: AES-256-GCM keys sealing webhook secrets and
   * events' ticket-signing keys in Postgres (docs/tickets.md#secrets-at-rest). Required in production.
   */
  SECRETS_KEYS?: string;
  /** Local only: `on` accepts http webhook endpoints on loopback (test and dev receivers); ignored in production. */
  WEBHOOK_ALLOW_LOOPBACK?: string;
  /** HMAC key of the waiting room's admission tokens and join challenges; derived from JWT_SECRET when unset (docs/onsale.md). */
  ADMISSION_SECRET?: string;
  /** Milliseconds between the waiting room's admission ticks (default 1000; docs/onsale.md). */
  ONSALE_TICK_MS?: string;
  /** Stripe secret API key (`sk_live_…`/`sk_test_…`, or a restricted `rk_…`); required with PAYMENT_PROVIDER=stripe. */
  STRIPE_SECRET_KEY?: string;
  /** Signing secret of the Stripe webhook endpoint (`whsec_…`); required with PAYMENT_PROVIDER=stripe. */
  STRIPE_WEBHOOK_SECRET?: string;
  /** Stripe publishable key (`pk_…`) the browser's Payment Element uses; required with PAYMENT_PROVIDER=stripe. */
  STRIPE_PUBLISHABLE_KEY?: string;
  /** `protocol://host:port` of Stripe's API (default Stripe's own); tests point it at test/helpers/stripe-api-fake.ts. */
  STRIPE_API_BASE?: string;
  /** Local only: `on` mounts the fault-injection routes of `npm run soak` (src/routes/faults.ts). Never set in wrangler.toml. */
  EVENTLY_FAULTS?: string;
}

const ConfigSchema = z.object({
  rateLimits: z.enum(["on", "off"]).default("on"),
  jwtIssuer: z.string().min(1),
  jwtAudience: z.string().min(1),
  accessTokenTtlSeconds: z.coerce.number().int().min(30).max(86_400).default(900),
  refreshTokenTtlSeconds: z.coerce.number().int().min(300).max(31_536_000).default(2_592_000),
  holdMaxInflight: z.coerce.number().int().min(1).max(100_000).default(256),
  /** Browser origins allowed to call the API (CORS), e.g. `https://app.example`; none when empty. */
  corsOrigins: z
    .string()
    .default("")
    .transform((list, ctx) =>
      list
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean)
        .map((o) => {
          // Browsers send an origin without path or trailing slash; compare in that form.
          const origin = URL.canParse(o) ? new URL(o).origin : "null";
          if (origin === "null") ctx.addIssue({ code: "custom", message: `CORS_ORIGINS: ${o} is not an origin` });
          return origin;
        }),
    ),
  /** Which provider takes the money (PAYMENT_PROVIDER): the sandbox card network, or Stripe. */
  paymentProvider: z.enum(["sandbox", "stripe"], { error: "PAYMENT_PROVIDER must be sandbox or stripe" }).default("sandbox"),
  /** Stripe's settings, null when no STRIPE_* variable is set. */
  stripe: z
    .object({
      secretKey: z.string({ error: "STRIPE_SECRET_KEY is required with any STRIPE_* setting" }).regex(/^(sk|rk)_(test|live)_\w+$/, "STRIPE_SECRET_KEY is not a Stripe secret key (sk_live_…, sk_test_…, rk_…)"),
      webhookSecret: z.string({ error: "STRIPE_WEBHOOK_SECRET is required with any STRIPE_* setting" }).regex(/^whsec_\w+$/, "STRIPE_WEBHOOK_SECRET is not a webhook signing secret (whsec_…)"),
      publishableKey: z.string().regex(/^pk_(test|live)_\w+$/, "STRIPE_PUBLISHABLE_KEY is not a publishable key (pk_…)").optional(),
      apiBase: z
        .string()
        .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol) && new URL(u).pathname === "/", "STRIPE_API_BASE must be protocol://host[:port] with no path")
        .optional(),
    })
    .nullable(),
}).superRefine((c, ctx) => {
  if (c.paymentProvider !== "stripe") return;
  if (c.stripe === null) ctx.addIssue({ code: "custom", message: "PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_PUBLISHABLE_KEY" });
  else if (c.stripe.publishableKey === undefined) ctx.addIssue({ code: "custom", message: "PAYMENT_PROVIDER=stripe needs STRIPE_PUBLISHABLE_KEY (the browser confirms the payment with it)" });
});
export type Config = z.infer<typeof ConfigSchema>;

/** An unset variable and an empty one mean the same (a dashboard field cleared leaves ""). */
const setting = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v.trim());

/** The `JWT_SECRET` value of `.dev.vars.example`: a deployment that copied it signs with a public secret. */
export const PLACEHOLDER_JWT_SECRET = "change-me-to-32-random-bytes-base64";

/**
 * The Worker cannot serve as configured. Every request answers 500 "Server misconfigured"; what is
 * wrong goes only to the logs (it names secrets and settings, nothing a caller should read).
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function parseConfig(env: Env): Config {
  if (env.JWT_SECRET !== undefined && env.JWT_SECRET.trim() === PLACEHOLDER_JWT_SECRET) {
    throw new ConfigError("JWT_SECRET is the placeholder from .dev.vars.example; set a random secret (wrangler secret put JWT_SECRET)");
  }
  if (env.ENVIRONMENT === "production" && setting(env.SECRETS_KEYS) === undefined) {
    throw new ConfigError("SECRETS_KEYS is required in production: webhook secrets and ticket-signing keys are sealed with it (wrangler secret put SECRETS_KEYS)");
  }
  try {
    parseSecretsKeys(setting(env.SECRETS_KEYS));
  } catch (e) {
    throw new ConfigError(e instanceof Error ? e.message : String(e));
  }
  const parsed = ConfigSchema.safeParse({
    rateLimits: env.RATE_LIMITS,
    jwtIssuer: env.JWT_ISSUER,
    jwtAudience: env.JWT_AUDIENCE,
    accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
    holdMaxInflight: env.HOLD_MAX_INFLIGHT,
    corsOrigins: env.CORS_ORIGINS,
    paymentProvider: setting(env.PAYMENT_PROVIDER),
    stripe: [env.STRIPE_SECRET_KEY, env.STRIPE_WEBHOOK_SECRET, env.STRIPE_PUBLISHABLE_KEY, env.STRIPE_API_BASE].some((v) => setting(v) !== undefined)
      ? {
          secretKey: setting(env.STRIPE_SECRET_KEY),
          webhookSecret: setting(env.STRIPE_WEBHOOK_SECRET),
          publishableKey: setting(env.STRIPE_PUBLISHABLE_KEY),
          apiBase: setting(env.STRIPE_API_BASE),
        }
      : null,
  });
  if (!parsed.success) throw new ConfigError(`invalid Worker configuration: ${parsed.error.message}`);
  return parsed.data;
}
