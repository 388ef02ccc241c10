// npm run admin:create -- --email E [--password P] [--name N]
// Creates the first admin of a deployment, or promotes an existing account, in the database that
// DATABASE_URL names. The password comes from --password, else EVENTLY_ADMIN_PASSWORD, else a
// prompt; it is hashed with the Worker's own Argon2id code. Promoting an existing account keeps its
// password unless one is given.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { passwordProblem } from '../src/auth/passwords.js';
import * as schema from '../src/db/schema.js';
import { ensureUser } from '../src/services/users.js';

function fail(message: string): never {
  console.error(`admin:create: ${message}`);
  process.exit(1);
}

async function prompt(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  process.stdout.write(question);
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stdout.write('\n');
  return answer;
}

const { values } = parseArgs({
  options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } },
});
const url = process.env.DATABASE_URL;
if (!url) fail('set DATABASE_URL to the Postgres of the deployment');
if (!values.email || !/^[^\s@]+@[^\s@]+$/.test(values.email.trim())) fail('give --email with a valid address');

let password = values.password ?? process.env.EVENTLY_ADMIN_PASSWORD;
const client = new pg.Client({ connectionString: url });
client.on('error', () => {});
await client.connect();
try {
  const db = drizzle(client, { schema });
  const exists = await client.query('select 1 from users where lower(email) = lower($1)', [values.email.trim()]);
  if (password === undefined && exists.rowCount === 0) {
    if (!process.stdin.isTTY) fail(`${values.email} has no account yet: give --password or EVENTLY_ADMIN_PASSWORD`);
    password = await prompt(`Password for ${values.email}: `);
  }
  if (password !== undefined) {
    const problem = passwordProblem(password);
    if (problem) fail(`the password ${problem}`);
  }
  const { user, created } = await ensureUser(db, {
    email: values.email,
    password,
    name: values.name ?? 'Admin',
    role: 'admin',
    resetPassword: password !== undefined,
  });
  console.log(`admin:create: ${created ? 'created' : 'found'} ${user.email} (${user.id}) with role ${user.role}`);
} finally {
  await client.end();
}
