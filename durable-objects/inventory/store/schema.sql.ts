/**
 * Ordered schema migrations of each EventInventory's own SQLite (not Postgres, not wrangler's
 * class migrations). Append only: a deployed object runs every step above its stored version.
 */
export const INVENTORY_MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  // Seats, holds and the outbox. Counters are kept beside the rows so stats and general admission
  // never scan; the CHECKs are a last line against overselling if the decision code were wrong.
  `CREATE TABLE inventory (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     config TEXT NOT NULL,
     capacity INTEGER NOT NULL CHECK (capacity > 0),
     version INTEGER NOT NULL DEFAULT 0,
     held INTEGER NOT NULL DEFAULT 0,
     booked INTEGER NOT NULL DEFAULT 0,
     CHECK (held >= 0 AND booked >= 0 AND held + booked <= capacity)
   );
   CREATE TABLE seats (
     ord INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     section TEXT NOT NULL,
     row TEXT NOT NULL,
     number INTEGER NOT NULL,
     price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
     status TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'held', 'booked')),
     hold_id TEXT,
     CHECK ((status = 'available') = (hold_id IS NULL))
   );
   CREATE INDEX seats_hold_idx ON seats (hold_id) WHERE hold_id IS NOT NULL;
   CREATE TABLE holds (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'confirming', 'committed', 'released', 'expired')),
     seats TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity > 0),
     total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
     expires_at INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     booking_id TEXT,
     idempotency_key TEXT,
     request_hash TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX holds_expiry_idx ON holds (expires_at) WHERE status = 'active';
   CREATE INDEX holds_user_status_idx ON holds (user_id, status);
   CREATE UNIQUE INDEX holds_idempotency_uq ON holds (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
   CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     hold_id TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('created', 'released', 'expired', 'committed')),
     user_id TEXT NOT NULL,
     quantity INTEGER NOT NULL,
     at INTEGER NOT NULL
   )`,
  // The waitlist: served strictly by seq (arrival). One waiting-or-offered entry per user; an
  // offered entry points at the hold reserved for it. Its own outbox carries the Postgres mirror
  // and the offer notifications (the hold outbox's rows have another shape).
  `CREATE TABLE waitlist (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     user_id TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity > 0),
     status TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'expired', 'converted', 'left')),
     hold_id TEXT,
     joined_at INTEGER NOT NULL,
     offered_at INTEGER,
     offer_expires_at INTEGER,
     updated_at INTEGER NOT NULL,
     CHECK ((status = 'waiting') = (hold_id IS NULL) OR status IN ('expired', 'left'))
   );
   CREATE INDEX waitlist_waiting_idx ON waitlist (seq) WHERE status = 'waiting';
   CREATE UNIQUE INDEX waitlist_active_user_uq ON waitlist (user_id) WHERE status IN ('waiting', 'offered');
   CREATE INDEX waitlist_user_idx ON waitlist (user_id, seq);
   CREATE UNIQUE INDEX waitlist_hold_uq ON waitlist (hold_id) WHERE hold_id IS NOT NULL;
   CREATE TABLE waitlist_outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL CHECK (kind IN ('mirror', 'notify')),
     body TEXT NOT NULL
   )`,
  // Replies to `hold`/`release` frames of the live socket by the client's ref (shared/socket-holds.ts): a
  // repeated ref answers the first reply again. Kept for the hold TTL, so the table stays small.
  `CREATE TABLE live_refs (
     user_id TEXT NOT NULL,
     ref TEXT NOT NULL,
     reply TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, ref)
   ) WITHOUT ROWID;
   CREATE INDEX live_refs_expiry_idx ON live_refs (expires_at);
   CREATE INDEX live_refs_user_age_idx ON live_refs (user_id, created_at)`,
  // One typed outbox for everything that leaves the object (hold history, waitlist mirrors, offer
  // notifications), drained by the one alarm into queues; rows still waiting in the two old tables move over.
  `CREATE TABLE outbox_v4 (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL CHECK (kind IN ('history', 'mirror', 'notify')),
     body TEXT NOT NULL
   );
   INSERT INTO outbox_v4 (kind, body)
     SELECT 'history', json_object('holdId', hold_id, 'kind', kind, 'userId', user_id, 'quantity', quantity, 'at', at) FROM outbox ORDER BY seq;
   INSERT INTO outbox_v4 (kind, body) SELECT kind, body FROM waitlist_outbox ORDER BY seq;
   DROP TABLE outbox;
   DROP TABLE waitlist_outbox;
   ALTER TABLE outbox_v4 RENAME TO outbox`,
  // Ticket types and vouchers (docs/products.md): the pushed definitions, and each hold's priced
  // lines and voucher. Usage is derived from the holds that count, so it has no counter to drift.
  `CREATE TABLE products (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     revision INTEGER NOT NULL,
     body TEXT NOT NULL
   );
   ALTER TABLE holds ADD COLUMN lines TEXT;
   ALTER TABLE holds ADD COLUMN voucher_id TEXT;
   CREATE INDEX holds_voucher_idx ON holds (voucher_id, status) WHERE voucher_id IS NOT NULL`,
  // The hold path's writes, leaner (docs/inventory.md, "What a hold costs"): the holds that count
  // live in memory (read once at start), so expiry and per-user totals need no index; seat rows are
  // written by rowid, so the index on their hold id goes; the outbox's seq needs no AUTOINCREMENT
  // bookkeeping (rows are deleted only after they were sent, so a reused seq is never mistaken for a sent one).
  `DROP INDEX holds_expiry_idx;
   DROP INDEX holds_user_status_idx;
   DROP INDEX seats_hold_idx;
   CREATE TABLE outbox_v6 (
     seq INTEGER PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('history', 'mirror', 'notify')),
     body TEXT NOT NULL
   );
   INSERT INTO outbox_v6 (seq, kind, body) SELECT seq, kind, body FROM outbox;
   DROP TABLE outbox;
   ALTER TABLE outbox_v6 RENAME TO outbox`,
  // Holds in a rowid table (its id in a unique index) instead of WITHOUT ROWID: a hold row is a few
  // hundred bytes, and a WITHOUT ROWID b-tree keeps whole rows in its key order. In a test loop of
  // the hold path's statements in an object, at about 100,000 holds: 27,600 pairs/s against 24,200.
  `CREATE TABLE holds_v8 (
     id TEXT NOT NULL UNIQUE,
     user_id TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'confirming', 'committed', 'released', 'expired')),
     seats TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity > 0),
     total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
     expires_at INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     booking_id TEXT,
     idempotency_key TEXT,
     request_hash TEXT NOT NULL,
     lines TEXT,
     voucher_id TEXT
   );
   INSERT INTO holds_v8 (id, user_id, status, seats, quantity, total_cents, expires_at, created_at, updated_at, booking_id, idempotency_key, request_hash, lines, voucher_id)
     SELECT id, user_id, status, seats, quantity, total_cents, expires_at, created_at, updated_at, booking_id, idempotency_key, request_hash, lines, voucher_id FROM holds ORDER BY id;
   DROP TABLE holds;
   ALTER TABLE holds_v8 RENAME TO holds;
   CREATE UNIQUE INDEX holds_idempotency_uq ON holds (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
   CREATE INDEX holds_voucher_idx ON holds (voucher_id, status) WHERE voucher_id IS NOT NULL`,
  // Hold history rows written by SQLite itself, in the statement that writes the hold (the rule of
  // store.ts, historyKind: "created" on insert, the new status when it becomes released, expired or
  // committed). Same rows, same transaction, one statement less per hold change from JavaScript
  // (with step 8: the engine loop 19,500 -> 20,800 pairs/s, docs/benchmarks.md). MemoryStore
  // applies the same rule; the twin test compares their outboxes.
  `CREATE TRIGGER holds_history_created AFTER INSERT ON holds BEGIN
     INSERT INTO outbox (kind, body) VALUES ('history', json_object('holdId', NEW.id, 'kind', 'created', 'userId', NEW.user_id, 'quantity', NEW.quantity, 'at', NEW.created_at));
   END;
   CREATE TRIGGER holds_history_status AFTER UPDATE OF status ON holds
     WHEN NEW.status IN ('released', 'expired', 'committed') AND NEW.status IS NOT OLD.status BEGIN
     INSERT INTO outbox (kind, body) VALUES ('history', json_object('holdId', NEW.id, 'kind', NEW.status, 'userId', NEW.user_id, 'quantity', NEW.quantity, 'at', NEW.updated_at));
   END`,
  // Seats follow their hold, written by SQLite in the statement that writes the hold (the rule of
  // store.ts, seatMove): a new hold takes its seats, and aborts the statement if one is no longer
  // available (the last line behind decideHold); a hold that ends frees them; a commit books them;
  // a restored booking takes them back as booked, or aborts. `seat_ords` are the seats' rowids.
  `ALTER TABLE holds ADD COLUMN seat_ords TEXT;
   UPDATE holds SET seat_ords = (SELECT json_group_array(s.ord) FROM json_each(holds.seats) AS j JOIN seats AS s ON s.id = json_extract(j.value, '$.id'))
     WHERE json_array_length(seats) > 0;
   CREATE TRIGGER holds_seats_take AFTER INSERT ON holds WHEN NEW.seat_ords IS NOT NULL BEGIN
     UPDATE seats SET status = 'held', hold_id = NEW.id WHERE ord IN (SELECT value FROM json_each(NEW.seat_ords)) AND status = 'available';
     SELECT RAISE(ABORT, 'seats changed under a decided hold') WHERE changes() != json_array_length(NEW.seat_ords);
   END;
   CREATE TRIGGER holds_seats_free AFTER UPDATE OF status ON holds
     WHEN NEW.seat_ords IS NOT NULL AND NEW.status IN ('released', 'expired') AND OLD.status IN ('active', 'confirming', 'committed') BEGIN
     UPDATE seats SET status = 'available', hold_id = NULL WHERE ord IN (SELECT value FROM json_each(NEW.seat_ords)) AND hold_id = NEW.id;
   END;
   CREATE TRIGGER holds_seats_book AFTER UPDATE OF status ON holds
     WHEN NEW.seat_ords IS NOT NULL AND NEW.status = 'committed' AND OLD.status IN ('active', 'confirming') BEGIN
     UPDATE seats SET status = 'booked' WHERE ord IN (SELECT value FROM json_each(NEW.seat_ords)) AND hold_id = NEW.id;
   END;
   CREATE TRIGGER holds_seats_retake AFTER UPDATE OF status ON holds
     WHEN NEW.seat_ords IS NOT NULL AND NEW.status = 'committed' AND OLD.status IN ('released', 'expired') BEGIN
     UPDATE seats SET status = 'booked', hold_id = NEW.id WHERE ord IN (SELECT value FROM json_each(NEW.seat_ords)) AND status = 'available';
     SELECT RAISE(ABORT, 'seats changed under a decided hold') WHERE changes() != json_array_length(NEW.seat_ords);
   END`,
  // A cancelled event ends its waitlist (engine closeSales): entries still waiting or offered become
  // 'cancelled'. SQLite cannot change a CHECK in place, so the table is copied.
  `CREATE TABLE waitlist_v11 (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     user_id TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity > 0),
     status TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'expired', 'converted', 'left', 'cancelled')),
     hold_id TEXT,
     joined_at INTEGER NOT NULL,
     offered_at INTEGER,
     offer_expires_at INTEGER,
     updated_at INTEGER NOT NULL,
     CHECK ((status = 'waiting') = (hold_id IS NULL) OR status IN ('expired', 'left', 'cancelled'))
   );
   INSERT INTO waitlist_v11 (seq, id, user_id, quantity, status, hold_id, joined_at, offered_at, offer_expires_at, updated_at)
     SELECT seq, id, user_id, quantity, status, hold_id, joined_at, offered_at, offer_expires_at, updated_at FROM waitlist ORDER BY seq;
   DROP TABLE waitlist;
   ALTER TABLE waitlist_v11 RENAME TO waitlist;
   CREATE INDEX waitlist_waiting_idx ON waitlist (seq) WHERE status = 'waiting';
   CREATE UNIQUE INDEX waitlist_active_user_uq ON waitlist (user_id) WHERE status IN ('waiting', 'offered');
   CREATE INDEX waitlist_user_idx ON waitlist (user_id, seq);
   CREATE UNIQUE INDEX waitlist_hold_uq ON waitlist (hold_id) WHERE hold_id IS NOT NULL`,
];

interface SqlLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

/** Applies pending steps; returns the schema version now in place. Call inside blockConcurrencyWhile. */
export function migrateInventory(sql: SqlLike, transactionSync: <T>(fn: () => T) => T): number {
  sql.exec(`CREATE TABLE IF NOT EXISTS _schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)`);
  const row = sql.exec(`SELECT version FROM _schema_version WHERE id = 1`).toArray()[0];
  let version = row ? Number(row.version) : 0;
  while (version < INVENTORY_MIGRATIONS.length) {
    const next = version + 1;
    transactionSync(() => {
      sql.exec(INVENTORY_MIGRATIONS[version]);
      sql.exec(`INSERT INTO _schema_version (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version`, next);
    });
    version = next;
  }
  return version;
}
