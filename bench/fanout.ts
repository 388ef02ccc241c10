// bench/fanout: does watching starve buying? For each watcher count (default 0, 1,000, 5,000 and
// 20,000 sockets on one event's live seat map) holds land at a steady rate over HTTP on a fresh
// event. Prints per count: holds offered and granted, hold request p50/p99 (and p99 against the
// run with no watchers), the commit-to-receipt latency p50/p99/max (from the object committing a
// hold, its createdAt, to a socket receiving the delta that shows the seat held; same machine,
// same clock), sockets refused as full, and sequence gaps (must be zero). Watchers beyond
// FANOUT_DIRECT are served by relay objects (durable-objects/live-relay/object.ts). The sockets are
// spread over FANOUT_PROCESSES Node processes so the receiving side is not one event loop
// parsing every frame in turn.
//   npm run bench:fanout   FANOUT_SOCKETS=0,1000,5000,20000 FANOUT_RATE=20 FANOUT_SECONDS=10 FANOUT_PROCESSES=4
//                          FANOUT_DIRECT=500 (LIVE_DIRECT_SOCKETS) FANOUT_RELAY_SOCKETS=2000 (LIVE_RELAY_SOCKETS)
// Locally the Worker, the inventory and every relay share one workerd thread, so relays move the
// sends off the inventory's turn but not off the machine: read the figures on a quiet machine.
import { fork, type ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import { httpClient, sleep } from "./lib/load";
import { BenchReport } from "./lib/benchmarks-doc";
import { layout, publishEvent, startStack, type Stack } from "./lib/stack";

const COUNTS = (process.env.FANOUT_SOCKETS ?? "0,1000,5000,20000").split(",").map((x) => Number(x.trim()));
const RATE = Number(process.env.FANOUT_RATE ?? 20);
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 10);
const PROCESSES = Number(process.env.FANOUT_PROCESSES ?? 4);
const DIRECT = Number(process.env.FANOUT_DIRECT ?? 500);
const RELAY_SOCKETS = Number(process.env.FANOUT_RELAY_SOCKETS ?? 2000);

interface Result {
  latencies: number[];
  gaps: number;
  deltas: number;
  refused: number;
}

interface Step {
  watchers: number;
  opened: number;
  refused: number;
  offered: number;
  granted: number;
  holdsPerSecond: number;
  holdP50: number;
  holdP99: number;
  receipts: number[];
  expectedReceipts: number;
  gaps: number;
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      resolve(m as T);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`fanout client exited ${code}`)));
  });
}

const pct = (xs: number[], q: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] : NaN);
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");

async function step(stack: Stack, watchers: number): Promise<Step> {
  const seats = layout(2, 10, 25); // 500 seats keep snapshots small; each seat is held once per step
  const event = await publishEvent(stack, seats);
  const wsUrl = `${stack.workerUrl.replace(/^http/, "ws")}/v1/events/${event.eventId}/live`;
  const processes = Math.min(PROCESSES, Math.max(watchers, 1));
  const share = (i: number) => Math.floor(watchers / processes) + (i < watchers % processes ? 1 : 0);
  const children: ChildProcess[] = [];
  try {
    if (watchers > 0) {
      for (let i = 0; i < processes; i++) children.push(fork("bench/lib/fanout-client.ts", [wsUrl, String(share(i))], { execArgv: ["--import", "tsx"] }));
    }
    const opened = (await Promise.all(children.map((c) => nextMessage<{ opened: number }>(c, "ready")))).reduce((n, r) => n + r.opened, 0);
    console.log(`  ${watchers} watchers: ${opened} sockets open in ${children.length} processes; holds at ${RATE}/s for ${SECONDS} s; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

    const commits: Record<string, number> = {};
    const holdMs: number[] = [];
    const http = httpClient(stack.workerUrl, 64);
    let offered = 0;
    let granted = 0;
    const started = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; performance.now() - started < SECONDS * 1000 && i < seats.length; i++) {
      const user = stack.users[i % stack.users.length];
      const seat = seats[i].id;
      offered++;
      pending.push(
        (async () => {
          const auth = { authorization: `Bearer ${user.token}` };
          const t0 = performance.now();
          const res = await http.request("POST", `/v1/events/${event.eventId}/holds`, auth, { seatIds: [seat] });
          holdMs.push(performance.now() - t0);
          if (res.status !== 201) return;
          const hold = JSON.parse(res.body) as { id: string; createdAt: string };
          commits[seat] = Date.parse(hold.createdAt);
          granted++;
          await sleep(200);
          await http.request("DELETE", `/v1/holds/${hold.id}`, auth);
        })(),
      );
      await sleep(1000 / RATE);
    }
    await Promise.all(pending);
    const elapsed = (performance.now() - started) / 1000;
    await sleep(1000);
    http.close();
    for (const c of children) c.send({ type: "stop", commits });
    const results = await Promise.all(children.map((c) => nextMessage<Result>(c, "result")));
    holdMs.sort((a, b) => a - b);
    const refused = results.reduce((n, r) => n + r.refused, 0);
    return {
      watchers,
      opened,
      refused,
      offered,
      granted,
      holdsPerSecond: granted / elapsed,
      holdP50: pct(holdMs, 0.5),
      holdP99: pct(holdMs, 0.99),
      receipts: results.flatMap((r) => r.latencies).sort((a, b) => a - b),
      expectedReceipts: granted * (opened - refused),
      gaps: results.reduce((n, r) => n + r.gaps, 0),
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  }
}

async function main() {
  const most = Math.max(...COUNTS);
  // Room for every watcher with slack: connections are hashed over the relays, which fill unevenly.
  const bindings = {
    LIVE_DIRECT_SOCKETS: String(DIRECT),
    LIVE_RELAY_SOCKETS: String(RELAY_SOCKETS),
    LIVE_MAX_SOCKETS: String(Math.max(DIRECT, Math.ceil(most * 1.5) + DIRECT)),
  };
  const stack = await startStack({ users: 50, bindings });
  console.log(`bench/fanout: watchers ${COUNTS.join(", ")}; direct sockets ${DIRECT}, ${RELAY_SOCKETS} per relay`);
  const steps: Step[] = [];
  const cols = ["watchers", "holds offered", "granted", "holds/s", "hold p50 ms", "hold p99 ms", "p99 vs 0", "receipt p50", "p99", "max", "receipts", "refused", "gaps"];
  let failed = false;
  // Each row is printed as its step ends, so a run that dies at a large count keeps the smaller ones.
  const report = new BenchReport("fanout", "Live seat map fan-out: holds and commit-to-receipt under watchers", "markdown");
  const print = (s: Step) => {
    const base = steps.find((x) => x.watchers === 0)?.holdP99;
    report.log(
      `| ${[
        s.watchers,
        s.offered,
        s.granted,
        s.holdsPerSecond.toFixed(1),
        ms(s.holdP50),
        ms(s.holdP99),
        base ? `${(s.holdP99 / base).toFixed(2)}x` : "-",
        ms(pct(s.receipts, 0.5)),
        ms(pct(s.receipts, 0.99)),
        ms(pct(s.receipts, 1)),
        `${s.receipts.length}/${s.expectedReceipts}`,
        s.refused,
        s.gaps,
      ].join(" | ")} |`,
    );
    // A gap is a broken seat map, not a slow one. Fewer receipts than expected is not: a hold and its
    // release that land in one delta batch (a late flush on a busy thread) show the seat only as available.
    if (s.gaps > 0 || s.opened < s.watchers) failed = true;
  };
  try {
    for (const n of COUNTS) {
      const s = await step(stack, n);
      steps.push(s);
      if (steps.length === 1) report.log(`| ${cols.join(" | ")} |\n|${cols.map(() => "---:").join("|")}|`);
      print(s);
    }
  } finally {
    await stack.close();
  }
  report.record(
    `\`npm run bench:fanout\`: holds over HTTP at ${RATE}/s for ${SECONDS} s per step on a fresh event; watchers beyond ${DIRECT} on relays of ${RELAY_SOCKETS} sockets, ` +
      `spread over ${PROCESSES} Node processes. Receipt columns: ms from the object committing a hold to a socket receiving its delta; "p99 vs 0": hold p99 against the step with no watchers. ` +
      (failed ? "**Failed: some watchers saw sequence gaps or did not connect.**" : "No sequence gaps."),
  );
  if (failed) {
    console.error("bench/fanout: some watchers saw sequence gaps or did not connect");
    process.exit(1);
  }
}

await main();
