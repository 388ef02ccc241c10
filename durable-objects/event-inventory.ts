import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { migrateInventory } from "./event-inventory.sql.ts"; // explicit .ts: wrangler treats a bare *.sql import as a text module

/**
 * One object per event, reached by name: serializes every seat decision for that event.
 * Seat logic lands with the inventory issue; for now it owns its schema and answers `ping`.
 */
export class EventInventory extends DurableObject<Env> {
  private schemaVersion = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.schemaVersion = migrateInventory(this.ctx.storage.sql, (fn) => this.ctx.storage.transactionSync(fn));
    });
  }

  async ping(): Promise<{ ok: true; schemaVersion: number; at: number }> {
    return { ok: true, schemaVersion: this.schemaVersion, at: Date.now() };
  }
}
