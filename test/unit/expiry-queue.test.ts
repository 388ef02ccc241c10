import { describe, expect, it } from "vitest";
import { ExpiryQueue } from "../../durable-objects/inventory/engine/expiry-queue";

describe("ExpiryQueue", () => {
  it("answers due holds earliest first, ties by hold id, skipping entries that no longer match their hold", () => {
    const q = new ExpiryQueue();
    const expiry = new Map<string, number | null>();
    const current = (id: string) => expiry.get(id) ?? null;
    // A random order of pushes, with ties.
    const holds = Array.from({ length: 200 }, (_, i) => ({ id: `h${String(i).padStart(3, "0")}`, at: 1_000 + ((i * 7919) % 50) }));
    for (const h of [...holds].sort(() => Math.random() - 0.5)) {
      q.push(h.at, h.id);
      expiry.set(h.id, h.at);
    }
    // Some ended (stale entries), one was pushed again with a later expiry.
    for (const h of holds.slice(0, 40)) expiry.set(h.id, null);
    expiry.set("h100", 5_000);
    q.push(5_000, "h100");
    const want = holds
      .filter((h) => expiry.get(h.id) === h.at)
      .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
      .map((h) => h.id);
    expect(q.peek(current)).toBe(Math.min(...holds.slice(40).filter((h) => h.id !== "h100").map((h) => h.at)));
    const first = q.due(1_025, 10, current);
    const rest = q.due(1_049, 1_000, current);
    expect([...first, ...rest]).toEqual(want);
    expect(first).toHaveLength(10);
    expect(q.due(4_999, 10, current)).toEqual([]);
    expect(q.peek(current)).toBe(5_000);
    expect(q.due(5_000, 10, current)).toEqual(["h100"]);
    expect(q.peek(current)).toBeNull();
  });
});
