// The import graph of the tree and the layout rules checked on it (test/unit/architecture.test.ts).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

export interface Edge {
  /** A repository-relative path for a local file, else the package specifier. */
  to: string;
  local: boolean;
  /** `import type`, `export type … from`, or every named binding marked `type`: erased at build time. */
  typeOnly: boolean;
}
export type ImportGraph = Map<string, Edge[]>;

const SKIP = new Set(["node_modules", ".git", ".wrangler", "dist"]);

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.(ts|mts)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

function resolveLocal(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(js|mjs)$/, "");
  for (const c of [base, `${stem}.ts`, `${stem}.mts`, join(base, "index.ts")]) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

function typeOnlyImport(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    return !!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly);
  }
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const named = clause.namedBindings;
  return !!named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
}

/** Every static import and re-export (and `import("…")` types and calls) of the .ts files under `dirs`. */
export function importGraph(root: string, dirs: string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of dirs.flatMap((d) => sources(join(root, d)))) {
    const text = readFileSync(file, "utf8");
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const edges: Edge[] = [];
    const add = (spec: string, typeOnly: boolean) => {
      if (spec.startsWith(".")) {
        const target = resolveLocal(file, spec);
        if (target) edges.push({ to: relative(root, target), local: true, typeOnly });
      } else {
        edges.push({ to: spec, local: false, typeOnly });
      }
    };
    const visit = (node: ts.Node) => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, typeOnlyImport(node));
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        add(node.argument.literal.text, true);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
        add(node.arguments[0].text, false);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    graph.set(relative(root, file), edges);
  }
  return graph;
}

/** Each import cycle once, as the path around it (first file repeated at the end). */
export function findCycles(graph: ImportGraph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const e of graph.get(v) ?? []) {
      if (!e.local || !graph.has(e.to)) continue;
      if (!idx.has(e.to)) {
        strong(e.to);
        low.set(v, Math.min(low.get(v)!, low.get(e.to)!));
      } else if (onStack.has(e.to)) {
        low.set(v, Math.min(low.get(v)!, idx.get(e.to)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) components.push(c);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  // One concrete loop per component, from its first file in sorted order.
  return components.map((c) => {
    const members = new Set(c);
    const start = [...c].sort()[0];
    const path = [start];
    const seen = new Set([start]);
    const walk = (v: string): boolean => {
      for (const e of graph.get(v) ?? []) {
        if (!members.has(e.to)) continue;
        if (e.to === start) return path.push(start), true;
        if (seen.has(e.to)) continue;
        seen.add(e.to);
        path.push(e.to);
        if (walk(e.to)) return true;
        path.pop();
      }
      return false;
    };
    walk(start);
    return path;
  });
}

/** `durable-objects/<name>/…` → `<name>`; the shared socket helpers and the class index belong to no object. */
function objectOf(path: string): string | null {
  const m = /^durable-objects\/([^/]+)\//.exec(path);
  return m && m[1] !== "shared" ? m[1] : null;
}
const PUBLIC_FACES = /\/(contract|client)\.ts$/;
/** Test code and benchmarks may reach inside an object (unit tests of its logic, a bench subclass). */
const EXEMPT = /^(test|bench)\//;

export function boundaryProblems(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [file, edges] of graph) {
    if (EXEMPT.test(file)) continue;
    for (const e of edges) {
      const target = e.local ? objectOf(e.to) : null;
      if (!target || objectOf(file) === target || PUBLIC_FACES.test(e.to)) continue;
      // The class index re-exports every object class for src/index.ts and wrangler.toml.
      if (file === "durable-objects/index.ts" && /(^|\/|-)object\.ts$/.test(e.to)) continue;
      out.push(`${file} imports ${e.to}`);
    }
  }
  return out.sort();
}

export function contractProblems(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [file, edges] of graph) {
    if (!/^durable-objects\/.*\/contract\.ts$/.test(file)) continue;
    for (const e of edges) if (e.local) out.push(`${file} imports ${e.to}`);
  }
  return out.sort();
}

export function postgresInObjects(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [file, edges] of graph) {
    if (!file.startsWith("durable-objects/")) continue;
    for (const e of edges) {
      if (e.local ? e.to.startsWith("src/db/") : /^(drizzle-orm|@neondatabase\/)/.test(e.to)) out.push(`${file} imports ${e.to}`);
    }
  }
  return out.sort();
}

/** Every local file and package that `entry` pulls in at run time (type-only imports are erased). */
export function runtimeImportsOf(graph: ImportGraph, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    for (const e of graph.get(file) ?? []) {
      if (e.typeOnly || seen.has(e.to)) continue;
      seen.add(e.to);
      if (e.local) visit(e.to);
    }
  };
  visit(entry);
  return seen;
}
