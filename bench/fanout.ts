// bench/fanout: 1,000 sockets on one event's live seat map while holds land at a steady rate over
// HTTP. Prints the commit-to-receipt latency p50/p99/max (from the object committing a hold, its
// createdAt, to a socket receiving the delta that shows the seat held; same machine, same clock)
// and any sequence gaps (must be zero). The sockets are spread over FANOUT_PROCESSES Node
// processes so the receiving side is not one event loop parsing every frame in turn.
//   npm run bench:fanout           FANOUT_SOCKETS=1000 FANOUT_RATE=20 FANOUT_SECONDS=10 FANOUT_PROCESSES=4
import { fork, type ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import { httpClient, sleep } from "./lib/load";
import { layout, publishEvent, startStack } from "./lib/stack";

const SOCKETS = Number(process.env.FANOUT_SOCKETS ?? 1000);
const RATE = Number(process.env.FANOUT_RATE ?? 20);
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 10);
const PROCESSES = Number(process.env.FANOUT_PROCESSES ?? 4);

interface Result {
  latencies: number[];
  gaps: number;
  deltas: number;
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

async function main() {
  const stack = await startStack({ users: 50 });
  const children: ChildProcess[] = [];
  try {
    const seats = layout(2, 10, 25); // 500 seats keep 1,000 snapshots small
    const event = await publishEvent(stack, seats);
    const wsUrl = `${stack.workerUrl.replace(/^http/, "ws")}/v1/events/${event.eventId}/live`;
    const share = (i: number) => Math.floor(SOCKETS / PROCESSES) + (i < SOCKETS % PROCESSES ? 1 : 0);
    for (let i = 0; i < PROCESSES; i++) {
      children.push(fork("bench/lib/fanout-client.ts", [wsUrl, String(share(i))], { execArgv: ["--import", "tsx"] }));
    }
    const opened = (await Promise.all(children.map((c) => nextMessage<{ opened: number }>(c, "ready")))).reduce((n, r) => n + r.opened, 0);
    console.log(`bench/fanout: ${opened} sockets open on one event in ${PROCESSES} processes; holds at ${RATE}/s for ${SECONDS} s; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

    // Each seat is held once per run (rate x seconds < seats), so a seat names its hold.
    const commits: Record<string, number> = {};
    const holdMs: number[] = [];
    const http = httpClient(stack.workerUrl, 64);
    let holds = 0;
    const started = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; performance.now() - started < SECONDS * 1000; i++) {
      const user = stack.users[i % stack.users.length];
      const seat = seats[i % seats.length].id;
      pending.push(
        (async () => {
          const auth = { authorization: `Bearer ${user.token}` };
          const t0 = performance.now();
          const res = await http.request("POST", `/v1/events/${event.eventId}/holds`, auth, { seatIds: [seat] });
          holdMs.push(performance.now() - t0);
          if (res.status !== 201) return;
          const hold = JSON.parse(res.body) as { id: string; createdAt: string };
          commits[seat] = Date.parse(hold.createdAt);
          holds++;
          await sleep(200);
          await http.request("DELETE", `/v1/holds/${hold.id}`, auth);
        })(),
      );
      await sleep(1000 / RATE);
    }
    await Promise.all(pending);
    await sleep(1000);
    for (const c of children) c.send({ type: "stop", commits });
    const results = await Promise.all(children.map((c) => nextMessage<Result>(c, "result")));
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const gaps = results.reduce((n, r) => n + r.gaps, 0);
    const deltas = results.reduce((n, r) => n + r.deltas, 0);
    const p = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]?.toFixed(1) ?? "-";
    holdMs.sort((a, b) => a - b);
    console.log(`holds ${holds}, delta frames received ${deltas} (${(deltas / opened).toFixed(1)} per socket), receipts ${latencies.length} (expected ${holds * opened})`);
    console.log(`commit-to-receipt latency ms: p50 ${p(latencies, 0.5)}  p99 ${p(latencies, 0.99)}  max ${p(latencies, 1)}`);
    console.log(`hold request latency ms: p50 ${p(holdMs, 0.5)}  p99 ${p(holdMs, 0.99)}`);
    console.log(`sequence gaps: ${gaps}`);
    http.close();
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await stack.close();
  }
}

await main();
