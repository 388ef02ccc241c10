/**
 * Ordered schema migrations of each EventInventory's own SQLite (not Postgres, not wrangler's
 * class migrations). Append only: a deployed object runs every step above its stored version.
 */
export const INVENTORY_MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
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
