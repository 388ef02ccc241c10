import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";
import { type Presence, decideScan, decideVoid, scanOrder } from "./logic";
import type { CheckinDeskRpc, RedeemBatch, RedeemOutcome } from "./contract";

/**
 * One object per event (reached by the event id): every scan of the event's codes is decided here,
 * one at a time, so a code redeems once per list even when two scanners send it in the same
 * millisecond. Rules live in checkin-desk/logic.ts; this shell reads, decides, writes synchronously.
 */
export class CheckinDesk extends DurableObject<Env> implements CheckinDeskRpc {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      // This object's own SQLite schema (not Postgres, not wrangler's class migrations).
      const sql = ctx.storage.sql;
      sql.exec(`CREATE TABLE IF NOT EXISTS presence (list_id TEXT NOT NULL, ticket_id TEXT NOT NULL, first_at INTEGER NOT NULL, inside INTEGER NOT NULL, last_at INTEGER NOT NULL, PRIMARY KEY (list_id, ticket_id)) WITHOUT ROWID`);
      sql.exec(`CREATE INDEX IF NOT EXISTS presence_ticket_idx ON presence (ticket_id)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS voided (ticket_id TEXT PRIMARY KEY, at INTEGER NOT NULL)`);
      // Version 2: answers are kept per device (nonces were per list, so two devices shared them).
      sql.exec(`CREATE TABLE IF NOT EXISTS device_scans (list_id TEXT NOT NULL, device TEXT NOT NULL, nonce TEXT NOT NULL, ticket_id TEXT, result TEXT NOT NULL, first_at INTEGER, PRIMARY KEY (list_id, device, nonce)) WITHOUT ROWID`);
      if (sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'scans'`).toArray().length) {
        // Answers given before devices were told apart keep the device '' (no device sends it);
        // junk scans' answers are dropped (never kept since, see redeem).
        ctx.storage.transactionSync(() => {
          sql.exec(`INSERT OR IGNORE INTO device_scans (list_id, device, nonce, ticket_id, result, first_at) SELECT list_id, '', nonce, ticket_id, result, first_at FROM scans WHERE ticket_id IS NOT NULL`);
          sql.exec(`DROP TABLE scans`);
        });
      }
    });
  }

  async redeem(batch: RedeemBatch): Promise<RedeemOutcome[]> {
    const sql = this.ctx.storage.sql;
    const out: RedeemOutcome[] = new Array(batch.items.length);
    // Online scans are timed here, in the order the desk takes them: a request's own clock reading,
    // taken before it queued behind others, must not make it "earlier" than a scan already answered.
    const now = Date.now();
    const items = batch.items.map((it) => ({ ...it, at: it.at ?? now }));
    this.ctx.storage.transactionSync(() => {
      for (const i of scanOrder(items.map((it) => ({ scan: it })))) {
        const item = items[i];
        const seen = sql.exec<{ ticket_id: string | null; result: string; first_at: number | null }>(`SELECT ticket_id, result, first_at FROM device_scans WHERE list_id = ? AND device = ? AND nonce = ?`, batch.listId, batch.device, item.nonce).toArray()[0];
        if (seen) {
          // The same nonce from the same device is the same scan: answered as the first time, whatever came since.
          const same = seen.ticket_id === item.facts.ticketId;
          out[i] = { result: same ? (seen.result as RedeemOutcome["result"]) : "invalid", ticketId: item.facts.ticketId, firstRedeemedAt: same ? seen.first_at : null, at: item.at, fresh: false };
          continue;
        }
        const ticketId = item.facts.ticketId;
        const presence = ticketId ? this.presence(batch.listId, ticketId) : null;
        const voided = ticketId ? sql.exec(`SELECT 1 FROM voided WHERE ticket_id = ?`, ticketId).toArray().length > 0 : false;
        const d = decideScan({ facts: item.facts, voided, presence, scan: item, allowReentry: batch.allowReentry });
        if (d.next && ticketId) {
          sql.exec(
            `INSERT INTO presence (list_id, ticket_id, first_at, inside, last_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (list_id, ticket_id) DO UPDATE SET first_at = excluded.first_at, inside = excluded.inside, last_at = excluded.last_at`,
            batch.listId, ticketId, d.next.firstAt, d.next.inside ? 1 : 0, d.next.lastAt,
          );
        }
        // A code that names no ticket of this event (junk, forged, another event's) is answered
        // `invalid` however often it comes, so its answer is not kept: a flood of junk leaves nothing.
        if (ticketId) sql.exec(`INSERT INTO device_scans (list_id, device, nonce, ticket_id, result, first_at) VALUES (?, ?, ?, ?, ?, ?)`, batch.listId, batch.device, item.nonce, ticketId, d.result, d.firstRedeemedAt ?? null);
        out[i] = { result: d.result, ticketId, firstRedeemedAt: d.firstRedeemedAt ?? null, at: item.at, fresh: true };
      }
    });
    return out;
  }

  async voidTicket(ticketId: string): Promise<{ ok: true } | { ok: false; code: "ALREADY_CHECKED_IN"; message: string }> {
    const sql = this.ctx.storage.sql;
    const entered = sql.exec(`SELECT 1 FROM presence WHERE ticket_id = ? LIMIT 1`, ticketId).toArray().length > 0;
    const d = decideVoid(entered);
    if (d.ok) sql.exec(`INSERT INTO voided (ticket_id, at) VALUES (?, ?) ON CONFLICT (ticket_id) DO NOTHING`, ticketId, Date.now());
    return d;
  }

  private presence(listId: string, ticketId: string): Presence | null {
    const row = this.ctx.storage.sql.exec<{ first_at: number; inside: number; last_at: number }>(`SELECT first_at, inside, last_at FROM presence WHERE list_id = ? AND ticket_id = ?`, listId, ticketId).toArray()[0];
    return row ? { firstAt: row.first_at, inside: row.inside === 1, lastAt: row.last_at } : null;
  }
}
