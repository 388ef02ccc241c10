import { describe, expect, it } from "vitest";
import { AppError } from "../../src/lib/errors";
import { callInventory } from "../../durable-objects/inventory/client";

const caught = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

describe("the inventory client's one mapping of the object's answers to API errors", () => {
  it("a runtime overload of the object answers 503 OVERLOADED with Retry-After, never a 500", async () => {
    for (const flags of [{ overloaded: true }, { retryable: true }]) {
      const err = await caught(callInventory(() => Promise.reject(Object.assign(new Error("Durable Object is overloaded"), flags))));
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: "OVERLOADED", status: 503, headers: { "Retry-After": "1" } });
    }
  });

  it("an object never published answers 404 NOT_FOUND, other failures keep their code, message and details", async () => {
    expect(await caught(callInventory(() => Promise.resolve({ ok: false, code: "NOT_INITIALIZED", message: "x" } as const)))).toMatchObject({ code: "NOT_FOUND", status: 404 });
    const taken = await caught(callInventory(() => Promise.resolve({ ok: false, code: "SEAT_UNAVAILABLE", message: "taken", details: { seatIds: ["A-1-1"] } } as const)));
    expect(taken).toMatchObject({ code: "SEAT_UNAVAILABLE", status: 409, message: "taken", details: { seatIds: ["A-1-1"] } });
    expect(await callInventory(() => Promise.resolve({ ok: true, value: 7 } as const))).toBe(7);
  });

  it("any other thrown error is not disguised as an overload", async () => {
    const boom = new Error("boom");
    expect(await caught(callInventory(() => Promise.reject(boom)))).toBe(boom);
  });
});
