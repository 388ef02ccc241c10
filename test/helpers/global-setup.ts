import type { TestProject } from "vitest/node";
import { dropDatabase, resolveDatabase } from "../../scripts/lib/local-db";
import { migrate } from "../../scripts/lib/migrate";
import { startWsProxy } from "../../scripts/lib/ws-proxy";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    wsProxy: string;
  }
}

/**
 * Node side of the Workers test project: a fresh, migrated database for this run (its own
 * database on a real server, dropped afterwards; in-memory PGlite otherwise) and the
 * WebSocket-to-TCP proxy the Neon driver inside workerd reaches it through.
 */
export default async function setup(project: TestProject) {
  const log = (s: string) => process.env.EVENTLY_TEST_VERBOSE && console.log(s);
  const dbName = `evently_test_${process.pid}_${Date.now().toString(36)}`;
  const db = await resolveDatabase({ dbName, log });
  await migrate(db.url, log);
  const proxy = await startWsProxy();
  project.provide("databaseUrl", db.url);
  project.provide("wsProxy", proxy.url);
  return async () => {
    await proxy.close();
    if (db.kind === "server") await dropDatabase("postgres://postgres@127.0.0.1:5432/postgres", dbName);
    await db.stop();
  };
}
