import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** Every module a file pulls in at run time (type-only imports are erased), followed through local files. */
function runtimeImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+"([^"]+)"/gms)) {
      const spec = m[1];
      if (!spec.startsWith(".")) {
        seen.add(spec);
        continue;
      }
      visit(resolve(dirname(file), spec).replace(/\.js$/, "").replace(/(\.ts)?$/, ".ts"));
    }
  };
  visit(resolve(entry));
  return seen;
}

describe("the live socket's hold module", () => {
  it("verifies tokens without pulling Postgres or drizzle into the inventory object", () => {
    const imports = [...runtimeImports("durable-objects/live-holds.ts")];
    expect(imports.some((f) => f.endsWith("src/auth/tokens.ts"))).toBe(true);
    expect(imports.filter((f) => f.includes("/src/db/") || f.startsWith("drizzle-orm") || f.startsWith("@neondatabase"))).toEqual([]);
  });
});
