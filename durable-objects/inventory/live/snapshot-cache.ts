import type { Availability, SeatSpec, SeatStatus } from "../contract";

export type SeatWithStatus = SeatSpec & { status: SeatStatus };

/**
 * The seat map of one version: read once, then served to every `/seats` call and socket snapshot
 * until the version moves (every seat or counter change bumps it), so a hot event's readers cost
 * no scan of its seats while nothing changes.
 */
export class SnapshotCache {
  private entry: { version: number; seats: SeatWithStatus[] | undefined; availability: Availability; frame?: string } | null = null;

  /** The cached seats and availability of `version`, or those `read` returns (then cached). */
  get(version: number, read: () => { seats: SeatWithStatus[] | undefined; availability: Availability }) {
    if (this.entry?.version !== version) this.entry = { version, ...read() };
    return this.entry;
  }

  /** The socket snapshot frame of `version` (ids and statuses only), built once per version. */
  frame(version: number, read: () => { seats: SeatWithStatus[] | undefined; availability: Availability }): string {
    const e = this.get(version, read);
    e.frame ??= JSON.stringify({
      type: "snapshot",
      version,
      ...(e.seats ? { seats: e.seats.map((s) => ({ id: s.id, status: s.status })) } : {}),
      availability: e.availability,
    });
    return e.frame;
  }

  clear(): void {
    this.entry = null;
  }
}
