import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { createDb } from "../src/db/client";
import { holdHistory } from "../src/db/schema";
import { newId } from "../src/lib/ids";
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
  decideReturnSeats,
  fail,
  flushDelayMs,
  makeHoldId,
  nextAlarmAt,
  ok,
  parseClientMessage,
  parseHoldRequest,
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
import type {
  Availability,
  EventInventoryRpc,
  HoldRequest,
  HoldView,
  InventoryInit,
  InventoryResult,
  SeatStatus,
  Snapshot,
} from "./event-inventory.types";

const OUTBOX_BATCH = 500;
const OUTBOX_BATCHES_PER_ALARM = 20;
const EXPIRE_BATCH = 500;
/** Per-user totals kept in memory; past this many users the cache starts over (re-read on demand). */
const USER_TOTALS_MAX = 50_000;
/** Header the Worker sets on a forwarded upgrade (it strips any the client sent). */
export const LIVE_USER_HEADER = "x-evently-live-user";

interface SocketAttachment {
  userId: string | null;
  connectedAt: number;
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

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    ctx.blockConcurrencyWhile(async () => {
      this.schemaVersion = migrateInventory(this.sql, (fn) => this.ctx.storage.transactionSync(fn));
      this.load();
      this.alarmAt = await this.ctx.storage.getAlarm();
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
   * Stops new holds for good (the event was cancelled): the sales window ends now. Holds already
   * taken keep their course; the booking saga refunds what the cancellation hands it. Idempotent.
   */
  async closeSales(): Promise<InventoryResult<{ closedAt: string }>> {
    const config = this.config;
    if (!config) return notInitialized();
    const now = this.now();
    if (config.salesEndMs > now) {
      const closed = { ...config, salesEndMs: now };
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(`UPDATE inventory SET config = ? WHERE id = 1`, JSON.stringify(closed));
      });
      this.config = closed;
    }
    return ok({ closedAt: new Date(this.config!.salesEndMs).toISOString() });
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

  async snapshot(): Promise<Snapshot> {
    const config = this.config;
    if (!config) return { version: 0, seating: "reserved", seats: [], availability: availability(0, 0, 0) };
    this.expireDue(this.now());
    this.flush();
    if (config.seating === "general") return { version: this.version, seating: "general", availability: this.availability() };
    const seats = this.sql
      .exec(`SELECT id, section, row, number, price_cents, status FROM seats ORDER BY ord`)
      .toArray()
      .map((r) => ({
        id: r.id as string,
        section: r.section as string,
        row: r.row as string,
        number: r.number as number,
        priceCents: r.price_cents as number,
        status: r.status as SeatStatus,
      }));
    return { version: this.version, seating: "reserved", seats, availability: this.availability() };
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

  // -------------------------------------------------------------------------------------------
  // Alarm: hold expiry and the outbox relay share the one alarm, set at the earliest due time.

  async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = this.now();
    this.expireDue(now);
    await this.relayOutbox();
    this.rearm(this.now());
  }

  /** Idempotent and safe to run late or twice: only active holds already due are expired. */
  protected expireDue(now: number): void {
    if (this.nextExpiry === null || now < this.nextExpiry) return;
    for (;;) {
      const due = this.sql
        .exec(`SELECT * FROM holds WHERE status = 'active' AND expires_at <= ? ORDER BY expires_at LIMIT ?`, now, EXPIRE_BATCH)
        .toArray()
        .map(holdFromRow);
      for (const h of due) this.apply(h, decideExpire(h, now), now);
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
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`UPDATE holds SET status = ?, expires_at = ?, booking_id = ?, updated_at = ? WHERE id = ?`, h.status, h.expiresAt, h.bookingId, now, h.id);
      const to = t.changes[0]?.status;
      if (to === "available") this.sql.exec(`UPDATE seats SET status = 'available', hold_id = NULL WHERE hold_id = ?`, h.id);
      else if (to === "booked") this.sql.exec(`UPDATE seats SET status = 'booked' WHERE hold_id = ?`, h.id);
      this.moveCounters(before.status, h);
      if (t.history) this.recordHistory(h, t.history, now);
    });
    const d = counterDelta(before.status, h.status, h.quantity);
    if (t.changes.length > 0 || d.held !== 0 || d.booked !== 0) this.announce(t.changes);
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
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    const attachment: SocketAttachment = { userId: request.headers.get(LIVE_USER_HEADER) || null, connectedAt: Date.now() };
    server.serializeAttachment(attachment);
    this.expireDue(this.now());
    this.flush();
    server.send(this.snapshotFrame());
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const msg = parseClientMessage(message);
    if (!msg.ok) {
      ws.send(JSON.stringify({ type: "error", code: "BAD_MESSAGE", message: msg.message }));
      return;
    }
    if (msg.value.type === "ping") {
      ws.send('{"type":"pong"}');
      return;
    }
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
    const seats =
      this.config?.seating === "reserved"
        ? this.sql.exec(`SELECT id, status FROM seats ORDER BY ord`).toArray().map((r) => ({ id: r.id as string, status: r.status as SeatStatus }))
        : undefined;
    return JSON.stringify({ type: "snapshot", version: this.version, ...(seats ? { seats } : {}), availability: this.availability() });
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
  }
}

function notInitialized() {
  return fail("NOT_INITIALIZED", "This event has no inventory (not published)");
}
