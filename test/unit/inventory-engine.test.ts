import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../durable-objects/inventory/store/memory-store";
import { observe, runScenario, scenarioEngine, scenarioInit, T0 } from "../helpers/inventory-scenario";

describe("the inventory engine on the in-memory store", () => {
  it("runs holds, releases, expiries, confirm, commit, return and a waitlist offer with the outcomes a buyer sees", () => {
    const { trace, final } = runScenario(new MemoryStore());
    const byName = Object.fromEntries((trace as { name: string; result: any }[]).map((s) => [s.name, s.result]));
    expect(byName["hold U2 on a held seat"]).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE", details: { seatIds: ["A-1-2"] } });
    expect(byName["replay U1"].value.id).toBe(byName["hold U1"].id);
    expect(byName["replay U1 other body"]).toMatchObject({ ok: false, code: "IDEMPOTENCY_CONFLICT" });
    expect(byName["U1 over the cap"]).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED" });
    expect(byName["release by another user"]).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(byName["stats before expiry"]).toMatchObject({ held: 2 });
    expect(byName["stats at expiry"]).toMatchObject({ held: 0, available: 6 });
    expect(byName["expired hold"]).toMatchObject({ ok: true, value: { status: "expired" } });
    expect(byName["confirming outlives its clock; U1's hold expires and U2 is offered it"]).toMatchObject({ held: 6, available: 0 });
    expect(byName["waitlist U2"]).toMatchObject({ ok: true, value: { status: "offered" } });
    expect(byName["offer survives restart"]).toMatchObject({ status: "offered" });
    expect(byName["commit U3"]).toMatchObject({ ok: true, value: { status: "committed" } });
    expect(byName["offer lapses"]).toMatchObject({ held: 0, booked: 4, available: 2 });
    expect(byName["return U3's seats"]).toMatchObject({ ok: true, value: { status: "released" } });
    expect(byName["hold after close"]).toMatchObject({ ok: false, code: "SALES_CLOSED" });
    expect(final.availability).toEqual({ capacity: 6, available: 6, held: 0, booked: 0 });
    expect(final.seats!.every((s) => s.status === "available")).toBe(true);
  });

  it("an engine rebuilt from the same store after a restart has the same seats, counts, holds and waitlist", () => {
    const store = new MemoryStore();
    const clock = { now: T0 };
    const engine = scenarioEngine(store, clock);
    engine.initialize(scenarioInit);
    const a = engine.hold("00000000-0000-4000-8000-000000000001", { seatIds: ["A-1-1", "A-1-2"] }, "k");
    const b = engine.hold("00000000-0000-4000-8000-000000000002", { seatIds: ["A-1-3"] }, null);
    if (!a.ok || !b.ok) throw new Error("holds failed");
    engine.beginConfirm(b.value.id, "bk");
    engine.commit(b.value.id, "bk");
    engine.joinWaitlist("00000000-0000-4000-8000-000000000003", 4);
    const before = observe(engine, [a.value.id, b.value.id], clock.now);
    const rebuilt = scenarioEngine(store, clock, { n: 100 });
    expect(observe(rebuilt, [a.value.id, b.value.id], clock.now)).toEqual(before);
    expect(rebuilt.holds.version).toBe(engine.holds.version);
    expect(rebuilt.hold("00000000-0000-4000-8000-000000000002", { seatIds: ["A-1-2"] }, null)).toMatchObject({ ok: false, code: "SEAT_UNAVAILABLE" });
  });

  it("the store refuses a hold row whose seat another hold has, and keeps nothing of it (the last line behind decideHold)", () => {
    const store = new MemoryStore();
    const engine = scenarioEngine(store, { now: T0 });
    engine.initialize(scenarioInit);
    expect(engine.hold("00000000-0000-4000-8000-000000000001", { seatIds: ["A-1-1"] }, null)).toMatchObject({ ok: true });
    const [first] = store.liveHolds();
    const outbox = store.peekOutbox(100).length;
    const twin = { ...first, id: "hld_twin", userId: "00000000-0000-4000-8000-000000000002", idempotencyKey: null };
    expect(() => store.transaction(() => store.insertHold(twin, T0))).toThrow(/seats changed/);
    expect(store.liveHolds().map((h) => h.id)).toEqual([first.id]);
    expect(store.readSeats().find((x) => x.id === "A-1-1")).toMatchObject({ status: "held", holdId: first.id });
    expect(store.peekOutbox(100)).toHaveLength(outbox);
  });

  it("a write that fails midway leaves neither the store nor the engine's memory half-changed", () => {
    const store = new MemoryStore();
    const engine = scenarioEngine(store, { now: T0 });
    engine.initialize(scenarioInit);
    const before = observe(engine, [], T0);
    // The hold row and its seats are written, then the write fails (as a seat found taken does).
    const real = store.insertHold.bind(store);
    store.insertHold = (hold, now) => {
      real(hold, now);
      throw new Error("seats changed under a decided hold");
    };
    expect(() => engine.hold("00000000-0000-4000-8000-000000000001", { seatIds: ["A-1-1", "A-1-2"] }, null)).toThrow(/seats changed/);
    store.insertHold = real;
    expect(observe(engine, [], T0)).toEqual(before);
    expect(store.liveHolds()).toEqual([]);
    expect(store.outboxPending()).toBe(false);
    expect(engine.hold("00000000-0000-4000-8000-000000000002", { seatIds: ["A-1-1"] }, null)).toMatchObject({ ok: true });
  });

  it("records hold history, waitlist mirrors and the offer notification in the one outbox, in order", () => {
    const { outbox } = runScenario(new MemoryStore());
    const kinds = new Set(outbox.map((r) => r.kind));
    expect(kinds).toEqual(new Set(["history", "mirror", "notify"]));
    const history = outbox.filter((r) => r.kind === "history").map((r) => r.body.kind);
    expect(history.slice(0, 3)).toEqual(["created", "created", "released"]);
    expect(outbox.find((r) => r.kind === "notify")!.body).toMatchObject({ type: "notification.send", kind: "waitlist.offered" });
  });
});
