/**
 * Reserved seating's seats in memory, in seat order: read once from the store, then changed only
 * by Holds inside the transaction that writes the same change through to the store.
 */
import type { HoldRow, SeatRow } from "../logic/rules";
import type { SeatRecord } from "../store/store";

export class Seats {
  private list: SeatRecord[] = [];
  private readonly byId = new Map<string, SeatRecord>();

  load(records: SeatRecord[]): void {
    this.list = records;
    this.byId.clear();
    for (const s of records) this.byId.set(s.id, s);
  }

  /** Seats held and booked, counted from the seats themselves. */
  counts(): { held: number; booked: number } {
    let held = 0;
    let booked = 0;
    for (const s of this.list) {
      if (s.status === "held") held++;
      else if (s.status === "booked") booked++;
    }
    return { held, booked };
  }

  /** Every seat with its status (what /seats and socket snapshots show). */
  view() {
    return this.list.map((s) => ({ id: s.id, section: s.section, row: s.row, number: s.number, priceCents: s.priceCents, status: s.status }));
  }

  /** The rows of those of `ids` that exist. */
  rows(ids: string[]): SeatRow[] {
    const out: SeatRow[] = [];
    for (const id of ids) {
      const s = this.byId.get(id);
      if (s) out.push({ id: s.id, priceCents: s.priceCents, status: s.status });
    }
    return out;
  }

  /** The first `n` free seats in seat order that `allowed` lets through (the best seats to offer the waitlist). */
  firstAvailable(n: number, allowed: (seatId: string) => boolean = () => true): SeatRow[] {
    const out: SeatRow[] = [];
    for (const s of this.list) {
      if (out.length >= n) break;
      if (s.status === "available" && allowed(s.id)) out.push({ id: s.id, priceCents: s.priceCents, status: s.status });
    }
    return out;
  }

  take(holdId: string, ids: string[]): void {
    for (const id of ids) Object.assign(this.byId.get(id)!, { status: "held", holdId });
  }

  free(h: HoldRow): void {
    for (const s of h.seats) {
      const seat = this.byId.get(s.id);
      if (seat?.holdId === h.id) Object.assign(seat, { status: "available", holdId: null });
    }
  }

  book(h: HoldRow): void {
    for (const s of h.seats) {
      const seat = this.byId.get(s.id);
      if (seat?.holdId === h.id) seat.status = "booked";
    }
  }
}
