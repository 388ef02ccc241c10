import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Local-only test secret: tokens minted by fixtures are signed with it.
export const TEST_JWT_SECRET = "evently-test-secret-0123456789abcdef0123456789abcdef";

export default defineConfig({
  test: {
    // Request logs of passing tests are noise; a failing test keeps its output.
    silent: "passed-only",
    projects: [
      {
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DATABASE_URL: inject("databaseUrl"),
                DB_WS_PROXY: inject("wsProxy"),
                JWT_SECRET: TEST_JWT_SECRET,
                RATE_LIMITS: "on",
                // A breaker that opens and recovers within a test's patience.
                PAYMENT_BREAKER_FAILURES: "3",
                PAYMENT_BREAKER_COOLDOWN_SECONDS: "1",
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
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
