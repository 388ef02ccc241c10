import { describe, expect, it } from "vitest";
import { writeMetric, writeRequestMetric } from "../../src/lib/metrics";

/** Stands in for the Analytics Engine binding, which is a silent no-op locally: records what is written. */
function recordingDataset() {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, dataset: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p!) } as AnalyticsEngineDataset };
}

describe("Analytics Engine data point layout", () => {
  it("writes an operation as [kind, eventId, outcome, action, colo] / [latencyMs, quantity, amountCents], indexed by event", () => {
    const { points, dataset } = recordingDataset();
    writeMetric({ ANALYTICS: dataset }, { kind: "hold", eventId: "evt-1", outcome: "SEAT_UNAVAILABLE", action: "created", latencyMs: 12, quantity: 2, colo: "FRA" });
    expect(points).toEqual([{ blobs: ["hold", "evt-1", "SEAT_UNAVAILABLE", "created", "FRA"], doubles: [12, 2, 0], indexes: ["evt-1"] }]);
  });

  it("writes a request as [request, method, route, status, colo] / [latencyMs, status]", () => {
    const { points, dataset } = recordingDataset();
    writeRequestMetric({ ANALYTICS: dataset }, { method: "POST", route: "/v1/events/:id/holds", status: 201, latencyMs: 8 });
    expect(points).toEqual([{ blobs: ["request", "POST", "/v1/events/:id/holds", "201", ""], doubles: [8, 201], indexes: ["request"] }]);
  });

  it("does nothing without the binding and never throws when a write fails", () => {
    expect(() => writeMetric({}, { kind: "booking", eventId: "e", outcome: "ok", action: "requested" })).not.toThrow();
    const failing = { writeDataPoint: () => { throw new Error("quota"); } } as unknown as AnalyticsEngineDataset;
    expect(() => writeMetric({ ANALYTICS: failing }, { kind: "booking", eventId: "e", outcome: "ok", action: "requested" })).not.toThrow();
  });
});
