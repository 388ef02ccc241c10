import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";

// CORS_ORIGINS as an operator would write it: spaces and a trailing slash included.
const withOrigins = { ...env, CORS_ORIGINS: "https://app.example, https://admin.example/" };
const app = createApp();
const request = (path: string, init: RequestInit = {}, bindings: object = withOrigins) => app.request(path, init, bindings);

const preflight = (origin: string) => ({
  method: "OPTIONS",
  headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, idempotency-key" },
});

describe("CORS", () => {
  it("lets a browser on an allowed origin read an answer, its request id included", async () => {
    const res = await request("/health", { headers: { origin: "https://admin.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://admin.example");
    expect(res.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
    expect(res.headers.get("vary")).toContain("Origin");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("lets an allowed origin read an error answer too", async () => {
    const res = await request("/v1/me", { headers: { origin: "https://app.example" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
  });

  it("gives a refused origin no Access-Control-Allow-Origin", async () => {
    const res = await request("/health", { headers: { origin: "https://evil.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await request("/v1/bookings", preflight("https://app.example.evil.example"));
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses every origin when CORS_ORIGINS is empty, as wrangler.toml ships it", async () => {
    const res = await exports.default.fetch(new Request("http://evently.test/health", { headers: { origin: "https://app.example" } }));
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers a preflight from an allowed origin with 204, the methods and the headers a booking needs", async () => {
    const res = await request("/v1/bookings", preflight("https://app.example"));
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase().split(",");
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "idempotency-key"]));
    expect(res.headers.get("access-control-max-age")).toBe("600");
  });
});

describe("security headers", () => {
  it("sends the security headers on an API answer, an error included", async () => {
    for (const path of ["/health", "/v1/no-such-route"]) {
      const res = await request(path);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("content-security-policy"), path).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get("strict-transport-security"), path).toMatch(/max-age=\d+/);
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
    }
  });

  it("lets the docs page run its own script and fetch /openapi.json, and nothing else", async () => {
    const res = await request("/docs");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'unsafe-inline'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("default-src 'none'");
  });
});
