import { exports } from "cloudflare:workers";
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createRoute, z } from "@hono/zod-openapi";
import { createApp } from "../../src/app";
import { AppError } from "../../src/lib/errors";

const call = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://evently.test${path}`, init));

function expectErrorShape(body: any, code: string) {
  expect(body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String), requestId: expect.any(String) }) });
}

describe("health", () => {
  it("answers liveness with 200 and a request id", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/.{8,}/);
  });

  it("reports ready after a real Postgres query and a Durable Object round trip", async () => {
    const res = await call("/health/ready");
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.checks.postgres.ok).toBe(true);
    expect(body.checks.durableObject.ok).toBe(true);
  });

  it("answers 503 naming Postgres within 5 s when Postgres is unreachable, and liveness stays 200", async () => {
    const app = createApp();
    const deadDb = { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/nothing" };
    const started = Date.now();
    const res = await app.request("/health/ready", {}, deadDb);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(res.status).toBe(503);
    const body: any = await res.json();
    expectErrorShape(body, "DEPENDENCY_UNAVAILABLE");
    expect(body.error.message).toContain("Postgres");
    expect(body.error.details.checks.durableObject.ok).toBe(true);
    expect((await app.request("/health", {}, deadDb)).status).toBe(200);
  });
});

describe("one error shape for every failure", () => {
  it("answers an unknown route with 404 NOT_FOUND", async () => {
    const res = await call("/no/such/route");
    expect(res.status).toBe(404);
    const body: any = await res.json();
    expectErrorShape(body, "NOT_FOUND");
    expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
  });

  it("keeps a sane caller request id and replaces a hostile one", async () => {
    const kept = await call("/health", { headers: { "x-request-id": "trace-12345678" } });
    expect(kept.headers.get("x-request-id")).toBe("trace-12345678");
    const replaced = await call("/health", { headers: { "x-request-id": "<script>" } });
    expect(replaced.headers.get("x-request-id")).not.toBe("<script>");
  });

  it("turns a thrown error into 500 INTERNAL without leaking its message", async () => {
    const app = createApp();
    app.get("/boom", () => {
      throw new Error("secret internals");
    });
    const res = await app.request("/boom", {}, env);
    expect(res.status).toBe(500);
    const body: any = await res.json();
    expectErrorShape(body, "INTERNAL");
    expect(JSON.stringify(body)).not.toContain("secret internals");
  });
});

describe("validation and dependency failures", () => {
  const app = createApp();
  app.openapi(
    createRoute({
      method: "post",
      path: "/echo",
      request: { body: { content: { "application/json": { schema: z.object({ name: z.string().min(2) }) } }, required: true } },
      responses: { 200: { description: "ok" } },
    }),
    (c) => c.json(c.req.valid("json"), 200),
  );
  app.get("/db-down", () => {
    throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
  });
  app.get("/app-error", () => {
    throw new AppError("SEAT_UNAVAILABLE", "Taken", { seatIds: ["A-1-1"] });
  });
  const post = (body: string) => app.request("/echo", { method: "POST", headers: { "content-type": "application/json" }, body }, env);

  it("answers malformed JSON with 400 MALFORMED_JSON", async () => {
    const res = await post("{nope");
    expect(res.status).toBe(400);
    expectErrorShape(await res.json(), "MALFORMED_JSON");
  });

  it("answers a body that fails its zod schema with 400 VALIDATION_FAILED naming the field", async () => {
    const res = await post(JSON.stringify({ name: "x" }));
    expect(res.status).toBe(400);
    const body: any = await res.json();
    expectErrorShape(body, "VALIDATION_FAILED");
    expect(body.error.details.issues[0].path).toBe("name");
  });

  it("answers a valid body normally", async () => {
    const res = await post(JSON.stringify({ name: "Ada" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: "Ada" });
  });

  it("turns an unreachable database into 503 DEPENDENCY_UNAVAILABLE with Retry-After", async () => {
    const res = await app.request("/db-down", {}, env);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expectErrorShape(await res.json(), "DEPENDENCY_UNAVAILABLE");
  });

  it("keeps an AppError's code, status and details", async () => {
    const res = await app.request("/app-error", {}, env);
    expect(res.status).toBe(409);
    const body: any = await res.json();
    expectErrorShape(body, "SEAT_UNAVAILABLE");
    expect(body.error.details).toEqual({ seatIds: ["A-1-1"] });
  });
});

describe("API documentation", () => {
  it("serves an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const doc: any = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.paths["/health/ready"].get.responses["503"]).toBeDefined();
  });

  it("serves a docs page that renders the document", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("/openapi.json");
  });
});
