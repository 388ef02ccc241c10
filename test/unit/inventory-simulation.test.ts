import { describe, expect, it } from "vitest";
import { report, run, scenario } from "../helpers/inventory-sim/run";

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
});
