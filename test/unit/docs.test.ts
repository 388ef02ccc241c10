import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import {
  anchorsOf,
  configurationProblems,
  envInterfaceNames,
  linkProblems,
  orphanProblems,
  readDocs,
  scriptProblems,
  wranglerNames,
} from "../../scripts/lib/docs-check";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");

describe("the docs", () => {
  const docs = readDocs(ROOT);

  it("have no relative link that points nowhere (files and #anchors)", () => {
    expect(docs.map((d) => d.path)).toContain("README.md");
    expect(linkProblems(ROOT, docs)).toEqual([]);
  });

  it("are all reachable from the README's index", () => {
    expect(orphanProblems(docs)).toEqual([]);
  });

  it("mention only `npm run` scripts that package.json has", () => {
    expect(scriptProblems(docs, JSON.parse(read("package.json")).scripts)).toEqual([]);
  });

  it("list every variable and binding of wrangler.toml, and every secret of src/env.ts, in the README's configuration table", () => {
    const { vars, bindings } = wranglerNames(unstable_readConfig({ config: join(ROOT, "wrangler.toml") }));
    expect(bindings).toContain("REFRESH_LIMITER");
    const secrets = envInterfaceNames(read("src/env.ts"));
    expect(secrets).toContain("JWT_SECRET");
    expect(configurationProblems(read("README.md"), [...vars, ...bindings, ...secrets])).toEqual([]);
  });

  it("keep the README a ten-minute read (at most 12 KB)", () => {
    expect(Buffer.byteLength(read("README.md"))).toBeLessThanOrEqual(12 * 1024);
  });
});

// The checks above must be able to fail: each kind of problem, on a tiny repository of its own.
describe("the docs check", () => {
  function repo(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), "docs-check-"));
    mkdirSync(join(root, "docs"));
    for (const [path, text] of Object.entries(files)) writeFileSync(join(root, path), text);
    return root;
  }

  it("makes anchors the way GitHub does", () => {
    const anchors = anchorsOf("# Seat inventory\n## Holds over the socket (`live-holds.ts`)\n## FAQ\n## FAQ\n```\n# not a heading\n```\n<a id=\"custom\"></a>");
    expect([...anchors]).toEqual(["seat-inventory", "holds-over-the-socket-live-holdsts", "faq", "faq-1", "custom"]);
  });

  it("finds a missing file, a missing anchor and an absolute link, and ignores code and URLs", () => {
    const root = repo({
      "README.md": "See [a](docs/a.md#holds), [b](docs/b.md), [c](docs/a.md#nope), [d](/docs/a.md), [e](#run-it), [f](https://example.com/x), `[g](nowhere.md)`\n\n## Run it\n",
      "docs/a.md": "# A\n## Holds\nBack to the [readme](../README.md#run-it) and [nowhere](../README.md#gone).\n```\n[h](missing.md)\n```\n",
    });
    const problems = linkProblems(root, readDocs(root));
    expect(problems).toHaveLength(4);
    expect(problems.join("\n")).toMatch(/README.md: \[b\]\(docs\/b.md\) points nowhere/);
    expect(problems.join("\n")).toMatch(/README.md: \[c\]\(docs\/a.md#nope\) points at #nope/);
    expect(problems.join("\n")).toMatch(/README.md: \[d\]\(\/docs\/a.md\) is absolute/);
    expect(problems.join("\n")).toMatch(/docs\/a.md: \[nowhere\]\(..\/README.md#gone\)/);
  });

  it("finds a link whose target never closes (a table row cut after `](`)", () => {
    const root = repo({
      "README.md": "| area | file |\n|---|---|\n| benchmarks | [docs/a.md](docs/a.md\n| more | [docs/a.md](docs/a.md) |\n",
      "docs/a.md": "# A\n",
    });
    expect(linkProblems(root, readDocs(root))).toEqual(['README.md:3: a link target opened with "](" never closes on its line']);
  });

  it("finds a file in docs/ that the README does not link", () => {
    const docs = [
      { path: "README.md", text: "[a](docs/a.md) and [b](./docs/b.md#x) but `[c](docs/c.md)` is code" },
      { path: "docs/a.md", text: "" },
      { path: "docs/b.md", text: "" },
      { path: "docs/c.md", text: "" },
    ];
    expect(orphanProblems(docs)).toEqual(['README.md does not link docs/c.md (add it to the index under "Docs")']);
  });

  it("finds a documented npm script that does not exist", () => {
    const docs = [{ path: "README.md", text: "Run `npm run dev`, then `npm run bench:holds`. Or npm run nope. Any `npm run bench:…` too." }];
    expect(scriptProblems(docs, { dev: "x", "bench:holds": "y", nope: "z" })).toEqual([]);
    expect(scriptProblems(docs, { dev: "x" })).toEqual(["README.md: `npm run bench:holds` is not a script in package.json", "README.md: `npm run nope` is not a script in package.json"]);
  });

  it("finds a variable or binding missing from the configuration table, and only that table counts", () => {
    const readme = "## Configuration\n\n| name | meaning |\n|---|---|\n| `RATE_LIMITS` | on/off |\n| `HOLD_LIMITER`, `EMAIL` | bindings |\n\n## API\n\n| `REFRESH_LIMITER` | not the config table |\n";
    const names = wranglerNames({ vars: { RATE_LIMITS: "on" }, ratelimits: [{ name: "HOLD_LIMITER" }, { name: "REFRESH_LIMITER" }], send_email: [{ name: "EMAIL" }] });
    expect(names).toEqual({ vars: ["RATE_LIMITS"], bindings: ["HOLD_LIMITER", "REFRESH_LIMITER", "EMAIL"] });
    expect(configurationProblems(readme, [...names.vars, ...names.bindings])).toEqual(["README.md: `REFRESH_LIMITER` is missing from the configuration table"]);
  });

  it("reads the hand-written names of the Env interface", () => {
    expect(envInterfaceNames("export interface Env extends Cloudflare.Env {\n  JWT_SECRET: string;\n  /** doc */\n  DB_WS_PROXY?: string;\n}\nconst x = { NOT_THIS: 1 };")).toEqual(["JWT_SECRET", "DB_WS_PROXY"]);
  });
});
