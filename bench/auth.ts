// npx tsx bench/auth.ts — what authentication costs per request inside workerd, and what one
// Argon2id hash costs. Runs the Worker directly (unstable_startWorker, no dev proxy) with rate
// limits off. workerd freezes its clocks during execution, so every figure is measured from here.
import { unstable_startWorker } from 'wrangler';

const SEQUENTIAL = Number(process.env.BENCH_N ?? 1500);
const CONCURRENCY = 32;
const CONCURRENT_MS = 3000;
const HASHES = 20;

const worker = await unstable_startWorker({
  // Its own small config: the Worker's routes and the UserSessions object, nothing else.
  config: 'bench/wrangler.auth.toml',
  bindings: {
    JWT_SECRET: { type: 'plain_text', value: 'bench-secret-0123456789abcdef0123456789abcdef' },
    DATABASE_URL: { type: 'plain_text', value: 'postgres://unused@127.0.0.1:1/none' },
  },
  dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: false, watch: false },
});
await worker.ready;
const base = (await worker.url).toString().replace(/\/$/, '');

async function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<void> {
  const res = await fetch(base + path, { method, headers });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function sequential(path: string, n: number, headersFor: (i: number) => Record<string, string> = () => ({}), method = 'GET') {
  for (let i = 0; i < Math.min(50, n); i++) await get(path, headersFor(i), method); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await get(path, headersFor(i), method);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { min: times[0], mean: times.reduce((a, b) => a + b, 0) / n, p50: pct(times, 50), p99: pct(times, 99) };
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

const rows: Array<[string, { min: number; mean: number; p50: number; p99: number }, number | null]> = [];
rows.push(['no-op route (reference)', await sequential('/bench/noop', SEQUENTIAL), await concurrent('/bench/noop')]);
rows.push(['verify JWT only (HS256)', await sequential('/bench/verify', SEQUENTIAL, () => auth), await concurrent('/bench/verify', auth)]);
rows.push(['requireUser: verify + revocation check', await sequential('/bench/guard', SEQUENTIAL, () => auth), await concurrent('/bench/guard', auth)]);
rows.push(['requireUser, first request of a user (new object)', await sequential('/bench/guard', coldTokens.length - 50, (i) => ({ authorization: `Bearer ${coldTokens[i]}` })), null]);
const hash = await sequential('/bench/hash', HASHES, () => ({}), 'POST');
rows.push([`Argon2id m=19456 t=2 p=1, one hash`, hash, null]);
await worker.dispose();

const noop = rows[0][1].mean;
const noopP50 = rows[0][1].p50;
const f = (n: number) => n.toFixed(2).padStart(8);
console.log(`\nAuthentication cost inside workerd (${SEQUENTIAL} sequential requests per row; ${CONCURRENCY} connections for ${CONCURRENT_MS / 1000} s)\n`);
console.log(`| what | min ms | p50 ms | mean ms | p99 ms | over no-op ms (p50) | req/s at ${CONCURRENCY} conn. |`);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, s, rps] of rows) {
  console.log(`| ${name} | ${f(s.min)} | ${f(s.p50)} | ${f(s.mean)} | ${f(s.p99)} | ${f(s.p50 - noopP50)} | ${rps === null ? '-' : rps.toFixed(0)} |`);
}
console.log(`\nrevocation check alone (requireUser minus verify): ${(rows[2][1].mean - rows[1][1].mean).toFixed(3)} ms mean, ${(rows[2][1].p50 - rows[1][1].p50).toFixed(3)} ms p50`);
console.log(`Argon2id CPU per hash (hash request minus no-op): ${(hash.min - rows[0][1].min).toFixed(1)} ms min, ${(hash.p50 - noopP50).toFixed(1)} ms p50, ${(hash.mean - noop).toFixed(1)} ms mean`);
console.log(`load average at the end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
process.exit(0);
