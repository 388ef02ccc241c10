import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";
import { newId } from "../../src/lib/ids";
import { writeMetric } from "../../src/lib/metrics";
// ".js", not bare: wrangler bundles any import ending in ".sql" as a Text module (its default rules).
import { migrateInventory } from "./store/schema.sql.js";
import { closeBack, closeOnError } from "../shared/sockets";
import {
  type AdmissionStats,
  type Availability,
  type BookedProducts,
  type BookingPush,
  type ClosedSales,
  type EventInventoryRpc,
  type HoldRequest,
  type HoldView,
  type InventoryInit,
  type InventoryResult,
  type ProductSet,
  type ProductStats,
  type Snapshot,
  type WaitlistEntryView,
  BOOKING_EVENTS_PATH,
  LIVE_USE_RELAY_HEADER,
  bookingFrame,
} from "./contract";
import { fail, ok } from "./logic/rules";
import { InventoryEngine } from "./engine/engine";
import { notInitialized } from "./engine/holds";
import { LiveSeatMap } from "./live/seat-map";
import type { OutboxSinks } from "./engine/outbox";
import { SqliteStore } from "./store/sqlite-store";
import { LiveHolds } from "../shared/socket-holds";
import { AdmissionGate } from "./admission-gate";
import { RelayFeed } from "./live/relay-feed";
import { BookingStreams } from "./live/booking-streams";
import { eventOfRelay, liveLayout, liveSocketCap } from "../live-relay/contract";


const log = (msg: string, extra: Record<string, unknown>) => console.warn(JSON.stringify({ level: "warn", msg, ...extra }));

/**
 * One object per event, reached by name = event id: every seat decision of that event runs here,
 * one at a time. A thin shell: the engine (./inventory/engine.ts) decides and writes through to
 * SQLite synchronously; this class wires storage, the one alarm, the live sockets and the queues
 * the outbox drains into. The object never talks to Postgres.
 */
export class EventInventory extends DurableObject<Env> implements EventInventoryRpc {
  /** Replaced in tests (through runInDurableObject) so expiry can be checked to the millisecond. */
  now: () => number = () => Date.now();
  /** Sockets this object accepts (`LIVE_MAX_SOCKETS`); replaced in tests through runInDurableObject. */
  liveMaxSockets: number;
  /** Sockets served here before new watchers go to relays (`LIVE_DIRECT_SOCKETS`); replaced in tests through runInDurableObject. */
  liveDirectSockets: number;
  /** Relays serving the rest of this event's watchers, fed every delta batch (live-relay/object.ts). */
  private readonly relays: RelayFeed;
  readonly engine: InventoryEngine;
  readonly live: LiveSeatMap;
  /** `auth`, `hold` and `release` frames of the live socket (API.md "Holds over the live socket"). */
  private readonly liveHolds: LiveHolds;
  /** Server-sent event streams of this event's bookings, written by `pushBooking`. */
  readonly bookingStreams: BookingStreams;
  /** On-sale mode: holds need an admission token (docs/onsale.md). */
  private readonly gate: AdmissionGate;
  private schemaVersion = 0;
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.liveMaxSockets = liveSocketCap(env.LIVE_MAX_SOCKETS);
    this.liveDirectSockets = liveLayout(env).direct;
    this.relays = new RelayFeed(ctx.storage, env.LIVE_RELAY);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    const transactionSync = <T>(fn: () => T) => ctx.storage.transactionSync(fn);
    this.schemaVersion = migrateInventory(ctx.storage.sql, transactionSync);
    this.engine = new InventoryEngine({
      store: new SqliteStore(ctx.storage.sql, transactionSync),
      now: () => this.now(),
      newId,
      announce: (changes) => this.live.announce(changes),
      metric: (m) => writeMetric(this.env, m),
      log,
      waitlistClosed: () => this.gate.onSale,
    });
    this.live = new LiveSeatMap(ctx, this.engine, () => this.engine.holds.expireDue(this.now()), () => this.liveMaxSockets, {
      // The Worker says whether relays exist for this event (`x-evently-live-use-relay: <count>`).
      useRelay: (sockets, request) => sockets >= this.liveDirectSockets && Number(request.headers.get(LIVE_USE_RELAY_HEADER)) > 0,
      onDelta: (version, frame) => this.relays.feed(version, frame),
    });
    this.bookingStreams = new BookingStreams(() => this.now());
    this.gate = new AdmissionGate(ctx.storage.kv, env);
    this.liveHolds = new LiveHolds({
      env,
      sql: ctx.storage.sql,
      now: () => this.now(),
      eventId: () => this.engine.config?.eventId ?? "",
      holdTtlMs: () => (this.engine.config?.holdTtlSeconds ?? 600) * 1000,
      hold: (userId, req, key, admission) => this.hold(userId, req, key, admission),
      release: (holdId, userId) => this.release(holdId, userId),
    });
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
      this.rearm();
    });
  }

  /** Runs a change, then moves the one alarm earlier if something is now due sooner. */
  private run<T>(fn: () => T): T {
    const out = fn();
    this.rearm();
    return out;
  }

  /** Moves the alarm earlier when something is due before it; never later (a late alarm is harmless). */
  private rearm(): void {
    const want = this.engine.nextAlarmAt(this.now());
    if (want === null || (this.alarmAt !== null && this.alarmAt <= want)) return;
    this.alarmAt = want;
    void this.ctx.storage.setAlarm(want);
  }

  // RPC (the names are the contract with durable-objects/inventory/client.ts)

  async ping(): Promise<{ ok: true; schemaVersion: number; at: number }> {
    return { ok: true, schemaVersion: this.schemaVersion, at: Date.now() };
  }

  async initialize(init: InventoryInit): Promise<InventoryResult<{ created: boolean; version: number }>> {
    return this.engine.initialize(init);
  }

  async closeSales(): Promise<InventoryResult<ClosedSales>> {
    return this.run(() => this.engine.closeSales(this.now()));
  }

  async hold(userId: string, req: HoldRequest, idempotencyKey: string | null, admission: string | null = null): Promise<InventoryResult<HoldView>> {
    if (!this.gate.onSale || !this.engine.config) return this.run(() => this.engine.hold(userId, req, idempotencyKey));
    const admitted = await this.gate.check(userId, this.engine.config.eventId, admission, this.now());
    if (!admitted.ok) return admitted;
    // A retry answers the hold its key made: its seats are counted for its admission once.
    const replay = idempotencyKey !== null && this.engine.holds.madeWithKey(userId, idempotencyKey);
    const res = this.run(() => this.engine.hold(userId, req, idempotencyKey));
    if (res.ok && !replay) this.gate.recordHold(admitted.claims, res.value.quantity, this.now());
    return res;
  }

  async getHold(holdId: string): Promise<InventoryResult<HoldView>> {
    return this.run(() => this.engine.getHold(holdId, this.now()));
  }

  async release(holdId: string, byUserId: string | null): Promise<InventoryResult<HoldView>> {
    return this.run(() => this.engine.release(holdId, byUserId));
  }

  async beginConfirm(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    return this.run(() => this.engine.beginConfirm(holdId, bookingId));
  }

  async commit(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    return this.run(() => this.engine.commit(holdId, bookingId));
  }

  async returnSeats(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    return this.run(() => this.engine.returnSeats(holdId, bookingId));
  }

  /** Books a released or expired hold's seats again for its booking; for reconciliation. */
  async restoreBooking(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    return this.run(() => this.engine.restoreBooking(holdId, bookingId));
  }

  /** `returnSeats` for a batch of a cancelled event's bookings (one call per refund batch). */
  async returnSeatsMany(pairs: { holdId: string; bookingId: string }[]): Promise<InventoryResult<{ returned: number }>> {
    return this.run(() => this.engine.returnSeatsMany(pairs));
  }

  async setProducts(set: ProductSet): Promise<InventoryResult<{ revision: number; applied: boolean }>> {
    return this.run(() => this.engine.setProducts(set));
  }

  async productStats(): Promise<InventoryResult<ProductStats>> {
    return this.run(() => this.engine.productStats(this.now()));
  }

  async bookedProducts(): Promise<BookedProducts> {
    return this.run(() => this.engine.bookedProducts());
  }

  async snapshot(): Promise<Snapshot> {
    return this.run(() => this.live.snapshot());
  }

  /** A relay's snapshot (the per-version cached frame); from now on the relay is fed every delta. */
  async relaySnapshot(relay: string): Promise<InventoryResult<{ version: number; frame: string }>> {
    return this.run(() => {
      if (!this.engine.config) return notInitialized();
      if (eventOfRelay(relay) !== this.engine.config.eventId) return fail("VALIDATION_FAILED", "Not a relay of this event");
      const { version, frame } = this.live.relayFrame();
      this.relays.register(relay);
      return ok({ version, frame });
    });
  }

  async stats(): Promise<Availability> {
    return this.run(() => this.engine.stats(this.now()));
  }

  async setOnSale(on: boolean, generation?: number): Promise<InventoryResult<{ onSale: boolean; generation: number }>> {
    if (!this.engine.config) return notInitialized();
    this.gate.setOnSale(on, generation);
    // The room is over: the waitlist is open again and its head gets the seats left free.
    if (!on) this.run(() => this.engine.waitlist.offerFree());
    return ok({ onSale: on, generation: this.gate.currentGeneration });
  }

  async admissionStats(): Promise<InventoryResult<AdmissionStats>> {
    if (!this.engine.config) return notInitialized();
    const now = this.now();
    const { salesEndMs, cancelledMs } = this.engine.config;
    return ok({
      ...this.run(() => this.engine.stats(now)),
      onSale: this.gate.onSale,
      ...this.gate.stats(now),
      maxSeatsPerUser: this.engine.config.maxSeatsPerUser,
      sellable: this.run(() => this.engine.sellable(now)),
      salesOver: cancelledMs !== undefined || now >= salesEndMs,
    });
  }

  /** The snapshot, or NOT_INITIALIZED, so the Worker can answer 404 for an event without inventory. */
  async seatMap(): Promise<InventoryResult<Snapshot>> {
    if (!this.engine.config) return fail("NOT_INITIALIZED", "This event has no inventory (not published)");
    return ok(await this.snapshot());
  }

  async joinWaitlist(userId: string, quantity: number): Promise<InventoryResult<{ entry: WaitlistEntryView; created: boolean }>> {
    return this.run(() => this.engine.joinWaitlist(userId, quantity));
  }

  async leaveWaitlist(userId: string): Promise<InventoryResult<WaitlistEntryView>> {
    return this.run(() => this.engine.leaveWaitlist(userId));
  }

  async waitlistEntry(userId: string): Promise<InventoryResult<WaitlistEntryView>> {
    return this.run(() => this.engine.waitlistEntry(userId));
  }

  async pushBooking(push: BookingPush): Promise<{ sockets: number }> {
    this.bookingStreams.send(push);
    const frame = bookingFrame(push);
    const [here, onRelays] = await Promise.all([
      this.liveHolds.sendToUser(this.ctx.getWebSockets(), push.userId, frame),
      this.relays.pushToUser(push.userId, frame),
    ]);
    return { sockets: here + onRelays };
  }

  /**
   * Local-only fault injection (`npm run soak`, EVENTLY_FAULTS=on): resets the object the way a
   * crash or an eviction would. In-memory state is lost; SQLite survives. Throws to the caller.
   */
  async faultAbort(): Promise<InventoryResult<null>> {
    if (this.env.EVENTLY_FAULTS !== "on") return fail("NOT_FOUND", "No such operation");
    this.ctx.abort("fault injection (soak)");
    return ok(null);
  }

  // The one alarm: hold expiry and the outbox drain, set at the earliest due time.

  async alarm(): Promise<void> {
    this.alarmAt = null;
    this.engine.holds.expireDue(this.now());
    const config = this.engine.config;
    if (config) await this.engine.outbox.drain(config.eventId, this.sinks(), this.now());
    this.rearm();
  }

  private sinks(): OutboxSinks {
    return {
      events: async (messages) => {
        await this.env.INVENTORY_EVENTS.sendBatch(messages.map((body) => ({ body })));
      },
      // Consumers dedupe by the message's dedupeKey: a batch sent twice stores one notification each.
      notifications: async (bodies) => {
        await this.env.NOTIFICATIONS.sendBatch(bodies.map((body) => ({ body })));
      },
    };
  }

  // Live seat map (hibernatable WebSockets)

  /** The live seat map's upgrade, or (the Worker's internal path) a booking's event stream. */
  async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === BOOKING_EVENTS_PATH) return this.bookingStreams.open(request);
    return this.live.upgrade(request);
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (await this.liveHolds.handle(ws, message)) return;
    await this.live.message(ws, message);
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeBack(ws, code, reason);
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    closeOnError(ws);
  }
}
