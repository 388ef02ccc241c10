import { defineConfig } from "vitest/config";

// `npm run test:browser`: the seat map page in headless Chromium against the real dev stack.
// Kept out of `npm test` (it needs Debian's chromium); .ci/run runs both.
export default defineConfig({
  test: {
    name: "browser",
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 150_000,
  },
});
