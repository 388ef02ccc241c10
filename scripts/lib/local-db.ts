// Picks the Postgres that local development and tests use (DESIGN.md, "Local development"):
// DATABASE_URL, else the server on 127.0.0.1:5432, else an embedded PGlite served over TCP.
import { mkdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type DatabaseKind = 'env' | 'server' | 'embedded';

export interface ResolvedDatabase {
  kind: DatabaseKind;
  url: string;
  stop(): Promise<void>;
  /**
   * Embedded only: the server goes down (connections cut, the database closed when it has a data
   * directory) and comes back on the same port, as a restarted Postgres would. Used by the soak.
   */
  halt?(): Promise<void>;
  resume?(): Promise<void>;
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
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  let db = await PGlite.create(dataDir);
  let server = new EmbeddedServer(db, log);
  let port: number;
  try {
    port = await server.listen('127.0.0.1');
  } catch (err) {
    await db.close();
    throw err;
  }
  // PGlite ignores the user and database of the startup message and asks for no password.
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  log(
    `database: embedded PGlite on 127.0.0.1:${port} (${dataDir ?? 'in memory'}), ` +
      `ready in ${Math.round(performance.now() - started)} ms`,
  );

  let down = false;
  let stopping: Promise<void> | undefined;
  return {
    kind: 'embedded',
    url,
    stop: () =>
      (stopping ??= (async () => {
        if (down) {
          if (dataDir) return;
        } else {
          await server.close();
        }
        await db.close();
      })()),
    halt: async () => {
      if (down || stopping) return;
      down = true;
      await server.close();
      // In memory there is nothing to reopen from: the session stays, only the server stops.
      if (dataDir) await db.close();
    },
    resume: async () => {
      if (!down || stopping) return;
      if (dataDir) db = await PGlite.create(dataDir);
      server = new EmbeddedServer(db, log);
      await server.listen('127.0.0.1', port);
      down = false;
    },
  };
}

type PGliteInstance = import('@electric-sql/pglite').PGlite;

interface Conn {
  socket: Socket;
  buffer: Buffer;
  started: boolean;
  batch: Buffer[];
}

interface Job {
  conn: Conn;
  messages: Uint8Array[];
  /** The batch ends in Sync/Query: the connection may let go of the session afterwards. */
  complete: boolean;
  /** Cleanup after a connection that held the session went away: output is discarded. */
  release?: boolean;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MSG = { sync: 0x53, query: 0x51, flush: 0x48, terminate: 0x58, functionCall: 0x46, copyDone: 0x63, copyFail: 0x66 };
const SYNC_MESSAGE = Uint8Array.of(MSG.sync, 0, 0, 0, 4);
const ROLLBACK_MESSAGE = queryMessage('rollback');

/**
 * Serves the single PGlite session to many TCP clients. Used instead of pglite-socket's
 * PGLiteSocketServer (0.2.17), whose queue schedules single protocol messages, so concurrent
 * Parse/Bind/Execute/Sync batches from two connections interleave and clobber the unnamed
 * statement ("portal \"\" does not exist", or wrong rows), and whose queue stops for good after
 * an internal throw (electric-sql/pglite#1046). Here a connection's messages up to Sync or Query
 * run as one unit, and a connection keeps the session while it is mid-batch or in a transaction.
 * Still one session: an open transaction blocks everyone, session state (SET, named prepared
 * statements, temp tables) is shared.
 */
class EmbeddedServer {
  private readonly server = createServer((socket) => this.accept(socket));
  private readonly conns = new Set<Conn>();
  private queue: Job[] = [];
  private owner: Conn | null = null;
  private busy = false;
  private current: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: PGliteInstance,
    private readonly log: (s: string) => void,
  ) {}

  async listen(host: string, port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('embedded Postgres: no TCP address');
    return address.port;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue = [];
    for (const conn of this.conns) conn.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.current;
  }

  private accept(socket: Socket): void {
    const conn: Conn = { socket, buffer: Buffer.alloc(0), started: false, batch: [] };
    this.conns.add(conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.receive(conn, chunk));
    socket.on('error', () => {}); // followed by 'close'
    socket.on('close', () => this.drop(conn));
  }

  private receive(conn: Conn, chunk: Buffer): void {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : chunk;
    for (;;) {
      const buf = conn.buffer;
      if (!conn.started) {
        // Startup-phase messages have no type byte: int32 length, int32 code.
        if (buf.length < 8) return;
        const length = buf.readInt32BE(0);
        if (length < 8) return void conn.socket.destroy();
        if (buf.length < length) return;
        const code = buf.readInt32BE(4);
        const message = buf.subarray(0, length);
        conn.buffer = buf.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          conn.socket.write('N');
        } else if (code === CANCEL_REQUEST) {
          conn.socket.destroy(); // not supported
          return;
        } else {
          conn.started = true;
          this.enqueue({ conn, messages: [message], complete: true });
        }
        continue;
      }
      if (buf.length < 5) return;
      const length = 1 + buf.readInt32BE(1);
      if (length < 5) return void conn.socket.destroy();
      if (buf.length < length) return;
      const message = buf.subarray(0, length);
      conn.buffer = buf.subarray(message.length);
      const type = message[0];
      if (type === MSG.terminate) {
        conn.socket.end();
        return;
      }
      conn.batch.push(message);
      const ends = type === MSG.sync || type === MSG.query || type === MSG.functionCall ||
        type === MSG.copyDone || type === MSG.copyFail;
      if (ends || type === MSG.flush) {
        this.enqueue({ conn, messages: conn.batch, complete: ends });
        conn.batch = [];
      }
    }
  }

  private drop(conn: Conn): void {
    this.conns.delete(conn);
    this.queue = this.queue.filter((job) => job.conn !== conn);
    this.releaseIfGone(conn);
  }

  /** A connection left while holding the session (mid-batch or in a transaction): end both. */
  private releaseIfGone(conn: Conn): void {
    if (this.closed || this.owner !== conn || this.conns.has(conn) || this.queue.some((job) => job.release)) return;
    this.queue.unshift({ conn, messages: [SYNC_MESSAGE], complete: true, release: true });
    void this.pump();
  }

  private enqueue(job: Job): void {
    if (this.closed) return;
    this.queue.push(job);
    void this.pump();
  }

  private next(): Job | undefined {
    if (!this.owner) return this.queue.shift();
    const i = this.queue.findIndex((job) => job.conn === this.owner);
    return i < 0 ? undefined : this.queue.splice(i, 1)[0];
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let job = this.next(); job; job = this.next()) {
        this.current = this.run(job);
        await this.current;
      }
    } finally {
      this.busy = false;
    }
  }

  private async run(job: Job): Promise<void> {
    const { conn } = job;
    const send = (data: Uint8Array) => {
      // PGlite hands out views into its heap: copy before they are reused.
      if (!job.release && !conn.socket.destroyed && data.length) conn.socket.write(Buffer.from(data));
    };
    try {
      await this.db.runExclusive(async () => {
        for (const [i, message] of job.messages.entries()) {
          await this.db.execProtocolRawStream(message, { onRawData: send, syncToFs: i === job.messages.length - 1 });
        }
        if (job.release && this.db.isInTransaction()) {
          await this.db.execProtocolRawStream(ROLLBACK_MESSAGE, { onRawData: send });
        }
      });
    } catch (err) {
      this.log(`database: embedded PGlite failed a request, closing that connection: ${String(err)}`);
      conn.socket.destroy();
    }
    if (job.release) this.owner = null;
    else this.owner = !job.complete || this.db.isInTransaction() ? conn : null;
    this.releaseIfGone(conn);
  }
}

function queryMessage(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`);
  const header = Buffer.alloc(5);
  header[0] = MSG.query;
  header.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([header, text]);
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
