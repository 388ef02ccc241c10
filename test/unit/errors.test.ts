import { describe, expect, it } from "vitest";
import { isConnectionError } from "../../src/db/client";
import { AppError, ERROR_STATUS, errorBody } from "../../src/lib/errors";
import { newId, requestIdFrom } from "../../src/lib/ids";
import { backoffSeconds } from "../../src/queues/consumer";

describe("errors", () => {
  it("maps every code to a 4xx or 5xx status", () => {
    for (const status of Object.values(ERROR_STATUS)) expect(status).toBeGreaterThanOrEqual(400);
    expect(new AppError("SEAT_UNAVAILABLE", "x").status).toBe(409);
    expect(new AppError("DEPENDENCY_UNAVAILABLE", "x").status).toBe(503);
  });

  it("omits details when there are none", () => {
    expect(errorBody(new AppError("NOT_FOUND", "gone"), "r1")).toEqual({ error: { code: "NOT_FOUND", message: "gone", requestId: "r1" } });
  });

  it("tells connection failures from query failures", () => {
    expect(isConnectionError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error("terminating connection"), { code: "57P01" }))).toBe(true);
    expect(isConnectionError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('duplicate key value violates unique constraint "x"'), { code: "23505" }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('syntax error at or near "connect"'), { code: "42601" }))).toBe(false);
  });
});

describe("ids", () => {
  it("makes prefixed ids that do not repeat", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId("hld")));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^hld_[0-9a-z]{25}$/);
  });

  it("keeps sane request ids and replaces others", () => {
    expect(requestIdFrom("abc-12345678")).toBe("abc-12345678");
    expect(requestIdFrom("<bad>")).not.toBe("<bad>");
    expect(requestIdFrom(undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("queue backoff", () => {
  it("doubles per attempt and caps at five minutes", () => {
    expect([1, 2, 3, 4].map(backoffSeconds)).toEqual([2, 4, 8, 16]);
    expect(backoffSeconds(20)).toBe(300);
  });
});
