import { describe, expect, it } from "vitest";
import { DEADLINE_PASSED, decide, retryDelaySeconds, type SagaState, type SagaStep } from "../../src/services/booking-saga.logic";

function state(status: SagaState["status"], done: SagaStep[] = [], extra: Partial<SagaState> = {}): SagaState {
  return { status, paymentDeadline: 10_000, done: new Map(done.map((s) => [s, null])), attempted: new Set(done), ...extra };
}

describe("booking saga decisions", () => {
  it("walks a pending booking through begin-confirm, charge, commit and confirm in order", () => {
    expect(decide(state("pending"), 0)).toEqual({ kind: "run", step: "begin-confirm" });
    expect(decide(state("pending", ["begin-confirm"]), 0)).toEqual({ kind: "run", step: "charge" });
    expect(decide(state("pending", ["begin-confirm", "charge"]), 0)).toEqual({ kind: "run", step: "commit" });
    expect(decide(state("pending", ["begin-confirm", "charge", "commit"]), 0)).toEqual({ kind: "run", step: "confirm" });
  });

  it("notifies a confirmed booking once and then has nothing left to do", () => {
    expect(decide(state("confirmed", ["charge", "commit", "confirm"]), 0)).toEqual({ kind: "run", step: "notify-confirmed" });
    expect(decide(state("confirmed", ["charge", "commit", "confirm", "notify-confirmed"]), 0)).toEqual({ kind: "finished" });
  });

  it("leaves a booking cancelled by its event's cancellation to the refund job, and runs a buyer's own cancellation", () => {
    const byEvent = state("cancelled", ["charge", "commit", "confirm", "notify-confirmed"]);
    byEvent.done = new Map([...byEvent.done, ["cancel", { by: "event-cancellation" }]]);
    expect(decide(byEvent, 0)).toEqual({ kind: "finished" });
    expect(decide(state("cancelled", ["charge", "commit", "confirm", "notify-confirmed", "cancel"]), 0)).toEqual({ kind: "run", step: "return-seats" });
  });

  it("compensates an unpaid booking once its payment deadline has passed", () => {
    expect(decide(state("pending", ["begin-confirm"]), 10_000)).toEqual({ kind: "compensate", reason: DEADLINE_PASSED });
  });

  it("keeps going after the deadline once the charge went through: paid seats are committed, not dropped", () => {
    expect(decide(state("pending", ["begin-confirm", "charge"]), 99_999)).toEqual({ kind: "run", step: "commit" });
  });

  it("releases seats before refunding, and refunds only when a charge was ever attempted", () => {
    const attemptedCharge = state("failed", ["fail"], { attempted: new Set<SagaStep>(["fail", "charge"]) });
    expect(decide(attemptedCharge, 0)).toEqual({ kind: "run", step: "release" });
    const released = { ...attemptedCharge, done: new Map<SagaStep, null>([["fail", null], ["release", null]]) };
    expect(decide(released, 0)).toEqual({ kind: "run", step: "refund" });
    expect(decide(state("failed", ["fail", "release"]), 0)).toEqual({ kind: "run", step: "notify-failed" });
  });

  it("sends a refund notification only when money actually went back", () => {
    const base = state("failed", ["fail", "release", "notify-failed"], { attempted: new Set<SagaStep>(["charge"]) });
    const refunded = { ...base, done: new Map([...base.done, ["refund", { outcome: "refunded" }]]) } as SagaState;
    const nothing = { ...base, done: new Map([...base.done, ["refund", { outcome: "nothing_to_refund" }]]) } as SagaState;
    expect(decide(refunded, 0)).toEqual({ kind: "run", step: "notify-refunded" });
    expect(decide(nothing, 0)).toEqual({ kind: "finished" });
  });

  it("returns seats, refunds and notifies a cancelled booking", () => {
    expect(decide(state("cancelled", ["confirm", "cancel"]), 0)).toEqual({ kind: "run", step: "return-seats" });
    expect(decide(state("cancelled", ["cancel", "return-seats"]), 0)).toEqual({ kind: "run", step: "refund" });
    const refunded = state("cancelled", ["cancel", "return-seats", "notify-cancelled"]);
    (refunded.done as Map<SagaStep, unknown>).set("refund", { outcome: "refunded" });
    expect(decide(refunded, 0)).toEqual({ kind: "run", step: "notify-refunded" });
  });

  it("never schedules a retry of an unpaid booking past its payment deadline", () => {
    expect(retryDelaySeconds(state("pending"), 6, undefined, 7_000)).toBe(3);
    expect(retryDelaySeconds(state("pending"), 1, 5_000, 0)).toBe(5);
    expect(retryDelaySeconds(state("pending", ["charge"]), 6, undefined, 7_000)).toBe(64);
    expect(retryDelaySeconds(state("pending"), 1, undefined, 20_000)).toBe(1);
  });

  describe("a Stripe booking", () => {
    const stripe = { provider: "stripe" as const };
    it("authorizes (charge), commits and confirms as the sandbox does, then captures before telling the buyer", () => {
      expect(decide(state("pending", ["begin-confirm"], stripe), 0)).toEqual({ kind: "run", step: "charge" });
      expect(decide(state("pending", ["begin-confirm", "charge"], stripe), 0)).toEqual({ kind: "run", step: "commit" });
      expect(decide(state("confirmed", ["charge", "commit", "confirm"], stripe), 0)).toEqual({ kind: "run", step: "capture" });
      expect(decide(state("confirmed", ["charge", "commit", "confirm", "capture"], stripe), 0)).toEqual({ kind: "run", step: "notify-confirmed" });
      expect(decide(state("confirmed", ["charge", "commit", "confirm", "capture", "notify-confirmed"], stripe), 0)).toEqual({ kind: "finished" });
    });

    it("never captures a sandbox booking", () => {
      expect(decide(state("confirmed", ["charge", "commit", "confirm"]), 0)).toEqual({ kind: "run", step: "notify-confirmed" });
    });

    it("compensates an unauthorized intent past its deadline, and keeps going once it was authorized", () => {
      expect(decide(state("pending", ["begin-confirm"], stripe), 10_000)).toEqual({ kind: "compensate", reason: DEADLINE_PASSED });
      expect(decide(state("pending", ["begin-confirm", "charge"], stripe), 99_999)).toEqual({ kind: "run", step: "commit" });
    });

    it("settles the intent of a failed booking (refund step: cancel or refund) even if the saga never looked at it", () => {
      const failed = state("failed", ["fail", "release"], stripe);
      expect(failed.attempted.has("charge")).toBe(false);
      expect(decide(failed, 0)).toEqual({ kind: "run", step: "refund" });
      expect(decide(state("failed", ["fail", "release", "refund"], stripe), 0)).toEqual({ kind: "run", step: "notify-failed" });
    });

    it("tells the buyer of a refund only once the refund succeeded", () => {
      const failedRefund = state("cancelled", ["cancel", "return-seats", "notify-cancelled"], stripe);
      failedRefund.done = new Map([...failedRefund.done, ["refund", { outcome: "refund_failed" }]]);
      expect(decide(failedRefund, 0)).toEqual({ kind: "finished" });
      const refunded = state("cancelled", ["cancel", "return-seats", "notify-cancelled"], stripe);
      refunded.done = new Map([...refunded.done, ["refund", { outcome: "refunded" }]]);
      expect(decide(refunded, 0)).toEqual({ kind: "run", step: "notify-refunded" });
    });
  });
});
