// A CPU profile of one workload inside workerd, over its own inspector (Chrome DevTools protocol):
// where the object's time goes, by function (self time) and by file. For finding costs, not for
// figures: sampling slows the isolate down. Usage:
//   npm run bench:profile -- engine   [n]   the engine loop in the object (hold+release pairs)
//   npm run bench:profile -- minimal  [n]   the two-statement reference loop, same object
//   npm run bench:profile -- socket   [clients] [seconds]   hold+release over authenticated live sockets
//   npm run bench:profile -- http     [clients] [seconds]   POST …/holds + DELETE /v1/holds/:id (Worker and object in one isolate)
import WebSocket from "ws";
import { LiveClient } from "./lib/live-client";
import { layout, publishEvent, startStack } from "./lib/stack";

const WHAT = process.argv[2] ?? "engine";
const LOOP = process.argv[2] === "socket" || process.argv[2] === "http";
const N = Number(process.argv[3] ?? (LOOP ? 100 : 20_000));
const SECONDS = Number(process.argv[4] ?? 5);
const PORT = 9_400 + Math.floor(Math.random() * 500);
const SECTIONS = 10, ROWS = 20, PER_ROW = 50;
/** workerd may close a kept-alive socket between two long calls: one connection per call. */
const CLOSE = { headers: { connection: "close" } };

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

function cdp(url: string) {
  const ws = new WebSocket(url, { maxPayload: 1 << 30 });
  let next = 1;
  const waiting = new Map<number, (v: unknown) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)!(msg.result);
      waiting.delete(msg.id);
    }
  });
  const opened = new Promise((r) => ws.once("open", r));
  return {
    opened,
    send<T>(method: string, params: object = {}): Promise<T> {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((r) => waiting.set(id, r as (v: unknown) => void));
    },
    close: () => ws.terminate(),
  };
}

function summarize(p: Profile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const src = f.url.split("/").slice(-1)[0] || "(native)";
    const key = `${f.functionName || "(anonymous)"} ${src}:${f.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    file.set(src, (file.get(src) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
  console.log(`\nself time by function (${(total / 1000).toFixed(0)} ms sampled):`);
  console.log(top(fn, 45).join("\n"));
  // Native SQLite time by the function that called it (which statement costs what).
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const viaCaller = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    if (!["exec", "toArray", "transactionSync", "one"].includes(n.callFrame.functionName)) continue;
    const up = byId.get(parent.get(id) ?? -1)?.callFrame;
    const key = `${n.callFrame.functionName} <- ${up ? `${up.functionName || "(anonymous)"}:${up.lineNumber + 1}` : "?"}`;
    viaCaller.set(key, (viaCaller.get(key) ?? 0) + us);
  }
  console.log(`\nSQLite calls by caller:`);
  console.log(top(viaCaller, 25).join("\n"));
  console.log(`\nby file:`);
  console.log(top(file, 15).join("\n"));
}

async function main() {
  const stack = await startStack({ users: LOOP ? N : 1, inspectorPort: PORT, split: false, holdMaxInflight: 1_000 });
  try {
    const seats = layout(SECTIONS, ROWS, PER_ROW);
    const ev = await publishEvent(stack, seats);
    const rows = encodeURIComponent(JSON.stringify(Array.from({ length: SECTIONS * ROWS }, (_, i) => ({ prefix: `${String.fromCharCode(65 + Math.floor(i / ROWS))}-${(i % ROWS) + 1}`, seats: PER_ROW }))));
    const route = WHAT === "minimal" ? "/__bench/minimal" : "/__bench/engine";
    const pair = () => {
      const r = Math.floor(Math.random() * SECTIONS * ROWS);
      const prefix = `${String.fromCharCode(65 + Math.floor(r / ROWS))}-${(r % ROWS) + 1}`;
      const k = 1 + Math.floor(Math.random() * (PER_ROW - 1));
      return [`${prefix}-${k}`, `${prefix}-${k + 1}`];
    };
    let refs = 0;
    let pairs = 0;
    const sockets = WHAT === "socket" ? await Promise.all(stack.users.map((u) => LiveClient.open(`${stack.workerUrl.replace(/^http/, "ws")}/v1/events/${ev.eventId}/live`, u.token))) : [];
    const socketLoop = async (c: LiveClient, until: number) => {
      while (performance.now() < until) {
        const r = await c.request({ type: "hold", ref: `p${++refs}`, seatIds: pair() });
        if (!r.ok) continue;
        const rel = await c.request({ type: "release", ref: `p${++refs}`, holdId: r.hold!.id });
        if (rel.ok) pairs++;
      }
    };
    const httpLoop = async (i: number, until: number) => {
      const auth = { authorization: `Bearer ${stack.users[i].token}`, "content-type": "application/json" };
      while (performance.now() < until) {
        const res = await fetch(`${stack.workerUrl}/v1/events/${ev.eventId}/holds`, { method: "POST", headers: auth, body: JSON.stringify({ seatIds: pair() }) });
        const body = (await res.json()) as { id?: string };
        if (res.status !== 201 || !body.id) continue;
        const rel = await fetch(`${stack.workerUrl}/v1/holds/${body.id}`, { method: "DELETE", headers: auth });
        await rel.arrayBuffer();
        if (rel.ok) pairs++;
      }
    };
    if (WHAT === "compare") {
      // No profiler: the engine and the minimal loop, timed from outside, alternately.
      await fetch(`${stack.workerUrl}/__bench/minimal?event=${ev.eventId}&n=0&rows=${rows}`, CLOSE);
      for (let round = 0; round < 3; round++) {
        for (const r of ["/__bench/engine", "/__bench/minimal"]) {
          const t = performance.now();
          await (await fetch(`${stack.workerUrl}${r}?event=${ev.eventId}&n=${N}&rows=${rows}`, CLOSE)).json();
          console.log(`${r.padEnd(18)} ${((N * 1000) / (performance.now() - t)).toFixed(0).padStart(7)} pairs/s`);
        }
      }
      return;
    }
    if (WHAT === "socket") await Promise.all(sockets.map((c) => socketLoop(c, performance.now() + 1000)));
    else if (WHAT === "http") await Promise.all(stack.users.map((_u, i) => httpLoop(i, performance.now() + 1000)));
    else await fetch(`${stack.workerUrl}${route}?event=${ev.eventId}&n=200&rows=${rows}`, CLOSE); // warm
    pairs = 0;
    const targets = (await (await fetch(`http://127.0.0.1:${PORT}/json/list`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
    const target = targets.find((t) => t.id === "core:user:evently") ?? targets[0];
    const c = cdp(target.webSocketDebuggerUrl);
    await c.opened;
    await c.send("Profiler.enable");
    await c.send("Profiler.setSamplingInterval", { interval: 100 });
    await c.send("Profiler.start");
    const t0 = performance.now();
    let answer: unknown = null;
    if (WHAT === "socket") await Promise.all(sockets.map((s) => socketLoop(s, t0 + SECONDS * 1000)));
    else if (WHAT === "http") await Promise.all(stack.users.map((_u, i) => httpLoop(i, t0 + SECONDS * 1000)));
    else answer = await (await fetch(`${stack.workerUrl}${route}?event=${ev.eventId}&n=${N}&rows=${rows}`, CLOSE)).json();
    const ms = performance.now() - t0;
    const { profile } = await c.send<{ profile: Profile }>("Profiler.stop");
    c.close();
    for (const s of sockets) s.close();
    const done = LOOP ? pairs : N;
    console.log(`${WHAT}: ${done} pairs in ${ms.toFixed(0)} ms under the profiler (${((done * 1000) / ms).toFixed(0)} pairs/s); ${JSON.stringify(answer)}`);
    summarize(profile);
  } finally {
    await stack.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
