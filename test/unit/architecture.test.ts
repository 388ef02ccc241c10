// The house rules of the layout (docs/development.md#where-code-goes), checked on the real tree:
// no import cycles, each object reached from outside its folder only through contract.ts or
// client.ts, contracts that import nothing local, and no Postgres inside the objects.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { boundaryProblems, contractProblems, findCycles, importGraph, postgresInObjects, runtimeImportsOf } from "../../scripts/lib/architecture";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const graph = importGraph(ROOT, ["src", "durable-objects", "client", "scripts", "bench", "examples"]);

describe("the layout", () => {
  it("has no import cycle, type-only imports included", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(findCycles(graph).map((c) => c.join(" -> "))).toEqual([]);
  });

  it("reaches an object's folder from outside only through its contract.ts or client.ts", () => {
    expect(boundaryProblems(graph)).toEqual([]);
  });

  it("keeps every contract.ts free of local imports", () => {
    expect(contractProblems(graph)).toEqual([]);
  });

  it("keeps Postgres out of the Durable Objects (no src/db, drizzle-orm or Neon driver under durable-objects/)", () => {
    expect(postgresInObjects(graph)).toEqual([]);
  });

  it("lets the socket holds verify tokens without pulling Postgres or drizzle in at run time", () => {
    const imports = [...runtimeImportsOf(graph, "durable-objects/shared/socket-holds.ts")];
    expect(imports).toContain("src/auth/tokens.ts");
    expect(imports.filter((f) => f.startsWith("src/db/") || f.startsWith("drizzle-orm") || f.startsWith("@neondatabase"))).toEqual([]);
  });
});

// Each check must be able to fail: a tiny tree per kind of problem.
describe("the layout check", () => {
  function tree(files: Record<string, string>) {
    const root = mkdtempSync(join(tmpdir(), "arch-"));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, dirname(path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return importGraph(root, ["src", "durable-objects"]);
  }

  it("finds a cycle made of type-only imports", () => {
    const g = tree({ "src/a.ts": 'import type { B } from "./b";\nexport type A = 1;', "src/b.ts": 'import type { A } from "./a";\nexport type B = 2;' });
    expect(findCycles(g)).toEqual([["src/a.ts", "src/b.ts", "src/a.ts"]]);
  });

  it("finds an import of an object's internals from src/ and from another object", () => {
    const g = tree({
      "durable-objects/inventory/contract.ts": "export type X = 1;",
      "durable-objects/inventory/logic/rules.ts": "export const y = 1;",
      "durable-objects/relay/object.ts": 'import { y } from "../inventory/logic/rules";\nexport const z = y;',
      "src/routes/holds.ts": 'import type { X } from "../../durable-objects/inventory/contract";\nexport { y } from "../../durable-objects/inventory/logic/rules";',
    });
    expect(boundaryProblems(g)).toEqual([
      "durable-objects/relay/object.ts imports durable-objects/inventory/logic/rules.ts",
      "src/routes/holds.ts imports durable-objects/inventory/logic/rules.ts",
    ]);
  });

  it("finds a contract that imports a local file, and Postgres inside an object", () => {
    const g = tree({
      "durable-objects/inventory/contract.ts": 'import type { Env } from "../../src/env";\nimport { z } from "zod";',
      "durable-objects/inventory/object.ts": 'import { eq } from "drizzle-orm";\nimport { createDb } from "../../src/db/client";',
      "src/env.ts": "export type Env = {};",
      "src/db/client.ts": "export const createDb = 1;",
    });
    expect(contractProblems(g)).toEqual(["durable-objects/inventory/contract.ts imports src/env.ts"]);
    expect(postgresInObjects(g)).toEqual(["durable-objects/inventory/object.ts imports drizzle-orm", "durable-objects/inventory/object.ts imports src/db/client.ts"]);
  });
});
