import { describe, expect, it } from "vitest";
import type { HoldRequest } from "../../durable-objects/event-inventory.types";
import { EngineTwin } from "../helpers/inventory-sim/engine";
import { report, run, scenario, shrink } from "../helpers/inventory-sim/run";

/**
 * Model-based search for oversells in the inventory object's logic (issue 12, section 4): each seed
 * is an event and 200 random steps run against the engine twin (test/helpers/inventory-sim/engine.ts,
 * the object's decisions applied as the class applies them) and checked after every step against
 * the reference model (model.ts). `SIM_SEED=n` runs one seed; `SIM_SEEDS=n` changes how many.
 */
const SEEDS = Number(process.env.SIM_SEEDS ?? 10_000);
const STEPS = 200;
const only = process.env.SIM_SEED;

describe("inventory simulation", () => {
  it(
    only
      ? `seed ${only}: no seat in two live holds, counters equal the rows, caps exact, waitlist in order, every hold ends once`
      : `${SEEDS} seeds of ${STEPS} steps: no seat in two live holds, counters equal the rows, caps exact, waitlist in order, every hold ends once`,
    () => {
      const seeds = only ? [Number(only)] : Array.from({ length: SEEDS }, (_, i) => i + 1);
      for (const seed of seeds) {
        const sc = scenario(seed, STEPS);
        const failure = run(sc, sc.steps);
        // The report shrinks the sequence first: the message is the shortest reproduction and the seed.
        if (failure) expect.fail(report(sc, failure));
      }
    },
    180_000,
  );

  it("catches a planted defect and reports its seed with a short reproduction that still fails", () => {
    /** An object that loses the Idempotency-Key on the way: a retried hold takes seats a second time. */
    class KeyForgettingTwin extends EngineTwin {
      override hold(userId: string, req: HoldRequest, _key: string | null, now: number) {
        return super.hold(userId, req, null, now);
      }
    }
    const options = { twin: KeyForgettingTwin };
    const seed = Array.from({ length: 100 }, (_, i) => i + 1).find((n) => {
      const sc = scenario(n, STEPS);
      return run(sc, sc.steps, options) !== null;
    });
    expect(seed, "no seed of 100 noticed the planted defect").toBeDefined();
    const sc = scenario(seed!, STEPS);
    // The defect, not the sequence, is what fails: the faithful twin passes the same seed.
    expect(run(sc, sc.steps)).toBeNull();
    const failure = run(sc, sc.steps, options)!;
    const shrunk = shrink(sc, failure, options);
    expect(shrunk.steps.length).toBeLessThanOrEqual(4);
    expect(run(sc, shrunk.steps, options)).toMatchObject({ check: failure.check });
    const text = report(sc, failure, options);
    expect(text).toContain(`seed ${seed} fails`);
    expect(text).toContain(`shortest reproduction (${shrunk.steps.length} steps`);
    expect(text).toContain(`SIM_SEED=${seed}`);
  });
});
