// `npm run soak`: the dev stack on the embedded Postgres, virtual buyers over a few events while
// faults land on a schedule, then a ledger of money, seats and memory. Exits 1 on any violation.
//   SOAK_SECONDS (default 600): how long the buyers run; the drain and the ledger come after.
//   SOAK_BUYERS (default 6): concurrent virtual buyers.
// Everything targets 127.0.0.1 only; every loop is bounded in count and in time.
import { openSync, closeSync, rmSync, mkdirSync, readFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { startDevStack, type DevStack } from "./lib/dev-stack";
import { freePort } from "./lib/local-db";
import { DEMO_VENUE_NAME, seedDemoData } from "./lib/seed";
import { checkLedger, printTable, type SoakEvent } from "./lib/soak-ledger";
import { startNoopReference } from "./lib/noop-reference";
import { isolateHeapKb } from "./lib/isolate-heap";
import { workerdRss, workerdRssKb } from "./lib/proc-memory";
import { removeOldSoakFiles, scratchName } from "./lib/soak-files";
import { memoryCheck, type RssGrowth } from "./lib/soak-memory";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const BUYERS = Number(process.env.SOAK_BUYERS ?? 6);
if (!Number.isFinite(SECONDS) || SECONDS < 20 || SECONDS > 86_400) {
  console.error(`SOAK_SECONDS must be between 20 and 86400, got ${process.env.SOAK_SECONDS}`);
  process.exit(2);
}
if (!Number.isInteger(BUYERS) || BUYERS < 1 || BUYERS > 64) {
  console.error(`SOAK_BUYERS must be an integer between 1 and 64, got ${process.env.SOAK_BUYERS}`);
  process.exit(2);
}
/** A hard ceiling on the buyers' requests, whatever the machine: about 100 per second at most. */
const MAX_REQUESTS = Math.ceil(SECONDS * 100) + 2_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** Soak events pay (or give up) within this; the drain waits for it plus the saga's retries. */
const PAYMENT_DEADLINE_SECONDS = 30;
const DRAIN_LIMIT_MS = 180_000;
const CARDS = [
  ["pm_card_ok", 0.65],
  ["pm_card_declined", 0.1],
  ["pm_card_slow", 0.15],
  // Fails like a provider outage: its retries count against the shared payment breaker.
  ["pm_card_error", 0.1],
] as const;

const log = (s: string) => console.log(`soak: ${s}`);
if (process.env.DATABASE_URL) {
  // The soak stops and restarts its Postgres: only the embedded server it starts itself will do.
  log("DATABASE_URL is ignored: the soak runs on its own embedded Postgres");
  delete process.env.DATABASE_URL;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

// ---------------------------------------------------------------------------------------------
// HTTP with counters

const stats = { requests: 0, holds: 0, bookings: 0, cancels: 0, releases: 0, waitlist: 0, redeliveries: 0, errors: new Map<string, number>() };

interface Reply {
  status: number;
  body: any;
}

let base = "";
async function api(method: string, path: string, opts: { body?: unknown; token?: string; key?: string; count?: boolean } = {}): Promise<Reply> {
  stats.requests++;
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.key ? { "idempotency-key": opts.key } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = { raw: text.slice(0, 200) };
    }
    if (res.status >= 400 && opts.count !== false) countError(body?.error?.code ?? `HTTP_${res.status}`);
    return { status: res.status, body };
  } catch (e) {
    const code = (e as Error).name === "TimeoutError" ? "CLIENT_TIMEOUT" : "CLIENT_NETWORK";
    if (opts.count !== false) countError(code);
    return { status: 0, body: { error: { code, message: String(e) } } };
  }
}

function countError(code: string): void {
  stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);
}

// ---------------------------------------------------------------------------------------------
// Set-up: accounts, events, buyers

interface Buyer {
  email: string;
  password: string;
  token: string;
  bookings: string[];
  /** Bookings seen failed or cancelled: nothing more to do with them. */
  finished: Set<string>;
}

async function createEvents(organizerToken: string): Promise<SoakEvent[]> {
  const venues = await api("GET", "/v1/venues?limit=100", { token: organizerToken });
  const venue = (venues.body?.data ?? []).find((v: any) => v.name === DEMO_VENUE_NAME);
  if (!venue) throw new Error(`no demo venue: ${venues.status} ${JSON.stringify(venues.body)}`);
  const start = new Date(Date.now() + 14 * 86_400_000);
  const end = new Date(start.getTime() + 3 * 3_600_000);
  const wanted = [
    { name: "Soak: reserved A", seating: "reserved" as const, cancel: false },
    { name: "Soak: reserved B (cancelled mid-run)", seating: "reserved" as const, cancel: true },
    // Small, so it sells out early and the waitlist sees offers when bookings are cancelled.
    { name: "Soak: general admission", seating: "general" as const, capacity: 40, cancel: false },
  ];
  const out: SoakEvent[] = [];
  for (const w of wanted) {
    const create = await api("POST", "/v1/events", {
      token: organizerToken,
      body: {
        venueId: venue.id, name: w.name, description: "created by npm run soak", category: "music",
        startsAt: start.toISOString(), endsAt: end.toISOString(), seating: w.seating,
        ...(w.capacity ? { capacity: w.capacity } : {}), priceCents: 2_500, currency: "EUR",
        maxSeatsPerUser: 100, holdTtlSeconds: 30, paymentDeadlineSeconds: PAYMENT_DEADLINE_SECONDS,
      },
    });
    if (create.status !== 201) throw new Error(`create event: ${create.status} ${JSON.stringify(create.body)}`);
    const pub = await api("POST", `/v1/events/${create.body.id}/publish`, { token: organizerToken, body: {} });
    if (pub.status !== 200) throw new Error(`publish event: ${pub.status} ${JSON.stringify(pub.body)}`);
    out.push({ id: create.body.id, name: w.name, seating: w.seating, cancelMidRun: w.cancel, cancelled: false });
  }
  return out;
}

async function createBuyers(n: number, run: string): Promise<Buyer[]> {
  const buyers: Buyer[] = [];
  for (let i = 0; i < n; i++) {
    const email = `soak-${run}-${i}@evently.test`;
    const password = `soak-buyer-pw-${run}-${i}`;
    const reg = await api("POST", "/v1/auth/register", { body: { email, password, name: `Soak Buyer ${i}` } });
    if (reg.status !== 201) throw new Error(`register ${email}: ${reg.status} ${JSON.stringify(reg.body)}`);
    buyers.push({ email, password, token: reg.body.accessToken, bookings: [], finished: new Set() });
  }
  return buyers;
}

async function relogin(b: Buyer): Promise<void> {
  const r = await api("POST", "/v1/auth/login", { body: { email: b.email, password: b.password } });
  if (r.status === 200) b.token = r.body.accessToken;
}

// ---------------------------------------------------------------------------------------------
// Virtual buyers

function card(): string {
  let x = Math.random();
  for (const [name, p] of CARDS) if ((x -= p) < 0) return name;
  return "pm_card_ok";
}

async function buyerStep(b: Buyer, events: SoakEvent[]): Promise<void> {
  const r = Math.random();
  if (r < 0.1) {
    await api("GET", "/v1/events?limit=20");
    return;
  }
  const live = b.bookings.filter((id) => !b.finished.has(id));
  if (r < 0.3 && live.length) {
    // Look at one of my bookings; cancel some confirmed ones (seats go back, refund follows).
    const id = pick(live);
    const got = await api("GET", `/v1/bookings/${id}`, { token: b.token });
    if (got.status === 200 && (got.body.status === "failed" || got.body.status === "cancelled")) b.finished.add(id);
    if (got.status === 200 && got.body.status === "confirmed" && Math.random() < 0.6) {
      const c = await api("POST", `/v1/bookings/${id}/cancel`, { token: b.token });
      if (c.status === 202) stats.cancels++;
    }
    return;
  }
  const open = events.filter((e) => !e.cancelled);
  const ev = pick(open.length ? open : events);
  const map = await api("GET", `/v1/events/${ev.id}/seats`);
  if (map.status !== 200) return;
  let holdBody: { seatIds: string[] } | { quantity: number } | null = null;
  if (ev.seating === "reserved") {
    const free: any[] = (map.body.seats ?? []).filter((s: any) => s.status === "available");
    if (free.length) {
      const first = pick(free);
      const next = free.find((s: any) => s.row === first.row && s.section === first.section && s.number === first.number + 1);
      holdBody = { seatIds: next && Math.random() < 0.5 ? [first.id, next.id] : [first.id] };
    }
  } else if (map.body.availability.available > 0) {
    holdBody = { quantity: Math.min(map.body.availability.available, 1 + Math.floor(Math.random() * 2)) };
  }
  if (!holdBody) {
    const w = await api("POST", `/v1/events/${ev.id}/waitlist`, { token: b.token, body: { quantity: 1 } });
    if (w.status === 201) stats.waitlist++;
    return;
  }
  const hold = await api("POST", `/v1/events/${ev.id}/holds`, { token: b.token, key: crypto.randomUUID(), body: holdBody });
  if (hold.status === 401) return relogin(b);
  if (hold.status !== 201) {
    if (hold.body?.error?.code === "SEAT_UNAVAILABLE" && Math.random() < 0.3) {
      const w = await api("POST", `/v1/events/${ev.id}/waitlist`, { token: b.token, body: { quantity: 1 } });
      if (w.status === 201) stats.waitlist++;
    }
    return;
  }
  stats.holds++;
  if (Math.random() < 0.15) {
    const rel = await api("DELETE", `/v1/holds/${hold.body.id}`, { token: b.token });
    if (rel.status === 204) stats.releases++;
    return;
  }
  const key = crypto.randomUUID();
  const body = { holdId: hold.body.id, paymentMethod: card() };
  let booked = await api("POST", "/v1/bookings", { token: b.token, key, body });
  // A client retries a booking the way API.md says: same key, same body (a 5xx or a lost answer).
  for (let i = 0; i < 2 && (booked.status === 0 || booked.status >= 500); i++) {
    await sleep(500);
    booked = await api("POST", "/v1/bookings", { token: b.token, key, body });
  }
  if (booked.status === 202 || booked.status === 200) {
    if (!b.bookings.includes(booked.body.id)) {
      b.bookings.push(booked.body.id);
      stats.bookings++;
    }
  }
}

async function buyerLoop(b: Buyer, events: SoakEvent[], until: number): Promise<void> {
  while (Date.now() < until && stats.requests < MAX_REQUESTS) {
    await buyerStep(b, events).catch((e) => countError(`SOAK_BUG:${(e as Error).message.slice(0, 60)}`));
    await sleep(100 + Math.random() * 200);
  }
}

// ---------------------------------------------------------------------------------------------
// Faults on a schedule (fractions of a cycle, so a 60 s run sees each of them once)

type Fault = { at: number; name: string; run: () => Promise<void> };
let currentFault = "none";
const faultLog: string[] = [];

function faultPlan(stack: DevStack, events: SoakEvent[], buyers: Buyer[], adminToken: () => string, organizerToken: () => string, cycleMs: number, cycleIndex: number): Fault[] {
  const outageMs = Math.max(5_000, Math.min(30_000, cycleMs * 0.1));
  const pgDownMs = Math.max(4_000, Math.min(20_000, cycleMs * 0.08));
  const abortAll = async (label: string) => {
    for (const e of events) {
      const r = await api("POST", `/_local/faults/inventory/${e.id}/abort`, { token: adminToken(), count: false });
      if (r.status !== 202) throw new Error(`abort ${e.id}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    faultLog.push(`${label}: aborted ${events.length} inventory objects`);
  };
  const redeliver = async () => {
    const ids = buyers.flatMap((b) => b.bookings).sort(() => Math.random() - 0.5).slice(0, 25);
    let sent = 0;
    for (const id of ids) {
      const r = await api("POST", `/_local/faults/bookings/${id}/redeliver`, { token: adminToken(), count: false });
      if (r.status === 202) sent++;
    }
    stats.redeliveries += sent;
    faultLog.push(`saga messages delivered twice: ${sent}`);
  };
  const plan: Fault[] = [
    {
      at: 0.12,
      name: `payments down ${Math.round(outageMs / 1000)} s`,
      run: async () => {
        await setOutage(adminToken(), true);
        await sleep(outageMs);
        await setOutage(adminToken(), false);
        faultLog.push(`payment network down for ${Math.round(outageMs / 1000)} s`);
      },
    },
    { at: 0.3, name: "inventory objects aborted", run: () => abortAll("inventory") },
    {
      at: 0.42,
      name: `Postgres stopped ${Math.round(pgDownMs / 1000)} s`,
      run: async () => {
        await stack.database.halt!();
        await sleep(pgDownMs);
        await stack.database.resume!();
        faultLog.push(`Postgres stopped and restarted on the same port after ${Math.round(pgDownMs / 1000)} s`);
      },
    },
    { at: 0.55, name: "saga messages delivered twice", run: redeliver },
    { at: 0.75, name: "inventory objects aborted", run: () => abortAll("inventory (again)") },
    { at: 0.85, name: "saga messages delivered twice", run: redeliver },
  ];
  if (cycleIndex === 0) {
    plan.push({
      at: 0.62,
      name: "event cancelled",
      run: async () => {
        for (const e of events.filter((x) => x.cancelMidRun && !x.cancelled)) {
          for (let i = 0; i < 10; i++) {
            const r = await api("POST", `/v1/events/${e.id}/cancel`, { token: organizerToken(), count: false });
            if (r.status === 202) {
              e.cancelled = true;
              faultLog.push(`event "${e.name}" cancelled (${r.body.refundsRequested} refunds requested)`);
              break;
            }
            await sleep(1_000);
          }
          if (!e.cancelled) throw new Error(`could not cancel event ${e.id}`);
        }
      },
    });
  }
  return plan.sort((a, b) => a.at - b.at);
}

async function setOutage(token: string, on: boolean): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = await api("POST", "/_local/faults/payments/outage", { token, body: { on }, count: false });
    if (r.status === 200) return;
    await sleep(500);
  }
  throw new Error(`could not switch the payment outage ${on ? "on" : "off"}`);
}

async function runFaults(startedAt: number, until: number, plan: (cycleIndex: number, cycleMs: number) => Fault[], problems: string[]): Promise<void> {
  const total = until - startedAt;
  const cycleMs = Math.min(total, 120_000);
  for (let cycle = 0; startedAt + cycle * cycleMs < until; cycle++) {
    const cycleStart = startedAt + cycle * cycleMs;
    for (const f of plan(cycle, cycleMs)) {
      const at = cycleStart + f.at * cycleMs;
      if (at >= until) return;
      await sleep(Math.max(0, at - Date.now()));
      currentFault = f.name;
      try {
        await f.run();
      } catch (e) {
        problems.push(`fault "${f.name}" did not land: ${(e as Error).message}`);
      }
      currentFault = "none";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The memory reference: a no-op Worker under its own `wrangler dev`, driven after the soak (so it
// does not load the machine during it) with as many requests as the app saw before its warm-up
// reading and then as many as it saw after, at the buyers' concurrency.

const tomlString = (key: string) => new RegExp(`^${key}\\s*=\\s*"([^"]+)"`, "m").exec(readFileSync(`${ROOT}/wrangler.toml`, "utf8"))?.[1];
const WORKER_NAME = tomlString("name") ?? "evently";

async function measureReference(warmRequests: number, runRequests: number, dir: string, logFd: number, onStart: (stop: () => Promise<void>) => void): Promise<RssGrowth | { error: string }> {
  const compatibilityDate = tomlString("compatibility_date") ?? "2026-05-01";
  try {
    const port = await freePort();
    const ref = await startNoopReference({ port, dir, compatibilityDate, output: logFd, env: { TMPDIR: dir } });
    onStart(ref.stop);
    try {
      log(`no-op reference: ${ref.url}; ${warmRequests} warm-up requests, then ${runRequests}`);
      const warm = await ref.drive(warmRequests, BUYERS);
      const warmKb = ref.rssKb();
      const warmProcesses = ref.processes();
      const runStarted = Date.now();
      const sent = await ref.drive(runRequests, BUYERS);
      const afterKb = ref.rssKb();
      log(`no-op reference: ${warm.failed + sent.failed} failed requests; VmRSS ${Math.round(warmKb / 1024)} -> ${Math.round(afterKb / 1024)} MiB in ${((Date.now() - runStarted) / 1000).toFixed(0)} s (per process, MiB: ${describeProcesses(warmProcesses)} -> ${describeProcesses(ref.processes())})`);
      if (warm.failed + sent.failed > 0) return { error: `${warm.failed + sent.failed} of its requests failed` };
      return { warmKb, afterKb, requests: sent.ok, proxy: { warmKb: proxyRssKb(warmProcesses, port), afterKb: proxyRssKb(ref.processes(), port) } };
    } finally {
      await ref.stop();
    }
  } catch (e) {
    return { error: `could not run: ${(e as Error).message}` };
  }
}

/** wrangler dev's proxy is the workerd process listening on its public port. */
const proxyRssKb = (ps: { kb: number; entry: string }[], port: number) => ps.find((p) => p.entry.endsWith(`:${port}`))?.kb ?? 0;
const describeProcesses = (ps: { pid: number; kb: number; entry: string }[]) => ps.map((p) => `${p.pid} (entry ${p.entry}): ${Math.round(p.kb / 1024)}`).join(", ");

// ---------------------------------------------------------------------------------------------

let rssRoot = 0;
function progress(startedAt: number): string {
  const errs = [...stats.errors.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(" ") || "none";
  const [l1, l5] = loadavg();
  return `${Math.round((Date.now() - startedAt) / 1000)}s rss=${Math.round(workerdRssKb(rssRoot) / 1024)}MiB requests=${stats.requests} holds=${stats.holds} bookings=${stats.bookings} cancels=${stats.cancels} waitlist=${stats.waitlist} errors: ${errs} | fault: ${currentFault} | load ${l1.toFixed(2)} ${l5.toFixed(2)}`;
}

async function main(): Promise<number> {
  const run = Date.now().toString(36);
  mkdirSync(`${ROOT}/.wrangler`, { recursive: true });
  const logName = `soak-${run}.log`;
  const logPath = `${ROOT}/.wrangler/${logName}`;
  const removed = removeOldSoakFiles(`${ROOT}/.wrangler`, logName, tmpdir());
  if (removed.length) log(`removed what earlier runs left: ${removed.join(", ")}`);
  // One scratch directory per run: the embedded Postgres, and wrangler's TMPDIR, where Miniflare
  // keeps its temp files (one .eml per email sent) and does not always remove them on exit.
  const scratch = `${tmpdir()}/${scratchName(process.pid, run)}`;
  const dataDir = `${scratch}/pglite`;
  mkdirSync(`${scratch}/tmp`, { recursive: true });
  const logFd = openSync(logPath, "a");
  const port = await freePort();
  log(`SOAK_SECONDS=${SECONDS}, ${BUYERS} buyers, worker log in ${logPath}`);
  const stack = await startDevStack({
    port,
    forceEmbedded: true,
    embeddedDataDir: dataDir,
    rateLimits: "off",
    persistState: false,
    wranglerOutput: logFd,
    vars: { EVENTLY_FAULTS: "on" },
    env: { TMPDIR: `${scratch}/tmp` },
    // The cron is the safety net of the saga (re-drive of stalled bookings, refund sweeps) as in
    // production, where it runs every 5 minutes; the soak's clock is compressed (30 s holds and
    // payment deadlines instead of 10 minutes), so it fires every minute.
    cronEveryMs: 60_000,
    log,
  });
  base = stack.url;
  rssRoot = stack.wranglerPid;
  const problems: string[] = [];
  let stopped = false;
  let stopReference: (() => Promise<void>) | undefined;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stack.stop().catch(() => undefined);
    await stopReference?.().catch(() => undefined);
    closeSync(logFd);
    rmSync(scratch, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  process.once("SIGTERM", () => void stop().then(() => process.exit(143)));
  try {
    const seeded = await seedDemoData(stack.url, stack.database.url);
    // Sessions are refreshed by logging in again when a fault route answers 401 (long runs outlive the access token).
    let adminToken = seeded.admin.accessToken;
    const organizerToken = seeded.organizer.accessToken;
    const events = await createEvents(organizerToken);
    const buyers = await createBuyers(BUYERS, run);
    log(`events: ${events.map((e) => `${e.name} ${e.id}`).join("; ")}`);

    // Warm-up: every kind of request once or twice, then the memory baseline.
    const warmUntil = Date.now() + Math.max(10_000, Math.min(60_000, SECONDS * 250));
    await Promise.all(buyers.map((b) => buyerLoop(b, events, warmUntil)));
    const rssWarm = workerdRssKb(stack.wranglerPid);
    const proxyWarm = proxyRssKb(workerdRss(stack.wranglerPid), port);
    const heapWarm = await isolateHeapKb(stack.wranglerPid, WORKER_NAME);
    const warmRequests = stats.requests;
    const perProcess = () => describeProcesses(workerdRss(stack.wranglerPid));
    log(`warm-up done: workerd RSS ${Math.round(rssWarm / 1024)} MiB (per process, MiB: ${perProcess()}), live JS objects ${heapWarm === null ? "unknown" : `${(heapWarm / 1024).toFixed(1)} MiB`}`);

    const startedAt = Date.now();
    const until = startedAt + SECONDS * 1000;
    const ticker = setInterval(() => log(progress(startedAt)), 10_000);
    const refreshAdmin = setInterval(async () => {
      const r = await api("POST", "/v1/auth/login", { body: { email: "admin@evently.test", password: "evently-admin-pw" }, count: false });
      if (r.status === 200) adminToken = r.body.accessToken;
    }, 600_000);
    await Promise.all([
      ...buyers.map((b) => buyerLoop(b, events, until)),
      runFaults(startedAt, until, (cycle, cycleMs) => faultPlan(stack, events, buyers, () => adminToken, () => organizerToken, cycleMs, cycle), problems),
    ]);
    clearInterval(ticker);
    clearInterval(refreshAdmin);
    log(progress(startedAt));
    log(`load finished; faults: ${faultLog.join("; ") || "none"}`);

    // Drain: everything back up, then wait (bounded) until no booking is pending and the saga log is quiet.
    await stack.database.resume!();
    await setOutage(adminToken, false);
    const ledger = await checkLedger({
      base: stack.url,
      databaseUrl: stack.database.url,
      adminToken,
      events,
      drainLimitMs: DRAIN_LIMIT_MS,
      log,
    });
    const app: RssGrowth = {
      warmKb: rssWarm,
      afterKb: workerdRssKb(stack.wranglerPid),
      requests: stats.requests - warmRequests + ledger.requests,
      proxy: { warmKb: proxyWarm, afterKb: proxyRssKb(workerdRss(stack.wranglerPid), port) },
      heap: { warmKb: heapWarm, afterKb: await isolateHeapKb(stack.wranglerPid, WORKER_NAME) },
    };
    log(`workerd RSS per process after the run, MiB: ${perProcess()}`);
    ledger.rows.push(memoryCheck(app, await measureReference(warmRequests, app.requests, `${scratch}/noop`, logFd, (s) => (stopReference = s))));
    const [l1, l5, l15] = loadavg();
    console.log("");
    console.log(`Soak ${new Date().toISOString().slice(0, 10)}, SOAK_SECONDS=${SECONDS}, ${BUYERS} buyers: ${stats.requests} requests, ${stats.holds} holds, ${stats.bookings} bookings, ${stats.cancels} cancellations, ${stats.waitlist} waitlist joins, ${stats.redeliveries} duplicate saga messages`);
    console.log(`faults: ${faultLog.join("; ") || "none"}`);
    printTable(ledger.rows, problems);
    console.log(`load average: ${l1.toFixed(2)} ${l5.toFixed(2)} ${l15.toFixed(2)} (${(await import("node:os")).cpus().length} cores)`);
    const failed = ledger.rows.filter((r) => !r.ok).length + problems.length;
    console.log(failed ? `soak: FAILED (${failed} violation${failed === 1 ? "" : "s"})` : "soak: passed");
    return failed ? 1 : 0;
  } catch (e) {
    console.error(`soak: could not run: ${e instanceof Error ? e.stack : e}`);
    return 1;
  } finally {
    await stop();
  }
}

process.exit(await main());
