import { describe, expect, it } from "vitest";
import { decideScan, decideVoid, scanOrder, type Presence, type Scan } from "../../durable-objects/checkin-desk/logic";
import type { TicketFacts } from "../../durable-objects/checkin-desk/contract";

const valid: TicketFacts = { ticketId: "t1", status: "valid", onList: true };
const entry = (at: number, nonce = `n${at}`): Scan => ({ nonce, direction: "entry", at });
const exit = (at: number, nonce = `x${at}`): Scan => ({ nonce, direction: "exit", at });
const decide = (presence: Presence | null, scan: Scan, o: { facts?: TicketFacts; voided?: boolean; allowReentry?: boolean } = {}) =>
  decideScan({ facts: o.facts ?? valid, voided: o.voided ?? false, presence, scan, allowReentry: o.allowReentry ?? false });

describe("check-in decisions", () => {
  it("redeems a fresh ticket once and remembers when", () => {
    const d = decide(null, entry(100));
    expect(d).toEqual({ result: "ok", firstRedeemedAt: 100, next: { firstAt: 100, inside: true, lastAt: 100 } });
    expect(decide(d.next!, entry(200))).toEqual({ result: "already_redeemed", firstRedeemedAt: 100 });
  });

  it("answers invalid for junk, unknown, transferred and voided tickets, cancelled for cancelled ones, wrong_list off the list", () => {
    expect(decide(null, entry(1), { facts: { ticketId: null, status: "unknown", onList: false } }).result).toBe("invalid");
    expect(decide(null, entry(1), { facts: { ...valid, status: "transferred" } }).result).toBe("invalid");
    expect(decide(null, entry(1), { voided: true }).result).toBe("invalid");
    expect(decide(null, entry(1), { facts: { ...valid, status: "cancelled" } }).result).toBe("cancelled");
    expect(decide(null, entry(1), { facts: { ...valid, onList: false } }).result).toBe("wrong_list");
  });

  it("lets a ticket back in after an exit only on a re-entry list", () => {
    const inside = decide(null, entry(100)).next!;
    const out = decide(inside, exit(150));
    expect(out.result).toBe("ok");
    expect(out.next).toEqual({ firstAt: 100, inside: false, lastAt: 150 });
    expect(decide(out.next!, entry(200), { allowReentry: true })).toEqual({ result: "ok", firstRedeemedAt: 100, next: { firstAt: 100, inside: true, lastAt: 200 } });
    expect(decide(out.next!, entry(200), { allowReentry: false }).result).toBe("already_redeemed");
    // Inside already: a second entry is refused even where re-entry is allowed.
    expect(decide(inside, entry(120), { allowReentry: true }).result).toBe("already_redeemed");
  });

  it("makes an earlier offline scan the first one (first scan wins by time)", () => {
    const online = decide(null, entry(500)).next!;
    const offline = decide(online, entry(300));
    expect(offline).toEqual({ result: "ok", firstRedeemedAt: 300, next: { firstAt: 300, inside: true, lastAt: 500 } });
    expect(decide(offline.next!, entry(400)).result).toBe("already_redeemed");
  });

  it("orders a batch by scan time, then nonce, whatever the upload order", () => {
    const items = [{ scan: entry(30, "b") }, { scan: entry(10, "z") }, { scan: entry(30, "a") }, { scan: entry(20, "c") }];
    expect(scanOrder(items)).toEqual([1, 3, 2, 0]);
    expect(scanOrder([...items].reverse()).map((i) => [...items].reverse()[i].scan.nonce)).toEqual(["z", "c", "a", "b"]);
  });

  it("voids a ticket for transfer only while it never got anyone in", () => {
    expect(decideVoid(false)).toEqual({ ok: true });
    expect(decideVoid(true)).toMatchObject({ ok: false, code: "ALREADY_CHECKED_IN" });
  });
});
