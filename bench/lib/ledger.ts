// bench/holds' ledger: what the clients saw, checked as they see it, plus the object's seat map at
// the end. The bench exits non-zero when any of it fails; a figure is worth nothing after an oversell.

/**
 * A per-seat owner log kept by the load generator. A hold is live from the reply that granted it
 * until its release is sent; from then on the object may hand its seats to someone else (the release
 * reply and the next grant travel on different connections, so their arrival order proves nothing).
 * A grant of a seat whose owner is still live is a seat in two live holds at once.
 */
export class SeatLedger {
  readonly violations: string[] = [];
  grants = 0;
  releases = 0;
  private readonly owners = new Map<string, string>();
  private readonly holds = new Map<string, { seats: string[]; releasing: boolean }>();

  grant(holdId: string, seats: string[]): void {
    if (this.holds.has(holdId)) this.fail(`hold ${holdId} was granted twice`);
    for (const seat of seats) {
      const owner = this.owners.get(seat);
      if (owner !== undefined && owner !== holdId && !this.holds.get(owner)?.releasing) this.fail(`seat ${seat} granted to ${holdId} while ${owner} still holds it`);
      this.owners.set(seat, holdId);
    }
    this.holds.set(holdId, { seats, releasing: false });
    this.grants++;
  }

  /** The release was sent: the hold's seats may be granted again from now on. */
  releasing(holdId: string): void {
    const h = this.holds.get(holdId);
    if (!h) return this.fail(`release of ${holdId}, which was never granted`);
    h.releasing = true;
  }

  /** The object confirmed the release. */
  released(holdId: string): void {
    const h = this.holds.get(holdId);
    if (!h) return this.fail(`release of ${holdId} confirmed, but it was never granted or already released`);
    for (const seat of h.seats) if (this.owners.get(seat) === holdId) this.owners.delete(seat);
    this.holds.delete(holdId);
    this.releases++;
  }

  /** The release failed: the hold is still live, so any of its seats granted meanwhile was granted twice. */
  releaseFailed(holdId: string): void {
    const h = this.holds.get(holdId);
    if (!h) return;
    h.releasing = false;
    for (const seat of h.seats) {
      const owner = this.owners.get(seat);
      if (owner !== holdId) this.fail(`seat ${seat} granted to ${owner ?? "another hold"} while ${holdId} still holds it (its release failed)`);
    }
  }

  /** Every failure: violations seen during the run and holds never released. */
  problems(): string[] {
    const open = [...this.holds.keys()];
    return [...this.violations, ...(open.length ? [`${open.length} holds granted and never released (${open.slice(0, 3).join(", ")}${open.length > 3 ? ", …" : ""})`] : [])];
  }

  private fail(message: string): void {
    this.violations.push(message);
  }
}

export interface SeatMap {
  seats?: { id: string; status: string }[];
  availability: { capacity: number; available: number; held: number; booked: number };
}

/**
 * After every hold was released: no seat may be held or booked, and the object's counters must equal
 * its seats (availability counts against the statuses of the seat rows).
 */
export function checkSeatMap(label: string, map: SeatMap, capacity: number): string[] {
  const problems: string[] = [];
  const counts = { available: 0, held: 0, booked: 0 } as Record<string, number>;
  for (const s of map.seats ?? []) counts[s.status] = (counts[s.status] ?? 0) + 1;
  const a = map.availability;
  if ((map.seats?.length ?? 0) !== capacity) problems.push(`${label}: ${map.seats?.length ?? 0} seats in the seat map, expected ${capacity}`);
  if (a.capacity !== capacity) problems.push(`${label}: counters say capacity ${a.capacity}, expected ${capacity}`);
  for (const k of ["available", "held", "booked"] as const) {
    if (a[k] !== counts[k]) problems.push(`${label}: counters say ${k} ${a[k]} but ${counts[k]} seats are ${k}`);
  }
  const taken = counts.held + counts.booked;
  if (taken !== 0) problems.push(`${label}: ${taken} seats still held or booked after every hold was released`);
  return problems;
}
