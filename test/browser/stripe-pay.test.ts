import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// public/stripe-pay.js in headless Chromium: the script tag to js.stripe.com is answered by a
// stand-in `Stripe()` that records its calls (Stripe.js itself is never loaded in tests).
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const STAND_IN = `
window.stripeCalls = [];
window.Stripe = function (key) {
  stripeCalls.push(["Stripe", key]);
  return {
    elements(opts) {
      stripeCalls.push(["elements", opts]);
      const elements = { create(type) { stripeCalls.push(["create", type]); return { mount(node) { stripeCalls.push(["mount", node.id]); node.textContent = "[payment element]"; } }; } };
      return elements;
    },
    async confirmPayment(opts) {
      stripeCalls.push(["confirmPayment", { elements: !!opts.elements, redirect: opts.redirect }]);
      return window.declineNext ? { error: { type: "card_error", code: "card_declined", message: "Your card was declined." } } : { paymentIntent: { id: "pi_123", status: "requires_capture" } };
    },
  };
};`;

let server: Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/stripe-pay.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      return res.end(readFileSync("public/stripe-pay.js"));
    }
    res.writeHead(200, { "content-type": "text/html" });
    res.end('<!doctype html><html><head></head><body><div id="stripe-payment"></div><script type="module">import * as m from "/stripe-pay.js"; window.stripePay = m;</script></body></html>');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

async function page() {
  const p = await browser.newPage();
  const loaded: string[] = [];
  await p.route("https://js.stripe.com/**", (route) => {
    loaded.push(route.request().url());
    return route.fulfill({ status: 200, contentType: "text/javascript", body: STAND_IN });
  });
  await p.goto(`${base}/`);
  await p.waitForFunction(() => !!(globalThis as any).stripePay);
  return { p, loaded };
}

const payment = { provider: "stripe", clientSecret: "pi_123_secret_abc", publishableKey: "pk_test_page" };

describe("paying a Stripe booking in the page (public/stripe-pay.js)", () => {
  it("loads Stripe.js from js.stripe.com, mounts the Payment Element for the client secret and confirms without a redirect", async () => {
    const { p, loaded } = await page();
    const result = await p.evaluate(async (payment) => {
      const m = (globalThis as any).stripePay;
      const pay = await m.mountPaymentElement(payment, (globalThis as any).document.getElementById("stripe-payment"));
      const intent = await pay();
      return { intent, calls: (globalThis as any).stripeCalls, scripts: [...(globalThis as any).document.scripts].map((s: any) => s.src) };
    }, payment);
    expect(loaded).toEqual(["https://js.stripe.com/v3/"]);
    expect(result.scripts).toContain("https://js.stripe.com/v3/");
    expect(result.calls).toEqual([
      ["Stripe", "pk_test_page"],
      ["elements", { clientSecret: "pi_123_secret_abc" }],
      ["create", "payment"],
      ["mount", "stripe-payment"],
      ["confirmPayment", { elements: true, redirect: "if_required" }],
    ]);
    expect(result.intent).toEqual({ id: "pi_123", status: "requires_capture" });
    await p.close();
  });

  it("a decline is thrown with Stripe's message for the buyer", async () => {
    const { p } = await page();
    const error = await p.evaluate(async (payment) => {
      (globalThis as any).declineNext = true;
      const m = (globalThis as any).stripePay;
      const pay = await m.mountPaymentElement(payment, (globalThis as any).document.getElementById("stripe-payment"));
      return pay().then(() => null, (e: Error & { code?: string }) => ({ message: e.message, code: e.code }));
    }, payment);
    expect(error).toEqual({ message: "Your card was declined.", code: "card_declined" });
    await p.close();
  });

  it("keeps the sandbox cards when the booking is not Stripe's or has no publishable key, and loads nothing", async () => {
    const { p, loaded } = await page();
    const answers = await p.evaluate(async (payment) => {
      const m = (globalThis as any).stripePay;
      return [m.paysWithStripe(payment), m.paysWithStripe({ provider: "sandbox" }), m.paysWithStripe({ ...payment, publishableKey: undefined }), m.paysWithStripe(undefined)];
    }, payment);
    expect(answers).toEqual([true, false, false, false]);
    expect(loaded).toEqual([]);
    await p.close();
  });
});
