import type { Browser } from "playwright-core";
import { startBrowserStack } from "../helpers/browser-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevStack } from "../../scripts/lib/dev-stack";
import type { SeededDemo } from "../../scripts/lib/seed";


async function api(base: string, method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function register(base: string, label: string) {
  const email = `${label}-${crypto.randomUUID().slice(0, 8)}@evently.test`;
  const password = `correct horse ${label} battery`;
  const res = await api(base, "POST", "/v1/auth/register", { email, password, name: label });
  if (res.status !== 201) throw new Error(`register ${label}: ${res.status} ${JSON.stringify(res.body)}`);
  return { email, password, token: res.body.accessToken as string, id: res.body.user.id as string };
}

describe("the waiting room in a real browser", () => {
  let stack: DevStack;
  let browser: Browser;
  let demo: SeededDemo;

  beforeAll(async () => {
    ({ stack, demo, browser } = await startBrowserStack(`evently_browser_queue_${process.pid}`));
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("shows the buyer's place, wait and progress while queued, then the hold panel once admitted, and holds with the admission", async () => {
    const rush = demo.events.find((e) => e.name.includes("On-Sale"));
    if (!rush) throw new Error("the demo data has no on-sale event");
    // The seed opens it a minute after start; open it now, one shopper at a time.
    const put = await api(stack.url, "PUT", `/v1/events/${rush.id}/on-sale`, { opensAt: new Date().toISOString(), maxActiveShoppers: 1 }, demo.organizer.accessToken);
    expect(put.status).toBe(200);

    // Someone else is admitted first and shops: the page's buyer waits behind them.
    const first = await register(stack.url, "first");
    expect((await api(stack.url, "POST", `/v1/events/${rush.id}/queue`, {}, first.token)).status).toBe(201);
    await expect
      .poll(async () => (await api(stack.url, "GET", `/v1/events/${rush.id}/queue/me`, undefined, first.token)).body.status, { timeout: 10_000, interval: 200 })
      .toBe("admitted");
    const admission = (await api(stack.url, "GET", `/v1/events/${rush.id}/queue/me`, undefined, first.token)).body.admission.token;

    const buyer = await register(stack.url, "buyer");
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${stack.url}/#/events/${rush.id}`);
    await page.waitForSelector('#queue-status:has-text("sign in")');
    await page.goto(`${stack.url}/#/signin?next=${encodeURIComponent(`/events/${rush.id}`)}`);
    await page.fill("#f-email", buyer.email);
    await page.fill("#f-password", buyer.password);
    await page.click('#signin-form button[type="submit"]');
    await page.waitForSelector("#logout");

    await page.waitForSelector('#queue-position:has-text("Position 1")');
    expect(await page.textContent("#queue-wait")).toMatch(/^Estimated wait: about \d+ (s|min)$/);
    expect(await page.getAttribute("#queue-progress", "max")).toBe("1");
    expect(await page.isHidden("#checkout")).toBe(true);

    // The first shopper holds and lets go: the room admits the page's buyer, and the page says so.
    const held = await api(stack.url, "POST", `/v1/events/${rush.id}/holds`, { quantity: 1 }, first.token, { "x-admission-token": admission });
    expect(held.status).toBe(201);
    expect((await api(stack.url, "DELETE", `/v1/holds/${held.body.id}`, undefined, first.token)).status).toBe(204);
    await page.waitForSelector("#queue-panel", { state: "detached", timeout: 15_000 });
    await page.waitForSelector("#checkout:not([hidden]) #hold");

    await page.fill("#quantity", "2");
    await page.click("#hold");
    await page.waitForSelector("#hold-countdown");
    expect(await page.textContent("#flash")).toContain("Held until");
    // Without the page's admission the same buyer is refused over HTTP.
    const bare = await api(stack.url, "POST", `/v1/events/${rush.id}/holds`, { quantity: 1 }, buyer.token);
    expect(bare).toMatchObject({ status: 403, body: { error: { code: "NOT_ADMITTED" } } });

    // A new on-sale (presale, then general sale) supersedes the admission the page stored: its next
    // hold is refused (403 ADMISSION_SUPERSEDED), and the page forgets it, queues in the new room and
    // holds with that room's admission (it failed every hold until the old admission expired).
    const stored = () => page.evaluate((key) => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem(key), `evently.admission.${rush.id}`);
    const firstAdmission = await stored();
    expect(firstAdmission).not.toBeNull();
    await page.click("#release");
    await page.waitForSelector("#checkout:not([hidden]) #hold");
    expect((await api(stack.url, "DELETE", `/v1/events/${rush.id}/on-sale`, undefined, demo.organizer.accessToken)).status).toBe(204);
    expect((await api(stack.url, "PUT", `/v1/events/${rush.id}/on-sale`, { opensAt: new Date().toISOString(), maxActiveShoppers: 1 }, demo.organizer.accessToken)).status).toBe(200);
    await page.fill("#quantity", "1");
    await page.click("#hold");
    await expect.poll(async () => (await page.textContent("#flash")) ?? "", { timeout: 10_000, interval: 100 }).toContain("Could not hold");
    await expect.poll(stored, { timeout: 15_000, interval: 200 }).not.toBe(firstAdmission);
    await expect.poll(stored, { timeout: 15_000, interval: 200 }).not.toBeNull();
    await page.waitForSelector("#checkout:not([hidden]) #hold", { timeout: 15_000 });
    await page.fill("#quantity", "1");
    await page.click("#hold");
    await page.waitForSelector("#hold-countdown");
    expect(await page.textContent("#flash")).toContain("Held until");
  });
});
