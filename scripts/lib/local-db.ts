// Picks the Postgres that local development and tests use (DESIGN.md, "Local development"):
// DATABASE_URL, else the server on 127.0.0.1:5432, else an embedded PGlite served over TCP.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type DatabaseKind = 'env' | 'server' | 'embedded';

export interface ResolvedDatabase {
  kind: DatabaseKind;
  url: string;
  stop(): Promise<void>;
}

export interface ResolveDatabaseOptions {
  /** Database created on a real server (ignored for DATABASE_URL and embedded). */
  dbName: string;
  /** Skip the server probe; also forced by EVENTLY_DB=embedded. */
  forceEmbedded?: boolean;
  /** PGlite data directory; in memory when absent. */
  embeddedDataDir?: string;
  log?: (s: string) => void;
}

/** Where scripts keep a persistent embedded database (git-ignored). Not the default of resolveDatabase. */
export const DEFAULT_EMBEDDED_DATA_DIR = fileURLToPath(new URL('../../.evently/pglite', import.meta.url));

const SERVER_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVER_PROBE_TIMEOUT_MS = 1500;
// PGlite is one session behind pglite-socket's multiplexer, which cuts connections over the limit.
const EMBEDDED_MAX_CONNECTIONS = 100;

export async function resolveDatabase(opts: ResolveDatabaseOptions): Promise<ResolvedDatabase> {
  const log = opts.log ?? (() => {});
  const noop = async () => {};

  const envUrl = process.env.DATABASE_URL;
  if (envUrl) {
    log(`database: DATABASE_URL (${redact(envUrl)})`);
    return { kind: 'env', url: envUrl, stop: noop };
  }

  const forceEmbedded = opts.forceEmbedded || process.env.EVENTLY_DB === 'embedded';
  if (!forceEmbedded) {
    const probe = await probeServer();
    if (probe === true) {
      const url = await createDatabase(SERVER_ADMIN_URL, opts.dbName, { ifNotExists: true });
      log(`database: Postgres server at 127.0.0.1:5432, database ${opts.dbName}`);
      return { kind: 'server', url, stop: noop };
    }
    log(`database: no Postgres server at 127.0.0.1:5432 (${probe.message}), starting embedded PGlite`);
  } else {
    log('database: embedded PGlite (forced)');
  }

  return startEmbedded(opts.embeddedDataDir, log);
}

async function probeServer(): Promise<true | Error> {
  const client = new pg.Client({ connectionString: SERVER_ADMIN_URL, connectionTimeoutMillis: SERVER_PROBE_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    await client.end().catch(() => {});
  }
}

async function startEmbedded(dataDir: string | undefined, log: (s: string) => void): Promise<ResolvedDatabase> {
  const started = performance.now();
  // Loaded lazily: PGlite is large and only needed when no server answers.
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: EMBEDDED_MAX_CONNECTIONS });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const port = Number(server.getServerConn().split(':').pop());
  // PGlite ignores the user and database of the startup message and asks for no password.
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  log(
    `database: embedded PGlite on 127.0.0.1:${port} (${dataDir ?? 'in memory'}), ` +
      `ready in ${Math.round(performance.now() - started)} ms`,
  );

  let stopping: Promise<void> | undefined;
  return {
    kind: 'embedded',
    url,
    stop: () =>
      (stopping ??= (async () => {
        await server.stop();
        // server.stop() detaches handlers without awaiting them; a detaching handler may still
        // roll back its open transaction, so let that run before closing the database.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await db.close();
      })()),
  };
}

/** Drops and recreates the `public` and `drizzle` schemas: a clean database without a new one. */
export async function resetDatabase(url: string): Promise<void> {
  await withClient(url, (client) =>
    client.query(
      'drop schema if exists drizzle cascade; drop schema if exists public cascade; create schema public;',
    ),
  );
}

/**
 * Creates database `name` on the server behind `adminUrl` and returns its URL. With
 * `ifNotExists`, an existing database is fine. Not meaningful on PGlite, which has one database.
 */
export async function createDatabase(
  adminUrl: string,
  name: string,
  opts: { ifNotExists?: boolean } = {},
): Promise<string> {
  await withClient(adminUrl, async (client) => {
    if (opts.ifNotExists) {
      const found = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (found.rowCount) return;
    }
    try {
      await client.query(`create database ${quoteIdent(name)}`);
    } catch (err) {
      // 42P04 duplicate_database; 23505 when two processes race on the same name.
      const code = (err as { code?: string }).code;
      if (!(opts.ifNotExists && (code === '42P04' || code === '23505'))) throw err;
    }
  });
  return databaseUrl(adminUrl, name);
}

/** Drops database `name` on the server behind `adminUrl`, disconnecting its sessions. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, (client) => client.query(`drop database if exists ${quoteIdent(name)} with (force)`));
}

/** The URL of database `name` on the same server as `url`. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/** A TCP port free on 127.0.0.1 at the time of the call. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('freePort: no TCP address'));
      });
    });
  });
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
