import { describe, expect, it } from "vitest";
import { decideResync } from "../../durable-objects/shared/sockets";
import { SnapshotCache } from "../../durable-objects/inventory/live/snapshot-cache";
import { LIVE_MAX_SOCKETS_DEFAULT, liveSocketCap } from "../../durable-objects/live-relay/contract";

describe("live seat map rules", () => {
  it("reads LIVE_MAX_SOCKETS as a positive integer and falls back to the default otherwise", () => {
    expect(liveSocketCap("250")).toBe(250);
    for (const raw of [undefined, "", "0", "-3", "1.5", "many"]) expect(liveSocketCap(raw), String(raw)).toBe(LIVE_MAX_SOCKETS_DEFAULT);
  });

  it("allows the first resync, refuses another within a second with the time left, allows it after", () => {
    expect(decideResync(null, 5_000)).toEqual({ ok: true });
    expect(decideResync(5_000, 5_400)).toEqual({ ok: false, retryAfterMs: 600 });
    expect(decideResync(5_000, 6_000)).toEqual({ ok: true });
  });

  it("reads the seat map once per version and builds the socket frame once", () => {
    const cache = new SnapshotCache();
    let reads = 0;
    const read = () => {
      reads++;
      return { seats: [{ id: "A-1-1", section: "A", row: "1", number: 1, priceCents: 100, status: "available" as const }], availability: { capacity: 1, available: 1, held: 0, booked: 0 } };
    };
    const a = cache.get(3, read);
    expect(cache.get(3, read)).toBe(a);
    const frame = cache.frame(3, read);
    expect(cache.frame(3, read)).toBe(frame);
    expect(JSON.parse(frame)).toEqual({ type: "snapshot", version: 3, seats: [{ id: "A-1-1", status: "available" }], availability: a.availability });
    expect(reads).toBe(1);
    cache.get(4, read);
    expect(reads).toBe(2);
  });
});
