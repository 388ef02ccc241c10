import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/auth/passwords';
import { dropDatabase, resolveDatabase, type ResolvedDatabase } from '../../scripts/lib/local-db';
import { migrate } from '../../scripts/lib/migrate';

const run = promisify(execFile);
const dbName = `evently_admin_create_${process.pid}`;
let db: ResolvedDatabase;

async function adminCreate(args: string[], extraEnv: Record<string, string> = {}) {
  return run('npx', ['tsx', 'scripts/admin-create.ts', ...args], {
    env: { ...process.env, DATABASE_URL: db.url, ...extraEnv },
  }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e) => ({ code: e.code as number, out: `${e.stdout}${e.stderr}` }),
  );
}

async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  db = await resolveDatabase({ dbName });
  await migrate(db.url);
});

afterAll(async () => {
  if (db.kind === 'server') await dropDatabase('postgres://postgres@127.0.0.1:5432/postgres', dbName);
  await db.stop();
});

describe('npm run admin:create', () => {
  it('creates the first admin with an Argon2id hash the Worker can verify', async () => {
    const res = await adminCreate(['--email', 'First.Admin@Example.com', '--password', 'the first admin password']);
    expect(res.code, res.out).toBe(0);
    const [row] = await query<{ role: string; email: string; password_hash: string }>(`select * from users where email = 'first.admin@example.com'`);
    expect(row.role).toBe('admin');
    expect(verifyPassword('the first admin password', row.password_hash)).toEqual({ ok: true, needsRehash: false });
  });

  it('promotes an existing account and keeps its password when none is given', async () => {
    await query(`insert into users (email, name, password_hash) values ('later@example.com', 'Later', 'kept-hash')`);
    const res = await adminCreate(['--email', 'LATER@example.com']);
    expect(res.code, res.out).toBe(0);
    const [row] = await query<{ role: string; password_hash: string }>(`select * from users where email = 'later@example.com'`);
    expect(row).toMatchObject({ role: 'admin', password_hash: 'kept-hash' });
  });

  it('refuses a new account without a password, and a password that breaks the rule', async () => {
    expect((await adminCreate(['--email', 'nobody@example.com'])).code).not.toBe(0);
    const weak = await adminCreate(['--email', 'weak@example.com', '--password', 'short']);
    expect(weak.code).not.toBe(0);
    expect(weak.out).toMatch(/at least 12/);
    expect(await query(`select 1 from users where email in ('nobody@example.com', 'weak@example.com')`)).toHaveLength(0);
  });
});
