// A no-op Worker under `wrangler dev`, started exactly the way the dev stack starts the app (same
// wrangler, same flags, its own process group), so the soak can tell how much workerd's memory
// grows per request with none of our code in the path. The local runtime grows its RSS with every
// request whatever the Worker does; the soak's memory check compares the app against this.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stopGroup, waitForReady } from "./dev-stack";
import { workerdRss, workerdRssKb } from "./proc-memory";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface NoopReference {
  url: string;
  /** Summed VmRSS (KiB) of its workerd processes. */
  rssKb(): number;
  processes(): ReturnType<typeof workerdRss>;
  /** Sends `count` GET requests, `concurrency` at a time; resolves with how many answered 200. */
  drive(count: number, concurrency: number): Promise<{ ok: number; failed: number }>;
  stop(): Promise<void>;
}

export interface NoopReferenceOptions {
  port: number;
  /** A directory of its own (config, state, wrangler's temp files); the caller removes it. */
  dir: string;
  compatibilityDate: string;
  output: "ignore" | number;
  env?: NodeJS.ProcessEnv;
}

export async function startNoopReference(opts: NoopReferenceOptions): Promise<NoopReference> {
  mkdirSync(opts.dir, { recursive: true });
  writeFileSync(`${opts.dir}/index.js`, `export default { fetch() { return new Response("ok"); } };\n`);
  writeFileSync(`${opts.dir}/wrangler.toml`, `name = "evently-soak-noop"\nmain = "index.js"\ncompatibility_date = "${opts.compatibilityDate}"\n`);
  const args = [
    `${ROOT}/node_modules/wrangler/bin/wrangler.js`, "dev", "--ip", "127.0.0.1", "--port", String(opts.port), "--inspector-port", "0",
    "--persist-to", `${opts.dir}/state`,
  ];
  const child = spawn(process.execPath, args, {
    cwd: opts.dir,
    detached: true,
    stdio: ["ignore", opts.output, opts.output],
    env: { ...process.env, ...opts.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  const url = `http://127.0.0.1:${opts.port}`;
  const stop = () => stopGroup(child);
  try {
    await waitForReady(url, child, 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    rssKb: () => workerdRssKb(child.pid!),
    processes: () => workerdRss(child.pid!),
    async drive(count, concurrency) {
      let next = 0;
      let ok = 0;
      let failed = 0;
      const lane = async () => {
        while (next < count) {
          next++;
          try {
            const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(15_000) });
            await res.arrayBuffer();
            if (res.status === 200) ok++;
            else failed++;
          } catch {
            failed++;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
      return { ok, failed };
    },
    stop,
  };
}

