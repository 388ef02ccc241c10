// One share of bench/fanout's sockets, in its own process so that receiving (frame parsing, JSON)
// does not queue behind the other sockets and the load generator on one Node event loop.
// Forked by bench/fanout.ts: `fork(this file, [wsUrl, count], { execArgv: ["--import", "tsx"] })`.
import WebSocket from "ws";

const [wsUrl, countArg] = process.argv.slice(2);
const count = Number(countArg);
const send = (m: unknown) => process.send!(m);

/** Seat id -> receipt times (epoch ms, sub-ms precision) of the delta that first showed it held, one per socket. */
const receipts = new Map<string, number[]>();
let gaps = 0;
let deltas = 0;
/** Sockets the event refused as full (close 1013). */
let refused = 0;
const sockets: WebSocket[] = [];
const wallNow = () => performance.timeOrigin + performance.now();

function open(): Promise<void> {
  const ws = new WebSocket(wsUrl);
  let version = -1;
  ws.on("message", (data) => {
    const at = wallNow();
    const f = JSON.parse(data.toString());
    if (f.type === "snapshot") {
      version = f.version;
      return;
    }
    if (f.type !== "delta") return;
    deltas++;
    if (version !== -1 && f.version !== version + 1) {
      gaps++;
      ws.send('{"type":"resync"}');
    }
    version = f.version;
    for (const c of f.changes) {
      if (c.status !== "held") continue;
      let list = receipts.get(c.id);
      if (!list) receipts.set(c.id, (list = []));
      list.push(at);
    }
  });
  ws.on("close", (code) => {
    if (code === 1013) refused++;
  });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
}

process.on("message", (m: { type: string; commits?: Record<string, number> }) => {
  if (m.type !== "stop") return;
  // Commit-to-receipt: the object's commit time of the hold (its createdAt) to this socket's receipt.
  const latencies: number[] = [];
  for (const [seat, times] of receipts) {
    const committed = m.commits![seat];
    if (committed === undefined) continue;
    for (const t of times) latencies.push(t - committed);
  }
  for (const ws of sockets) ws.close();
  send({ type: "result", latencies, gaps, deltas, refused });
  setTimeout(() => process.exit(0), 200);
});

for (let i = 0; i < count; i++) {
  await open();
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 10));
}
send({ type: "ready", opened: sockets.length });
