// bench/holds: hold two adjacent random seats, release them, in a closed loop on ONE hot event of
// 10,000 seats, against workerd (Miniflare directly, no dev proxy), with real tokens. Workloads in the
// same run, each at every client count:
//   live socket   each client one authenticated socket (API.md "Holds over the live socket"): `auth`
//                 once, then hold/release frames, each waiting for its reply;
//   HTTP          POST /v1/events/:id/holds then DELETE /v1/holds/:id;
//   ref 1         a Node `http` + `pg` row-lock server on the same Postgres;
//   ref 3         a no-op route (the runtime's ceiling);
// then ref 2: the engine in a loop inside the object, beside a minimal two-statement seat loop in the
// same object, both committing every 1,000 pairs as a live object commits after each event
// (COMMIT_EVERY in bench/worker.ts). The front Worker and the objects run in two workerd processes (BENCH_SPLIT=0: one), and
// CPU time per hold+release is read from /proc per process kind (bench/lib/cpu.ts): the objects'
// process is the object's share, which gives the per-event ceiling in production, where the front
// Worker's share runs in many isolates and only the object's is serialized per event. (In one process
// the socket workload's workerd CPU stands for it: after the upgrade the front Worker does nothing per frame.)
// The run ends with an asserted ledger (bench/lib/ledger.ts) and exits non-zero when it fails.
//   npm run bench:holds    BENCH_SECONDS=5 BENCH_CLIENTS=1,10,100,200 HOLD_MAX_INFLIGHT=256 BENCH_ENGINE_OPS=100000 BENCH_SPLIT=1
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { CPU_KINDS, CpuMeter, type CpuMs } from "./lib/cpu";
import { SeatLedger, checkSeatMap, type SeatMap } from "./lib/ledger";
import { LiveClient, type LiveReply } from "./lib/live-client";
import { Recorder, closedLoop, fmt, httpClient, row, sleep, type HttpClient } from "./lib/load";
import { BenchReport } from "./lib/benchmarks-doc";
import { layout, publishEvent, startStack } from "./lib/stack";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = (process.env.BENCH_CLIENTS ?? "1,10,100,200").split(",").map(Number);
const MAX_INFLIGHT = Number(process.env.HOLD_MAX_INFLIGHT ?? 256);
const ENGINE_OPS = Number(process.env.BENCH_ENGINE_OPS ?? 100_000);
/** The objects in a workerd process of their own, apart from the front Worker's (as in production); 0: one process, as `wrangler dev`. */
const SPLIT = process.env.BENCH_SPLIT !== "0";
const SECTIONS = 10, ROWS = 20, PER_ROW = 50; // 10,000 seats
/** The targets of issue 12 are read at 100 clients (or the largest count run, when 100 is not). */
const TARGET_CLIENTS = CLIENTS.includes(100) ? 100 : Math.max(...CLIENTS);
/** The engine's pairs/s before issue 12 (docs/changelog.md, Benchmark history: the first wave, quiet machine). */
const ENGINE_BEFORE = 6_872;

const SOCKET = "live socket (auth + frames)";
const HTTP = "Worker + DO (HTTP)";
const ROWLOCK = "ref 1: Node+pg row lock";
const NOOP = "ref 3: no-op route";
const ENGINE = "ref 2: engine in the DO";
const MINIMAL = "ref 2b: minimal seat loop";

const seats = layout(SECTIONS, ROWS, PER_ROW);
/** The tables below go to docs/benchmarks.md at the end of a full run. */
const report = new BenchReport("holds", "Seat holds: live socket, HTTP, a Node+pg row-lock server");
const rowsOfSeats = Array.from({ length: SECTIONS * ROWS }, (_, i) => `${String.fromCharCode(65 + Math.floor(i / ROWS))}-${(i % ROWS) + 1}`);
function adjacentPair(): string[] {
  const r = rowsOfSeats[Math.floor(Math.random() * rowsOfSeats.length)];
  const k = 1 + Math.floor(Math.random() * (PER_ROW - 1));
  return [`${r}-${k}`, `${r}-${k + 1}`];
}

interface Line {
  workload: string;
  clients: number;
  seconds: number;
  /** Completed hold+release pairs (requests, for the no-op route). */
  holds: number;
  rec: Recorder;
  cpu: CpuMs;
}
const lines: Line[] = [];
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
const rate = (l: Line) => l.holds / l.seconds;
const find = (workload: string, clients: number) => lines.find((l) => l.workload === workload && l.clients === clients);

/** Hold then release over HTTP; a shed request waits for its Retry-After and tries again, as a client should. */
async function holdRelease(http: HttpClient, rec: Recorder, ledger: SeatLedger, holdPath: string, releasePath: (id: string) => string, auth: Record<string, string>): Promise<boolean> {
  const t0 = performance.now();
  let res;
  try {
    res = await http.request("POST", holdPath, auth, { seatIds: adjacentPair() });
  } catch {
    rec.errors++;
    return false;
  }
  rec.record(res.status, performance.now() - t0);
  if (res.status === 503 || res.status === 429) {
    await sleep(1000 * Number(res.headers["retry-after"] ?? 1));
    return false;
  }
  if (res.status !== 201) {
    if (res.status !== 409) rec.errors++;
    return false;
  }
  const body = JSON.parse(res.body) as { id: string; seats: { id: string }[] | string[] };
  const id = body.id;
  ledger.grant(id, body.seats.map((s) => (typeof s === "string" ? s : s.id)));
  ledger.releasing(id);
  for (;;) {
    const t1 = performance.now();
    try {
      const del = await http.request("DELETE", releasePath(id), auth);
      rec.record(del.status, performance.now() - t1);
      if (del.status === 204) {
        ledger.released(id);
        return true;
      }
      if (del.status !== 503) {
        rec.errors++;
        ledger.releaseFailed(id);
        return false;
      }
      await sleep(1000 * Number(del.headers["retry-after"] ?? 1));
    } catch {
      rec.errors++;
      ledger.releaseFailed(id);
      return false;
    }
  }
}

/** The HTTP status the same answer has on the HTTP path, so both workloads fill the same columns. */
function statusOf(r: LiveReply, ok: number): number {
  if (r.ok) return ok;
  const code = r.error?.code;
  return code === "SEAT_UNAVAILABLE" ? 409 : code === "RATE_LIMITED" ? 429 : code === "DEPENDENCY_UNAVAILABLE" || code === "OVERLOADED" ? 503 : 500;
}

let refs = 0;
/** Hold then release over an authenticated socket, each frame waiting for its reply. */
async function socketHoldRelease(client: LiveClient, rec: Recorder, ledger: SeatLedger): Promise<boolean> {
  const t0 = performance.now();
  let r: LiveReply;
  try {
    r = await client.request({ type: "hold", ref: `b${++refs}`, seatIds: adjacentPair() });
  } catch {
    rec.errors++;
    await sleep(100); // a dead socket: do not spin
    return false;
  }
  const status = statusOf(r, 201);
  rec.record(status, performance.now() - t0);
  if (!r.ok) {
    if (status !== 409) rec.errors++;
    if (status === 503 || status === 429) await sleep(1000);
    return false;
  }
  const id = r.hold!.id;
  ledger.grant(id, r.hold!.seats.map((s) => s.id));
  ledger.releasing(id);
  const t1 = performance.now();
  try {
    const rel = await client.request({ type: "release", ref: `b${++refs}`, holdId: id });
    rec.record(statusOf(rel, 204), performance.now() - t1);
    if (rel.ok) {
      ledger.released(id);
      return true;
    }
  } catch {
    // counted below
  }
  rec.errors++;
  ledger.releaseFailed(id);
  return false;
}

async function main() {
  console.log(`bench/holds: ${seats.length} seats, one event, ${SECONDS} s per step, clients ${CLIENTS.join(",")}, HTTP shed above ${MAX_INFLIGHT} in flight, ${SPLIT ? "front Worker and objects in two workerd processes" : "one workerd process"}`);
  console.log(`load average at the start: ${load()}`);
  const stack = await startStack({ users: Math.max(10, ...CLIENTS), holdMaxInflight: MAX_INFLIGHT, split: SPLIT }); // 10: the warm-up's clients
  const seatFile = join(tmpdir(), `evently-bench-seats-${process.pid}.json`);
  writeFileSync(seatFile, JSON.stringify(seats.map((s) => s.id)));
  const rowlock = spawn(process.execPath, ["--import", "tsx", "bench/lib/rowlock-server.ts", stack.dbUrl, seatFile], { stdio: ["ignore", "pipe", "inherit"] });
  const rowlockUrl = await new Promise<string>((resolve, reject) => {
    rowlock.stdout!.on("data", (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    rowlock.on("exit", (code) => reject(new Error(`row-lock server exited ${code}`)));
  });
  const meter = new CpuMeter(stack.dbName, rowlock.pid!, stack.workerdPids.objects);
  const measure = async (workload: string, clients: number, iteration: (client: number, rec: Recorder) => Promise<boolean>) => {
    const rec = new Recorder();
    let holds = 0;
    meter.begin();
    const seconds = await closedLoop(clients, SECONDS * 1000, async (i) => {
      if (await iteration(i, rec)) holds++;
    });
    lines.push({ workload, clients, seconds, holds, rec, cpu: meter.end() });
    print(lines.at(-1)!);
  };

  const problems: string[] = [];
  try {
    const event = await publishEvent(stack, seats);
    const http = httpClient(stack.workerUrl, 512);
    const rl = httpClient(rowlockUrl, 512);
    const ledger = new SeatLedger(); // the hot event, over HTTP and sockets alike
    const rlLedger = new SeatLedger();
    const holdPath = `/v1/events/${event.eventId}/holds`;
    const auth = (i: number) => ({ authorization: `Bearer ${stack.users[i].token}` });
    // Warm up: isolate, object, JWT key import, Postgres relay connection.
    await closedLoop(10, 1000, async (i) => {
      await holdRelease(http, new Recorder(), ledger, holdPath, (id) => `/v1/holds/${id}`, auth(i));
    });

    const liveUrl = `${stack.workerUrl.replace(/^http/, "ws")}/v1/events/${event.eventId}/live`;
    for (const n of CLIENTS) {
      const sockets = await Promise.all(Array.from({ length: n }, (_, i) => LiveClient.open(liveUrl, stack.users[i].token)));
      await measure(SOCKET, n, (i, rec) => socketHoldRelease(sockets[i], rec, ledger));
      for (const s of sockets) s.close();
    }
    for (const n of CLIENTS) await measure(HTTP, n, (i, rec) => holdRelease(http, rec, ledger, holdPath, (id) => `/v1/holds/${id}`, auth(i)));
    for (const n of CLIENTS) await measure(ROWLOCK, n, (_, rec) => holdRelease(rl, rec, rlLedger, `/holds`, (id) => `/holds/${id}`, {}));
    for (const n of CLIENTS) {
      await measure(NOOP, n, async (_, rec) => {
        const t0 = performance.now();
        try {
          const res = await http.request("GET", "/__bench/noop");
          rec.record(res.status, performance.now() - t0);
          return res.status === 200;
        } catch {
          rec.errors++;
          return false;
        }
      });
    }

    // The engine and the minimal loop, in one object of their own (the hot event's stays untouched).
    const engineEvent = await publishEvent(stack, seats);
    const rowsParam = encodeURIComponent(JSON.stringify(rowsOfSeats.map((prefix) => ({ prefix, seats: PER_ROW }))));
    await http.request("GET", `/__bench/minimal?event=${engineEvent.eventId}&n=0&rows=${rowsParam}`); // its table, outside the timing
    const inObject = async (workload: string, route: string) => {
      meter.begin();
      const t0 = performance.now();
      const res = await http.request("GET", `${route}?event=${engineEvent.eventId}&n=${ENGINE_OPS}&rows=${rowsParam}`);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = meter.end();
      if (res.status !== 200) throw new Error(`${route} answered ${res.status}: ${res.body}`);
      const body = JSON.parse(res.body) as { ops: number; conflicts: number; left?: number };
      lines.push({ workload, clients: 1, seconds, holds: body.ops - body.conflicts, rec: new Recorder(), cpu });
      print(lines.at(-1)!);
      return body;
    };
    await inObject(ENGINE, "/__bench/engine");
    const minimal = await inObject(MINIMAL, "/__bench/minimal");

    cpuTable();
    ceiling();
    targets();

    // The ledger. A fresh connection for the seat maps: a pooled one may have been closed by workerd while the loops ran.
    const seatMap = async (eventId: string) => (await (await fetch(`${stack.workerUrl}/v1/events/${eventId}/seats`)).json()) as SeatMap;
    const hot = await seatMap(event.eventId);
    problems.push(...ledger.problems().map((p) => `hot event: ${p}`));
    problems.push(...checkSeatMap("hot event", hot, seats.length));
    problems.push(...checkSeatMap("engine event", await seatMap(engineEvent.eventId), seats.length));
    if (minimal.left !== 0) problems.push(`minimal seat loop: ${minimal.left} seats left taken`);
    problems.push(...rlLedger.problems().map((p) => `row-lock server: ${p}`));
    const db = new pg.Client({ connectionString: stack.dbUrl });
    await db.connect();
    const rlTaken = Number((await db.query<{ n: string }>(`select count(*) as n from rl_seats where status <> 'available'`)).rows[0].n);
    await db.end();
    if (rlTaken !== 0) problems.push(`row-lock server: ${rlTaken} seats still held after every hold was released`);
    report.log(
      `\nledger: hot event ${ledger.grants} holds granted, ${ledger.releases} released, counters ${JSON.stringify(hot.availability)}; ` +
        `row-lock ${rlLedger.grants} granted, ${rlLedger.releases} released; minimal loop left ${minimal.left} taken`,
    );
    for (const p of problems) report.log(`FAIL: ${p}`);
    report.log(problems.length ? `ledger FAILED (${problems.length} problems)` : "ledger ok: no seat in two live holds, every hold released, counters equal the seats");
    console.log(`load average at the end: ${load()}`);
    report.record(
      `\`npm run bench:holds\`: ${seats.length} seats, one event, ${SECONDS} s per step, clients ${CLIENTS.join(",")}, HTTP shed above ${MAX_INFLIGHT} in flight, ` +
        `${SPLIT ? "front Worker and objects in two workerd processes" : "one workerd process"}, engine loop of ${ENGINE_OPS} pairs. What each workload is: the comment at the top of bench/holds.ts.`,
    );
    http.close();
    rl.close();
  } finally {
    rowlock.kill("SIGTERM");
    await stack.close();
  }
  if (problems.length) process.exitCode = 1;
}

const WIDTHS = [27, 7, 9, 6, 6, 6, 7, 7, 7, 7];
let headerPrinted = false;
function print(l: Line) {
  if (!headerPrinted) {
    report.log(row(["workload", "clients", "holds/s", "409", "503", "err", "p50 ms", "p95 ms", "p99 ms", "max ms"], WIDTHS));
    headerPrinted = true;
  }
  const r = l.rec;
  report.log(row([l.workload, l.clients, fmt(rate(l)), r.count(409), r.count(503), r.errors, fmt(r.percentile(50)), fmt(r.percentile(95)), fmt(r.percentile(99)), fmt(r.percentile(100))], WIDTHS));
}

const serverMs = (c: CpuMs) => c.workerd + c["node server"] + c.postgres;
const per = (ms: number, l: Line) => (l.holds > 0 ? (ms / l.holds).toFixed(3) : "-");

function cpuTable() {
  report.log(`\nCPU ms per hold+release (per request for the no-op route), by process kind, from /proc:`);
  const widths = [27, 7, 9, 9, 12, 9, 13, 10];
  report.log(row(["workload", "clients", "workerd", "objects", "node server", "postgres", "server total", "load gen."], widths));
  for (const l of lines) {
    report.log(row([l.workload, l.clients, per(l.cpu.workerd, l), SPLIT ? per(l.cpu.objects, l) : "-", per(l.cpu["node server"], l), per(l.cpu.postgres, l), per(serverMs(l.cpu), l), per(l.cpu["load gen."], l)], widths));
  }
  report.log(
    SPLIT
      ? "(workerd: both workerd processes; objects: the one running only the objects, the rest is the front Worker's; load gen.: this process, clients and the Neon driver's WebSocket proxy)"
      : "(workerd: one process runs the front Worker and the objects, BENCH_SPLIT=1 runs them apart; load gen.: this process, clients and the Neon driver's WebSocket proxy)",
  );
}

/** The per-event ceiling in production: only the object's CPU is serialized per event. */
function ceiling() {
  const live = find(SOCKET, TARGET_CLIENTS);
  const http = find(HTTP, TARGET_CLIENTS);
  const engine = find(ENGINE, 1);
  if (!live || live.holds === 0) return;
  // Apart, the objects' process is the object's share; together, the socket workload's workerd is (after the upgrade the front Worker does nothing per frame).
  const objectMs = (SPLIT ? live.cpu.objects : live.cpu.workerd) / live.holds;
  const how = SPLIT ? "the objects' own workerd process" : "workerd, the front Worker idle per frame";
  report.log(`\nthe object's share, socket workload at ${TARGET_CLIENTS} clients (${how}): ${objectMs.toFixed(3)} ms CPU per hold+release`);
  report.log(`per-event ceiling in production: about ${fmt(1000 / objectMs)} hold+release pairs/s over sockets (1000 / object CPU ms per hold+release)`);
  if (http && http.holds > 0) {
    const httpMs = http.cpu.workerd / http.holds;
    if (SPLIT) {
      const httpObjectMs = http.cpu.objects / http.holds;
      report.log(`HTTP: ${httpMs.toFixed(3)} ms workerd CPU per hold+release, of which the object's ${httpObjectMs.toFixed(3)} ms (ceiling about ${fmt(1000 / httpObjectMs)} pairs/s per event) and the front Worker's ${(httpMs - httpObjectMs).toFixed(3)} ms (spread over many isolates in production)`);
    } else {
      report.log(`HTTP: ${httpMs.toFixed(3)} ms workerd CPU per hold+release, so about ${(httpMs - objectMs).toFixed(3)} ms is the front Worker's and the RPC hops' (spread over many isolates in production)`);
    }
  }
  if (engine && engine.holds > 0) report.log(`the engine alone: ${((SPLIT ? engine.cpu.objects : engine.cpu.workerd) / engine.holds).toFixed(3)} ms CPU per pair`);
}

function targets() {
  const rl = find(ROWLOCK, TARGET_CLIENTS);
  const live = find(SOCKET, TARGET_CLIENTS);
  const http = find(HTTP, TARGET_CLIENTS);
  const engine = find(ENGINE, 1);
  const minimal = find(MINIMAL, 1);
  if (engine && minimal) report.log(`\nengine / minimal two-statement loop: ${fmt(rate(engine))} / ${fmt(rate(minimal))} pairs/s = ${(rate(engine) / rate(minimal)).toFixed(2)}x`);
  if (!rl || !live || !http || !engine) return;
  const mark = (ok: boolean) => (ok ? "met" : "missed");
  const vsRl = (l: Line) => (rate(rl) > 0 ? rate(l) / rate(rl) : NaN);
  const p99 = (l: Line) => l.rec.percentile(99);
  report.log(`targets at ${TARGET_CLIENTS} clients, same run:`);
  report.log(`  socket holds/s >= 3x row-lock, p99 < 100 ms: ${vsRl(live).toFixed(2)}x, p99 ${fmt(p99(live))} ms: ${mark(vsRl(live) >= 3 && p99(live) < 100)}`);
  report.log(`  HTTP holds/s >= 1.5x row-lock, p99 < 250 ms: ${vsRl(http).toFixed(2)}x, p99 ${fmt(p99(http))} ms: ${mark(vsRl(http) >= 1.5 && p99(http) < 250)}`);
  const e = rate(engine) / ENGINE_BEFORE;
  report.log(`  engine >= 3x ${ENGINE_BEFORE.toLocaleString("en")} pairs/s: ${fmt(rate(engine))} pairs/s, ${e.toFixed(2)}x: ${mark(e >= 3)}`);
}

await main();
