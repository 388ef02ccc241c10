// npm run bench:auth — what authentication costs per request inside workerd, and what one
// Argon2id hash costs. Runs the Worker directly (unstable_startWorker, no dev proxy) with rate
// limits off. workerd freezes its clocks during execution, so every figure is measured from here.
import { execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { unstable_startWorker } from 'wrangler';
import { BenchReport } from './lib/benchmarks-doc';

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
process.env.WRANGLER_SEND_METRICS ??= 'false';

const SEQUENTIAL = Number(process.env.BENCH_N ?? 1500);
const CONCURRENCY = 32;
const CONCURRENT_MS = 3000;
const HASHES = 20;

const worker = await unstable_startWorker({
  // Its own small config: the Worker's routes and the UserSessions object, nothing else.
  config: 'bench/wrangler.auth.toml',
  bindings: {
    JWT_SECRET: { type: 'plain_text', value: 'bench-secret-0123456789abcdef0123456789abcdef' },
    // wrangler.toml says production, which needs keys for secrets at rest (src/lib/secret-box.ts).
    SECRETS_KEYS: { type: 'plain_text', value: `bench:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}` },
    DATABASE_URL: { type: 'plain_text', value: 'postgres://unused@127.0.0.1:1/none' },
  },
  dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: false, watch: false },
});
await worker.ready;
const base = (await worker.url).toString().replace(/\/$/, '');

// Latency on a shared machine measures the neighbours as much as us; the CPU time the workerd
// process spends per request does not. Linux only (/proc).
const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim());
const statOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
// Looked up at each reading: wrangler starts the runtime's workerd after `ready` resolves.
const workerdPids = () =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'workerd' && descendsFromUs(p);
      } catch {
        return false;
      }
    });
function descendsFromUs(pid: string): boolean {
  for (let p = pid, i = 0; p !== '0' && p !== '1' && i < 10; i++) {
    if (p === String(process.pid)) return true;
    p = statOf(p)[1];
  }
  return false;
}
const workerdCpuMs = () => workerdPids().reduce((sum, p) => sum + ((Number(statOf(p)[11]) + Number(statOf(p)[12])) * 1000) / CLK_TCK, 0);

async function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<void> {
  const res = await fetch(base + path, { method, headers });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function sequential(path: string, n: number, headersFor: (i: number) => Record<string, string> = () => ({}), method = 'GET', warmUp = true) {
  if (warmUp) for (let i = 0; i < Math.min(50, n); i++) await get(path, headersFor(i), method);
  const times: number[] = [];
  const cpuBefore = workerdCpuMs();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await get(path, headersFor(i), method);
    times.push(performance.now() - t);
  }
  const cpu = (workerdCpuMs() - cpuBefore) / n;
  times.sort((a, b) => a - b);
  return { cpu, min: times[0], mean: times.reduce((a, b) => a + b, 0) / n, p50: pct(times, 50), p99: pct(times, 99) };
}

async function concurrent(path: string, headers: Record<string, string> = {}) {
  let done = 0;
  const end = performance.now() + CONCURRENT_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await get(path, headers);
        done++;
      }
    }),
  );
  return (done / CONCURRENT_MS) * 1000;
}

const tokenFor = async (user: string) => ((await (await fetch(`${base}/bench/token?user=${user}`)).json()) as { token: string }).token;
const hotToken = await tokenFor(crypto.randomUUID());
const auth = { authorization: `Bearer ${hotToken}` };
const coldTokens = await Promise.all(Array.from({ length: 300 }, () => tokenFor(crypto.randomUUID())));

const rows: Array<[string, { cpu: number; min: number; mean: number; p50: number; p99: number }, number | null]> = [];
rows.push(['no-op route (reference)', await sequential('/bench/noop', SEQUENTIAL), await concurrent('/bench/noop')]);
rows.push(['verify JWT only (HS256)', await sequential('/bench/verify', SEQUENTIAL, () => auth), await concurrent('/bench/verify', auth)]);
rows.push(['requireUser: verify + revocation check', await sequential('/bench/guard', SEQUENTIAL, () => auth), await concurrent('/bench/guard', auth)]);
rows.push(['requireUser, first request of a user (new object)', await sequential('/bench/guard', coldTokens.length, (i) => ({ authorization: `Bearer ${coldTokens[i]}` }), 'GET', false), null]);
const hash = await sequential('/bench/hash', HASHES, () => ({}), 'POST');
rows.push([`Argon2id m=19456 t=2 p=1, one hash`, hash, null]);
await worker.dispose();

const noopCpu = rows[0][1].cpu;
const f = (n: number) => n.toFixed(2).padStart(8);
const intro = `\`npm run bench:auth\`: authentication cost inside workerd (${SEQUENTIAL} sequential requests per row; ${CONCURRENCY} connections for ${CONCURRENT_MS / 1000} s).`;
console.log(`\n${intro}\n`);
const report = new BenchReport('auth', 'Tokens, revocation and Argon2id', 'markdown');
report.log(`| what | workerd CPU ms/request | over no-op CPU ms | latency min ms | p50 ms | p99 ms | req/s at ${CONCURRENCY} conn. |`);
report.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, s, rps] of rows) {
  report.log(`| ${name} | ${f(s.cpu)} | ${f(s.cpu - noopCpu)} | ${f(s.min)} | ${f(s.p50)} | ${f(s.p99)} | ${rps === null ? '-' : rps.toFixed(0)} |`);
}
const [, verify, guard] = rows.map((r) => r[1]);
report.log('');
report.log(`revocation check (requireUser minus verify only): ${(guard.cpu - verify.cpu).toFixed(3)} ms CPU, ${(guard.p50 - verify.p50).toFixed(2)} ms p50 latency`);
report.log(`Argon2id, one hash: ${(hash.cpu - noopCpu).toFixed(1)} ms CPU in workerd (latency min ${hash.min.toFixed(1)} ms)`);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores`);
report.record(intro);
process.exit(0);
