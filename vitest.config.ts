import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { readFileSync } from "node:fs";
import { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { TEST_STRIPE_KEYS } from "./test/helpers/stripe-signature.ts";
import { patchVitestPoolWorkers } from "./scripts/patch-vitest-pool-workers.mjs";

// npm install applies it (postinstall); again here for an install that skipped scripts.
patchVitestPoolWorkers(fileURLToPath(new URL(".", import.meta.url)));

// Local-only test secret: tokens minted by fixtures are signed with it.
export const TEST_JWT_SECRET = "evently-test-secret-0123456789abcdef0123456789abcdef";
/** Local-only key sealing secrets at rest in tests (src/lib/secret-box.ts): `id:base64(32 bytes)`. */
export const TEST_SECRETS_KEYS = `test1:${Buffer.from("evently-test-secrets-key-32bytes").toString("base64")}`;

/** Whether tests will run on the embedded Postgres (no DATABASE_URL, no server answering, or forced). */
async function embeddedDatabase(): Promise<boolean> {
  if (process.env.DATABASE_URL) return false;
  if (process.env.EVENTLY_DB === "embedded") return true;
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (embedded: boolean) => {
      socket.destroy();
      resolve(embedded);
    };
    socket.setTimeout(1_500, () => done(true));
    socket.once("error", () => done(true));
    socket.connect(5432, "127.0.0.1", () => done(false));
  });
}

const embedded = await embeddedDatabase();

/**
 * The queue consumers of wrangler.toml (batch size, retries, dead-letter queue as deployed), each
 * with a test batch timeout: miniflare holds a batch that is not full for `max_batch_timeout`
 * (1 s in wrangler.toml), which every booking, refund and notification in a test waited out once
 * per hop. What a test waits for is the consumer, not that timer.
 */
function queueConsumersWithBatchTimeout(seconds: number): Record<string, object> {
  const consumers: Record<string, object> = {};
  const toml = readFileSync(new URL("./wrangler.toml", import.meta.url), "utf8");
  for (const block of toml.split(/^\[\[queues\.consumers\]\]\s*$/m).slice(1)) {
    const field = (k: string) => block.split(/^\[/m)[0].match(new RegExp(`^${k}\\s*=\\s*"?([^"\\n]+)"?\\s*$`, "m"))?.[1];
    const queue = field("queue");
    if (!queue) continue;
    const num = (k: string) => (field(k) === undefined ? undefined : Number(field(k)));
    consumers[queue] = {
      maxBatchSize: num("max_batch_size"),
      maxBatchTimeout: seconds,
      maxRetries: num("max_retries"),
      deadLetterQueue: field("dead_letter_queue"),
    };
  }
  return consumers;
}
/** A quarter of a second: a hop no longer costs a second, yet a booking is still pending right after its POST. */
const TEST_BATCH_TIMEOUT_SECONDS = 0.25;

/** The dependencies the Worker and its tests import, pre-bundled for the workerd projects. */
const PREBUNDLED_DEPS = [
  "drizzle-orm", "drizzle-orm/pg-core", "drizzle-orm/neon-serverless", "@neondatabase/serverless",
  "hono", "hono/factory", "hono/route", "hono/utils/http-status", "hono/secure-headers", "hono/http-exception", "hono/cors",
  "@hono/zod-openapi", "zod", "jose", "uqr", "stripe", "@noble/hashes/utils.js", "@noble/hashes/sha2.js", "@noble/hashes/argon2.js",
];

/** A project running in workerd against real Postgres, queues and objects; `opts` adds bindings or queue settings. */
function workersProject(name: string, opts: { include: string[]; bindings?: Record<string, string>; queueConsumers?: Record<string, object> }) {
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            DATABASE_URL: inject("databaseUrl"),
            DB_WS_PROXY: inject("wsProxy"),
            JWT_SECRET: TEST_JWT_SECRET,
            SECRETS_KEYS: TEST_SECRETS_KEYS,
            // Not production: the sandbox card network may charge (wrangler.toml says production).
            ENVIRONMENT: "test",
            RATE_LIMITS: "on",
            // Storm tests send 200 holds at once to one event and must stay below load shedding.
            HOLD_MAX_INFLIGHT: "1000",
            // A breaker that opens and recovers within a test's patience.
            PAYMENT_BREAKER_FAILURES: "3",
            PAYMENT_BREAKER_COOLDOWN_SECONDS: "1",
            // Slower than a test event's payment deadline plus queue latency, so the late charge really happens.
            PAYMENT_SANDBOX_SLOW_MS: "5000",
            // Webhook retries within a test's patience (production backs off from 10 s).
            WEBHOOK_RETRY_MAX_DELAY_SECONDS: "1",
            // The webhook receiver of global-setup listens on http://127.0.0.1 (docs/tickets.md).
            WEBHOOK_ALLOW_LOOPBACK: "on",
            // Stripe is configured but not chosen (PAYMENT_PROVIDER stays wrangler.toml's "sandbox"):
            // the webhook route verifies with this secret, and the API is the fake of global-setup.
            STRIPE_API_BASE: inject("stripeApiBase"),
            STRIPE_SECRET_KEY: TEST_STRIPE_KEYS.secretKey,
            STRIPE_WEBHOOK_SECRET: TEST_STRIPE_KEYS.webhookSecret,
            STRIPE_PUBLISHABLE_KEY: TEST_STRIPE_KEYS.publishableKey,
            ...opts.bindings,
          },
          // wrangler.toml's consumers with the test batch timeout; `opts.queueConsumers` replaces the
          // settings of the queues it names.
          queueConsumers: { ...queueConsumersWithBatchTimeout(TEST_BATCH_TIMEOUT_SECONDS), ...opts.queueConsumers },
        },
      })),
    ],
    test: {
      name,
      include: opts.include,
      globalSetup: ["test/helpers/global-setup.ts"],
      setupFiles: ["test/helpers/file-database.ts"],
      // One database on the embedded Postgres: files take turns, each on a freshly reset schema.
      fileParallelism: !embedded,
      // Each file starts a fresh workerd that loads every module through Vite one by one; drizzle,
      // hono, zod and the rest pre-bundled load as a few modules instead of hundreds (about 1 s less
      // start-up per file).
      deps: { optimizer: { ssr: { enabled: true, include: PREBUNDLED_DEPS } } },
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  };
}

export default defineConfig({
  test: {
    // Request logs of passing tests are noise; a failing test keeps its output.
    silent: "passed-only",
    // Two files at once: a Workers test file mostly waits (on Postgres, queues, timers), so two share
    // the 2 cores well (vitest's default here is cores - 1 = 1). The embedded Postgres runs files one
    // at a time whatever this says (fileParallelism: false).
    maxWorkers: 2,
    projects: [
      {
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" },
      },
      workersProject("workers", { include: ["test/workers/**/*.test.ts"] }),
      // Real retry exhaustion through the real queues in seconds: few retries, short delays. Its own
      // project, so no other test's retries change.
      workersProject("workers-retries", {
        include: ["test/retries/**/*.test.ts"],
        bindings: { SAGA_RETRY_MAX_DELAY_SECONDS: "1" },
        queueConsumers: {
          "booking-saga": { maxBatchSize: 10, maxBatchTimeout: TEST_BATCH_TIMEOUT_SECONDS, maxRetries: 2, deadLetterQueue: "booking-saga-dlq" },
          webhooks: { maxBatchSize: 10, maxBatchTimeout: TEST_BATCH_TIMEOUT_SECONDS, maxRetries: 2, deadLetterQueue: "webhooks-dlq" },
        },
      }),
      // Real money through Stripe (its wire-format fake): the Worker takes bookings with PAYMENT_PROVIDER=stripe.
      workersProject("workers-stripe", { include: ["test/stripe/**/*.test.ts"], bindings: { PAYMENT_PROVIDER: "stripe" } }),
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
