import { describe, expect, it } from "vitest";
import { ticketLedger, type TicketBookingRow, type TicketRow } from "../../scripts/lib/soak-ledger";

// The soak's ticket checks (scripts/lib/soak-ledger.ts) on seeded rows: each violation is caught.
const EV = "ev-1";
const ticket = (over: Partial<TicketRow> & { id: string; bookingId: string }): TicketRow => ({ eventId: EV, seatId: null, slot: 1, status: "valid", ...over });
const booking = (id: string, status: string, quantity = 1): TicketBookingRow => ({ id, status, quantity });
const verdicts = (tickets: TicketRow[], bookings: TicketBookingRow[]) => ticketLedger(tickets, bookings).map((r) => r.ok);

describe("the soak's ticket ledger", () => {
  it("passes sold seats with one ticket each, a transferred ticket replaced on its slot, and refunded bookings whose tickets are cancelled", () => {
    const tickets = [
      ticket({ id: "t1", bookingId: "b1", seatId: "A-1-1" }),
      ticket({ id: "t2", bookingId: "b1", seatId: "A-1-2", slot: 2, status: "transferred" }),
      ticket({ id: "t3", bookingId: "b1", seatId: "A-1-2", slot: 2 }),
      ticket({ id: "t4", bookingId: "b2", seatId: "A-1-3", status: "cancelled" }),
      ticket({ id: "t5", bookingId: "b3" }),
      ticket({ id: "t6", bookingId: "b3", slot: 2 }),
      // The refunded booking's seat sold again.
      ticket({ id: "t7", bookingId: "b4", seatId: "A-1-3" }),
    ];
    expect(verdicts(tickets, [booking("b1", "confirmed", 2), booking("b2", "cancelled"), booking("b3", "confirmed", 2), booking("b4", "confirmed")])).toEqual([true, true, true]);
  });

  it("catches a ticket still valid on a refunded (cancelled) booking", () => {
    const rows = ticketLedger([ticket({ id: "t1", bookingId: "b1", seatId: "A-1-1" })], [booking("b1", "cancelled")]);
    expect(rows[0]).toMatchObject({ ok: false, evidence: expect.stringContaining("t1 on b1 (cancelled)") });
  });

  it("catches two valid tickets for one seat, across bookings or within one", () => {
    const across = [ticket({ id: "t1", bookingId: "b1", seatId: "A-1-1" }), ticket({ id: "t2", bookingId: "b2", seatId: "A-1-1" })];
    expect(ticketLedger(across, [booking("b1", "confirmed"), booking("b2", "confirmed")])[1]).toMatchObject({ ok: false, evidence: expect.stringContaining(`${EV}/A-1-1 x2`) });
    // A transfer that left the old ticket valid: the general admission unit admits two.
    const transfer = [ticket({ id: "t1", bookingId: "b1" }), ticket({ id: "t2", bookingId: "b1" })];
    expect(verdicts(transfer, [booking("b1", "confirmed")])).toEqual([true, false, false]);
  });

  it("catches a confirmed booking without its tickets", () => {
    expect(verdicts([ticket({ id: "t1", bookingId: "b1" })], [booking("b1", "confirmed", 2)])).toEqual([true, true, false]);
  });
});
