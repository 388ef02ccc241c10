// `npm run examples`: starts a throwaway dev stack (fresh in-memory Postgres and Worker state, the
// demo data of `npm run dev`), runs the three scripts of examples/ against it, and exits non-zero
// when any of them fails. The seat-map watcher runs while the buyer holds and books, so it has
// changes to print. With EVENTLY_URL set it uses that running stack instead of starting one.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startDevStack } from "./lib/dev-stack";
import { freePort } from "./lib/local-db";
import { seedDemoData } from "./lib/seed";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSX = `${ROOT}/node_modules/tsx/dist/cli.mjs`;

/** Runs examples/<name>.ts with its output prefixed; resolves with whether it exited 0 in time. */
function run(name: string, url: string, env: Record<string, string> = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [TSX, `examples/${name}.ts`], { cwd: ROOT, env: { ...process.env, ...env, EVENTLY_URL: url } });
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", (d: Buffer) => process.stdout.write(d.toString().replace(/^(?=.)/gm, `[${name}] `)));
    }
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const ok = code === 0;
      console.log(`[${name}] ${ok ? "ok" : `FAILED (${signal ?? `exit ${code}`})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve(ok);
    });
  });
}

const own = process.env.EVENTLY_URL
  ? undefined
  : await startDevStack({ port: await freePort(), forceEmbedded: true, embeddedDataDir: null, persistState: false, wranglerOutput: "ignore", cronEveryMs: 0 });
let results: boolean[] = [];
try {
  const url = process.env.EVENTLY_URL ?? own!.url;
  if (own) await seedDemoData(url, own.database.url);
  const watching = run("watch-seat-map", url, { WATCH_SECONDS: "8" });
  // Give the watcher its snapshot first, so the hold and the booking show as changes.
  await new Promise((r) => setTimeout(r, 3_000));
  // organizer-publish once got a bare 503 from wrangler's dev proxy on its first request (not the
  // app's error shape; the stack had just served the other two): a failed run gets one more try,
  // and says so, so a real failure still fails twice.
  const publish = async () => (await run("organizer-publish", url)) || (console.log("[organizer-publish] retrying once"), await run("organizer-publish", url));
  results = [await run("hold-best-seats", url), await watching, await publish()];
} finally {
  await own?.stop();
}
const failed = results.filter((ok) => !ok).length;
console.log(`examples: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed || results.length !== 3 ? 1 : 0);
