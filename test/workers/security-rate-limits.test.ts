import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { ensureUser } from "../../src/services/users";
import { call, expectError, freshIp, makeSession, makeUser, testEnv, withDb } from "../helpers/fixtures";

// The [[ratelimits]] of wrangler.toml: AUTH_IP_LIMITER, AUTH_EMAIL_LIMITER, REFRESH_LIMITER,
// REFRESH_IP_LIMITER and LIVE_LIMITER per minute, PUBLIC_READ_LIMITER and WAITLIST_LIMITER per 10 seconds.
const IP_LIMIT = 20;
const EMAIL_LIMIT = 10;
const REFRESH_LIMIT = 10;
const REFRESH_IP_LIMIT = 60;
const PUBLIC_READ_LIMIT = 200;
const LIVE_LIMIT = 30;
const WAITLIST_LIMIT = 20;

/**
 * The local limiter counts in fixed windows aligned to the minute; a run that straddles a window
 * edge starts counting again. Wait for a fresh window when the budget would not fit in this one.
 */
async function awayFromWindowEdge(budgetMs: number, periodMs = 60_000): Promise<void> {
  const left = periodMs - (Date.now() % periodMs);
  if (left < budgetMs) await new Promise((r) => setTimeout(r, left + 50));
}

async function expectLimited(res: Response, retryAfter = "60"): Promise<void> {
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(429);
  expectError(body, "RATE_LIMITED");
  expect(res.headers.get("retry-after")).toBe(retryAfter);
}

const login = (json: unknown, ip: Record<string, string>) => call("/v1/auth/login", { method: "POST", json, headers: ip });

describe("brute force", () => {
  const email = `victim-${crypto.randomUUID()}@evently.test`;
  const password = "the victim's real password";
  beforeAll(async () => {
    await withDb((db) => ensureUser(db, { email, password, name: "Victim", role: "user" }));
  });

  it("locks an account for one address after the configured number of tries, even with the right password", async () => {
    await awayFromWindowEdge(20_000);
    const guesser = freshIp();
    for (let i = 0; i < EMAIL_LIMIT; i++) {
      const res = await login({ email, password: `guess number ${i}!` }, guesser);
      expect(res.status, `try ${i + 1}`).toBe(401);
    }
    await expectLimited(await login({ email, password: "guess number 11!" }, guesser));
    await expectLimited(await login({ email: email.toUpperCase(), password }, guesser));
  });

  it("lets the owner log in from their own address after a stranger's failed tries from another locked the stranger out", async () => {
    await awayFromWindowEdge(20_000);
    const owner = `owner-${crypto.randomUUID()}@evently.test`;
    const ownerPassword = "the owner's own password";
    await withDb((db) => ensureUser(db, { email: owner, password: ownerPassword, name: "Owner", role: "user" }));
    const stranger = freshIp();
    for (let i = 0; i <= EMAIL_LIMIT; i++) await login({ email: owner, password: `stranger guess ${i}!` }, stranger);
    await expectLimited(await login({ email: owner, password: ownerPassword }, stranger));
    const res = await login({ email: owner, password: ownerPassword }, freshIp());
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).user.email).toBe(owner);
  });

  it("limits one address across accounts, counting malformed requests too", async () => {
    await awayFromWindowEdge(10_000);
    const ip = freshIp();
    for (let i = 0; i < IP_LIMIT; i++) {
      const res = await call("/v1/auth/login", { method: "POST", json: { email: "" }, headers: ip });
      expect(res.status, `try ${i + 1}`).toBe(400);
    }
    await expectLimited(await login({ email: `someone-${crypto.randomUUID()}@evently.test`, password: "whatever it is" }, ip));
    await expectLimited(await call("/v1/auth/register", { method: "POST", json: { email: `new-${crypto.randomUUID()}@evently.test`, password: "a long enough password", name: "N" }, headers: ip }));
    // Another address is not affected.
    expect((await call("/v1/auth/login", { method: "POST", json: { email: "" }, headers: freshIp() })).status).toBe(400);
  });

  it("limits refreshes per session (token family)", async () => {
    await awayFromWindowEdge(15_000);
    const s = await makeSession();
    let token = s.refreshToken;
    for (let i = 0; i < REFRESH_LIMIT; i++) {
      const res = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: token } });
      expect(res.status, `refresh ${i + 1}`).toBe(200);
      token = ((await res.json()) as any).refreshToken;
    }
    await expectLimited(await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: token } }));
    // Another session of the same user is not affected.
    const other = await makeSession();
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: other.refreshToken } })).status).toBe(200);
  });

  it("limits refreshes per address across sessions, before any token is looked up", async () => {
    await awayFromWindowEdge(15_000);
    const ip = freshIp();
    for (let i = 0; i < REFRESH_IP_LIMIT; i++) {
      // Each a different made-up session: the per-session limit never sees the same one twice.
      const res = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: `${crypto.randomUUID()}.${"A".repeat(43)}` }, headers: ip });
      expect(res.status, `refresh ${i + 1}`).toBe(401);
    }
    const s = await makeSession();
    await expectLimited(await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken }, headers: ip }));
    // The same session from another address is not affected.
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken }, headers: freshIp() })).status).toBe(200);
  });

  it("turns every limiter off when RATE_LIMITS=off (load tests only)", async () => {
    const app = createApp();
    const env = { ...testEnv, RATE_LIMITS: "off" } as unknown as typeof testEnv;
    const ip = freshIp();
    for (let i = 0; i < IP_LIMIT + 5; i++) {
      const res = await app.request("/v1/auth/login", { method: "POST", body: JSON.stringify({ email: "" }), headers: { ...ip, "content-type": "application/json" } }, env);
      expect(res.status).toBe(400);
    }
  });
});

describe("public reads", () => {
  it("answer 429 RATE_LIMITED in the error shape with Retry-After once an address has read too much, other addresses unaffected", async () => {
    // The local limiter counts in fixed 10 s windows: the allowance must be spent inside one. On a
    // loaded machine that can take longer than a window; then start again from the next one. Each
    // step is bounded and timed, so a run that stalls says where (one stalled past the test's
    // timeout in a full suite once, and never alone).
    const steps: string[] = [];
    const step = async <T>(label: string, work: Promise<T>, ms = 20_000): Promise<T> => {
      const started = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms; steps before: ${steps.join(", ")}`)), ms);
      });
      try {
        return await Promise.race([work, stalled]);
      } finally {
        clearTimeout(timer);
        steps.push(`${label} ${Date.now() - started} ms`);
      }
    };
    let ip = freshIp();
    for (let attempt = 1; ; attempt++) {
      await awayFromWindowEdge(6_000, 10_000);
      const windowEnds = Date.now() + (10_000 - (Date.now() % 10_000));
      ip = freshIp();
      // All at once: in batches, a loaded machine spent longer than a window on them (three attempts, 95 s).
      const statuses = await step(
        `attempt ${attempt}: ${PUBLIC_READ_LIMIT} reads`,
        Promise.all(Array.from({ length: PUBLIC_READ_LIMIT }, async () => (await call("/v1/events/not-an-event-id", { headers: ip })).status)),
      );
      expect(statuses.filter((s) => s !== 404)).toEqual([]);
      if (Date.now() < windowEnds - 500 || attempt === 3) break;
    }
    await expectLimited(await step("the listing, limited", call("/v1/events", { headers: ip })), "10");
    await expectLimited(await step("a venue, limited", call(`/v1/venues/${crypto.randomUUID()}`, { headers: ip })), "10");
    // Another address still reads (an id that names nothing: the answer needs no database).
    expect((await step("another address", call("/v1/events/not-an-event-id", { headers: freshIp() }))).status).toBe(404);
  }, 90_000);

  it("limit live seat map upgrades per address", async () => {
    await awayFromWindowEdge(15_000);
    const ip = freshIp();
    // Without an Upgrade header the route answers 426 after counting the attempt. All at once, so
    // they land in one window even on a loaded machine.
    const statuses = await Promise.all(Array.from({ length: LIVE_LIMIT }, async () => (await call(`/v1/events/${crypto.randomUUID()}/live`, { headers: ip })).status));
    expect(statuses.filter((s) => s !== 426)).toEqual([]);
    await expectLimited(await call(`/v1/events/${crypto.randomUUID()}/live`, { headers: ip }));
  }, 90_000);
});

describe("waitlist join and leave", () => {
  it("are limited per user: past the limit a user's waitlist changes answer 429 RATE_LIMITED, another user's do not", async () => {
    const [user, other] = [await makeUser(), await makeUser()];
    const eventId = crypto.randomUUID();
    const leave = (u: typeof user) => call(`/v1/events/${eventId}/waitlist/me`, { method: "DELETE", headers: u.auth });
    await awayFromWindowEdge(6_000, 10_000);
    const statuses = await Promise.all(Array.from({ length: WAITLIST_LIMIT }, async () => (await leave(user)).status));
    expect(statuses.filter((s) => s === 429)).toEqual([]);
    await expectLimited(await call(`/v1/events/${eventId}/waitlist`, { method: "POST", headers: user.auth, json: { quantity: 1 } }), "10");
    expect((await leave(other)).status).not.toBe(429);
  }, 90_000);
});
