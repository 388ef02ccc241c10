// The catalogue's only door to the EventInventory Durable Object: publish initializes it, event
// detail reads its counts. Kept in one place so the seam to the inventory issue is one file.
import type { Availability, EventInventoryRpc, InventoryInit } from "../../durable-objects/event-inventory.types";
import type { Env } from "../env";
import { AppError } from "../lib/errors";

function inventory(env: Env, eventId: string): EventInventoryRpc {
  // The generated binding type knows only the methods the class has today; the contract is the interface.
  return env.EVENT_INVENTORY.get(env.EVENT_INVENTORY.idFromName(eventId)) as unknown as EventInventoryRpc;
}

/** workerd's answer when the object's class has no such RPC method (a build without the inventory issue). */
function isMissingMethod(e: unknown): boolean {
  return e instanceof Error && /does not implement|not a function|no such method/i.test(e.message);
}

export type InitOutcome = { ready: true; created: boolean } | { ready: false; reason: string };

/** Idempotent: the object answers `created: false` when it already holds this event. */
export async function initializeInventory(env: Env, init: InventoryInit): Promise<InitOutcome> {
  try {
    const res = await inventory(env, init.eventId).initialize(init);
    if (!res.ok) throw new AppError("INTERNAL", `The inventory refused to initialize: ${res.code}: ${res.message}`);
    return { ready: true, created: res.value.created };
  } catch (e) {
    if (isMissingMethod(e)) return { ready: false, reason: "EventInventory.initialize is not available in this build" };
    throw e;
  }
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
 * Live counts from the event's object when its inventory is ready; otherwise (draft, or a build
 * without `stats`, or the object failing) the Postgres figures, because a detail page must not fail
 * over an advisory number.
 */
export async function readAvailability(env: Env, e: AvailabilitySource): Promise<{ availability: Availability; source: "inventory" | "postgres" }> {
  if (e.status === "published" && e.inventoryReadyAt) {
    try {
      return { availability: await inventory(env, e.id).stats(), source: "inventory" };
    } catch (err) {
      if (!isMissingMethod(err)) console.warn(JSON.stringify({ level: "warn", msg: "inventory stats failed, using Postgres", eventId: e.id, error: String(err) }));
    }
  }
  return { availability: availabilityFromPostgres(e), source: "postgres" };
}
