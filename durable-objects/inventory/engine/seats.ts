/**
 * Reserved seating's seats in memory, in seat order: read once from the store, then changed only
 * by Holds inside the transaction that writes the same change through to the store.
 */
import type { HoldRow, SeatRow } from "../logic/rules";
import type { SeatRecord } from "../store/store";
import { sectionKeysOf } from "./products";

export class Seats {
  private list: SeatRecord[] = [];
  private readonly byId = new Map<string, SeatRecord>();
  /**
   * Free seats per section and per section-row (as a ticket type's `sections` name them): counted
   * once when first asked (the waiting room, for a type limited to sections), then kept with every
   * change, so neither a start nor a hold pays for it unless it is used (counting 100,000 seats at
   * start took 41 -> 111 ms), and the room's tick reads it without a pass over the seats.
   */
  private freeCounts: Map<string, number> | null = null;

  load(records: SeatRecord[]): void {
    this.list = records;
    this.byId.clear();
    this.freeCounts = null;
    for (const s of records) this.byId.set(s.id, s);
  }

  /** Free seats in a section (`A`) or a row (`A-1`). */
  freeIn(key: string): number {
    if (!this.freeCounts) {
      this.freeCounts = new Map();
      for (const s of this.list) if (s.status === "available") this.countFree(s.id, 1);
    }
    return this.freeCounts.get(key) ?? 0;
  }

  private countFree(id: string, d: number): void {
    const counts = this.freeCounts;
    if (!counts) return;
    for (const k of sectionKeysOf(id)) counts.set(k, (counts.get(k) ?? 0) + d);
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
    for (const id of ids) {
      const seat = this.byId.get(id)!;
      if (seat.status === "available") this.countFree(id, -1);
      Object.assign(seat, { status: "held", holdId });
    }
  }

  free(h: HoldRow): void {
    for (const s of h.seats) {
      const seat = this.byId.get(s.id);
      if (seat?.holdId !== h.id) continue;
      if (seat.status !== "available") this.countFree(s.id, 1);
      Object.assign(seat, { status: "available", holdId: null });
    }
  }

  book(h: HoldRow): void {
    for (const s of h.seats) {
      const seat = this.byId.get(s.id);
      if (seat?.holdId === h.id) seat.status = "booked";
    }
  }
}
