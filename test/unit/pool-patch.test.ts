import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { patchVitestPoolWorkers } from "../../scripts/patch-vitest-pool-workers.mjs";

// The wrapper of @cloudflare/vitest-pool-workers 0.15.1 (dist/worker/lib/cloudflare/test-internal.mjs)
// as shipped, made importable: what the patch must change, and must keep working.
const SHIPPED = `const IGNORED_KEYS = ["self"];
function createProxyPrototypeClass(superClass, getUnknownPrototypeKey) {
\tfunction Class(...args) {
\t\tClass.prototype = new Proxy(Class.prototype, { get(target, key, receiver) {
\t\t\tconst value = Reflect.get(target, key, receiver);
\t\t\tif (value !== void 0) return value;
\t\t\tif (typeof key === "symbol" || IGNORED_KEYS.includes(key)) return;
\t\t\treturn getUnknownPrototypeKey.call(receiver, key);
\t\t} });
\t\treturn Reflect.construct(superClass, args, Class);
\t}
\tReflect.setPrototypeOf(Class.prototype, superClass.prototype);
\tReflect.setPrototypeOf(Class, superClass);
\treturn Class;
}
export { createProxyPrototypeClass };
`;

function fakeInstall(version: string, source: string): { root: string; file: string } {
  const root = mkdtempSync(join(tmpdir(), "pool-patch-"));
  const dir = join(root, "node_modules/@cloudflare/vitest-pool-workers");
  mkdirSync(join(dir, "dist/worker/lib/cloudflare"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "@cloudflare/vitest-pool-workers", version }));
  const file = join(dir, "dist/worker/lib/cloudflare/test-internal.mjs");
  writeFileSync(file, source);
  return { root, file };
}

/**
 * How many Proxy layers one read of an unknown key runs through after `n` constructions: each layer
 * whose inner read answered undefined asks `getUnknownPrototypeKey`, so a key it does not know
 * (answers undefined) is asked about once per layer.
 */
async function trapsPerRead(file: string, n: number): Promise<number> {
  const { createProxyPrototypeClass } = await import(`${pathToFileURL(file).href}?v=${Math.random()}`);
  let calls = 0;
  class Base {
    known() {
      return "known";
    }
  }
  const Class = createProxyPrototypeClass(Base, function (this: unknown, key: string) {
    calls++;
    return key === "someRpcMethod" ? `unknown:${key}` : undefined;
  });
  let instance: any;
  for (let i = 0; i < n; i++) instance = new Class();
  expect(instance.known()).toBe("known");
  expect(instance.self).toBeUndefined();
  expect(instance.someRpcMethod).toBe("unknown:someRpcMethod");
  calls = 0;
  expect(instance.notAnRpcMethod).toBeUndefined();
  return calls;
}

describe("the vitest-pool-workers patch (cloudflare/workers-sdk#15092)", () => {
  it("installs the wrapper's Proxy once, so a read costs the same after many constructions", async () => {
    const { root, file } = fakeInstall("0.15.1", SHIPPED);
    // As shipped, every construction adds a layer: 50 instances, 50 traps answering one read.
    expect(await trapsPerRead(file, 50)).toBe(50);
    expect(patchVitestPoolWorkers(root)).toBe("patched");
    expect(await trapsPerRead(file, 50)).toBe(1);
    expect(patchVitestPoolWorkers(root)).toBe("already");
  });

  it("fails loudly when the pinned version no longer has the code it patches, and leaves other versions alone", () => {
    expect(() => patchVitestPoolWorkers(fakeInstall("0.15.1", "export {};\n").root)).toThrow(/15092/);
    expect(patchVitestPoolWorkers(fakeInstall("0.23.0", "export {};\n").root)).toBe("fixed-upstream");
  });

  it("is applied to the installed pool", () => {
    const repo = fileURLToPath(new URL("../..", import.meta.url));
    expect(patchVitestPoolWorkers(repo)).toBe("already");
    const installed = readFileSync(join(repo, "node_modules/@cloudflare/vitest-pool-workers/dist/worker/lib/cloudflare/test-internal.mjs"), "utf8");
    expect(installed).toContain("if (!proxyInstalled)");
  });
});
