import { describe, expect, it } from "vitest";
import { testEnv } from "../helpers/fixtures";
import { breakerFor, guarded, PaymentUnavailableError, sandboxProvider } from "../../src/services/payments";

const network = () => testEnv.PAYMENT_SANDBOX.get(testEnv.PAYMENT_SANDBOX.idFromName("card-network"));
const charge = (ref: string, paymentMethod = "pm_card_ok", key = `charge:${ref}`) =>
  ({ idempotencyKey: key, reference: ref, amountCents: 5000, currency: "EUR", paymentMethod });

describe("sandbox card network (the test double of a card network)", () => {
  const pay = sandboxProvider(testEnv);

  it("charges pm_card_ok once however often the same key is retried, even concurrently", async () => {
    const ref = crypto.randomUUID();
    const results = await Promise.all(Array.from({ length: 5 }, () => pay.charge(charge(ref))));
    expect(new Set(results.map((r) => (r.status === "succeeded" ? r.providerRef : r.status))).size).toBe(1);
    expect(results[0].status).toBe("succeeded");
    const statement = await network().statement(ref);
    expect(statement).toHaveLength(1);
    expect(statement[0]).toMatchObject({ status: "succeeded", amountCents: 5000, refundRef: null });
  });

  it("declines pm_card_declined and has nothing to refund for it", async () => {
    const ref = crypto.randomUUID();
    expect((await pay.charge(charge(ref, "pm_card_declined"))).status).toBe("declined");
    expect(await pay.refund(`charge:${ref}`)).toEqual({ status: "nothing_to_refund" });
  });

  it("fails pm_card_error like an outage", async () => {
    await expect(pay.charge(charge(crypto.randomUUID(), "pm_card_error"))).rejects.toBeInstanceOf(PaymentUnavailableError);
  });

  it("refunds a charge exactly once however often the refund is asked for", async () => {
    const ref = crypto.randomUUID();
    await pay.charge(charge(ref));
    const refunds = await Promise.all([pay.refund(`charge:${ref}`), pay.refund(`charge:${ref}`), pay.refund(`charge:${ref}`)]);
    expect(refunds[0].status).toBe("refunded");
    expect(new Set(refunds.map((r) => JSON.stringify(r))).size).toBe(1);
    expect((await network().statement(ref))[0].refundRef).toBe((refunds[0] as any).providerRef);
  });

  it("voids a charge key refunded before the charge arrived, so the late charge never lands", async () => {
    const ref = crypto.randomUUID();
    expect(await pay.refund(`charge:${ref}`)).toEqual({ status: "nothing_to_refund" });
    expect((await pay.charge(charge(ref))).status).toBe("declined");
    expect((await network().statement(ref)).filter((c) => c.status === "succeeded")).toHaveLength(0);
  });

  it("answers pm_card_slow after the delay; a retry meanwhile sees it processing, then settled", async () => {
    const ref = crypto.randomUUID();
    const started = Date.now();
    const first = pay.charge(charge(ref, "pm_card_slow"));
    await new Promise((r) => setTimeout(r, 200));
    expect(await pay.charge(charge(ref, "pm_card_slow"))).toEqual({ status: "processing" });
    expect(await pay.refund(`charge:${ref}`)).toEqual({ status: "processing" });
    expect((await first).status).toBe("succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(Number(testEnv.PAYMENT_SANDBOX_SLOW_MS) - 100);
    expect((await pay.refund(`charge:${ref}`)).status).toBe("refunded");
  });
});

describe("payment circuit breaker shared across isolates", () => {
  it("opens after consecutive outages, fails fast while open, and closes after the provider recovers", async () => {
    const name = `outage-${crypto.randomUUID()}`;
    const breaker = breakerFor(testEnv, name);
    const pay = guarded(sandboxProvider(testEnv), breaker, () => 5_000);
    const tripwire = charge(crypto.randomUUID(), "pm_card_error");
    for (let i = 0; i < 3; i++) await expect(pay.charge(tripwire)).rejects.toBeInstanceOf(PaymentUnavailableError);
    // A second handle on the same provider (as another isolate would have) sees the same open breaker.
    const elsewhere = testEnv.CIRCUIT_BREAKER.get(testEnv.CIRCUIT_BREAKER.idFromName(`payments:${name}`));
    expect((await elsewhere.current()).state).toBe("open");
    const ref = crypto.randomUUID();
    const err = await pay.charge(charge(ref)).catch((e) => e);
    expect(err).toBeInstanceOf(PaymentUnavailableError);
    expect(err.message).toContain("circuit is open");
    expect(await network().statement(ref)).toHaveLength(0);

    await new Promise((r) => setTimeout(r, 1_100));
    expect((await pay.charge(charge(ref))).status).toBe("succeeded");
    expect((await elsewhere.current()).state).toBe("closed");
  });

  it("goes back to open when the half-open probe fails", async () => {
    const name = `probe-${crypto.randomUUID()}`;
    const pay = guarded(sandboxProvider(testEnv), breakerFor(testEnv, name), () => 5_000);
    const tripwire = charge(crypto.randomUUID(), "pm_card_error");
    for (let i = 0; i < 3; i++) await pay.charge(tripwire).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(pay.charge(tripwire)).rejects.toBeInstanceOf(PaymentUnavailableError);
    const state = await testEnv.CIRCUIT_BREAKER.get(testEnv.CIRCUIT_BREAKER.idFromName(`payments:${name}`)).current();
    expect(state.state).toBe("open");
  });

  it("counts a slow provider that misses the timeout as a failure", async () => {
    const name = `slow-${crypto.randomUUID()}`;
    const pay = guarded(sandboxProvider(testEnv), breakerFor(testEnv, name), () => 100);
    await expect(pay.charge(charge(crypto.randomUUID(), "pm_card_slow"))).rejects.toThrow(/did not answer within 100 ms/);
    const state = await testEnv.CIRCUIT_BREAKER.get(testEnv.CIRCUIT_BREAKER.idFromName(`payments:${name}`)).current();
    expect(state.consecutiveFailures).toBe(1);
  });
});
