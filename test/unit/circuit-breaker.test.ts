import { describe, expect, it } from "vitest";
import { admit, CLOSED, record, type Breaker, type BreakerPolicy } from "../../durable-objects/circuit-breaker/logic";

const policy: BreakerPolicy = { failureThreshold: 3, cooldownMs: 1000, probeLeaseMs: 5000 };

function fail(b: Breaker, times: number, now: number): Breaker {
  for (let i = 0; i < times; i++) b = record(b, policy, false, now);
  return b;
}

describe("circuit breaker state machine", () => {
  it("lets calls through while closed and stays closed below the threshold", () => {
    const b = fail(CLOSED, 2, 0);
    expect(b.state).toBe("closed");
    expect(admit(b, policy, 0).admission).toEqual({ allowed: true, probe: false });
  });

  it("opens on the threshold-th consecutive failure and refuses calls with the time left", () => {
    const b = fail(CLOSED, 3, 100);
    expect(b.state).toBe("open");
    expect(admit(b, policy, 400).admission).toEqual({ allowed: false, state: "open", retryAfterMs: 700 });
  });

  it("forgets failures after a success, so only consecutive failures count", () => {
    let b = fail(CLOSED, 2, 0);
    b = record(b, policy, true, 0);
    b = fail(b, 2, 0);
    expect(b.state).toBe("closed");
  });

  it("turns half-open after the cooldown and lets exactly one probe through", () => {
    const open = fail(CLOSED, 3, 0);
    const first = admit(open, policy, 1000);
    expect(first.admission).toEqual({ allowed: true, probe: true });
    expect(first.breaker.state).toBe("half-open");
    const second = admit(first.breaker, policy, 1001);
    expect(second.admission.allowed).toBe(false);
  });

  it("closes when the probe succeeds", () => {
    const half = admit(fail(CLOSED, 3, 0), policy, 1000).breaker;
    const closed = record(half, policy, true, 1100);
    expect(closed).toEqual(CLOSED);
    expect(admit(closed, policy, 1100).admission).toEqual({ allowed: true, probe: false });
  });

  it("opens again for a full cooldown when the probe fails", () => {
    const half = admit(fail(CLOSED, 3, 0), policy, 1000).breaker;
    const reopened = record(half, policy, false, 1200);
    expect(reopened.state).toBe("open");
    expect(admit(reopened, policy, 2100).admission).toEqual({ allowed: false, state: "open", retryAfterMs: 100 });
    expect(admit(reopened, policy, 2200).admission).toEqual({ allowed: true, probe: true });
  });

  it("frees the probe slot when a probe never reports back", () => {
    const half = admit(fail(CLOSED, 3, 0), policy, 1000).breaker;
    expect(admit(half, policy, 5999).admission.allowed).toBe(false);
    expect(admit(half, policy, 6000).admission).toEqual({ allowed: true, probe: true });
  });
});
