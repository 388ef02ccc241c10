import { describe, expect, it } from "vitest";
import { AdmissionGate, type GateResult, type GateStorage } from "../../durable-objects/inventory/admission-gate";
import { InventoryEngine, type EngineDeps } from "../../durable-objects/inventory/engine/engine";
import type { AdmissionStats } from "../../durable-objects/inventory/contract";
import { admissionKey, verifyAdmission, type AdmissionClaims } from "../../durable-objects/onsale/contract";
import { SIM_ADMISSION_SECRETS } from "../helpers/inventory-sim/object";
import { report, run, scenario, shrink, type RunOptions } from "../helpers/inventory-sim/run";

/**
 * The inventory simulation's on-sale admission (test/helpers/inventory-sim/onsale.ts) must be able
 * to fail: each test plants one defect of the gate or of how the object wires it, and expects a
 * seed to catch it. The seeds are the 500 of `npm test` (test/unit/inventory-simulation.test.ts).
 */
const STEPS = 200;

async function firstFailing(options: RunOptions, seeds = 200): Promise<{ seed: number; message: string } | undefined> {
  for (let n = 1; n <= seeds; n++) {
    const sc = scenario(n, STEPS);
    if (!sc.onsale) continue;
    const failure = await run(sc, sc.steps, options);
    if (failure) return { seed: n, message: failure.message };
  }
  return undefined;
}

describe("inventory simulation: on-sale admission", () => {
  it("catches a gate that lets an admission of an earlier on-sale hold, and reports its seed with a short reproduction", async () => {
    /** The defect of issue 24, item 7: a second on-sale inherits the first's tokens. */
    class AcceptsEarlierOnSale extends AdmissionGate {
      override async check(userId: string, eventId: string, token: string | null | undefined, now: number): Promise<GateResult> {
        const res = await super.check(userId, eventId, token, now);
        if (res.ok || res.code !== "ADMISSION_SUPERSEDED") return res;
        const again = await verifyAdmission(await admissionKey(SIM_ADMISSION_SECRETS), token!, userId, eventId, now);
        return again.ok ? { ok: true, claims: again.claims } : res;
      }
    }
    const options: RunOptions = { gate: (storage, secrets) => new AcceptsEarlierOnSale(storage, secrets) };
    const found = await firstFailing(options);
    expect(found, "no seed of 200 noticed the planted defect").toBeDefined();
    expect(found!.message).toMatch(/ADMISSION_SUPERSEDED|earlier on-sale/);
    const sc = scenario(found!.seed, STEPS);
    // The defect, not the sequence, is what fails: the real gate passes the same seed.
    expect(await run(sc, sc.steps)).toBeNull();
    const failure = (await run(sc, sc.steps, options))!;
    const shrunk = await shrink(sc, failure, options);
    expect(shrunk.steps.length).toBeLessThanOrEqual(6);
    expect(await run(sc, shrunk.steps, options)).toMatchObject({ check: failure.check });
    const text = await report(sc, failure, options);
    expect(text).toContain(`seed ${found!.seed} fails`);
    expect(text).toContain(`shortest reproduction (${shrunk.steps.length} steps`);
    expect(text).toMatch(/a new on-sale, generation \d/);
    expect(text).toContain(`SIM_SEED=${found!.seed}`);
  });

  it("catches a gate that judges an admission by when it first saw it, so it holds again after its session", async () => {
    class FirstSightClock extends AdmissionGate {
      private readonly firstSeen = new Map<string, number>();
      override check(userId: string, eventId: string, token: string | null | undefined, now: number): Promise<GateResult> {
        if (token && !this.firstSeen.has(token)) this.firstSeen.set(token, now);
        return super.check(userId, eventId, token, token ? this.firstSeen.get(token)! : now);
      }
    }
    const found = await firstFailing({ gate: (storage, secrets) => new FirstSightClock(storage, secrets) });
    expect(found, "no seed of 200 noticed the planted defect").toBeDefined();
    expect(found!.message).toMatch(/over \(its session ended\)|admission/);
  });

  it("catches an object whose gate forgets after a restart that the room is on", async () => {
    /** The on/off flag kept in memory only: a restarted object lets holds through without admission. */
    const forgetful = (storage: GateStorage): GateStorage => ({
      get: (k) => storage.get(k),
      put: (k, v) => (k === "onsale:enabled" ? undefined : storage.put(k, v)),
      delete: (k) => storage.delete(k),
      list: (o) => storage.list(o),
    });
    const found = await firstFailing({ gate: (storage, secrets) => new AdmissionGate(forgetful(storage), secrets) });
    expect(found, "no seed of 200 noticed the planted defect").toBeDefined();
    expect(found!.message).toMatch(/the gate is off, the room switched it on|NOT_ADMITTED|ADMISSION_SUPERSEDED/);
  });

  it("catches an object that keeps its waitlist open while the room is on", async () => {
    const found = await firstFailing({ engine: (d: EngineDeps) => new InventoryEngine({ ...d, waitlistClosed: () => false }) });
    expect(found, "no seed of 200 noticed the planted defect").toBeDefined();
    expect(found!.message).toMatch(/WAITLIST_CLOSED|waitlist/);
  });

  for (const [name, plant] of [
    ["reads no cap from the inventory (and counts a buyer on the way as 1.5 x the average, the rule before)", (s: AdmissionStats) => ({ ...s, maxSeatsPerUser: 0 })],
    ["is told every admission in session has held (so it reserves for no buyer on the way)", (s: AdmissionStats) => ({ ...s, admissionsUsed: Number.MAX_SAFE_INTEGER })],
  ] as const) {
    it(`catches a room that ${name}: an admitted buyer finds no seat`, async () => {
      const options: RunOptions = { admissionStats: plant };
      const found = await firstFailing(options);
      expect(found, "no seed of 200 noticed the planted defect").toBeDefined();
      expect(found!.message).toMatch(/^free-seat rule: .* finds no seat free/);
      const sc = scenario(found!.seed, STEPS);
      expect(await run(sc, sc.steps)).toBeNull();
    });
  }

  it("catches a gate that counts every hold as another admitted buyer (the room would admit too few)", async () => {
    class CountsHolds extends AdmissionGate {
      private n = 0;
      override recordHold(claims: AdmissionClaims, seats: number, now: number): void {
        super.recordHold({ ...claims, jti: `${claims.jti}#${++this.n}` }, seats, now);
      }
    }
    const found = await firstFailing({ gate: (storage, secrets) => new CountsHolds(storage, secrets) });
    expect(found, "no seed of 200 noticed the planted defect").toBeDefined();
    expect(found!.message).toMatch(/admissions in session that held|admission entries/);
  });
});
