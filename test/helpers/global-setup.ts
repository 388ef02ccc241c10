import { readFileSync, readdirSync } from "node:fs";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { dropDatabase, resolveDatabase } from "../../scripts/lib/local-db";
import { DEFAULT_MIGRATIONS_FOLDER, migrate } from "../../scripts/lib/migrate";
import { startWsProxy } from "../../scripts/lib/ws-proxy";
import { startWebhookReceiver } from "./webhook-receiver";
import { startStripeApiFake } from "./stripe-api-fake";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    wsProxy: string;
    /** "database": each test file gets its own database cloned from the migrated template. "reset": one database, reset before each file (PGlite). */
    dbIsolation: "database" | "reset";
    fileDatabasePrefix: string;
    /** The SQL of every migration, for the reset mode. */
    migrationSql: string;
    /** A real HTTP receiver for webhook deliveries (test/helpers/webhook-receiver.ts). */
    webhookReceiver: string;
    /** The test double of Stripe's API (test/helpers/stripe-api-fake.ts), the Worker's STRIPE_API_BASE. */
    stripeApiBase: string;
  }
}

const SERVER_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * Node side of the Workers test project: a migrated template database for this run and the
 * WebSocket-to-TCP proxy the Neon driver inside workerd reaches Postgres through. Each test file
 * then gets a clean database of its own (test/helpers/file-database.ts).
 */
export default async function setup(project: TestProject) {
  const log = (s: string) => process.env.EVENTLY_TEST_VERBOSE && console.log(s);
  // Random part: two Workers projects of one run set up at the same moment.
  const prefix = `evently_t${process.pid}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const db = await resolveDatabase({ dbName: prefix, log });
  await migrate(db.url, log);
  const proxy = await startWsProxy();
  const receiver = await startWebhookReceiver();
  const stripe = await startStripeApiFake();
  const isolation = db.kind === "embedded" ? "reset" : "database";
  project.provide("databaseUrl", db.url);
  project.provide("wsProxy", proxy.url);
  project.provide("dbIsolation", isolation);
  project.provide("fileDatabasePrefix", prefix);
  project.provide("migrationSql", readMigrationSql());
  project.provide("webhookReceiver", receiver.url);
  project.provide("stripeApiBase", stripe.url);
  return async () => {
    // Each bounded: a server that never finishes closing must not keep the whole run from ending.
    const bounded = (what: string, p: Promise<unknown>) =>
      Promise.race([p, new Promise((resolve) => setTimeout(() => resolve(console.warn(`teardown: ${what} did not close within 10 s`)), 10_000).unref())]);
    await bounded("the Postgres proxy", proxy.close());
    await bounded("the webhook receiver", receiver.close());
    await bounded("the Stripe fake", stripe.close());
    if (isolation === "database") await dropRunDatabases(db.url, prefix);
    if (db.kind === "server") await dropDatabase(SERVER_ADMIN, prefix);
    await db.stop();
  };
}

function readMigrationSql(): string {
  return readdirSync(DEFAULT_MIGRATIONS_FOLDER)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => readFileSync(`${DEFAULT_MIGRATIONS_FOLDER}/${f}`, "utf8").replaceAll("--> statement-breakpoint", ""))
    .join(";\n");
}

async function dropRunDatabases(anyUrl: string, prefix: string): Promise<void> {
  const admin = new URL(anyUrl);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rows } = await client.query("select datname from pg_database where datname like $1", [`${prefix}\\_f\\_%`]);
    for (const r of rows) await client.query(`drop database if exists "${r.datname}" with (force)`);
  } finally {
    await client.end();
  }
}
