import type { Availability, EventInventoryRpc, HoldRequest, HoldView, InventoryInit, InventoryResult, Snapshot } from "../../durable-objects/event-inventory.types";

/**
 * TEMPORARY in-test EventInventoryRpc, used only while the real EventInventory Durable Object is
 * not on this branch yet: it follows the contract's transitions (active -> confirming ->
 * committed -> released) so the saga can be exercised against real Postgres and real payments.
 * Tests switch to the real object as soon as it is merged.
 */
export class MemoryInventory implements EventInventoryRpc {
  private readonly seatStatus = new Map<string, "available" | "held" | "booked">();
  private readonly holds = new Map<string, HoldView>();
  private version = 0;
  /** Fault injection: the next calls of these methods throw, as an aborted object would. */
  readonly failNext: Partial<Record<keyof EventInventoryRpc, number>> = {};

  constructor(private readonly init: InventoryInit) {
    for (const s of init.seats) this.seatStatus.set(s.id, "available");
  }

  private trip(m: keyof EventInventoryRpc): void {
    if (this.failNext[m]) {
      this.failNext[m]!--;
      throw new Error("Durable Object reset because its code was updated (simulated)");
    }
  }

  async initialize() {
    return { ok: true as const, value: { created: false, version: this.version } };
  }

  async hold(userId: string, req: HoldRequest, _key: string | null): Promise<InventoryResult<HoldView>> {
    if (!("seatIds" in req)) return { ok: false, code: "VALIDATION_FAILED", message: "reserved seating only" };
    const taken = req.seatIds.filter((id) => this.seatStatus.get(id) !== "available");
    if (taken.length) return { ok: false, code: "SEAT_UNAVAILABLE", message: "taken", details: { seatIds: taken } };
    for (const id of req.seatIds) this.seatStatus.set(id, "held");
    const seats = req.seatIds.map((id) => ({ id, priceCents: this.init.seats.find((s) => s.id === id)!.priceCents }));
    const random = Array.from(crypto.getRandomValues(new Uint8Array(20)), (b) => "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36]).join("");
    const h: HoldView = {
      id: `hld_${this.init.eventId}_${random}`, eventId: this.init.eventId, userId, status: "active", seats, quantity: seats.length,
      totalCents: seats.reduce((n, s) => n + s.priceCents, 0), currency: this.init.currency,
      expiresAt: new Date(Date.now() + 600_000).toISOString(), createdAt: new Date().toISOString(), bookingId: null,
    };
    this.holds.set(h.id, h);
    this.version++;
    return { ok: true, value: { ...h } };
  }

  async getHold(holdId: string): Promise<InventoryResult<HoldView>> {
    const h = this.holds.get(holdId);
    return h ? { ok: true, value: { ...h } } : { ok: false, code: "NOT_FOUND", message: "No such hold" };
  }

  private move(h: HoldView, status: HoldView["status"], seat: "available" | "booked" | null): InventoryResult<HoldView> {
    h.status = status;
    h.expiresAt = null;
    if (seat) for (const s of h.seats) this.seatStatus.set(s.id, seat);
    this.version++;
    return { ok: true, value: { ...h } };
  }

  async release(holdId: string, _by: string | null): Promise<InventoryResult<HoldView>> {
    this.trip("release");
    const h = this.holds.get(holdId);
    if (!h) return { ok: false, code: "NOT_FOUND", message: "No such hold" };
    if (h.status === "released" || h.status === "expired" || h.status === "committed") return { ok: true, value: { ...h } };
    return this.move(h, "released", "available");
  }

  /** What the clock (or an alarm) does to an active hold: test control. */
  expire(holdId: string): void {
    const h = this.holds.get(holdId)!;
    this.move(h, "expired", "available");
  }

  async beginConfirm(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    this.trip("beginConfirm");
    const h = this.holds.get(holdId);
    if (!h) return { ok: false, code: "NOT_FOUND", message: "No such hold" };
    if (h.status === "released" || h.status === "expired") return { ok: false, code: "HOLD_EXPIRED", message: "ended" };
    if (h.status !== "active") return h.bookingId === bookingId ? { ok: true, value: { ...h } } : { ok: false, code: "INVALID_STATE", message: "another booking" };
    h.bookingId = bookingId;
    return this.move(h, "confirming", null);
  }

  async commit(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    this.trip("commit");
    const h = this.holds.get(holdId);
    if (!h) return { ok: false, code: "NOT_FOUND", message: "No such hold" };
    if (h.bookingId !== bookingId) return { ok: false, code: h.status === "released" || h.status === "expired" ? "HOLD_EXPIRED" : "INVALID_STATE", message: "not this booking" };
    if (h.status === "committed") return { ok: true, value: { ...h } };
    if (h.status !== "confirming") return { ok: false, code: "HOLD_EXPIRED", message: "released before commit" };
    return this.move(h, "committed", "booked");
  }

  async returnSeats(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    this.trip("returnSeats");
    const h = this.holds.get(holdId);
    if (!h || h.bookingId !== bookingId) return { ok: false, code: "INVALID_STATE", message: "not this booking" };
    if (h.status === "released") return { ok: true, value: { ...h } };
    if (h.status !== "committed") return { ok: false, code: "INVALID_STATE", message: "only booked seats" };
    return this.move(h, "released", "available");
  }

  // The saga never calls the waitlist; these exist only to satisfy the contract.
  async joinWaitlist(): Promise<never> {
    throw new Error("MemoryInventory has no waitlist");
  }
  async leaveWaitlist(): Promise<never> {
    throw new Error("MemoryInventory has no waitlist");
  }
  async waitlistEntry(): Promise<never> {
    throw new Error("MemoryInventory has no waitlist");
  }

  async closeSales() {
    return { ok: true as const, value: { closedAt: new Date().toISOString() } };
  }

  async snapshot(): Promise<Snapshot> {
    return { version: this.version, seating: "reserved", seats: this.init.seats.map((s) => ({ ...s, status: this.seatStatus.get(s.id)! })), availability: await this.stats() };
  }

  async stats(): Promise<Availability> {
    const count = (st: string) => [...this.seatStatus.values()].filter((s) => s === st).length;
    return { capacity: this.init.capacity, available: count("available"), held: count("held"), booked: count("booked") };
  }

  async ping() {
    return { ok: true as const, schemaVersion: 0, at: Date.now() };
  }
}
