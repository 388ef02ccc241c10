import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";

/**
 * The test double of a card network: nobody has a real card network locally, so this object plays
 * one, with its own ledger keyed by idempotency key (like a real provider's). It lives outside
 * Postgres on purpose: a provider's ledger does not go away when our database does, and a charge
 * that lands while our Postgres is down must still be found and refunded later.
 *
 * Payment methods (API.md): pm_card_ok succeeds, pm_card_declined is declined, pm_card_slow
 * answers after PAYMENT_SANDBOX_SLOW_MS, pm_card_error fails like an outage. `setOutage` makes
 * every call fail like an outage until switched back (the knob a sandbox dashboard would offer).
 */

export type SandboxCharge = {
  idempotencyKey: string;
  reference: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
  status: "processing" | "succeeded" | "declined" | "voided";
  providerRef: string;
  refundRef: string | null;
};

export type SandboxAnswer<T> = { ok: true; value: T } | { ok: false; code: "UNAVAILABLE"; message: string };

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS charges (
     idempotency_key TEXT PRIMARY KEY, reference TEXT NOT NULL, amount_cents INTEGER NOT NULL,
     currency TEXT NOT NULL, payment_method TEXT NOT NULL, status TEXT NOT NULL,
     provider_ref TEXT NOT NULL, settles_at INTEGER NOT NULL, refund_ref TEXT, created_at INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS charges_reference_idx ON charges (reference)`,
  `CREATE TABLE IF NOT EXISTS controls (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
];

export class SandboxCardNetwork extends DurableObject<Env> {
  private readonly slowMs: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const slow = Number(env.PAYMENT_SANDBOX_SLOW_MS);
    this.slowMs = Number.isFinite(slow) && slow >= 0 ? slow : 3000;
    ctx.blockConcurrencyWhile(async () => {
      for (const s of SCHEMA) ctx.storage.sql.exec(s);
    });
  }

  async charge(req: { idempotencyKey: string; reference: string; amountCents: number; currency: string; paymentMethod: string }): Promise<SandboxAnswer<SandboxCharge>> {
    if (this.down() || req.paymentMethod === "pm_card_error") return unavailable();
    const now = Date.now();
    const slow = req.paymentMethod === "pm_card_slow";
    const status = req.paymentMethod === "pm_card_declined" ? "declined" : slow ? "processing" : "succeeded";
    // A retried key returns the first outcome: the same charge is never taken twice.
    const inserted = this.ctx.storage.sql.exec(
      `INSERT INTO charges (idempotency_key, reference, amount_cents, currency, payment_method, status, provider_ref, settles_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
      req.idempotencyKey, req.reference, req.amountCents, req.currency, req.paymentMethod, status,
      `ch_${crypto.randomUUID()}`, slow ? now + this.slowMs : now, now,
    ).rowsWritten > 0;
    // Only the call that created a slow charge waits for it; a retry sees it still processing.
    if (inserted && slow) await new Promise((r) => setTimeout(r, this.slowMs));
    return { ok: true, value: this.read(req.idempotencyKey)! };
  }

  /**
   * Refunds the whole charge once, whatever refund key is used again. An unknown charge key is
   * voided, so a charge that was still on its way can never land afterwards.
   */
  async refund(chargeKey: string): Promise<SandboxAnswer<SandboxCharge | null>> {
    if (this.down()) return unavailable();
    const existing = this.read(chargeKey);
    if (!existing) {
      const now = Date.now();
      this.ctx.storage.sql.exec(
        `INSERT INTO charges (idempotency_key, reference, amount_cents, currency, payment_method, status, provider_ref, settles_at, created_at)
         VALUES (?, '', 0, '', '', 'voided', ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
        chargeKey, `void_${crypto.randomUUID()}`, now, now,
      );
      return { ok: true, value: null };
    }
    if (existing.status === "succeeded" && existing.refundRef === null) {
      this.ctx.storage.sql.exec(`UPDATE charges SET refund_ref = ? WHERE idempotency_key = ? AND refund_ref IS NULL`, `re_${crypto.randomUUID()}`, chargeKey);
    }
    return { ok: true, value: this.read(chargeKey)! };
  }

  /**
   * `refund` for many charges in one call (a cancelled event's batch), set-based: each key ends
   * exactly as `refund` alone would leave it. Answers in the order of the keys.
   */
  async refundMany(chargeKeys: string[]): Promise<SandboxAnswer<(SandboxCharge | null)[]>> {
    if (this.down()) return unavailable();
    const keys = JSON.stringify(chargeKeys);
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    const known = new Set<string>();
    const after = new Map<string, SandboxCharge>();
    this.ctx.storage.transactionSync(() => {
      sql.exec(`UPDATE charges SET status = 'succeeded' WHERE status = 'processing' AND settles_at <= ? AND idempotency_key IN (SELECT value FROM json_each(?))`, now, keys);
      for (const r of sql.exec(`SELECT idempotency_key FROM charges WHERE idempotency_key IN (SELECT value FROM json_each(?))`, keys)) known.add(String(r.idempotency_key));
      sql.exec(`UPDATE charges SET refund_ref = 're_' || lower(hex(randomblob(16))) WHERE status = 'succeeded' AND refund_ref IS NULL AND idempotency_key IN (SELECT value FROM json_each(?))`, keys);
      sql.exec(
        `INSERT INTO charges (idempotency_key, reference, amount_cents, currency, payment_method, status, provider_ref, settles_at, created_at)
         SELECT value, '', 0, '', '', 'voided', 'void_' || lower(hex(randomblob(16))), ?, ? FROM json_each(?) WHERE true ON CONFLICT (idempotency_key) DO NOTHING`,
        now, now, keys,
      );
      for (const r of sql.exec(`SELECT * FROM charges WHERE idempotency_key IN (SELECT value FROM json_each(?))`, keys)) after.set(String(r.idempotency_key), chargeFromRow(r));
    });
    return { ok: true, value: chargeKeys.map((k) => (known.has(k) ? after.get(k)! : null)) };
  }

  async lookup(chargeKey: string): Promise<SandboxAnswer<SandboxCharge | null>> {
    if (this.down()) return unavailable();
    return { ok: true, value: this.read(chargeKey) };
  }

  /** Every ledger entry for one reference (our booking id): what the card holder's statement shows. */
  async statement(reference: string): Promise<SandboxCharge[]> {
    const keys = this.ctx.storage.sql.exec(`SELECT idempotency_key FROM charges WHERE reference = ? ORDER BY created_at`, reference).toArray();
    return keys.map((k) => this.read(String(k.idempotency_key))!);
  }

  /** The whole ledger, for the soak's money check (reached only through the local-only fault routes). */
  async ledger(): Promise<SandboxCharge[]> {
    const keys = this.ctx.storage.sql.exec(`SELECT idempotency_key FROM charges ORDER BY created_at`).toArray();
    return keys.map((k) => this.read(String(k.idempotency_key))!);
  }

  async setOutage(on: boolean): Promise<void> {
    this.ctx.storage.sql.exec(`INSERT INTO controls (key, value) VALUES ('outage', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, on ? "on" : "off");
  }

  private down(): boolean {
    return this.ctx.storage.sql.exec(`SELECT value FROM controls WHERE key = 'outage'`).toArray()[0]?.value === "on";
  }

  /** A slow charge settles when its time comes, even if the call that started it went away. */
  private read(key: string): SandboxCharge | null {
    this.ctx.storage.sql.exec(`UPDATE charges SET status = 'succeeded' WHERE idempotency_key = ? AND status = 'processing' AND settles_at <= ?`, key, Date.now());
    const r = this.ctx.storage.sql.exec(`SELECT * FROM charges WHERE idempotency_key = ?`, key).toArray()[0];
    return r ? chargeFromRow(r) : null;
  }
}

function chargeFromRow(r: Record<string, SqlStorageValue>): SandboxCharge {
  return {
    idempotencyKey: String(r.idempotency_key),
    reference: String(r.reference),
    amountCents: Number(r.amount_cents),
    currency: String(r.currency),
    paymentMethod: String(r.payment_method),
    status: r.status as SandboxCharge["status"],
    providerRef: String(r.provider_ref),
    refundRef: r.refund_ref === null ? null : String(r.refund_ref),
  };
}

const unavailable = (): { ok: false; code: "UNAVAILABLE"; message: string } => ({ ok: false, code: "UNAVAILABLE", message: "card network unavailable (sandbox)" });
