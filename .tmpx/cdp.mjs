import WebSocket from "ws";
const ws = new WebSocket(process.argv[2]);
let id = 0; const pending = new Map();
ws.on("message", (d) => { const m = JSON.parse(d); if (m.id && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); } });
const call = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
ws.on("open", async () => {
  console.log(JSON.stringify(await call("HeapProfiler.collectGarbage")));
  console.log(JSON.stringify(await call("Runtime.getHeapUsage")));
  process.exit(0);
});
