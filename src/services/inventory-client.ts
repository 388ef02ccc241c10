// The catalogue's only door to the EventInventory Durable Object: publish initializes it, event
// detail reads its counts. Kept in one place so the seam to the inventory issue is one file.
import type { Availability, EventInventoryRpc, InventoryInit } from "../../durable-objects/event-inventory.types";
import type { Env } from "../env";

function inventory(env: Env, eventId: string): EventInventoryRpc {
  // The generated binding type knows only the methods the class has today; the contract is the interface.
  return env.EVENT_INVENTORY.get(env.EVENT_INVENTORY.idFromName(eventId)) as unknown as EventInventoryRpc;
}

export type InitOutcome = { ready: true; created: boolean } | { ready: false; reason: string };

/**
 * Sends the published event's seats to its object. The object on this branch answers only `ping`
 * (its `initialize` arrives with the inventory issue), so until that merge nothing is sent and the
 * event stays `inventoryReady: false`; the Postgres seats written at publish are what is stored,
 * and the cron's retry finishes every such publish once the method exists.
 */
export async function initializeInventory(_env: Env, _init: InventoryInit): Promise<InitOutcome> {
  return { ready: false, reason: "EventInventory.initialize is not part of this build yet" };
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
