import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { makeUser, testEnv, withDb } from "../helpers/fixtures";
import { refreshDailyStats } from "../../src/services/analytics";

/** Stands in for the Analytics Engine binding, which is a silent no-op locally: records what is written. */
function recordingDataset() {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, dataset: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p!) } as AnalyticsEngineDataset };
}

function requestLogs(spy: { mock: { calls: unknown[][] } }): any[] {
  return spy.mock.calls
    .map((args) => { try { return JSON.parse(String(args[0])); } catch { return null; } })
    .filter((l) => l?.level === "info" && "route" in l);
}

afterEach(() => vi.restoreAllMocks());

describe("the operator's view of a request", () => {
  it("logs one JSON line with request id, route template, status and latency, and writes the same data point", async () => {
    const log = vi.spyOn(console, "log");
    const { points, dataset } = recordingDataset();
    const organizer = await makeUser("organizer");
    const id = crypto.randomUUID();
    const res = await createApp().request(`/v1/admin/analytics/events/${id}`, { headers: { ...organizer.auth, "x-request-id": "ops-test-0001" } }, { ...testEnv, ANALYTICS: dataset });
    expect(res.status).toBe(404);
    const [line] = requestLogs(log).filter((l) => l.requestId === "ops-test-0001");
    expect(line).toMatchObject({ method: "GET", route: "/v1/admin/analytics/events/:id", path: `/v1/admin/analytics/events/${id}`, status: 404 });
    expect(line.latencyMs).toBeGreaterThanOrEqual(0);
    expect(points).toEqual([{ blobs: ["request", "GET", "/v1/admin/analytics/events/:id", "404", ""], doubles: [line.latencyMs, 404], indexes: ["request"] }]);
  });

  it("logs the status a guard answered with", async () => {
    const log = vi.spyOn(console, "log");
    const res = await createApp().request("/v1/admin/analytics/overview", { headers: { "x-request-id": "ops-test-0002" } }, testEnv);
    expect(res.status).toBe(401);
    expect(requestLogs(log).find((l) => l.requestId === "ops-test-0002")).toMatchObject({ route: "/v1/admin/analytics/overview", status: 401 });
  });

  it("logs 500, not 200, when the Worker's configuration is broken before any handler runs", async () => {
    const log = vi.spyOn(console, "log");
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await createApp().request("/health", { headers: { "x-request-id": "ops-test-0003" } }, { ...testEnv, JWT_ISSUER: "" });
    expect(res.status).toBe(500);
    expect(requestLogs(log).find((l) => l.requestId === "ops-test-0003")).toMatchObject({ status: 500 });
  });
});

describe("readiness detail", () => {
  it("reports how old the analytics rollup is, without letting it decide readiness", async () => {
    await withDb((db) => refreshDailyStats(db));
    const res = await createApp().request("/health/ready", {}, testEnv);
    const body: any = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.analyticsRollup.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(body.analyticsRollup.ageSeconds).toBeLessThan(120);
    expect(Date.parse(body.analyticsRollup.refreshedAt)).not.toBeNaN();
  });
});
