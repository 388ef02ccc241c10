import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { createDb } from "../src/db/client";
import { holdHistory, waitlistEntries } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { writeMetric, type Metric } from "../src/lib/metrics";
import { sql as pgSql } from "drizzle-orm";
// ".js", not bare: wrangler bundles any import ending in ".sql" as a Text module (its default rules).
import { migrateInventory } from "./event-inventory.sql.js";
import {
  ChangeBatch,
  availability,
  counterDelta,
  decideBeginConfirm,
  decideCommit,
  decideExpire,
  decideHold,
  decideRelease,
  decideRestore,
  decideReturnSeats,
  fail,
  flushDelayMs,
  makeHoldId,
  nextAlarmAt,
  ok,
  parseClientMessage,
  parseHoldRequest,
  relayBackoffMs,
  relayDueAt,
  toView,
  validateInit,
  type HistoryKind,
  type HoldRow,
  type InventoryConfig,
  type SeatChange,
  type SeatRow,
  type Transition,
} from "./event-inventory.logic";
import {
  decideJoin,
  decideLeave,
  decideOffer,
  entryAfterHold,
  entryView,
  latestMirrors,
  mirrorOf,
  offerNotification,
  type WaitlistEntryRow,
  type WaitlistMirror,
} from "./event-inventory.waitlist.logic";
import type {
  Availability,
  ClosedSales,
  EventInventoryRpc,
  HoldRequest,
  HoldView,
  InventoryInit,
  InventoryResult,
  SeatStatus,
  Snapshot,
  WaitlistEntryView,
} from "./event-inventory.types";
import { LIVE_FULL_CLOSE_CODE, SnapshotCache, decideResync, liveSocketCap, type SeatWithStatus } from "./event-inventory.live";
import { RelayFeed } from "./live-relay.feed";
import { eventOfRelay, liveLayout } from "./live-relay.logic";
import { LiveHolds } from "./live-holds";

const OUTBOX_BATCH = 500;
const OUTBOX_BATCHES_PER_ALARM = 20;
const EXPIRE_BATCH = 500;
/** A queue sendBatch takes at most 100 messages. */
const WAITLIST_OUTBOX_BATCH = 100;
/** Per-user totals kept in memory; past this many users the cache starts over (re-read on demand). */
const USER_TOTALS_MAX = 50_000;
/** Header the Worker sets on a forwarded upgrade (it strips any the client sent). */
export const LIVE_USER_HEADER = "x-evently-live-user";
/** Header of the inventory's answer to an upgrade when it serves enough sockets itself: the Worker sends it to a relay. */
export const LIVE_USE_RELAY_HEADER = "x-evently-live-use-relay";

interface SocketAttachment {
  userId: string | null;
  connectedAt: number;
  /** When this socket last got a `resync` snapshot (epoch ms). */
  lastResyncAt?: number | null;
}

type Row = Record<string, SqlStorageValue>;

function holdFromRow(r: Row): HoldRow {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    status: r.status as HoldRow["status"],
    seats: JSON.parse(r.seats as string),
    quantity: r.quantity as number,
    totalCents: r.total_cents as number,
    expiresAt: r.expires_at as number | null,
    createdAt: r.created_at as number,
    bookingId: r.booking_id as string | null,
    idempotencyKey: r.idempotency_key as string | null,
    requestHash: r.request_hash as string,
  };
}

/**
 * One object per event, reached by name = event id: every seat decision of that event runs here,
 * one at a time. Each method reads rows, asks a pure function (event-inventory.logic.ts) what to
 * do, and writes the answer synchronously, so no other request can interleave between check and
 * write. Side effects that leave the object (hold history to Postgres) go through an outbox that
 * the alarm relays; the hold path never waits on Postgres.
 */
export class EventInventory extends DurableObject<Env> implements EventInventoryRpc {
  /** Replaced in tests (through runInDurableObject) so expiry can be checked to the millisecond. */
  now: () => number = () => Date.now();

  protected readonly sql: SqlStorage;
  protected config: InventoryConfig | null = null;
  private schemaVersion = 0;
  private version = 0;
  private held = 0;
  private booked = 0;
  /** Quantity each user holds or bought here (active, confirming, committed), read once per user, then kept by moveCounters. */
  private readonly userTotals = new Map<string, number>();
  /** A lower bound of the earliest active expiry, so most requests skip the expiry query. */
  private nextExpiry: number | null = null;
  private alarmAt: number | null = null;
  private relayFailures = 0;
  private lastRelayAt: number | null = null;
  private readonly batch = new ChangeBatch();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private lastFlushAt = 0;
  /** Waitlist state kept in memory so the hold path pays nothing when nobody is waiting. */
  private waitingCount = 0;
  private readonly offeredHolds = new Set<string>();
  private waitlistOutboxPending = false;
  private waitlistRelayFailures = 0;
  private readonly seatMapCache = new SnapshotCache();
  /** Sockets this object accepts (`LIVE_MAX_SOCKETS`); replaced in tests through runInDurableObject. */
  liveMaxSockets: number;
  /** Sockets served here before new watchers go to relays (`LIVE_DIRECT_SOCKETS`); replaced in tests through runInDurableObject. */
  liveDirectSockets: number;
  /** Relays serving the rest of this event's watchers, fed every delta batch (live-relay.ts). */
  private readonly relays: RelayFeed;
  /** `auth`, `hold` and `release` frames of the live socket (API.md "Holds over the live socket"). */
  private readonly liveHolds: LiveHolds;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.liveMaxSockets = liveSocketCap(env.LIVE_MAX_SOCKETS);
    this.liveDirectSockets = liveLayout(env).direct;
    this.relays = new RelayFeed(ctx.storage, env.LIVE_RELAY);
    this.liveHolds = new LiveHolds({
      env,
      sql: this.sql,
      now: () => this.now(),
      eventId: () => this.config?.eventId ?? "",
      holdTtlMs: () => (this.config?.holdTtlSeconds ?? 600) * 1000,
      hold: (userId, req, key) => this.hold(userId, req, key),
      release: (holdId, userId) => this.release(holdId, userId),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    ctx.blockConcurrencyWhile(async () => {
      this.schemaVersion = migrateInventory(this.sql, (fn) => this.ctx.storage.transactionSync(fn));
      this.load();
      this.alarmAt = await this.ctx.storage.getAlarm();
      this.rearmWaitlistRelay(this.now());
    });
  }

  private load(): void {
    const row = this.sql.exec(`SELECT config, version, held, booked FROM inventory WHERE id = 1`).toArray()[0];
    if (!row) return;
    this.config = JSON.parse(row.config as string);
    this.version = row.version as number;
    this.held = row.held as number;
    this.booked = row.booked as number;
    if (this.config!.seating === "reserved") {
      // Reserved seating: the seat rows are the counters (the stored columns are kept for general admission only).
      this.held = this.booked = 0;
      for (const r of this.sql.exec(`SELECT status, count(*) AS n FROM seats WHERE status != 'available' GROUP BY status`)) {
        if (r.status === "held") this.held = r.n as number;
        else this.booked = r.n as number;
      }
    }
    this.nextExpiry = this.earliestExpiry();
    this.loadWaitlist();
  }

  // -------------------------------------------------------------------------------------------
  // RPC

  async ping(): Promise<{ ok: true; schemaVersion: number; at: number }> {
    return { ok: true, schemaVersion: this.schemaVersion, at: Date.now() };
  }

  async initialize(init: InventoryInit): Promise<InventoryResult<{ created: boolean; version: number }>> {
    const v = validateInit(init);
    if (!v.ok) return v;
    if (this.config) {
      if (this.config.eventId !== v.value.config.eventId) return fail("INVALID_STATE", "This object belongs to another event");
      return ok({ created: false, version: this.version });
    }
    const { config, seats } = v.value;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`INSERT INTO inventory (id, config, capacity) VALUES (1, ?, ?)`, JSON.stringify(config), config.capacity);
      for (const s of seats) {
        this.sql.exec(`INSERT INTO seats (id, section, row, number, price_cents) VALUES (?, ?, ?, ?, ?)`, s.id, s.section, s.row, s.number, s.priceCents);
      }
    });
    this.config = config;
    return ok({ created: true, version: this.version });
  }

  /**
   * The event was cancelled: the sales window ends now (no new holds) and every open hold ends with
   * it, its seats back. Holds being booked (confirming) are left to their booking's saga, which
   * refunds instead of confirming on a cancelled event. Idempotent: every call answers all holds
   * the closing ended, so a caller that failed to notify their holders can call again.
   */
  async closeSales(): Promise<InventoryResult<ClosedSales>> {
    const config = this.config;
    if (!config) return notInitialized();
    const now = this.now();
    if (config.cancelledMs === undefined) {
      const closed = { ...config, salesEndMs: Math.min(config.salesEndMs, now), cancelledMs: now };
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(`UPDATE inventory SET config = ? WHERE id = 1`, JSON.stringify(closed));
      });
      this.config = closed;
    }
    this.expireDue(now);
    const open = this.sql.exec(`SELECT * FROM holds WHERE status = 'active'`).toArray().map(holdFromRow);
    for (const hold of open) {
      const t = decideRelease(hold, null);
      if (t.ok) this.apply(hold, t.value, now);
    }
    if (open.length) this.rearm(now, true);
    const closedAt = this.config!.cancelledMs!;
    // Every hold the closing released (none of them had a booking); the same list on every call.
    const ended = this.sql
      .exec(`SELECT id, user_id, quantity, seats FROM holds WHERE status = 'released' AND booking_id IS NULL AND updated_at >= ?`, closedAt)
      .toArray()
      .map((r) => ({ holdId: String(r.id), userId: String(r.user_id), quantity: Number(r.quantity), seats: (JSON.parse(String(r.seats)) as { id: string }[]).map((x) => x.id) }));
    return ok({ closedAt: new Date(closedAt).toISOString(), releasedHolds: ended });
  }

  async hold(userId: string, req: HoldRequest, idempotencyKey: string | null): Promise<InventoryResult<HoldView>> {
    const config = this.config;
    if (!config) return notInitialized();
    if (typeof userId !== "string" || userId.length === 0) return fail("VALIDATION_FAILED", "userId is required");
    const now = this.now();
    this.expireDue(now);
    const parsed = parseHoldRequest(req, config, idempotencyKey ?? null);
    if (!parsed.ok) return parsed;
    const previous = idempotencyKey ? this.holdByKey(userId, idempotencyKey) : null;
    const decision = decideHold({
      config,
      now,
      userId,
      req: parsed.value,
      idempotencyKey: idempotencyKey ?? null,
      previous,
      seats: parsed.value.kind === "seats" && !previous ? this.seatRows(parsed.value.seatIds) : [],
      userQuantity: previous ? 0 : this.userQuantity(userId),
      available: config.capacity - this.held - this.booked,
      newHoldId: makeHoldId(config.eventId, newId("h").slice(2, 22)),
    });
    if (!decision.ok) return decision;
    const { hold } = decision.value;
    if (decision.value.kind === "create") {
      const changes = decision.value.changes;
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(
          `INSERT INTO holds (id, user_id, status, seats, quantity, total_cents, expires_at, created_at, updated_at, booking_id, idempotency_key, request_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
          hold.id, hold.userId, hold.status, JSON.stringify(hold.seats), hold.quantity, hold.totalCents, hold.expiresAt, now, now, hold.idempotencyKey, hold.requestHash,
        );
        this.takeSeats(hold.id, changes);
        this.moveCounters(null, hold);
        this.recordHistory(hold, "created", now);
      });
      if (this.nextExpiry === null || hold.expiresAt! < this.nextExpiry) this.nextExpiry = hold.expiresAt;
      this.announce(changes);
      this.rearm(now, true);
    }
    return ok(toView(hold, config));
  }

  async getHold(holdId: string): Promise<InventoryResult<HoldView>> {
    const config = this.config;
    if (!config) return notInitialized();
    this.expireDue(this.now());
    const hold = this.holdById(holdId);
    return hold ? ok(toView(hold, config)) : fail("NOT_FOUND", "No such hold");
  }

  async release(holdId: string, byUserId: string | null): Promise<InventoryResult<HoldView>> {
    return this.transition(holdId, (h) => decideRelease(h, byUserId ?? null));
  }

  async beginConfirm(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    return this.transition(holdId, (h) => decideBeginConfirm(h, bookingId));
  }

  async commit(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    return this.transition(holdId, (h) => decideCommit(h, bookingId));
  }

  async returnSeats(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    return this.transition(holdId, (h) => decideReturnSeats(h, bookingId));
  }

  /** Books a released or expired hold's seats again for its booking (see decideRestore); for reconciliation. */
  async restoreBooking(holdId: string, bookingId: string): Promise<InventoryResult<HoldView>> {
    const config = this.config;
    if (!config) return notInitialized();
    const now = this.now();
    this.expireDue(now);
    const hold = typeof holdId === "string" ? this.holdById(holdId) : null;
    if (!hold) return fail("NOT_FOUND", "No such hold");
    const seatRows = config.seating === "reserved" && hold.seats.length ? this.seatRows(hold.seats.map((x) => x.id)) : [];
    const t = decideRestore(hold, bookingId, seatRows, config.capacity - this.held - this.booked, config.seating);
    if (!t.ok) return t;
    // An ended hold no longer owns its seats: take them back first, so apply() books them. Both
    // run in this one synchronous turn, so nothing interleaves and the writes land together.
    if (t.value.changed && (hold.status === "released" || hold.status === "expired")) this.takeSeats(hold.id, t.value.changes);
    this.apply(hold, t.value, now);
    return ok(toView(t.value.hold, config));
  }

  /**
   * `returnSeats` for a batch of a cancelled event's bookings (one call per refund batch). A hold
   * this object does not know, or that is not booked by that booking, is skipped: `returned` counts the rest.
   */
  async returnSeatsMany(pairs: { holdId: string; bookingId: string }[]): Promise<InventoryResult<{ returned: number }>> {
    if (!this.config) return notInitialized();
    let returned = 0;
    for (const p of pairs) if (this.transition(p.holdId, (h) => decideReturnSeats(h, p.bookingId)).ok) returned++;
    return ok({ returned });
  }

  async snapshot(): Promise<Snapshot> {
    const config = this.config;
    if (!config) return { version: 0, seating: "reserved", seats: [], availability: availability(0, 0, 0) };
    this.expireDue(this.now());
    this.flush();
    if (config.seating === "general") return { version: this.version, seating: "general", availability: this.availability() };
    const cached = this.seatMapCache.get(this.version, () => this.readSeatMap());
    return { version: this.version, seating: "reserved", seats: cached.seats, availability: cached.availability };
  }

  /** Every seat with its status: a scan, so callers go through the per-version cache. */
  private readSeatMap(): { seats: SeatWithStatus[] | undefined; availability: Availability } {
    const seats =
      this.config?.seating === "reserved"
        ? this.sql
            .exec(`SELECT id, section, row, number, price_cents, status FROM seats ORDER BY ord`)
            .toArray()
            .map((r) => ({
              id: r.id as string,
              section: r.section as string,
              row: r.row as string,
              number: r.number as number,
              priceCents: r.price_cents as number,
              status: r.status as SeatStatus,
            }))
        : undefined;
    return { seats, availability: this.availability() };
  }

  async stats(): Promise<Availability> {
    if (!this.config) return availability(0, 0, 0);
    this.expireDue(this.now());
    return this.availability();
  }

  /** The snapshot, or NOT_INITIALIZED, so the Worker can answer 404 for an event without inventory. */
  async seatMap(): Promise<InventoryResult<Snapshot>> {
    if (!this.config) return notInitialized();
    return ok(await this.snapshot());
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

  // -------------------------------------------------------------------------------------------
  // Alarm: hold expiry and the outbox relay share the one alarm, set at the earliest due time.

  async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = this.now();
    this.expireDue(now);
    await this.relayOutbox();
    await this.relayWaitlistOutbox();
    this.rearm(this.now());
    this.rearmWaitlistRelay(this.now());
  }

  /** Idempotent and safe to run late or twice: only active holds already due are expired. */
  protected expireDue(now: number): void {
    if (this.nextExpiry === null || now < this.nextExpiry) return;
    for (;;) {
      const due = this.sql
        .exec(`SELECT * FROM holds WHERE status = 'active' AND expires_at <= ? ORDER BY expires_at LIMIT ?`, now, EXPIRE_BATCH)
        .toArray()
        .map(holdFromRow);
      for (const h of due) {
        this.apply(h, decideExpire(h, now), now);
        writeMetric(this.env, { kind: "hold", eventId: this.config?.eventId ?? "", outcome: "ok", action: "expired", quantity: h.quantity, amountCents: h.totalCents });
      }
      if (due.length < EXPIRE_BATCH) break;
    }
    this.nextExpiry = this.earliestExpiry();
  }

  private earliestExpiry(): number | null {
    const r = this.sql.exec(`SELECT MIN(expires_at) AS t FROM holds WHERE status = 'active'`).toArray()[0];
    return (r?.t as number | null) ?? null;
  }

  private async relayOutbox(): Promise<void> {
    const config = this.config;
    if (!config) return;
    let db: ReturnType<typeof createDb> | undefined;
    this.lastRelayAt = this.now();
    try {
      for (let i = 0; i < OUTBOX_BATCHES_PER_ALARM; i++) {
        const rows = this.sql.exec(`SELECT seq, hold_id, kind, user_id, quantity, at FROM outbox ORDER BY seq LIMIT ?`, OUTBOX_BATCH).toArray();
        if (rows.length === 0) break;
        db ??= createDb(this.env);
        // (hold, kind) is the primary key in Postgres: a batch delivered twice is stored once.
        await db
          .insert(holdHistory)
          .values(rows.map((r) => ({
            holdId: r.hold_id as string,
            kind: r.kind as HistoryKind,
            eventId: config.eventId,
            userId: r.user_id as string,
            quantity: r.quantity as number,
            at: new Date(r.at as number),
          })))
          .onConflictDoNothing();
        this.sql.exec(`DELETE FROM outbox WHERE seq <= ?`, rows[rows.length - 1].seq);
        this.relayFailures = 0;
        if (rows.length < OUTBOX_BATCH) break;
      }
    } catch (e) {
      this.relayFailures++;
      console.warn(JSON.stringify({ level: "warn", msg: "hold history relay failed, will retry", eventId: config.eventId, failures: this.relayFailures, error: String((e as { cause?: unknown })?.cause ?? e).slice(0, 500) }));
    } finally {
      if (db) await db.$client.end().catch(() => undefined);
    }
  }

  private outboxPending(): boolean {
    return this.sql.exec(`SELECT 1 FROM outbox LIMIT 1`).toArray().length > 0;
  }

  /** Moves the alarm earlier when something is due before it; never later (a late alarm is harmless). */
  private rearm(now: number, outboxKnownPending = false): void {
    const pending = outboxKnownPending || this.outboxPending();
    const want = nextAlarmAt(this.nextExpiry, pending ? relayDueAt(now, this.lastRelayAt, this.relayFailures) : null);
    if (want === null || (this.alarmAt !== null && this.alarmAt <= want)) return;
    this.alarmAt = want;
    void this.ctx.storage.setAlarm(want);
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  private transition(holdId: string, decide: (h: HoldRow) => InventoryResult<Transition>): InventoryResult<HoldView> {
    const config = this.config;
    if (!config) return notInitialized();
    const now = this.now();
    this.expireDue(now);
    const hold = typeof holdId === "string" ? this.holdById(holdId) : null;
    if (!hold) return fail("NOT_FOUND", "No such hold");
    const t = decide(hold);
    if (!t.ok) return t;
    this.apply(hold, t.value, now);
    if (t.value.history) this.rearm(now, true);
    return ok(toView(t.value.hold, config));
  }

  private apply(before: HoldRow, t: Transition, now: number): void {
    if (!t.changed) return;
    const h = t.hold;
    let waitlist: WaitlistEffects | null = null;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`UPDATE holds SET status = ?, expires_at = ?, booking_id = ?, updated_at = ? WHERE id = ?`, h.status, h.expiresAt, h.bookingId, now, h.id);
      const to = t.changes[0]?.status;
      if (to === "available") this.sql.exec(`UPDATE seats SET status = 'available', hold_id = NULL WHERE hold_id = ?`, h.id);
      else if (to === "booked") this.sql.exec(`UPDATE seats SET status = 'booked' WHERE hold_id = ?`, h.id);
      this.moveCounters(before.status, h);
      if (t.history) this.recordHistory(h, t.history, now);
      // Seats coming back go to the waitlist in this same transaction: no public hold can take them first.
      waitlist = this.waitlistAfter(before, h, now);
    });
    const d = counterDelta(before.status, h.status, h.quantity);
    if (t.changes.length > 0 || d.held !== 0 || d.booked !== 0) this.announce(t.changes);
    if (waitlist) this.waitlistEffects(waitlist);
  }

  /** One statement for all seats of a hold; a seat no longer available aborts the transaction (a last line behind decideHold). */
  private takeSeats(holdId: string, changes: SeatChange[]): void {
    if (changes.length === 0) return;
    const marks = changes.map(() => "?").join(",");
    // RETURNING counts the seats (rowsWritten would count index entries too).
    const taken = this.sql.exec(`UPDATE seats SET status = 'held', hold_id = ? WHERE id IN (${marks}) AND status = 'available' RETURNING ord`, holdId, ...changes.map((c) => c.id)).toArray();
    if (taken.length !== changes.length) throw new Error(`hold ${holdId}: seats changed under a decided hold`);
  }

  private moveCounters(from: HoldRow["status"] | null, to: HoldRow): void {
    const d = counterDelta(from, to.status, to.quantity);
    if (d.held === 0 && d.booked === 0) return;
    // General admission has no seat rows: the stored counters are its truth, and their CHECK the last line against overselling.
    if (this.config?.seating !== "reserved") this.sql.exec(`UPDATE inventory SET held = held + ?, booked = booked + ? WHERE id = 1`, d.held, d.booked);
    this.held += d.held;
    this.booked += d.booked;
    const total = this.userTotals.get(to.userId);
    if (total !== undefined) this.userTotals.set(to.userId, total + d.held + d.booked);
  }

  private recordHistory(h: HoldRow, kind: HistoryKind, now: number): void {
    this.sql.exec(`INSERT INTO outbox (hold_id, kind, user_id, quantity, at) VALUES (?, ?, ?, ?, ?)`, h.id, kind, h.userId, h.quantity, now);
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  private holdById(id: string): HoldRow | null {
    const r = this.sql.exec(`SELECT * FROM holds WHERE id = ?`, id).toArray()[0];
    return r ? holdFromRow(r) : null;
  }

  private holdByKey(userId: string, key: string): HoldRow | null {
    const r = this.sql.exec(`SELECT * FROM holds WHERE user_id = ? AND idempotency_key = ?`, userId, key).toArray()[0];
    return r ? holdFromRow(r) : null;
  }

  private seatRows(ids: string[]): SeatRow[] {
    const marks = ids.map(() => "?").join(",");
    return this.sql
      .exec(`SELECT id, price_cents, status FROM seats WHERE id IN (${marks})`, ...ids)
      .toArray()
      .map((r) => ({ id: r.id as string, priceCents: r.price_cents as number, status: r.status as SeatStatus }));
  }

  private userQuantity(userId: string): number {
    const known = this.userTotals.get(userId);
    if (known !== undefined) return known;
    const r = this.sql
      .exec(`SELECT COALESCE(SUM(quantity), 0) AS q FROM holds WHERE user_id = ? AND status IN ('active', 'confirming', 'committed')`, userId)
      .toArray()[0];
    if (this.userTotals.size >= USER_TOTALS_MAX) this.userTotals.clear();
    this.userTotals.set(userId, Number(r.q));
    return Number(r.q);
  }

  private availability(): Availability {
    return availability(this.config?.capacity ?? 0, this.held, this.booked);
  }

  // -------------------------------------------------------------------------------------------
  // Live seat map (hibernatable WebSockets)

  async fetch(request: Request): Promise<Response> {
    if (!this.config) return Response.json({ code: "NOT_FOUND", message: "No such event inventory" }, { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ code: "VALIDATION_FAILED", message: "Expected a WebSocket upgrade" }, { status: 426 });
    }
    const sockets = this.ctx.getWebSockets().length;
    // The Worker says whether relays exist for this event (`x-evently-live-use-relay: <count>`).
    if (sockets >= this.liveDirectSockets && Number(request.headers.get(LIVE_USE_RELAY_HEADER)) > 0) {
      return new Response(null, { status: 204, headers: { [LIVE_USE_RELAY_HEADER]: "1" } });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    if (sockets >= this.liveMaxSockets) {
      // Refused as a close frame, which a browser can read (a failed upgrade's HTTP status it cannot).
      server.accept();
      server.close(LIVE_FULL_CLOSE_CODE, "This event's live seat map is full, try again later");
      return new Response(null, { status: 101, webSocket: client });
    }
    this.ctx.acceptWebSocket(server);
    const attachment: SocketAttachment = { userId: request.headers.get(LIVE_USER_HEADER) || null, connectedAt: Date.now(), lastResyncAt: null };
    server.serializeAttachment(attachment);
    this.expireDue(this.now());
    this.flush();
    server.send(this.snapshotFrame());
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (await this.liveHolds.handle(ws, message)) return;
    const msg = parseClientMessage(message);
    if (!msg.ok) {
      ws.send(JSON.stringify({ type: "error", code: "BAD_MESSAGE", message: msg.message }));
      return;
    }
    if (msg.value.type === "ping") {
      ws.send('{"type":"pong"}');
      return;
    }
    const attachment = ws.deserializeAttachment() as SocketAttachment;
    const now = Date.now();
    const allowed = decideResync(attachment.lastResyncAt ?? null, now);
    if (!allowed.ok) {
      ws.send(JSON.stringify({ type: "error", code: "RATE_LIMITED", message: "At most one resync per second", retryAfterMs: allowed.retryAfterMs }));
      return;
    }
    ws.serializeAttachment({ ...attachment, lastResyncAt: now });
    this.expireDue(this.now());
    this.flush();
    ws.send(this.snapshotFrame());
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // 1005/1006 describe a missing close frame and may not be sent back.
    const back = code === 1005 || code === 1006 || code < 1000 ? 1000 : code;
    try {
      ws.close(back, reason);
    } catch {
      // already closed
    }
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    try {
      ws.close(1011, "socket error");
    } catch {
      // already closed
    }
  }

  private snapshotFrame(): string {
    return this.seatMapCache.frame(this.version, () => this.readSeatMap());
  }

  /** Queues changes for the next delta; a quiet object sends at once, a busy one every window. */
  private announce(changes: SeatChange[]): void {
    this.batch.add(changes);
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, flushDelayMs(Date.now(), this.lastFlushAt));
  }

  /** Sends pending changes as one delta with the next version (the version is stored, so it survives restarts). */
  private flush(): void {
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (!this.batch.pending) return;
    const changes = this.batch.take();
    this.version += 1;
    this.sql.exec(`UPDATE inventory SET version = ? WHERE id = 1`, this.version);
    this.lastFlushAt = Date.now();
    const frame = JSON.stringify({ type: "delta", version: this.version, changes, availability: this.availability() });
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // a socket closing right now gets a snapshot when it reconnects
      }
    }
    this.relays.feed(this.version, frame);
  }

  /** A relay's snapshot (the per-version cached frame); from now on the relay is fed every delta. */
  async relaySnapshot(relay: string): Promise<InventoryResult<{ version: number; frame: string }>> {
    if (!this.config) return notInitialized();
    if (eventOfRelay(relay) !== this.config.eventId) return fail("VALIDATION_FAILED", "Not a relay of this event");
    this.expireDue(this.now());
    this.flush();
    this.relays.register(relay);
    return ok({ version: this.version, frame: this.snapshotFrame() });
  }

  // -------------------------------------------------------------------------------------------
  // Waitlist (DESIGN.md step 6): strict arrival order, offers made in the transaction that frees
  // the seats, an outbox of its own for the Postgres mirror and the offer notifications.

  async joinWaitlist(userId: string, quantity: number): Promise<InventoryResult<{ entry: WaitlistEntryView; created: boolean }>> {
    const config = this.config;
    if (!config) return notInitialized();
    if (typeof userId !== "string" || userId.length === 0) return fail("VALIDATION_FAILED", "userId is required");
    const now = this.now();
    this.expireDue(now);
    const d = decideJoin({
      config,
      now,
      userId,
      quantity,
      existing: this.activeEntry(userId),
      userQuantity: this.userQuantity(userId),
      available: config.capacity - this.held - this.booked,
      newEntryId: newId("wl"),
    });
    if (!d.ok) return d;
    if (d.value.kind === "existing") return ok({ entry: this.viewOf(d.value.entry), created: false });
    let entry = d.value.entry;
    this.ctx.storage.transactionSync(() => {
      const row = this.sql
        .exec(
          `INSERT INTO waitlist (id, user_id, quantity, status, hold_id, joined_at, offered_at, offer_expires_at, updated_at)
           VALUES (?, ?, ?, 'waiting', NULL, ?, NULL, NULL, ?) RETURNING seq`,
          entry.id, entry.userId, entry.quantity, entry.joinedAt, entry.updatedAt,
        )
        .one();
      entry = { ...entry, seq: row.seq as number };
      this.mirror(entry);
    });
    this.waitingCount++;
    this.rearmWaitlistRelay(now);
    writeMetric(this.env, { kind: "waitlist", eventId: config.eventId, outcome: "ok", action: "joined", quantity: entry.quantity });
    return ok({ entry: this.viewOf(entry), created: true });
  }

  async leaveWaitlist(userId: string): Promise<InventoryResult<WaitlistEntryView>> {
    const config = this.config;
    if (!config) return notInitialized();
    const now = this.now();
    this.expireDue(now);
    const entry = this.latestEntry(userId);
    if (!entry) return fail("NOT_FOUND", "You are not on this event's waitlist");
    const d = decideLeave(entry, now);
    if (d.kind === "left") {
      const effects: WaitlistEffects = { changes: [], metrics: [] };
      this.ctx.storage.transactionSync(() => {
        this.writeEntry(d.entry);
        this.waitingCount--;
        // The line moved up: a new head may fit the seats that are free now (they would otherwise
        // wait for the next seat to come back while any public hold could take them).
        this.offerToQueue(now, effects);
      });
      this.waitlistEffects(effects);
      if (effects.changes.length > 0 || effects.metrics.length > 0) this.rearm(now, true);
      this.rearmWaitlistRelay(now);
    } else if (d.kind === "release-offer") {
      // Releasing the offered hold marks the entry left and offers the seats to the next in line.
      const r = this.transition(d.holdId, (h) => decideRelease(h, userId));
      if (!r.ok) return r;
    }
    if (d.kind === "left") writeMetric(this.env, { kind: "waitlist", eventId: config.eventId, outcome: "ok", action: "left", quantity: entry.quantity });
    return ok(this.viewOf(this.entryById(entry.id)!));
  }

  async waitlistEntry(userId: string): Promise<InventoryResult<WaitlistEntryView>> {
    if (!this.config) return notInitialized();
    this.expireDue(this.now());
    const entry = this.latestEntry(userId);
    return entry ? ok(this.viewOf(entry)) : fail("NOT_FOUND", "You are not on this event's waitlist");
  }

  private loadWaitlist(): void {
    this.waitingCount = Number(this.sql.exec(`SELECT count(*) AS n FROM waitlist WHERE status = 'waiting'`).one().n);
    this.offeredHolds.clear();
    for (const r of this.sql.exec(`SELECT hold_id FROM waitlist WHERE status = 'offered'`)) this.offeredHolds.add(r.hold_id as string);
    this.waitlistOutboxPending = this.sql.exec(`SELECT 1 FROM waitlist_outbox LIMIT 1`).toArray().length > 0;
  }

  /**
   * Runs inside the transaction of every hold transition: an offered entry follows its hold
   * (converted, expired, left), and when seats came back the queue's head gets them if enough are
   * free, then the next, and so on; the first entry that does not fit stops the queue (nobody is skipped).
   */
  private waitlistAfter(before: HoldRow, after: HoldRow, now: number): WaitlistEffects | null {
    if (this.waitingCount === 0 && this.offeredHolds.size === 0) return null;
    const effects: WaitlistEffects = { changes: [], metrics: [] };
    const eventId = this.config!.eventId;
    if (this.offeredHolds.has(after.id)) {
      const entry = this.entryByHold(after.id);
      const next = entry && entryAfterHold(entry, before.status, after.status, now);
      if (next) {
        this.writeEntry(next);
        this.offeredHolds.delete(after.id);
        if (next.status === "converted" || next.status === "left") {
          effects.metrics.push({ kind: "waitlist", eventId, outcome: "ok", action: next.status, quantity: next.quantity });
        }
      }
    }
    const d = counterDelta(before.status, after.status, after.quantity);
    if (d.held + d.booked < 0) this.offerToQueue(now, effects);
    return effects.changes.length > 0 || effects.metrics.length > 0 ? effects : null;
  }

  private offerToQueue(now: number, effects: WaitlistEffects): void {
    const config = this.config!;
    while (this.waitingCount > 0) {
      const row = this.sql.exec(`SELECT * FROM waitlist WHERE status = 'waiting' ORDER BY seq LIMIT 1`).toArray()[0];
      if (!row) {
        this.waitingCount = 0;
        return;
      }
      const head = entryFromRow(row);
      const available = config.capacity - this.held - this.booked;
      const d = decideOffer({
        config,
        now,
        head,
        available,
        seats: config.seating === "reserved" && head.quantity <= available ? this.firstAvailableSeats(head.quantity) : [],
        userQuantity: this.userQuantity(head.userId),
        newHoldId: makeHoldId(config.eventId, newId("h").slice(2, 22)),
      });
      if (d.kind === "wait") return;
      this.waitingCount--;
      this.writeEntry(d.entry);
      if (d.kind === "close") continue;
      const { hold } = d;
      this.sql.exec(
        `INSERT INTO holds (id, user_id, status, seats, quantity, total_cents, expires_at, created_at, updated_at, booking_id, idempotency_key, request_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)`,
        hold.id, hold.userId, hold.status, JSON.stringify(hold.seats), hold.quantity, hold.totalCents, hold.expiresAt, now, now, hold.requestHash,
      );
      for (const c of d.changes) this.sql.exec(`UPDATE seats SET status = 'held', hold_id = ? WHERE id = ? AND status = 'available'`, hold.id, c.id);
      this.moveCounters(null, hold);
      this.recordHistory(hold, "created", now);
      this.sql.exec(`INSERT INTO waitlist_outbox (kind, body) VALUES ('notify', ?)`, JSON.stringify(offerNotification(d.entry, hold, config)));
      this.offeredHolds.add(hold.id);
      if (this.nextExpiry === null || hold.expiresAt! < this.nextExpiry) this.nextExpiry = hold.expiresAt;
      effects.changes.push(...d.changes);
      effects.metrics.push({ kind: "waitlist", eventId: config.eventId, outcome: "ok", action: "offered", quantity: hold.quantity });
    }
  }

  /** After the transaction: the offered seats are announced as held (after the release's own delta, so held wins). */
  private waitlistEffects(effects: WaitlistEffects): void {
    if (effects.metrics.some((m) => m.action === "offered")) this.announce(effects.changes);
    for (const m of effects.metrics) writeMetric(this.env, m);
  }

  private writeEntry(e: WaitlistEntryRow): void {
    this.sql.exec(
      `UPDATE waitlist SET status = ?, hold_id = ?, offered_at = ?, offer_expires_at = ?, updated_at = ? WHERE id = ?`,
      e.status, e.holdId, e.offeredAt, e.offerExpiresAt, e.updatedAt, e.id,
    );
    this.mirror(e);
  }

  private mirror(e: WaitlistEntryRow): void {
    this.sql.exec(`INSERT INTO waitlist_outbox (kind, body) VALUES ('mirror', ?)`, JSON.stringify(mirrorOf(e, this.config!.eventId)));
    this.waitlistOutboxPending = true;
  }

  /** Reserved seating: the best seats to offer are simply the first free ones in seat order. */
  private firstAvailableSeats(n: number): SeatRow[] {
    return this.sql
      .exec(`SELECT id, price_cents, status FROM seats WHERE status = 'available' ORDER BY ord LIMIT ?`, n)
      .toArray()
      .map((r) => ({ id: r.id as string, priceCents: r.price_cents as number, status: r.status as SeatStatus }));
  }

  private activeEntry(userId: string): WaitlistEntryRow | null {
    const r = this.sql.exec(`SELECT * FROM waitlist WHERE user_id = ? AND status IN ('waiting', 'offered')`, userId).toArray()[0];
    return r ? entryFromRow(r) : null;
  }

  private latestEntry(userId: string): WaitlistEntryRow | null {
    const r = this.sql.exec(`SELECT * FROM waitlist WHERE user_id = ? ORDER BY seq DESC LIMIT 1`, userId).toArray()[0];
    return r ? entryFromRow(r) : null;
  }

  private entryById(id: string): WaitlistEntryRow | null {
    const r = this.sql.exec(`SELECT * FROM waitlist WHERE id = ?`, id).toArray()[0];
    return r ? entryFromRow(r) : null;
  }

  private entryByHold(holdId: string): WaitlistEntryRow | null {
    const r = this.sql.exec(`SELECT * FROM waitlist WHERE hold_id = ?`, holdId).toArray()[0];
    return r ? entryFromRow(r) : null;
  }

  private viewOf(e: WaitlistEntryRow): WaitlistEntryView {
    const position =
      e.status === "waiting" ? Number(this.sql.exec(`SELECT count(*) AS n FROM waitlist WHERE status = 'waiting' AND seq <= ?`, e.seq).one().n) : null;
    return entryView(e, this.config!.eventId, position);
  }

  /** Mirror rows become upserts of `waitlist_entries` (a replayed older state never overwrites a newer one); offers go to the notifications queue. */
  private async relayWaitlistOutbox(): Promise<void> {
    const config = this.config;
    if (!config || !this.waitlistOutboxPending) return;
    let db: ReturnType<typeof createDb> | undefined;
    try {
      for (let i = 0; i < OUTBOX_BATCHES_PER_ALARM; i++) {
        const rows = this.sql.exec(`SELECT seq, kind, body FROM waitlist_outbox ORDER BY seq LIMIT ?`, WAITLIST_OUTBOX_BATCH).toArray();
        if (rows.length === 0) break;
        const mirrors = latestMirrors(rows.filter((r) => r.kind === "mirror").map((r) => JSON.parse(r.body as string) as WaitlistMirror));
        const notes = rows.filter((r) => r.kind === "notify").map((r) => ({ body: JSON.parse(r.body as string) }));
        if (mirrors.length > 0) {
          db ??= createDb(this.env);
          await db
            .insert(waitlistEntries)
            .values(mirrors.map((m) => ({
              id: m.id,
              eventId: m.eventId,
              userId: m.userId,
              quantity: m.quantity,
              status: m.status,
              holdId: m.holdId,
              joinedAt: new Date(m.joinedAt),
              offeredAt: m.offeredAt === null ? null : new Date(m.offeredAt),
              updatedAt: new Date(m.updatedAt),
            })))
            .onConflictDoUpdate({
              target: waitlistEntries.id,
              set: {
                status: pgSql`excluded.status`,
                holdId: pgSql`excluded.hold_id`,
                offeredAt: pgSql`excluded.offered_at`,
                updatedAt: pgSql`excluded.updated_at`,
              },
              setWhere: pgSql`${waitlistEntries.updatedAt} <= excluded.updated_at`,
            });
        }
        // Consumers dedupe by the message's dedupeKey: a batch sent twice stores one notification each.
        if (notes.length > 0) await this.env.NOTIFICATIONS.sendBatch(notes);
        this.sql.exec(`DELETE FROM waitlist_outbox WHERE seq <= ?`, rows[rows.length - 1].seq);
        this.waitlistRelayFailures = 0;
      }
    } catch (e) {
      this.waitlistRelayFailures++;
      console.warn(JSON.stringify({ level: "warn", msg: "waitlist relay failed, will retry", eventId: config.eventId, failures: this.waitlistRelayFailures, error: String(e) }));
    } finally {
      // Rows may have been added while the relay awaited Postgres or the queue.
      this.waitlistOutboxPending = this.sql.exec(`SELECT 1 FROM waitlist_outbox LIMIT 1`).toArray().length > 0;
      if (db) await db.$client.end().catch(() => undefined);
    }
  }

  /** Like rearm, for the waitlist outbox: moves the alarm earlier when rows wait to be relayed, never later. */
  private rearmWaitlistRelay(now: number): void {
    if (!this.waitlistOutboxPending) return;
    const want = now + relayBackoffMs(this.waitlistRelayFailures);
    if (this.alarmAt !== null && this.alarmAt <= want) return;
    this.alarmAt = want;
    void this.ctx.storage.setAlarm(want);
  }
}

interface WaitlistEffects {
  /** Seats now held by offers, announced after the transaction. */
  changes: SeatChange[];
  metrics: Metric[];
}

function entryFromRow(r: Row): WaitlistEntryRow {
  return {
    seq: r.seq as number,
    id: r.id as string,
    userId: r.user_id as string,
    quantity: r.quantity as number,
    status: r.status as WaitlistEntryRow["status"],
    holdId: r.hold_id as string | null,
    joinedAt: r.joined_at as number,
    offeredAt: r.offered_at as number | null,
    offerExpiresAt: r.offer_expires_at as number | null,
    updatedAt: r.updated_at as number,
  };
}

function notInitialized() {
  return fail("NOT_INITIALIZED", "This event has no inventory (not published)");
}
