// Brings up the whole local stack: Postgres (server, DATABASE_URL or embedded PGlite), the
// WebSocket-to-TCP proxy, migrations, `wrangler dev`, then demo data through the Worker's own
// HTTP API. Used by `npm run dev` and by the e2e tests.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_EMBEDDED_DATA_DIR, resolveDatabase, type ResolvedDatabase } from "./local-db";
import { migrate } from "./migrate";
import { startWsProxy, type WsProxy } from "./ws-proxy";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The cron of wrangler.toml's [triggers] (the Worker's scheduled() does the same work for any). */
const CRON = "*/5 * * * *";

export interface DevStackOptions {
  port: number;
  /** Database created on a real server. */
  dbName?: string;
  forceEmbedded?: boolean;
  /** PGlite data directory; in memory when null. */
  embeddedDataDir?: string | null;
  rateLimits?: "on" | "off";
  /** Keep wrangler's DO/queue state between runs (dev) or start clean (tests). */
  persistState?: boolean;
  log?: (s: string) => void;
  /** Where wrangler's output goes (a number: an open file descriptor); default: this process's stdout/stderr. */
  wranglerOutput?: "inherit" | "ignore" | number;
  /** More `--var NAME:VALUE` for the Worker (local-only switches such as EVENTLY_FAULTS). */
  vars?: Record<string, string>;
  /** More environment for the `wrangler dev` process (e.g. TMPDIR, where Miniflare keeps its files). */
  env?: Record<string, string>;
  /**
   * `wrangler dev` never fires the cron triggers by itself: the stack fires wrangler.toml's cron
   * (saga re-drive, refund sweeps, reconciliation) this often through `/__scheduled`. Default 5
   * minutes, as in production; 0 turns it off.
   */
  cronEveryMs?: number;
}

export interface DevStack {
  url: string;
  database: ResolvedDatabase;
  proxy: WsProxy;
  /** The `wrangler dev` process (its workerd runs as a descendant). */
  wranglerPid: number;
  stop(): Promise<void>;
}

/**
 * Ensures .dev.vars holds a JWT_SECRET and a SECRETS_KEYS key; never overwrites one the developer
 * set, except the placeholder copied from .dev.vars.example (the Worker refuses to serve with it).
 */
export function ensureDevVars(log: (s: string) => void): void {
  const path = `${ROOT}/.dev.vars`;
  let current = existsSync(path) ? readFileSync(path, "utf8") : "";
  current = current.replace(/^JWT_SECRET=change-me-to-32-random-bytes-base64[ \t]*(\r?\n|$)/m, "");
  const add = (line: string) => (current = `${current}${current && !current.endsWith("\n") ? "\n" : ""}${line}\n`);
  const wrote: string[] = [];
  if (!/^JWT_SECRET=.+$/m.test(current)) {
    add(`JWT_SECRET=${randomBytes(32).toString("base64url")}`);
    wrote.push("JWT_SECRET");
  }
  if (!/^SECRETS_KEYS=.+$/m.test(current)) {
    add(`SECRETS_KEYS=dev1:${randomBytes(32).toString("base64")}`);
    wrote.push("SECRETS_KEYS");
  }
  if (!wrote.length) return;
  writeFileSync(path, current, { mode: 0o600 });
  log(`secrets: wrote a random ${wrote.join(" and ")} to .dev.vars`);
}

export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const started = Date.now();
  const database = await resolveDatabase({
    dbName: opts.dbName ?? "evently",
    forceEmbedded: opts.forceEmbedded,
    embeddedDataDir: opts.embeddedDataDir === null ? undefined : (opts.embeddedDataDir ?? DEFAULT_EMBEDDED_DATA_DIR),
    log,
  });
  let proxy: WsProxy | undefined;
  let wrangler: ChildProcess | undefined;
  let statePath: string | undefined;
  let cron: ReturnType<typeof setInterval> | null = null;
  const stop = async () => {
    if (cron) clearInterval(cron);
    if (wrangler) await stopGroup(wrangler);
    await proxy?.close();
    await database.stop();
    // A throwaway state directory goes with the run that made it.
    if (statePath) rmSync(statePath, { recursive: true, force: true });
  };
  try {
    await migrate(database.url, log);
    proxy = await startWsProxy();
    log(`proxy: Postgres over WebSocket at ${proxy.url}`);
    ensureDevVars(log);

    const args = [
      `${ROOT}/node_modules/wrangler/bin/wrangler.js`, "dev", "--ip", "127.0.0.1", "--port", String(opts.port), "--inspector-port", "0", "--test-scheduled",
      "--var", `DATABASE_URL:${database.url}`, "--var", `DB_WS_PROXY:${proxy.url}`,
      "--var", `RATE_LIMITS:${opts.rateLimits ?? "on"}`,
      // wrangler.toml's default is production, where the sandbox card network refuses to charge.
      "--var", "ENVIRONMENT:development",
      // A webhook receiver on this machine (http, loopback) is accepted in dev only.
      "--var", "WEBHOOK_ALLOW_LOOPBACK:on",
    ];
    for (const [name, value] of Object.entries(opts.vars ?? {})) args.push("--var", `${name}:${value}`);
    if (opts.persistState === false) {
      statePath = `${ROOT}/.wrangler/e2e-${process.pid}-${Date.now()}`;
      args.push("--persist-to", statePath);
    }
    wrangler = spawn(process.execPath, args, {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", opts.wranglerOutput ?? "inherit", opts.wranglerOutput ?? "inherit"],
      env: { ...process.env, ...opts.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", DATABASE_URL: "" },
    });
    const url = `http://127.0.0.1:${opts.port}`;
    await waitForReady(`${url}/health/ready`, wrangler, 60_000);
    log(`worker: ${url} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const cronEveryMs = opts.cronEveryMs ?? 5 * 60_000;
    if (cronEveryMs > 0) {
      cron = setInterval(() => {
        fetch(`${url}/__scheduled?cron=${encodeURIComponent(CRON)}`, { signal: AbortSignal.timeout(120_000) })
          .then((r) => r.body?.cancel())
          .catch((e) => log(`cron: ${String(e)}`));
      }, cronEveryMs);
      cron.unref();
    }
    return { url, database, proxy, wranglerPid: wrangler.pid!, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Waits until `url` answers 2xx; fails when the child exits first or the time runs out. */
export async function waitForReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} was not ready within ${timeoutMs / 1000} s: ${last}`);
}

/** Stops a process started detached and its whole group (wrangler runs its CLI and workerd as children). */
export async function stopGroup(child: ChildProcess): Promise<void> {
  if (!child.pid || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGINT");
  const timer = setTimeout(() => signal("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  signal("SIGKILL");
}
