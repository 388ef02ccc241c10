// The only door to the EventInventory Durable Object: the stub, typed calls, and one mapping of
// its results and of runtime overload to AppError. Nothing else in src/ touches EVENT_INVENTORY.
import type {
  AdmissionStats,
  Availability,
  BookingPush,
  ClosedSales,
  EventInventoryRpc,
  HoldRequest,
  HoldView,
  InventoryInit,
  InventoryResult,
  ProductSet,
  ProductStats,
  Snapshot,
  WaitlistEntryView,
} from "./contract";
import { BOOKING_EVENTS_PATH } from "./contract";
import type { Env } from "../../src/env";
import { validateInit } from "./logic/rules";
import { AppError } from "../../src/lib/errors";
import { withTimeout } from "../../src/lib/timeout";

/** The object's RPC surface plus what only the Worker's plumbing uses (the live upgrade, local fault injection). */
export interface InventoryStub extends EventInventoryRpc {
  fetch(request: Request): Promise<Response>;
  faultAbort(): Promise<InventoryResult<null>>;
}

/** The raw stub, for callers that act on the object's result codes themselves (the booking saga, reconciliation, refunds). */
export function inventoryFor(env: Env, eventId: string): InventoryStub {
  // The generated binding type knows the class; the contract is the interface.
  return env.EVENT_INVENTORY.get(env.EVENT_INVENTORY.idFromName(eventId)) as unknown as InventoryStub;
}

const overloaded = () => new AppError("OVERLOADED", "This event is very busy, retry shortly", undefined, { "Retry-After": "1" });

/** The object's expected failures become the API's errors; an object never published is a 404. */
export function unwrapInventory<T>(res: InventoryResult<T>): T {
  if (res.ok) return res.value;
  if (res.code === "NOT_INITIALIZED") throw new AppError("NOT_FOUND", "No such event on sale");
  if (res.code === "OVERLOADED") throw overloaded();
  throw new AppError(res.code, res.message, res.details);
}

/** Awaits a call; runtime overload of the object (production) is a retryable 503, not a 500. */
export async function callInventory<T>(call: () => Promise<InventoryResult<T>>): Promise<T> {
  let res: InventoryResult<T>;
  try {
    res = await call();
  } catch (e) {
    const err = e as { overloaded?: boolean; retryable?: boolean };
    if (err?.overloaded || err?.retryable) throw overloaded();
    throw e;
  }
  return unwrapInventory(res);
}

/** Typed calls for routes: each answers its value or throws the AppError the API answers with. */
export function inventory(env: Env, eventId: string) {
  const stub = () => inventoryFor(env, eventId);
  return {
    /** `admission`: the waiting room's token (X-Admission-Token), needed while the event is on sale. */
    hold: (userId: string, req: HoldRequest, idempotencyKey: string | null, admission: string | null = null): Promise<HoldView> =>
      callInventory(() => stub().hold(userId, req, idempotencyKey, admission)),
    getHold: (holdId: string): Promise<HoldView> => callInventory(() => stub().getHold(holdId)),
    release: (holdId: string, byUserId: string): Promise<HoldView> => callInventory(() => stub().release(holdId, byUserId)),
    seatMap: (): Promise<Snapshot> => callInventory(() => stub().seatMap()),
    joinWaitlist: (userId: string, quantity: number): Promise<{ entry: WaitlistEntryView; created: boolean }> =>
      callInventory(() => stub().joinWaitlist(userId, quantity)),
    leaveWaitlist: (userId: string): Promise<WaitlistEntryView> => callInventory(() => stub().leaveWaitlist(userId)),
    waitlistEntry: (userId: string): Promise<WaitlistEntryView> => callInventory(() => stub().waitlistEntry(userId)),
    /** Replaces the object's ticket types and vouchers (docs/products.md); a revision not above its own is ignored there. */
    setProducts: (set: ProductSet): Promise<{ revision: number; applied: boolean }> => callInventory(() => stub().setProducts(set)),
    productStats: (): Promise<ProductStats> => callInventory(() => stub().productStats()),
    /** Forwards a WebSocket upgrade to the object's live seat map. */
    openLive: (request: Request): Promise<Response> => stub().fetch(request),
    /**
     * Opens a booking's server-sent event stream on the object: it starts with `current` (the
     * status the Worker read from Postgres) and goes on with what `pushBooking` sends.
     */
    openBookingEvents: (current: BookingPush): Promise<Response> =>
      stub().fetch(new Request(`https://inventory${BOOKING_EVENTS_PATH}`, { method: "POST", body: JSON.stringify(current) })),
    /** On-sale mode on or off (the waiting room's client calls it). */
    setOnSale: (on: boolean, generation?: number): Promise<{ onSale: boolean; generation: number }> => callInventory(() => stub().setOnSale(on, generation)),
    admissionStats: (): Promise<AdmissionStats> => callInventory(() => stub().admissionStats()),
    ping: () => stub().ping(),
    faultAbort: () => stub().faultAbort(),
  };
}

/** How long a booking push may hold up its caller (the saga): a busy object must not slow a booking down. */
const PUSH_TIMEOUT_MS = 2_000;

/**
 * Tells the buyer a booking's status on the channels they have open (live sockets, relays,
 * server-sent events), through the event's object. Never throws: the push is a courtesy, Postgres
 * is the truth, and every client falls back to reading the booking; a failure is logged.
 */
export async function pushBookingOutcome(env: Env, eventId: string, push: BookingPush): Promise<void> {
  try {
    await withTimeout(inventoryFor(env, eventId).pushBooking(push), PUSH_TIMEOUT_MS, "booking push");
  } catch (e) {
    console.warn(JSON.stringify({ level: "warn", msg: "booking push failed", eventId, bookingId: push.id, status: push.status, error: String(e) }));
  }
}

/** Checks an event's inventory settings exactly as the object will (publishing refuses what the object would). */
export function checkInventoryInit(init: InventoryInit): InventoryResult<unknown> {
  return validateInit(init);
}

export type InitOutcome = { ready: true; created: boolean } | { ready: false; reason: string };

/**
 * Sends the published event's seats to its object (idempotent there). A failure leaves the event
 * `inventoryReady: false`; publishing again, or the cron's retry, finishes it.
 */
export async function initializeInventory(env: Env, init: InventoryInit): Promise<InitOutcome> {
  const res = await inventoryFor(env, init.eventId).initialize(init);
  if (!res.ok) return { ready: false, reason: `${res.code}: ${res.message}` };
  return { ready: true, created: res.value.created };
}

/** A cancelled event sells nothing more and its open holds end; answers the holds that ended (none for an object never initialized). */
export async function closeInventorySales(env: Env, eventId: string): Promise<ClosedSales["releasedHolds"]> {
  const res = await inventoryFor(env, eventId).closeSales();
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
      return { availability: await inventoryFor(env, e.id).stats(), source: "inventory" };
    } catch (err) {
      console.warn(JSON.stringify({ level: "warn", msg: "inventory stats failed, using Postgres", eventId: e.id, error: String(err) }));
    }
  }
  return { availability: availabilityFromPostgres(e), source: "postgres" };
}
