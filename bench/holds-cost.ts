// bench/holds-cost: where the time of one hold request goes inside workerd. Sequential requests,
// one step added per row; workerd's CPU time per request is read from /proc (Linux), so the load
// of other processes on the machine inflates it less than it inflates latency.
//   npm run bench:holds-cost           COST_N=1000
import { execSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { loadavg } from "node:os";
import { httpClient, row } from "./lib/load";
import { BenchReport } from "./lib/benchmarks-doc";
import { layout, publishEvent, startStack } from "./lib/stack";

const N = Number(process.env.COST_N ?? 1000);
const CLK_TCK = Number(execSync("getconf CLK_TCK").toString().trim());
const statOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
function descendsFromUs(pid: string): boolean {
  for (let p = pid, i = 0; p !== "0" && p !== "1" && i < 10; i++) {
    if (p === String(process.pid)) return true;
    p = statOf(p)[1];
  }
  return false;
}
const workerdPids = () =>
  readdirSync("/proc").filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/comm`, "utf8").trim() === "workerd" && descendsFromUs(p);
    } catch {
      return false;
    }
  });
const cpuMs = () => workerdPids().reduce((sum, p) => sum + ((Number(statOf(p)[11]) + Number(statOf(p)[12])) * 1000) / CLK_TCK, 0);

async function main() {
  const stack = await startStack({ users: 1 });
  const http = httpClient(stack.workerUrl, 4);
  try {
    const seats = layout(10, 20, 50);
    const event = await publishEvent(stack, seats);
    const auth = { authorization: `Bearer ${stack.users[0].token}` };
    const hp = `/v1/events/${event.eventId}/holds`;
    let k = 0;
    const rowsParam = encodeURIComponent(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ prefix: `${String.fromCharCode(65 + Math.floor(i / 20))}-${(i % 20) + 1}`, seats: 50 }))));
    const steps: [string, () => Promise<unknown>][] = [
      ["no-op (bare fetch handler)", () => http.request("GET", "/__bench/noop")],
      ["no-op through the app's middleware", () => http.request("GET", "/__bench/app-noop")],
      ["requireUser (JWT + revocation RPC)", () => http.request("GET", "/__bench/guard", auth)],
      ["inventory stats RPC (no auth)", () => http.request("GET", `/__bench/stats?event=${event.eventId}`)],
      ["one trivial SQLite write in the object", () => http.request("GET", `/__bench/touch?event=${event.eventId}`)],
      ["engine: 1 hold+release in one RPC, no auth", () => http.request("GET", `/__bench/engine?event=${event.eventId}&n=1&rows=${rowsParam}`)],
      ["engine: 100 hold+release in one RPC (per pair)", () => http.request("GET", `/__bench/engine?event=${event.eventId}&n=100&rows=${rowsParam}`)],
      [
        "POST hold + DELETE it (per request)",
        async () => {
          const i = k++ % 5000;
          const r = Math.floor(i / 25), n = 1 + 2 * (i % 25);
          const res = await http.request("POST", hp, auth, { seatIds: [`${String.fromCharCode(65 + Math.floor(r / 20))}-${(r % 20) + 1}-${n}`, `${String.fromCharCode(65 + Math.floor(r / 20))}-${(r % 20) + 1}-${n + 1}`] });
          if (res.status !== 201) throw new Error(`hold ${res.status} ${res.body}`);
          const del = await http.request("DELETE", `/v1/holds/${JSON.parse(res.body).id}`, auth);
          if (del.status !== 204) throw new Error(`release ${del.status}`);
        },
      ],
    ];
    console.log(`bench/holds-cost: ${N} sequential requests per row, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    const report = new BenchReport("holds-cost", "Hold path: workerd CPU per request, step by step");
    report.log(row(["step", "workerd CPU ms/req", "latency ms/req"], [38, 18, 15]));
    for (const [name, step] of steps) {
      for (let i = 0; i < 50; i++) await step();
      const c0 = cpuMs();
      const t0 = performance.now();
      for (let i = 0; i < N; i++) await step();
      const per = name.startsWith("POST") ? 2 * N : name.includes("100 hold") ? 100 * N : N;
      report.log(row([name, ((cpuMs() - c0) / per).toFixed(3), ((performance.now() - t0) / per).toFixed(3)], [38, 18, 15]));
    }
    report.record(`\`npm run bench:holds-cost\`: ${N} sequential requests per row, one step added per row; workerd's CPU time per request from /proc.`);
  } finally {
    http.close();
    await stack.close();
  }
}

await main();
