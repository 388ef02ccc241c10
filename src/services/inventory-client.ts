// The catalogue's only door to the EventInventory Durable Object: publish initializes it, event
// detail reads its counts. Kept in one place so the seam to the inventory issue is one file.
import type { Availability, ClosedSales, EventInventoryRpc, InventoryInit } from "../../durable-objects/event-inventory.types";
import type { Env } from "../env";

function inventory(env: Env, eventId: string): EventInventoryRpc {
  // The generated binding type knows only the methods the class has today; the contract is the interface.
  return env.EVENT_INVENTORY.get(env.EVENT_INVENTORY.idFromName(eventId)) as unknown as EventInventoryRpc;
}

export type InitOutcome = { ready: true; created: boolean } | { ready: false; reason: string };

/**
 * Sends the published event's seats to its object (idempotent there). A failure leaves the event
 * `inventoryReady: false`; publishing again, or the cron's retry, finishes it.
 */
export async function initializeInventory(env: Env, init: InventoryInit): Promise<InitOutcome> {
  const res = await inventory(env, init.eventId).initialize(init);
  if (!res.ok) return { ready: false, reason: `${res.code}: ${res.message}` };
  return { ready: true, created: res.value.created };
}

/** A cancelled event sells nothing more and its open holds end; answers the holds that ended (none for an object never initialized). */
export async function closeInventorySales(env: Env, eventId: string): Promise<ClosedSales["releasedHolds"]> {
  const res = await inventory(env, eventId).closeSales();
  if (!res.ok) {
    if (res.code === "NOT_INITIALIZED") return [];
    throw new Error(`closing sales of ${eventId}: ${res.code} ${res.message}`);
  }
  return res.value.releasedHolds;
}

export interface AvailabilitySource {
  id: string;
  status: string;
  capacity: number;
  seatsSold: number;
  inventoryReadyAt: Date | null;
}

/** Postgres only knows what the booking saga sold; holds live in the object alone. */
export function availabilityFromPostgres(e: Pick<AvailabilitySource, "capacity" | "seatsSold">): Availability {
  return { capacity: e.capacity, available: e.capacity - e.seatsSold, held: 0, booked: e.seatsSold };
}

/**
 * Live counts from the event's object once its inventory is ready; otherwise (draft, not yet
 * initialized, or the object failing) the Postgres figures, because a detail page must not fail
 * over an advisory number.
 */
export async function readAvailability(env: Env, e: AvailabilitySource): Promise<{ availability: Availability; source: "inventory" | "postgres" }> {
  if (e.status === "published" && e.inventoryReadyAt) {
    try {
      return { availability: await inventory(env, e.id).stats(), source: "inventory" };
    } catch (err) {
      console.warn(JSON.stringify({ level: "warn", msg: "inventory stats failed, using Postgres", eventId: e.id, error: String(err) }));
    }
  }
  return { availability: availabilityFromPostgres(e), source: "postgres" };
}
