/** `InventoryStore` over the object's own SQLite (tables in ../event-inventory.sql.ts). */
import { type HoldRow, type InventoryConfig } from "../logic/rules";
import type { ProductSet } from "../contract";
import type { WaitlistEntryRow } from "../logic/waitlist";
import type { SeatSpec, SeatStatus } from "../contract";
import type { InventoryStore, OutboxKind, OutboxRow, SeatRecord, StoredInventory } from "./store";

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
    lines: r.lines ? JSON.parse(r.lines as string) : null,
    voucherId: (r.voucher_id as string | null) ?? null,
  };
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

export class SqliteStore implements InventoryStore {
  /** Seat id -> its rowid (`ord`), read with the seats: seat writes go by rowid, with no index to keep up. */
  private readonly ords = new Map<string, number>();

  constructor(
    private readonly sql: SqlStorage,
    private readonly transactionSync: <T>(fn: () => T) => T,
  ) {}

  private first(query: string, ...bindings: unknown[]): Row | undefined {
    return this.sql.exec(query, ...bindings).toArray()[0];
  }

  transaction<T>(fn: () => T): T {
    return this.transactionSync(fn);
  }

  readInventory(): StoredInventory | null {
    const r = this.first(`SELECT config, version, held, booked FROM inventory WHERE id = 1`);
    return r ? { config: JSON.parse(r.config as string), version: r.version as number, held: r.held as number, booked: r.booked as number } : null;
  }

  createInventory(config: InventoryConfig, seats: SeatSpec[]): void {
    this.sql.exec(`INSERT INTO inventory (id, config, capacity) VALUES (1, ?, ?)`, JSON.stringify(config), config.capacity);
    for (const s of seats) {
      this.sql.exec(`INSERT INTO seats (id, section, row, number, price_cents) VALUES (?, ?, ?, ?, ?)`, s.id, s.section, s.row, s.number, s.priceCents);
    }
  }

  writeConfig(config: InventoryConfig): void {
    this.sql.exec(`UPDATE inventory SET config = ? WHERE id = 1`, JSON.stringify(config));
  }

  writeVersion(version: number): void {
    this.sql.exec(`UPDATE inventory SET version = ? WHERE id = 1`, version);
  }

  addCounters(held: number, booked: number): void {
    // Their CHECK is the last line against overselling general admission.
    this.sql.exec(`UPDATE inventory SET held = held + ?, booked = booked + ? WHERE id = 1`, held, booked);
  }

  readSeats(): SeatRecord[] {
    this.ords.clear();
    return this.sql
      .exec(`SELECT ord, id, section, row, number, price_cents, status, hold_id FROM seats ORDER BY ord`)
      .toArray()
      .map((r) => (this.ords.set(r.id as string, r.ord as number), {
        id: r.id as string,
        section: r.section as string,
        row: r.row as string,
        number: r.number as number,
        priceCents: r.price_cents as number,
        status: r.status as SeatStatus,
        holdId: r.hold_id as string | null,
      }));
  }

  /** The seats' rowids for a hold row's `seat_ords` (the seat triggers work by rowid); null without seats. */
  private seatOrds(seats: { id: string }[]): string | null {
    if (seats.length === 0) return null;
    return JSON.stringify(
      seats.map((s) => {
        let ord = this.ords.get(s.id);
        if (ord === undefined) {
          // Only before the seats were read (never on the hold path, which reads them at start).
          ord = (this.first(`SELECT ord FROM seats WHERE id = ?`, s.id)?.ord as number | undefined) ?? -1;
          if (ord >= 0) this.ords.set(s.id, ord);
        }
        return ord;
      }),
    );
  }

  holdById(id: string): HoldRow | null {
    const r = this.first(`SELECT * FROM holds WHERE id = ?`, id);
    return r ? holdFromRow(r) : null;
  }

  holdByKey(userId: string, key: string): HoldRow | null {
    const r = this.first(`SELECT * FROM holds WHERE user_id = ? AND idempotency_key = ?`, userId, key);
    return r ? holdFromRow(r) : null;
  }

  insertHold(h: HoldRow, now: number): void {
    this.sql.exec(
      `INSERT INTO holds (id, user_id, status, seats, quantity, total_cents, expires_at, created_at, updated_at, booking_id, idempotency_key, request_hash, lines, voucher_id, seat_ords)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      h.id, h.userId, h.status, JSON.stringify(h.seats), h.quantity, h.totalCents, h.expiresAt, now, now, h.bookingId, h.idempotencyKey, h.requestHash,
      h.lines?.length ? JSON.stringify(h.lines) : null, h.voucherId ?? null, this.seatOrds(h.seats),
    );
  }

  updateHold(h: HoldRow, now: number): void {
    this.sql.exec(`UPDATE holds SET status = ?, expires_at = ?, booking_id = ?, updated_at = ? WHERE id = ?`, h.status, h.expiresAt, h.bookingId, now, h.id);
  }

  liveHolds(): HoldRow[] {
    return this.sql.exec(`SELECT * FROM holds WHERE status IN ('active', 'confirming', 'committed')`).toArray().map(holdFromRow);
  }

  releasedWithoutBookingSince(since: number): HoldRow[] {
    return this.sql.exec(`SELECT * FROM holds WHERE status = 'released' AND booking_id IS NULL AND updated_at >= ?`, since).toArray().map(holdFromRow);
  }

  readProducts(): ProductSet | null {
    const r = this.first(`SELECT body FROM products WHERE id = 1`);
    return r ? JSON.parse(r.body as string) : null;
  }

  writeProducts(set: ProductSet): void {
    this.sql.exec(
      `INSERT INTO products (id, revision, body) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, body = excluded.body`,
      set.revision, JSON.stringify(set),
    );
  }

  insertEntry(e: WaitlistEntryRow): number {
    const r = this.sql
      .exec(
        `INSERT INTO waitlist (id, user_id, quantity, status, hold_id, joined_at, offered_at, offer_expires_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
        e.id, e.userId, e.quantity, e.status, e.holdId, e.joinedAt, e.offeredAt, e.offerExpiresAt, e.updatedAt,
      )
      .one();
    return r.seq as number;
  }

  updateEntry(e: WaitlistEntryRow): void {
    this.sql.exec(
      `UPDATE waitlist SET status = ?, hold_id = ?, offered_at = ?, offer_expires_at = ?, updated_at = ? WHERE id = ?`,
      e.status, e.holdId, e.offeredAt, e.offerExpiresAt, e.updatedAt, e.id,
    );
  }

  private entry(query: string, ...bindings: unknown[]): WaitlistEntryRow | null {
    const r = this.first(query, ...bindings);
    return r ? entryFromRow(r) : null;
  }

  entryById(id: string) {
    return this.entry(`SELECT * FROM waitlist WHERE id = ?`, id);
  }
  entryByHold(holdId: string) {
    return this.entry(`SELECT * FROM waitlist WHERE hold_id = ?`, holdId);
  }
  activeEntry(userId: string) {
    return this.entry(`SELECT * FROM waitlist WHERE user_id = ? AND status IN ('waiting', 'offered')`, userId);
  }
  latestEntry(userId: string) {
    return this.entry(`SELECT * FROM waitlist WHERE user_id = ? ORDER BY seq DESC LIMIT 1`, userId);
  }
  firstWaiting() {
    return this.entry(`SELECT * FROM waitlist WHERE status = 'waiting' ORDER BY seq LIMIT 1`);
  }

  waitingCount(): number {
    return Number(this.first(`SELECT count(*) AS n FROM waitlist WHERE status = 'waiting'`)!.n);
  }

  waitingUpTo(seq: number): number {
    return Number(this.first(`SELECT count(*) AS n FROM waitlist WHERE status = 'waiting' AND seq <= ?`, seq)!.n);
  }

  offeredHoldIds(): string[] {
    return this.sql.exec(`SELECT hold_id FROM waitlist WHERE status = 'offered'`).toArray().map((r) => r.hold_id as string);
  }

  appendOutbox(kind: OutboxKind, body: string): void {
    this.sql.exec(`INSERT INTO outbox (kind, body) VALUES (?, ?)`, kind, body);
  }

  peekOutbox(limit: number): OutboxRow[] {
    return this.sql.exec(`SELECT seq, kind, body FROM outbox ORDER BY seq LIMIT ?`, limit).toArray() as unknown as OutboxRow[];
  }

  deleteOutboxThrough(seq: number): void {
    this.sql.exec(`DELETE FROM outbox WHERE seq <= ?`, seq);
  }

  outboxPending(): boolean {
    return this.sql.exec(`SELECT 1 FROM outbox LIMIT 1`).toArray().length > 0;
  }
}
