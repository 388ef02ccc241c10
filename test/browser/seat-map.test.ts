import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { freePort } from "../../scripts/lib/local-db";
import { seedDemoData } from "../../scripts/lib/seed";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOT = "docs/seat-map.png";

async function register(base: string, label: string) {
  const email = `${label}-${crypto.randomUUID().slice(0, 8)}@evently.test`;
  const password = `correct horse ${label} battery`;
  const res = await fetch(`${base}/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, name: label }),
  });
  if (res.status !== 201) throw new Error(`register ${label}: ${res.status} ${await res.text()}`);
  return { email, password };
}

/** What a page sends: frame types on its WebSockets, and its HTTP calls to the hold routes. */
function watchTraffic(page: Page) {
  const traffic = { frames: [] as string[], httpHolds: [] as string[] };
  page.on("websocket", (ws) =>
    ws.on("framesent", (f) => {
      traffic.frames.push(String(JSON.parse(String(f.payload)).type));
    }),
  );
  page.on("request", (r) => {
    if (/\/holds(\/|$)/.test(new URL(r.url()).pathname)) traffic.httpHolds.push(`${r.method()} ${r.url()}`);
  });
  return traffic;
}

async function signIn(page: Page, base: string, who: { email: string; password: string }, eventId: string) {
  await page.goto(`${base}/#/events/${eventId}`);
  await page.fill('input[name="email"]', who.email);
  await page.fill('input[name="password"]', who.password);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector("#who:not([hidden])");
  await page.waitForSelector('#live-status:has-text("live")');
}

describe("the live seat map in a real browser", () => {
  let stack: DevStack;
  let browser: Browser;
  let eventId: string;
  let gaEventId: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    stack = await startDevStack({
      port: await freePort(),
      dbName: `evently_browser_${process.pid}`,
      embeddedDataDir: null,
      persistState: false,
      rateLimits: "off",
      wranglerOutput: "ignore",
      log: () => {},
    });
    const demo = await seedDemoData(stack.url, stack.database.url);
    const reserved = demo.events.find((e) => e.seating === "reserved");
    if (!reserved) throw new Error("the demo data has no reserved-seating event");
    eventId = reserved.id;
    gaEventId = demo.events.find((e) => e.seating === "general")!.id;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("shows page A's hold on page B within a second, then the booking, without reloading", async () => {
    const [alice, bob] = await Promise.all([register(stack.url, "alice"), register(stack.url, "bob")]);
    const a = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const b = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const traffic = watchTraffic(a);
    await signIn(a, stack.url, alice, eventId);
    await signIn(b, stack.url, bob, eventId);

    const seats = ["A-5-10", "A-5-11"];
    for (const id of seats) {
      await expect.poll(() => b.getAttribute(`[data-seat="${id}"]`, "data-status")).toBe("available");
      await a.click(`[data-seat="${id}"]`);
      expect(await a.getAttribute(`[data-seat="${id}"]`, "aria-pressed")).toBe("true");
    }
    await a.click("#hold");

    const heldAt = Date.now();
    for (const id of seats) await b.waitForSelector(`[data-seat="${id}"][data-status="held"]`, { timeout: 1_000 });
    expect(Date.now() - heldAt).toBeLessThan(1_000);

    await a.waitForSelector("#hold-countdown");
    expect(await a.textContent("#hold-countdown")).toMatch(/^\d+:\d\d$/);
    for (const id of seats) expect(await a.getAttribute(`[data-seat="${id}"]`, "data-mine")).toBe("true");
    // The page holds over its live socket, authenticated by a frame; no HTTP hold request.
    expect(traffic.frames).toEqual(expect.arrayContaining(["auth", "hold"]));
    expect(traffic.httpHolds).toEqual([]);

    await a.selectOption("#payment-method", "pm_card_ok");
    await a.click("#book");
    await a.waitForSelector("#booking-status");
    await a.waitForSelector('#booking-status:has-text("confirmed")', { timeout: 30_000 });

    for (const id of seats) await b.waitForSelector(`[data-seat="${id}"][data-status="booked"]`, { timeout: 5_000 });
    expect(await b.getAttribute(`[data-seat="${seats[0]}"]`, "aria-label")).toContain("booked");

    mkdirSync("docs", { recursive: true });
    await b.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it("shows general admission as remaining capacity with a quantity picker, and holds and releases a quantity over the socket", async () => {
    const carol = await register(stack.url, "carol");
    const page = await (await browser.newContext()).newPage();
    const traffic = watchTraffic(page);
    await signIn(page, stack.url, carol, gaEventId);
    expect(await page.locator("#seat-map").count()).toBe(0);
    const before = await page.textContent("#availability");
    expect(before).toMatch(/^(\d+) of 500 available/);
    await page.fill("#quantity", "3");
    await page.click("#hold");
    await page.waitForSelector("#hold-countdown");
    const available = Number(/^(\d+)/.exec(before!)![1]);
    await page.waitForSelector(`#availability:has-text("${available - 3} of 500 available")`, { timeout: 2_000 });
    await page.click("#release");
    await page.waitForSelector(`#availability:has-text("${available} of 500 available")`, { timeout: 2_000 });
    await page.waitForSelector("#hold");
    expect(traffic.frames).toEqual(expect.arrayContaining(["auth", "hold", "release"]));
    expect(traffic.httpHolds).toEqual([]);
  });
});
