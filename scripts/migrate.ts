// npm run db:migrate — applies migrations/ to DATABASE_URL, else to the database `npm run dev`
// would pick: the local server's `evently`, else the embedded PGlite in .evently/pglite.
import { DEFAULT_EMBEDDED_DATA_DIR, resolveDatabase } from './lib/local-db.js';
import { migrate } from './lib/migrate.js';

const log = (s: string) => console.log(s);
const db = await resolveDatabase({ dbName: 'evently', embeddedDataDir: DEFAULT_EMBEDDED_DATA_DIR, log });
try {
  await migrate(db.url, log);
} catch (err) {
  console.error('migrate: failed:', err);
  process.exitCode = 1;
} finally {
  await db.stop();
}
