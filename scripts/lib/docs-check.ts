// The docs check (test/unit/docs.test.ts): relative links in README.md and docs/*.md that point
// nowhere (a file, or an #anchor by GitHub's rules), docs/*.md the README does not link, documented `npm run X` scripts that
// package.json does not have, and variables or bindings (wrangler.toml, and the Env interface of
// src/env.ts for secrets and optional variables) missing from the README's configuration table.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import GithubSlugger from "github-slugger";

export interface Doc {
  /** Path relative to the repository root, e.g. "docs/inventory.md". */
  path: string;
  text: string;
}

/** README.md, docs/*.md and client/README.md of the repository at `root`. */
export function readDocs(root: string): Doc[] {
  const docs = readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`);
  return ["README.md", ...docs, "client/README.md"]
    .filter((p) => existsSync(join(root, p)))
    .map((path) => ({ path, text: readFileSync(join(root, path), "utf8") }));
}

/** The text without fenced code blocks and inline code spans (links there are not links). */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** The anchors GitHub makes for a markdown file: one per heading (deduplicated -1, -2, …), plus explicit ids. */
export function anchorsOf(text: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const withoutCode = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const m of withoutCode.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    // GitHub slugs the rendered text: link targets, code ticks and emphasis marks are gone.
    const rendered = m[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/`/g, "").replace(/<[^>]+>/g, "");
    anchors.add(slugger.slug(rendered));
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  return anchors;
}

/** Problems with the relative links of `docs` ("README.md: [x](docs/nope.md) points nowhere"). */
export function linkProblems(root: string, docs: Doc[]): string[] {
  const problems: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    if (!anchorCache.has(file)) anchorCache.set(file, anchorsOf(readFileSync(file, "utf8")));
    return anchorCache.get(file)!;
  };
  for (const doc of docs) {
    const here = dirname(join(root, doc.path));
    // A link whose target never closes on its line is no link at all, so the check below would not see it.
    for (const [i, line] of prose(doc.text).split("\n").entries()) {
      for (const m of line.matchAll(/\]\(/g)) {
        if (!line.slice(m.index + 2).includes(")")) problems.push(`${doc.path}:${i + 1}: a link target opened with "](" never closes on its line`);
      }
    }
    for (const m of prose(doc.text).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
      if (pathPart.startsWith("/")) {
        problems.push(`${doc.path}: ${m[0]} is absolute; on GitHub it leaves the repository (use a relative path)`);
        continue;
      }
      const file = pathPart ? resolve(here, decodeURIComponent(pathPart)) : join(root, doc.path);
      if (!file.startsWith(resolve(root)) || !existsSync(file)) {
        problems.push(`${doc.path}: ${m[0]} points nowhere (${relative(root, file)} does not exist)`);
        continue;
      }
      if (anchor === undefined) continue;
      if (statSync(file).isDirectory() || !file.endsWith(".md")) {
        problems.push(`${doc.path}: ${m[0]} has an anchor into a file that is not markdown`);
      } else if (!anchors(file).has(decodeURIComponent(anchor).toLowerCase())) {
        problems.push(`${doc.path}: ${m[0]} points at #${anchor}, which ${relative(root, file)} has no heading for`);
      }
    }
  }
  return problems;
}

/** docs/*.md files that README.md never links to: an area nobody can find from the index. */
export function orphanProblems(docs: Doc[]): string[] {
  const readme = docs.find((d) => d.path === "README.md")?.text ?? "";
  const linked = new Set([...prose(readme).matchAll(/\]\(\s*<?([^)\s>#]+)/g)].map((m) => m[1].replace(/^\.\//, "")));
  return docs.filter((d) => d.path.startsWith("docs/") && !linked.has(d.path)).map((d) => `README.md does not link ${d.path} (add it to the index under "Docs")`);
}

/** Documented `npm run X` whose X is not a script of package.json. */
export function scriptProblems(docs: Doc[], scripts: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const doc of docs) {
    // A name cut short by "…" (`npm run bench:…`) stands for a family of scripts, not one.
    for (const m of doc.text.matchAll(/\bnpm run ([a-z0-9][\w:.-]*)(?![\w:.…*-])/gi)) {
      const name = m[1].replace(/[.:]+$/, "");
      if (!(name in scripts)) problems.push(`${doc.path}: \`npm run ${name}\` is not a script in package.json`);
    }
  }
  return problems;
}

export interface WranglerNames {
  vars: string[];
  bindings: string[];
}

/** The variables and binding names a wrangler config (as wrangler's unstable_readConfig returns it) declares. */
export function wranglerNames(config: any): WranglerNames {
  const names = (list: any[] | undefined, key: string) => (list ?? []).map((b) => b[key]).filter(Boolean) as string[];
  return {
    vars: Object.keys(config.vars ?? {}),
    bindings: [
      ...names(config.durable_objects?.bindings, "name"),
      ...names(config.queues?.producers, "binding"),
      ...names(config.ratelimits, "name"),
      ...names(config.analytics_engine_datasets, "binding"),
      ...names(config.send_email, "name"),
      ...names(config.kv_namespaces, "binding"),
      ...names(config.r2_buckets, "binding"),
      ...names(config.d1_databases, "binding"),
      ...names(config.services, "binding"),
      ...names(config.workflows, "binding"),
      ...(config.assets?.binding ? [config.assets.binding] : []),
    ],
  };
}

/** The properties the `Env` interface of src/env.ts adds by hand (secrets, optional and local-only variables). */
export function envInterfaceNames(source: string): string[] {
  const body = /export interface Env\b[^{]*\{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
  return [...body.matchAll(/^\s+([A-Z][A-Z0-9_]*)\??:/gm)].map((m) => m[1]);
}

/** Names written in backticks in the table rows of the README section whose heading starts with "Configuration". */
export function configurationTableNames(readme: string): Set<string> {
  const section = /^## Configuration[^\n]*\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1] ?? "";
  const names = new Set<string>();
  for (const line of section.split("\n").filter((l) => l.trimStart().startsWith("|"))) {
    for (const m of line.matchAll(/`([A-Za-z0-9_-]+)`/g)) names.add(m[1]);
  }
  return names;
}

export function configurationProblems(readme: string, expected: string[]): string[] {
  const table = configurationTableNames(readme);
  return [...new Set(expected)].filter((n) => !table.has(n)).map((n) => `README.md: \`${n}\` is missing from the configuration table`);
}
