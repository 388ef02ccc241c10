import { describe, expect, it } from "vitest";
import { decideDelivery } from "../../durable-objects/live-relay/logic";
import { eventOfRelay, liveLayout, relayIndex, relayName } from "../../durable-objects/live-relay/contract";

describe("live seat map fan-out rules", () => {
  it("an event's relays cover LIVE_MAX_SOCKETS beyond the sockets its inventory serves itself", () => {
    expect(liveLayout({})).toEqual({ direct: 500, perRelay: 2_000, relays: 3 });
    expect(liveLayout({ LIVE_MAX_SOCKETS: "20500", LIVE_DIRECT_SOCKETS: "500", LIVE_RELAY_SOCKETS: "2000" })).toEqual({ direct: 500, perRelay: 2_000, relays: 10 });
    expect(liveLayout({ LIVE_MAX_SOCKETS: "300" })).toEqual({ direct: 300, perRelay: 2_000, relays: 0 });
    expect(liveLayout({ LIVE_DIRECT_SOCKETS: "0", LIVE_RELAY_SOCKETS: "x" })).toEqual({ direct: 500, perRelay: 2_000, relays: 3 });
  });

  it("relay names carry their event id, and connections spread over every relay", () => {
    const id = crypto.randomUUID();
    expect(eventOfRelay(relayName(id, 7))).toBe(id);
    expect(eventOfRelay(id)).toBeNull();
    expect(eventOfRelay(`${id}:x`)).toBeNull();
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 10_000; i++) counts[relayIndex(crypto.randomUUID(), 10)]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });

  it("a relay passes on the next version, drops a repeated one and resyncs on a gap or when it does not know", () => {
    expect(decideDelivery(4, 5)).toBe("send");
    expect(decideDelivery(5, 5)).toBe("skip");
    expect(decideDelivery(5, 3)).toBe("skip");
    expect(decideDelivery(5, 7)).toBe("resync");
    expect(decideDelivery(null, 1)).toBe("resync");
  });
});
