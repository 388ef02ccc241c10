import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/local-db";
import { startDevStack, type DevStack } from "../../scripts/lib/dev-stack";

// The real dev stack: wrangler dev (workerd) + the proxy + an embedded Postgres we can kill.
describe("the dev stack over HTTP", () => {
  let stack: DevStack;

  beforeAll(async () => {
    stack = await startDevStack({
      port: await freePort(),
      forceEmbedded: true,
      embeddedDataDir: null,
      persistState: false,
      wranglerOutput: "ignore",
      log: () => {},
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("answers liveness and readiness with Postgres and a Durable Object checked", async () => {
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
    const res = await fetch(`${stack.url}/health/ready`);
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.checks.postgres.ok && body.checks.durableObject.ok).toBe(true);
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers an unknown route with the one error shape", async () => {
    const res = await fetch(`${stack.url}/v1/nothing-here`, { method: "POST", body: "{}" });
    const body: any = await res.json();
    expect(res.status).toBe(404);
    expect(body.error).toMatchObject({ code: "NOT_FOUND", requestId: res.headers.get("x-request-id") });
  });

  it("reports Postgres down within 5 s once the database is gone, while liveness stays 200", async () => {
    await stack.database.stop();
    const started = Date.now();
    const res = await fetch(`${stack.url}/health/ready`);
    const elapsed = Date.now() - started;
    const body: any = await res.json();
    expect(res.status).toBe(503);
    expect(body.error.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(body.error.message).toContain("Postgres");
    expect(elapsed).toBeLessThan(5_000);
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
  });
});
