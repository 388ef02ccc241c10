// bench/fanout: 1,000 sockets on one event's live seat map while holds land at a steady rate over
// HTTP. Prints the commit-to-receipt latency (from sending the hold to a socket receiving the delta
// that contains it, so an upper bound) p50/p99/max and any sequence gaps (must be zero).
//   npm run bench:fanout           FANOUT_SOCKETS=1000 FANOUT_RATE=20 FANOUT_SECONDS=10
import WebSocket from "ws";
import { httpClient, sleep } from "./lib/load";
import { layout, publishEvent, startStack } from "./lib/stack";

const SOCKETS = Number(process.env.FANOUT_SOCKETS ?? 1000);
const RATE = Number(process.env.FANOUT_RATE ?? 20);
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 10);

async function main() {
  const stack = await startStack({ users: 50 });
  try {
    const seats = layout(2, 10, 25); // 500 seats keep 1,000 snapshots small
    const event = await publishEvent(stack, seats);
    const wsUrl = `${stack.workerUrl.replace(/^http/, "ws")}/v1/events/${event.eventId}/live`;

    // Seat id -> when the hold that takes it was sent; each seat is held once per run (rate x seconds < seats).
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let gaps = 0;
    let deltas = 0;
    const sockets: WebSocket[] = [];
    let opened = 0;
    for (let i = 0; i < SOCKETS; i++) {
      const ws = new WebSocket(wsUrl);
      let version = -1;
      ws.on("message", (data) => {
        const f = JSON.parse(data.toString());
        const now = performance.now();
        if (f.type === "snapshot") {
          version = f.version;
          return;
        }
        if (f.type !== "delta") return;
        deltas++;
        if (f.version !== version + 1) {
          gaps++;
          ws.send('{"type":"resync"}');
        }
        version = f.version;
        for (const c of f.changes) {
          const t = c.status === "held" ? sentAt.get(c.id) : undefined;
          if (t !== undefined) latencies.push(now - t);
        }
      });
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
      opened++;
      sockets.push(ws);
      if (i % 50 === 49) await sleep(10);
    }
    console.log(`bench/fanout: ${opened} sockets open on one event; holds at ${RATE}/s for ${SECONDS} s`);

    const http = httpClient(stack.workerUrl, 64);
    const free = seats.map((s) => s.id);
    let holds = 0;
    const started = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; performance.now() - started < SECONDS * 1000; i++) {
      const user = stack.users[i % stack.users.length];
      const seat = free[i % free.length];
      pending.push(
        (async () => {
          const auth = { authorization: `Bearer ${user.token}` };
          sentAt.set(seat, performance.now());
          const res = await http.request("POST", `/v1/events/${event.eventId}/holds`, auth, { seatIds: [seat] });
          if (res.status !== 201) return;
          holds++;
          await sleep(200);
          await http.request("DELETE", `/v1/holds/${JSON.parse(res.body).id}`, auth);
        })(),
      );
      await sleep(1000 / RATE);
    }
    await Promise.all(pending);
    await sleep(500);
    latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(1) ?? "-";
    console.log(`holds ${holds}, delta frames received ${deltas} (${(deltas / SOCKETS).toFixed(1)} per socket), receipts ${latencies.length}`);
    console.log(`hold-sent-to-receipt latency ms: p50 ${p(0.5)}  p99 ${p(0.99)}  max ${p(1)}`);
    console.log(`sequence gaps: ${gaps}`);
    for (const ws of sockets) ws.close();
    http.close();
  } finally {
    await stack.close();
  }
}

await main();
