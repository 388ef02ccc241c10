/**
 * What every browser test starts with: a throwaway dev stack (own database, rate limits off) with
 * the demo world seeded through its API, and headless Debian Chromium with the flags this machine's
 * closed network needs.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { freePort } from "../../scripts/lib/local-db";
import { seedDemoData, type SeededDemo } from "../../scripts/lib/seed";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function startBrowserStack(dbName: string): Promise<{ stack: DevStack; demo: SeededDemo; browser: Browser }> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  const stack = await startDevStack({ port: await freePort(), dbName, embeddedDataDir: null, persistState: false, rateLimits: "off", wranglerOutput: "ignore", log: () => {} });
  const demo = await seedDemoData(stack.url, stack.database.url);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run"],
  });
  return { stack, demo, browser };
}
