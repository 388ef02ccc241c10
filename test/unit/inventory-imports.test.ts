import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "../../durable-objects");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Module specifiers of every import and re-export in a file. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]);
}

describe("the Durable Objects never talk to Postgres", () => {
  it("no file under durable-objects/ imports src/db, drizzle-orm or the Neon driver", () => {
    const files = sources(root);
    expect(files.length).toBeGreaterThan(10);
    const offending = files.flatMap((f) =>
      importsOf(readFileSync(f, "utf8"))
        .filter((spec) => /(^|\/)src\/db(\/|$)|^drizzle-orm|^@neondatabase\//.test(spec))
        .map((spec) => `${relative(root, f)} imports ${spec}`),
    );
    expect(offending).toEqual([]);
  });
});
