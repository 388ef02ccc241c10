import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { ensureUser } from "../../src/services/users";
import { call, expectError, freshIp, makeSession, testEnv, withDb } from "../helpers/fixtures";

// The [[ratelimits]] of wrangler.toml: AUTH_IP_LIMITER, AUTH_EMAIL_LIMITER, REFRESH_LIMITER per minute.
const IP_LIMIT = 20;
const EMAIL_LIMIT = 10;
const REFRESH_LIMIT = 10;

/**
 * The local limiter counts in fixed windows aligned to the minute; a run that straddles a window
 * edge starts counting again. Wait for a fresh window when the budget would not fit in this one.
 */
async function awayFromWindowEdge(budgetMs: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < budgetMs) await new Promise((r) => setTimeout(r, left + 50));
}

async function expectLimited(res: Response): Promise<void> {
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(429);
  expectError(body, "RATE_LIMITED");
  expect(res.headers.get("retry-after")).toBe("60");
}

const login = (json: unknown, ip: Record<string, string>) => call("/v1/auth/login", { method: "POST", json, headers: ip });

describe("brute force", () => {
  const email = `victim-${crypto.randomUUID()}@evently.test`;
  const password = "the victim's real password";
  beforeAll(async () => {
    await withDb((db) => ensureUser(db, { email, password, name: "Victim", role: "user" }));
  });

  it("locks an account after the configured number of tries, from any address, even with the right password", async () => {
    await awayFromWindowEdge(20_000);
    for (let i = 0; i < EMAIL_LIMIT; i++) {
      const res = await login({ email, password: `guess number ${i}!` }, freshIp());
      expect(res.status, `try ${i + 1}`).toBe(401);
    }
    await expectLimited(await login({ email, password: "guess number 11!" }, freshIp()));
    await expectLimited(await login({ email: email.toUpperCase(), password }, freshIp()));
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
