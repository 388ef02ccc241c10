import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { startBrowserStack } from "../helpers/browser-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevStack } from "../../scripts/lib/dev-stack";
import { DEMO_BUYER, DEMO_ORGANIZER, type SeededDemo } from "../../scripts/lib/seed";

// The buyer's web page (public/, docs/web-client.md) in headless Chromium against the real dev stack
// with the demo world seeded. The screenshots in docs/ are written here, so they show the page as it is.
const shot = (page: Page, name: string) => page.screenshot({ path: `docs/${name}`, fullPage: true });

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
  const traffic = { frames: [] as string[], httpHolds: [] as string[], errors: [] as string[] };
  page.on("websocket", (ws) => ws.on("framesent", (f) => traffic.frames.push(String(JSON.parse(String(f.payload)).type))));
  page.on("request", (r) => {
    if (/\/holds(\/|$)/.test(new URL(r.url()).pathname)) traffic.httpHolds.push(`${r.method()} ${r.url()}`);
  });
  page.on("pageerror", (e) => traffic.errors.push(e.message));
  return traffic;
}

/** Signs in through the page's own form, then opens the event (the form sends the buyer back there). */
async function signIn(page: Page, base: string, who: { email: string; password: string }, eventId: string) {
  await page.goto(`${base}/#/signin?next=${encodeURIComponent(`/events/${eventId}`)}`);
  await page.fill("#f-email", who.email);
  await page.fill("#f-password", who.password);
  await page.click('#signin-form button[type="submit"]');
  await page.waitForSelector("#logout");
  await page.waitForSelector('#live-status:has-text("live")');
}

async function seatStatus(base: string, eventId: string, seatId: string): Promise<string> {
  const body: any = await (await fetch(`${base}/v1/events/${eventId}/seats`)).json();
  return body.seats.find((s: any) => s.id === seatId).status;
}

/** No horizontal scrolling of the page itself (a wide seat map scrolls inside its own box). */
const pageFits = (page: Page) => page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth <= (globalThis as any).innerWidth);
/** The symbol a seat shows besides its colour (CSS ::after), so no status rests on colour alone. */
const symbol = (page: Page, seatId: string) =>
  page.evaluate((s) => (globalThis as any).getComputedStyle((globalThis as any).document.querySelector(`[data-seat="${s}"]`), "::after").content, seatId);
/** The focused element's property `key` (page.evaluate runs in the browser; this project's types have no DOM). */
const focused = (page: Page, key: "id" | "textContent" | "seat") =>
  page.evaluate((k) => {
    const node = (globalThis as any).document.activeElement;
    return k === "seat" ? node?.dataset?.seat : node?.[k];
  }, key);

describe("the buyer's web page in a real browser", () => {
  let stack: DevStack;
  let browser: Browser;
  let demo: SeededDemo;
  const event = (key: string) => demo.events.find((e) => e.key === key)!;

  beforeAll(async () => {
    ({ stack, demo, browser } = await startBrowserStack(`evently_browser_${process.pid}`));
    mkdirSync("docs", { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("lists events as cards with venue, city, the venue's local time, the lowest price and what is left", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 }, timezoneId: "America/New_York" })).newPage();
    await page.goto(`${stack.url}/`);
    await page.waitForSelector("#event-list");
    const card = (key: string) => page.locator(`[data-event="${event(key).id}"]`);
    expect(await page.locator("#event-list > li").count()).toBe(demo.events.filter((e) => e.status === "published").length);
    await expect.poll(() => card("fado").getAttribute("data-availability")).toBe("few");
    expect(await card("fado").innerText()).toMatch(/Fado by the Harbour\s+Harbour Jazz Club · Lisbon\s+\w{3}, \d+ \w{3} \d{4}, 21:00 Lisbon time\s+from €25\.00 · reserved seats\s+▲ 3 left/);
    // Chicago's 19:30 shown on Chicago's clock, whatever the browser's own zone is.
    expect(await card("planets").innerText()).toContain("19:30 Chicago time");
    expect(await card("planets").innerText()).toContain("from $39.00");
    expect(await card("blues").innerText()).toContain("2000 available");
    // The waitlist count reaches the listing through the object's outbox; reload until it has.
    await expect
      .poll(async () => {
        await page.reload();
        await page.waitForSelector("#event-list");
        return card("late-jazz").innerText();
      }, { timeout: 15_000, interval: 1_000 })
      .toContain("≡ Waitlist · 1 waiting");
    expect(await page.locator(`[data-event="${event("techno").id}"]`).count()).toBe(0);
    await shot(page, "web-events.png");
  });

  it("takes a newcomer from sign-up to a confirmed booking, then cancels it from My bookings", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const traffic = watchTraffic(page);
    const ev = event("reserved-night");
    await page.goto(`${stack.url}/#/events/${ev.id}`);
    await page.waitForSelector("#seat-map");
    await page.click("#checkout-signin");
    await page.click("text=Create one");
    await page.waitForSelector("#signup-form");

    // A bad password is told next to its field, and nothing typed is lost.
    const email = `newcomer-${crypto.randomUUID().slice(0, 8)}@evently.test`;
    await page.fill("#f-name", "Nia");
    await page.fill("#f-email", email);
    await page.fill("#f-password", "too short");
    await page.click('#signup-form button[type="submit"]');
    await page.waitForSelector('#f-password[aria-invalid="true"]');
    expect(await page.textContent("#f-password-error")).toContain("at least 12 characters");
    expect(await page.inputValue("#f-email")).toBe(email);
    await page.fill("#f-password", "a long enough passphrase");
    await page.click('#signup-form button[type="submit"]');

    // Back on the event it came from, signed in.
    await page.waitForSelector("#seat-map");
    expect(await page.textContent("#who-email")).toBe(email);
    await page.waitForSelector('#live-status:has-text("live")');
    expect(await page.textContent("#stage")).toContain("Stage");
    expect(await page.textContent("#price-legend")).toBe("Section A · rows 1–3 €80.00 · rows 4–10 €50.00");

    const seats = ["A-3-5", "A-3-6"];
    for (const id of seats) await page.click(`[data-seat="${id}"]`);
    expect(await page.textContent("#selected-seats")).toContain("Section A, row 3, seat 5€80.00");
    expect(await page.textContent("#order-total")).toBe("Total €160.00");
    await page.click("#hold");
    await page.waitForSelector("#hold-countdown");
    expect(await page.textContent("#hold-countdown")).toMatch(/^(10:00|9:5\d)$/);
    for (const id of seats) expect(await page.getAttribute(`[data-seat="${id}"]`, "aria-label")).toContain("held by you");

    // The slow sandbox card leaves time to see the progress.
    await page.check('input[name="card"][value="pm_card_slow"]');
    await shot(page, "web-checkout.png");
    await page.click("#book");
    await page.waitForSelector("#booking-progress");
    expect(await page.textContent("#booking-status")).toContain("Confirming your booking");
    await page.waitForSelector('#booking-status[data-status="confirmed"]', { timeout: 30_000 });
    expect(await page.textContent("#booking-status")).toContain("✓ Booking confirmed");
    for (const id of seats) expect(await seatStatus(stack.url, ev.id, id)).toBe("booked");
    await page.waitForSelector(`[data-seat="${seats[0]}"][data-status="booked"]`);

    // My tickets: one valid ticket per seat, each with its QR image loaded through the bearer token.
    await page.click('a[href="#/tickets"]');
    await page.waitForSelector('.ticket[data-status="valid"] img.qr[src^="blob:"]');
    expect(await page.locator('.ticket[data-status="valid"]').count()).toBe(2);
    expect(await page.locator(".ticket").first().innerText()).toMatch(/Evently Demo: Reserved Seating Night[\s\S]*Seat A-3-[56]/);
    expect(await page.locator("img.qr").first().evaluate((img: any) => img.complete && img.naturalWidth > 0)).toBe(true);
    await page.goto(`${stack.url}/#/bookings`);
    await page.waitForSelector("#booking-list");
    const row = page.locator(".booking").first();
    expect(await row.innerText()).toMatch(/Evently Demo: Reserved Seating Night[\s\S]*✓ Confirmed[\s\S]*A-3-5, A-3-6 · €160\.00/);
    await row.locator("button.cancel").click();
    // The second step names the refund and takes the focus; "Keep it" would undo.
    expect(await focused(page, "textContent")).toBe("Yes, cancel and refund €160.00");
    await page.keyboard.press("Enter");
    await page.waitForSelector('.booking[data-status="cancelled"]');
    expect(await page.locator(".booking").first().innerText()).toContain("⊘ Cancelled · refunded");
    expect(await focused(page, "textContent")).toBe("⊘ Cancelled · refunded");
    await expect.poll(() => seatStatus(stack.url, ev.id, seats[0]), { timeout: 15_000 }).toBe("available");
    // The cancelled booking's tickets no longer scan, and the page says so instead of showing a code.
    await page.goto(`${stack.url}/#/tickets`);
    await page.waitForSelector('.ticket[data-status="cancelled"]');
    expect(await page.locator("img.qr").count()).toBe(0);

    expect(traffic.frames).toEqual(expect.arrayContaining(["auth", "hold"]));
    expect(traffic.httpHolds).toEqual([]);
    expect(traffic.errors).toEqual([]);
  });

  it("shows the demo buyer's confirmed booking and the refunded one of the cancelled event", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
    await signIn(page, stack.url, DEMO_BUYER, event("reserved-night").id);
    await page.click("#nav-bookings");
    await page.waitForSelector("#booking-list");
    const text = await page.textContent("#booking-list");
    expect(text).toContain("Warehouse Techno Night");
    expect(text).toContain("The organizer cancelled this event.");
    expect(text).toContain("A-2-10, A-2-11");
    expect(await page.locator('.booking[data-status="confirmed"] button.cancel').count()).toBe(1);
    expect(await page.locator('.booking[data-status="cancelled"] button.cancel').count()).toBe(0);
    await shot(page, "web-bookings.png");
  });

  it("works by keyboard alone: one tab stop into the map, arrows between seats, Space to pick, a declined card told clearly", async () => {
    const who = await register(stack.url, "kim");
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const ev = event("planets");
    await signIn(page, stack.url, who, ev.id);
    // Seats are buttons with full labels, and only one of them is in the tab order.
    const first = page.locator('[data-seat="Floor-A-1"]');
    expect(await first.evaluate((b) => b.tagName)).toBe("BUTTON");
    expect(await first.getAttribute("aria-label")).toBe("Section Floor, row A, seat 1, available, $95.00");
    expect(await page.locator('#seat-map .seat[tabindex="0"]').count()).toBe(1);
    expect(await page.textContent("#price-legend")).toBe("Section Floor · all rows $95.00Section Balcony · rows E–F $55.00 · row G $39.00");

    await first.focus();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowDown");
    expect(await focused(page, "seat")).toBe("Floor-B-3");
    await page.keyboard.press("Space");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("Enter");
    expect(await page.getAttribute('[data-seat="Floor-B-3"]', "aria-pressed")).toBe("true");
    expect(await page.getAttribute('[data-seat="Floor-B-4"]', "aria-pressed")).toBe("true");
    // Tab leaves the map in one step and lands in the order panel (the voucher field comes first),
    // then reaches the hold button.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => !!(globalThis as any).document.activeElement?.closest("#checkout"))).toBe(true);
    expect(await focused(page, "id")).toBe("voucher");
    for (let i = 0; i < 3 && (await focused(page, "id")) !== "hold"; i++) await page.keyboard.press("Tab");
    expect(await focused(page, "id")).toBe("hold");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#hold-countdown");

    await page.focus('input[name="card"][value="pm_card_ok"]');
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    expect(await page.isChecked('input[name="card"][value="pm_card_declined"]')).toBe(true);
    await page.focus("#book");
    await page.keyboard.press("Enter");
    await page.waitForSelector('#booking-status[data-status="failed"]', { timeout: 30_000 });
    expect(await page.textContent("#booking-status")).toContain("✕ Booking failed");
    expect(await page.textContent("#booking-reason")).toContain("declined");
    await expect.poll(() => seatStatus(stack.url, ev.id, "Floor-B-3"), { timeout: 15_000 }).toBe("available");

    await page.click("#book-again");
    await page.click('[data-seat="Floor-A-2"]');
    expect(await symbol(page, "Floor-A-2")).toBe('"✓"');
  });

  it("fits a phone: cards in one column, the seat map scrolls in its own box, the order panel below it", async () => {
    const who = await register(stack.url, "pia");
    const page = await (await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true })).newPage();
    await page.goto(`${stack.url}/`);
    await page.waitForSelector("#event-list");
    expect(await pageFits(page)).toBe(true);
    const [a, b] = await page.locator("#event-list > li").all();
    expect((await b.boundingBox())!.y).toBeGreaterThan((await a.boundingBox())!.y + (await a.boundingBox())!.height - 1);

    await signIn(page, stack.url, who, event("fado").id);
    expect(await pageFits(page)).toBe(true);
    const map = (await page.locator(".map-scroll").boundingBox())!;
    const panel = (await page.locator("#checkout").boundingBox())!;
    expect(panel.y).toBeGreaterThan(map.y + map.height - 1);
    await page.tap('[data-seat="Floor-C-8"]');
    expect(await page.textContent("#order-total")).toBe("Total €25.00");
    await shot(page, "web-phone.png");
  });

  it("shows page A's hold on page B within a second, then the booking, without reloading", async () => {
    const [alice, bob] = await Promise.all([register(stack.url, "alice"), register(stack.url, "bob")]);
    const a = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const b = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const traffic = watchTraffic(a);
    const eventId = event("reserved-night").id;
    await signIn(a, stack.url, alice, eventId);
    await signIn(b, stack.url, bob, eventId);

    const seats = ["A-5-10", "A-5-11"];
    for (const id of seats) {
      await expect.poll(() => b.getAttribute(`[data-seat="${id}"]`, "data-status")).toBe("available");
      await a.click(`[data-seat="${id}"]`);
      expect(await a.getAttribute(`[data-seat="${id}"]`, "aria-pressed")).toBe("true");
    }
    // B had picked one of them too: A's hold takes it out of B's selection, and B is told.
    await b.click(`[data-seat="${seats[1]}"]`);
    await a.click("#hold");

    const heldAt = Date.now();
    for (const id of seats) await b.waitForSelector(`[data-seat="${id}"][data-status="held"]`, { timeout: 1_000 });
    expect(Date.now() - heldAt).toBeLessThan(1_000);
    expect(await b.getAttribute(`[data-seat="${seats[0]}"]`, "aria-label")).toContain("held");
    expect(await b.getAttribute(`[data-seat="${seats[0]}"]`, "aria-disabled")).toBe("true");
    expect(await symbol(b, seats[0])).toBe('"•"');
    await b.waitForSelector(`[data-seat="${seats[1]}"][aria-pressed="false"]`);
    expect(await b.textContent("#flash")).toBe(`Someone else just took ${seats[1]}; it was removed from your selection.`);
    expect(await b.textContent("#order-total")).toBe("Total €0.00");

    await a.waitForSelector("#hold-countdown");
    for (const id of seats) expect(await a.getAttribute(`[data-seat="${id}"]`, "data-mine")).toBe("true");
    expect(await symbol(a, seats[0])).toBe('"★"');
    // The page holds over its live socket, authenticated by a frame; no HTTP hold request.
    expect(traffic.frames).toEqual(expect.arrayContaining(["auth", "hold"]));
    expect(traffic.httpHolds).toEqual([]);

    await a.click("#book");
    await a.waitForSelector('#booking-status[data-status="confirmed"]', { timeout: 30_000 });
    for (const id of seats) await b.waitForSelector(`[data-seat="${id}"][data-status="booked"]`, { timeout: 5_000 });
    expect(await b.getAttribute(`[data-seat="${seats[0]}"]`, "aria-label")).toContain("booked");
    expect(await symbol(b, seats[0])).toBe('"×"');
    await b.screenshot({ path: "docs/seat-map.png", fullPage: true });
  });

  it("is told the booking's outcome by a frame on its live socket, without polling the booking", async () => {
    const buyer = await register(stack.url, "pushed");
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const traffic = watchTraffic(page);
    const bookingReads: string[] = [];
    const bookingFrames: any[] = [];
    let socketClosed = false;
    page.on("request", (r) => {
      if (r.method() === "GET" && /^\/v1\/bookings\/[^/]+$/.test(new URL(r.url()).pathname)) bookingReads.push(r.url());
    });
    page.on("websocket", (ws) => {
      ws.on("framereceived", (f) => {
        const frame = JSON.parse(String(f.payload));
        if (frame.type === "booking") bookingFrames.push(frame);
      });
      ws.on("close", () => (socketClosed = true));
    });
    const ev = event("reserved-night");
    await signIn(page, stack.url, buyer, ev.id);
    await page.click('[data-seat="A-7-3"]');
    await page.click("#hold");
    await page.waitForSelector("#hold-countdown");
    await page.click("#book");
    // Well before the page's 10 s safety-net read: only the pushed frame can have told it.
    await page.waitForSelector('#booking-status[data-status="confirmed"]', { timeout: 8_000 });
    expect(bookingFrames).toEqual([expect.objectContaining({ type: "booking", status: "confirmed" })]);
    expect(socketClosed).toBe(false);
    expect(bookingReads).toEqual([]);
    expect(traffic.errors).toEqual([]);
  });

  it("reads the booking at most every 3 s while its live socket is down, until the outcome", async () => {
    const buyer = await register(stack.url, "unplugged");
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    const reads: number[] = [];
    page.on("request", (r) => {
      if (r.method() === "GET" && /^\/v1\/bookings\/[^/]+$/.test(new URL(r.url()).pathname)) reads.push(Date.now());
    });
    // The live socket goes through the test: passed on to the Worker until `down`, then cut and refused.
    let down = false;
    const sockets: { close(): Promise<void> }[] = [];
    await page.routeWebSocket(/\/live$/, (ws) => {
      if (down) return void ws.close();
      ws.connectToServer();
      sockets.push(ws);
    });
    const ev = event("reserved-night");
    await signIn(page, stack.url, buyer, ev.id);
    await page.click('[data-seat="A-7-6"]');
    await page.click("#hold");
    await page.waitForSelector("#hold-countdown");
    down = true;
    for (const ws of sockets) await ws.close();
    await page.waitForSelector('#live-status:has-text("reconnecting")');
    const bookedAt = Date.now();
    await page.click("#book");
    await page.waitForSelector('#booking-status[data-status="confirmed"]', { timeout: 15_000 });
    expect(reads.length).toBeGreaterThan(0);
    expect(reads[0] - bookedAt).toBeGreaterThanOrEqual(2_900);
    for (let i = 1; i < reads.length; i++) expect(reads[i] - reads[i - 1]).toBeGreaterThanOrEqual(2_900);
  });

  it("shows general admission as remaining capacity with a quantity picker, and holds and releases a quantity over the socket", async () => {
    const carol = await register(stack.url, "carol");
    const page = await (await browser.newContext()).newPage();
    const traffic = watchTraffic(page);
    await signIn(page, stack.url, carol, event("ga-festival").id);
    expect(await page.locator("#seat-map").count()).toBe(0);
    const before = await page.textContent("#availability");
    expect(before).toMatch(/^(\d+) of 500 available/);
    await page.fill("#quantity", "3");
    expect(await page.textContent("#order-total")).toBe("Total €135.00");
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

  it("renews an expired access token with the refresh token, for the API and for the live socket", async () => {
    const eli = await register(stack.url, "eli");
    const page = await (await browser.newContext()).newPage();
    const traffic = watchTraffic(page);
    await signIn(page, stack.url, eli, event("film").id);
    // As if the 15-minute access token had run out while the tab stayed open.
    await page.evaluate(() => {
      const store = (globalThis as any).sessionStorage;
      store.setItem("evently.session", JSON.stringify({ ...JSON.parse(store.getItem("evently.session")), accessToken: "expired.access.token" }));
    });
    await page.reload();
    await page.waitForSelector('#live-status:has-text("live")');
    await page.fill("#quantity", "2");
    await page.click("#hold");
    await page.waitForSelector("#hold-countdown");
    const token = await page.evaluate(() => JSON.parse((globalThis as any).sessionStorage.getItem("evently.session")).accessToken);
    expect(token).not.toBe("expired.access.token");
    expect(traffic.frames.filter((f) => f === "auth").length).toBeGreaterThanOrEqual(2);
    await page.click("#release");
    await page.waitForSelector("#hold");
  });

  it("offers the waitlist on a sold-out event and shows the buyer's place in it", async () => {
    const dana = await register(stack.url, "dana");
    const page = await (await browser.newContext()).newPage();
    await signIn(page, stack.url, dana, event("late-jazz").id);
    await page.waitForSelector("#waitlist-join");
    expect(await page.textContent("#checkout")).toContain("✕ Sold out");
    await page.fill("#waitlist-quantity", "2");
    await page.click("#waitlist-join");
    await page.waitForSelector("#waitlist-status");
    // The demo fan was there first.
    expect(await page.textContent("#waitlist-status")).toBe("You are number 2 on the waitlist for 2 ticket(s).");
    await page.click("#waitlist-leave");
    await page.waitForSelector("#waitlist-join");
  });

  it("accepts an invitation from the emailed link after signing in, shows what it invites to first, lists the organizations with the role, and leaves", async () => {
    const erin = await register(stack.url, "erin");
    const login = await fetch(`${stack.url}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: DEMO_ORGANIZER.email, password: DEMO_ORGANIZER.password }) });
    const organizer = { authorization: `Bearer ${((await login.json()) as any).accessToken}`, "content-type": "application/json" };
    const org = async (name: string) => ((await (await fetch(`${stack.url}/v1/orgs`, { method: "POST", headers: organizer, body: JSON.stringify({ name }) })).json()) as any).id as string;
    const invite = async (orgId: string, role: string) =>
      (await (await fetch(`${stack.url}/v1/orgs/${orgId}/invitations`, { method: "POST", headers: organizer, body: JSON.stringify({ email: erin.email, role }) })).json()) as any;
    const doorName = `Door Co ${erin.email.slice(5, 13)}`;
    const door = await org(doorName);
    const office = await org(`Office Co ${erin.email.slice(5, 13)}`);
    const doorInvitation = await invite(door, "door");
    const officeInvitation = await invite(office, "box_office");

    const page = await (await browser.newContext()).newPage();
    const traffic = watchTraffic(page);
    // The emailed link, opened signed out: the page keeps it across signing in.
    await page.goto(`${stack.url}/?invite=${encodeURIComponent(doorInvitation.token)}`);
    await page.waitForSelector("#f-email");
    expect(page.url()).not.toContain("invite=");
    await page.fill("#f-email", erin.email);
    await page.fill("#f-password", erin.password);
    await page.click('#signin-form button[type="submit"]');
    // What the link invites to, before anything is accepted; the other invitation is not listed.
    await page.waitForSelector("#invitation .accept");
    expect(await page.textContent("#invitation")).toContain(`Invitation to ${doorName}`);
    expect(await page.textContent("#invitation .accept")).toBe("Accept (Door)");
    expect(await page.$(`.org[data-org="${door}"]`)).toBeNull();
    await page.click("#invitation .accept");
    await page.waitForSelector(`.org[data-org="${door}"]`);
    expect(await page.textContent(`.org[data-org="${door}"] .org-role`)).toBe("Your role: Door");
    expect(await page.$("#invitation")).toBeNull();
    expect(await page.$(`.org[data-org="${office}"]`)).toBeNull();

    // A second link, opened signed in.
    await page.goto(`${stack.url}/?invite=${encodeURIComponent(officeInvitation.token)}`);
    await page.waitForSelector("#invitation .accept");
    await page.click("#invitation .accept");
    await page.waitForSelector(`.org[data-org="${office}"]`);
    expect(await page.textContent(`.org[data-org="${office}"] .org-role`)).toBe("Your role: Box office");

    await page.click(`.org[data-org="${door}"] .leave`);
    await page.click(`.org[data-org="${door}"] .confirm-leave`);
    await page.waitForSelector(`.org[data-org="${door}"]`, { state: "detached" });
    expect(await page.$(`.org[data-org="${office}"]`)).not.toBeNull();
    expect(traffic.errors).toEqual([]);
  });
});
