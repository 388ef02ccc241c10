// bench/holds: hold two adjacent random seats, release them, in a closed loop on ONE hot event of
// 10,000 seats, over real HTTP against workerd (unstable_startWorker, no dev proxy), with real
// tokens. In the same run, three references: a Node+pg row-lock server, the object's engine limit
// (the same holds in a loop inside the object), and a no-op route (the runtime's ceiling).
//   npm run bench:holds            BENCH_SECONDS=5 BENCH_CLIENTS=1,10,50,100,200 HOLD_MAX_INFLIGHT=64
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Recorder, closedLoop, fmt, httpClient, row, sleep, type HttpClient } from "./lib/load";
import { layout, publishEvent, startStack } from "./lib/stack";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = (process.env.BENCH_CLIENTS ?? "1,10,50,100,200").split(",").map(Number);
const MAX_INFLIGHT = Number(process.env.HOLD_MAX_INFLIGHT ?? 64);
const SECTIONS = 10, ROWS = 20, PER_ROW = 50; // 10,000 seats

const seats = layout(SECTIONS, ROWS, PER_ROW);
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
  holds: number;
  rec: Recorder;
}
const lines: Line[] = [];
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

/** Hold then release; a shed request waits for its Retry-After and tries again, as a client should. */
async function holdRelease(http: HttpClient, rec: Recorder, holdPath: string, releasePath: (id: string) => string, auth: Record<string, string>): Promise<boolean> {
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
  const id = JSON.parse(res.body).id as string;
  for (;;) {
    const t1 = performance.now();
    try {
      const del = await http.request("DELETE", releasePath(id), auth);
      rec.record(del.status, performance.now() - t1);
      if (del.status === 204) return true;
      if (del.status !== 503) {
        rec.errors++;
        return true;
      }
      await sleep(1000 * Number(del.headers["retry-after"] ?? 1));
    } catch {
      rec.errors++;
      return true;
    }
  }
}

async function main() {
  console.log(`bench/holds: ${seats.length} seats, one event, ${SECONDS} s per step, clients ${CLIENTS.join(",")}, shed above ${MAX_INFLIGHT} in flight; load average ${load()}`);
  const stack = await startStack({ users: Math.max(10, ...CLIENTS), holdMaxInflight: MAX_INFLIGHT }); // 10: the warm-up's clients
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

  try {
    const event = await publishEvent(stack, seats);
    const http = httpClient(stack.workerUrl, 512);
    const rl = httpClient(rowlockUrl, 512);
    // Warm up: isolate, object, JWT key import, Postgres relay connection.
    await closedLoop(10, 1000, async (i) => {
      await holdRelease(http, new Recorder(), `/v1/events/${event.eventId}/holds`, (id) => `/v1/holds/${id}`, { authorization: `Bearer ${stack.users[i].token}` });
    });

    for (const n of CLIENTS) {
      const rec = new Recorder();
      let holds = 0;
      const seconds = await closedLoop(n, SECONDS * 1000, async (i) => {
        if (await holdRelease(http, rec, `/v1/events/${event.eventId}/holds`, (id) => `/v1/holds/${id}`, { authorization: `Bearer ${stack.users[i].token}` })) holds++;
      });
      lines.push({ workload: "Worker + DO (HTTP)", clients: n, seconds, holds, rec });
      print(lines.at(-1)!);
    }
    for (const n of CLIENTS) {
      const rec = new Recorder();
      let holds = 0;
      const seconds = await closedLoop(n, SECONDS * 1000, async () => {
        if (await holdRelease(rl, rec, `/holds`, (id) => `/holds/${id}`, {})) holds++;
      });
      lines.push({ workload: "ref 1: Node+pg row lock", clients: n, seconds, holds, rec });
      print(lines.at(-1)!);
    }
    for (const n of CLIENTS) {
      const rec = new Recorder();
      const seconds = await closedLoop(n, SECONDS * 1000, async () => {
        const t0 = performance.now();
        try {
          const res = await http.request("GET", "/__bench/noop");
          rec.record(res.status, performance.now() - t0);
        } catch {
          rec.errors++;
        }
      });
      lines.push({ workload: "ref 3: no-op route", clients: n, seconds, holds: rec.count(200), rec });
      print(lines.at(-1)!);
    }
    const engineEvent = await publishEvent(stack, seats);
    const iterations = Number(process.env.BENCH_ENGINE_OPS ?? 100_000);
    const rowsParam = encodeURIComponent(JSON.stringify(rowsOfSeats.map((prefix) => ({ prefix, seats: PER_ROW }))));
    const t0 = performance.now();
    const engine = await http.request("GET", `/__bench/engine?event=${engineEvent.eventId}&n=${iterations}&rows=${rowsParam}`);
    const engineSeconds = (performance.now() - t0) / 1000;
    const engineBody = JSON.parse(engine.body) as { ops: number; conflicts: number };
    const engineRec = new Recorder();
    lines.push({ workload: "ref 2: engine in the DO", clients: 1, seconds: engineSeconds, holds: engineBody.ops - engineBody.conflicts, rec: engineRec });
    print(lines.at(-1)!);

    // Zero oversell: every hold was released, so the hot event must be back to all seats free.
    // A fresh connection: a pooled one may have been closed by workerd while the engine ran.
    const seatMap = (await (await fetch(`${stack.workerUrl}/v1/events/${event.eventId}/seats`)).json()) as { seats: { status: string }[]; availability: unknown };
    const heldNow = seatMap.seats.filter((s: { status: string }) => s.status !== "available").length;
    console.log(`\nafter the run: availability ${JSON.stringify(seatMap.availability)}, seats not available ${heldNow} (expected 0)`);
    // A seat still held after every client released what it got is a leak: the run fails.
    if (heldNow !== 0) {
      console.error(`FAIL: ${heldNow} seats are still held or booked after every hold was released`);
      process.exitCode = 1;
    }
    summary();
    console.log(`load average at the end: ${load()}`);
    http.close();
    rl.close();
  } finally {
    rowlock.kill("SIGTERM");
    await stack.close();
  }
}

const WIDTHS = [26, 7, 9, 6, 6, 6, 7, 7, 7, 7];
let headerPrinted = false;
function print(l: Line) {
  if (!headerPrinted) {
    console.log(row(["workload", "clients", "holds/s", "409", "503", "err", "p50 ms", "p95 ms", "p99 ms", "max ms"], WIDTHS));
    headerPrinted = true;
  }
  const r = l.rec;
  console.log(row([l.workload, l.clients, fmt(l.holds / l.seconds), r.count(409), r.count(503), r.errors, fmt(r.percentile(50)), fmt(r.percentile(95)), fmt(r.percentile(99)), fmt(r.percentile(100))], WIDTHS));
}

function summary() {
  for (const n of CLIENTS) {
    const w = lines.find((l) => l.workload.startsWith("Worker") && l.clients === n)!;
    const p = lines.find((l) => l.workload.startsWith("ref 1") && l.clients === n)!;
    console.log(`clients ${String(n).padStart(3)}: Worker/row-lock throughput ${(w.holds / w.seconds / (p.holds / p.seconds)).toFixed(2)}x`);
  }
}

await main();
