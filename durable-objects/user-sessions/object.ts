import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";
import type { AccessDecision, Role, StatusChange } from "./contract";
import {
  type SessionsState,
  type TokenFacts,
  applyStatus,
  decideAccess,
  emptyState,
  expiredRevocations,
} from "./logic";

/**
 * One object per user, reached by name (the user id): the revocation list every authenticated
 * request consults. It lives outside Postgres so the check costs one RPC answered from memory,
 * and it is one object worldwide, so a logout holds in every isolate and location at once.
 */
export class UserSessions extends DurableObject<Env> {
  private state: SessionsState = emptyState();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = this.ctx.storage.sql;
      // This object's own SQLite schema (not Postgres, not wrangler's class migrations); version 1.
      sql.exec(`CREATE TABLE IF NOT EXISTS status (id INTEGER PRIMARY KEY CHECK (id = 1), disabled INTEGER NOT NULL, valid_from INTEGER NOT NULL, role TEXT)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS revoked_sessions (sid TEXT PRIMARY KEY, until INTEGER NOT NULL)`);
      const row = sql.exec<{ disabled: number; valid_from: number; role: string | null }>(`SELECT disabled, valid_from, role FROM status WHERE id = 1`).toArray()[0];
      const revoked = new Map<string, number>();
      for (const r of sql.exec<{ sid: string; until: number }>(`SELECT sid, until FROM revoked_sessions`)) revoked.set(r.sid, r.until);
      this.state = {
        disabled: row ? row.disabled === 1 : false,
        validFrom: row?.valid_from ?? 0,
        roleAtValidFrom: (row?.role ?? null) as Role | null,
        revoked,
      };
    });
  }

  /** The hot path: answered from memory, no storage read. */
  async check(token: TokenFacts): Promise<AccessDecision> {
    return decideAccess(this.state, token);
  }

  /** Refuses every access token of one session (refresh-token family) until `untilSeconds`. */
  async revokeSession(sid: string, untilSeconds: number): Promise<{ ok: true }> {
    const until = Math.max(untilSeconds, this.state.revoked.get(sid) ?? 0);
    const expired = expiredRevocations(this.state, nowSeconds());
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(`INSERT INTO revoked_sessions (sid, until) VALUES (?, ?) ON CONFLICT (sid) DO UPDATE SET until = excluded.until`, sid, until);
      for (const old of expired) this.ctx.storage.sql.exec(`DELETE FROM revoked_sessions WHERE sid = ?`, old);
    });
    for (const old of expired) this.state.revoked.delete(old);
    this.state.revoked.set(sid, until);
    return { ok: true };
  }

  async setStatus(change: StatusChange): Promise<{ ok: true }> {
    const next = applyStatus(this.state, change, nowSeconds());
    this.ctx.storage.sql.exec(
      `INSERT INTO status (id, disabled, valid_from, role) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET disabled = excluded.disabled, valid_from = excluded.valid_from, role = excluded.role`,
      next.disabled ? 1 : 0,
      next.validFrom,
      next.roleAtValidFrom,
    );
    this.state = next;
    return { ok: true };
  }
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
