// Patches @cloudflare/vitest-pool-workers 0.15.1 (pinned: ../shared/LOCAL-STACK.md) for
// cloudflare/workers-sdk#15092, fixed upstream by #15106 in a later release: the wrapper class of
// every Worker entrypoint and Durable Object wrapped its prototype in one more Proxy each time it
// was constructed, i.e. once per `exports.default.fetch` and per object instance. Property reads
// then ran through N nested traps, so a test file's requests got slower the more it had made
// (100 requests: 0.3 s fresh, 5.3 s after 300 more; flat at 0.1 s with this patch).
// The patch installs the Proxy once per class, as #15106 does. Idempotent; runs at `npm install`
// (postinstall) and again from vitest.config.ts. It fails loudly if the pinned file changed shape.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const UNPATCHED = "\tfunction Class(...args) {\n\t\tClass.prototype = new Proxy(Class.prototype, { get(target, key, receiver) {";
const PATCHED =
  "\tlet proxyInstalled = false; // evently: cloudflare/workers-sdk#15092, install the Proxy once\n" +
  "\tfunction Class(...args) {\n\t\tif (!proxyInstalled) proxyInstalled = true, Class.prototype = new Proxy(Class.prototype, { get(target, key, receiver) {";

/** Applies the patch under `root` if needed; answers what it found ("patched", "already", "fixed-upstream", or "absent": no pool installed). */
export function patchVitestPoolWorkers(root = process.cwd()) {
  // Its package.json is not in its exports map: found by path (a direct devDependency, hoisted).
  const pkgJson = join(root, "node_modules/@cloudflare/vitest-pool-workers/package.json");
  if (!existsSync(pkgJson)) return "absent";
  const file = join(dirname(pkgJson), "dist/worker/lib/cloudflare/test-internal.mjs");
  const text = readFileSync(file, "utf8");
  if (text.includes("proxyInstalled")) return "already";
  if (text.includes(UNPATCHED)) {
    writeFileSync(file, text.replace(UNPATCHED, PATCHED));
    return "patched";
  }
  const version = JSON.parse(readFileSync(pkgJson, "utf8")).version;
  if (version === "0.15.1") throw new Error(`${file}: the code patched for cloudflare/workers-sdk#15092 was not found; see scripts/patch-vitest-pool-workers.mjs`);
  // Another version: createProxyPrototypeClass changed (upstream fixed it in #15106); nothing to do.
  return "fixed-upstream";
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outcome = patchVitestPoolWorkers();
  if (outcome === "patched") console.log("patched @cloudflare/vitest-pool-workers for cloudflare/workers-sdk#15092 (scripts/patch-vitest-pool-workers.mjs)");
}
