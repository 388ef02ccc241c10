// Applies the drizzle-kit SQL migrations in migrations/ to a Postgres URL.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as drizzleMigrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

export const DEFAULT_MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));

export interface MigrateResult {
  /** Migrations listed in the journal. */
  total: number;
  /** Migrations applied by this call. */
  applied: number;
}

export async function migrate(
  url: string,
  log: (s: string) => void = () => {},
  migrationsFolder: string = DEFAULT_MIGRATIONS_FOLDER,
): Promise<MigrateResult> {
  const journalPath = join(migrationsFolder, 'meta', '_journal.json');
  if (!existsSync(journalPath)) {
    log(`migrate: no drizzle-kit journal in ${migrationsFolder}, nothing to apply`);
    return { total: 0, applied: 0 };
  }
  // One Client rather than a Pool: the embedded PGlite is a single session anyway.
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const before = await appliedCount(client);
    await drizzleMigrate(drizzle(client), { migrationsFolder });
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: unknown[] };
    const result = { total: journal.entries.length, applied: (await appliedCount(client)) - before };
    log(`migrate: ${result.applied} applied, ${result.total} in total (${migrationsFolder})`);
    return result;
  } finally {
    await client.end().catch(() => {});
  }
}

async function appliedCount(client: pg.Client): Promise<number> {
  const exists = await client.query(`select to_regclass('drizzle.__drizzle_migrations') is not null as ok`);
  if (!exists.rows[0]?.ok) return 0;
  const { rows } = await client.query<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations');
  return rows[0]?.n ?? 0;
}
