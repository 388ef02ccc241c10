/**
 * Benchmarks write their own tables into docs/benchmarks.md, so no figure in the docs is typed by
 * hand. Each benchmark owns one section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`;
 * writing replaces only that section and stamps it with the date, the load average and the core
 * count. Smoke runs (tiny sizes, CI) pass `record: false` and leave the file alone.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";

export const BENCHMARKS_DOC = fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url));

const HEADER = `# Benchmarks

Every table below is written by the benchmark named in its heading (\`npm run bench:…\`), with the
date, the load average and the machine's core count at the end of the run. Take figures on a quiet
machine: nothing else running beside the benchmark. Do not edit the tables by hand; run the
benchmark again.
`;

/** The load average as the benchmarks print it: "1.02 0.87 0.55". */
export function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(" ");
}

/** Replaces (or appends) the section `name` of docs/benchmarks.md with `markdown`, stamped. */
export function recordBenchmark(name: string, title: string, markdown: string, opts: { file?: string; now?: Date } = {}): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`benchmark section name must be kebab-case, got ${JSON.stringify(name)}`);
  const file = opts.file ?? BENCHMARKS_DOC;
  const now = opts.now ?? new Date();
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const stamp = `_Written by \`npm run bench:${name}\` on ${now.toISOString().slice(0, 16).replace("T", " ")} UTC; load average ${loadAverage()} on ${cpus().length} cores._`;
  const section = `${open}\n## ${title}\n\n${markdown.trim()}\n\n${stamp}\n${close}`;
  const before = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const start = before.indexOf(open);
  const end = before.indexOf(close);
  const after =
    start >= 0 && end > start
      ? before.slice(0, start) + section + before.slice(end + close.length)
      : `${before.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, after);
  return file;
}

/** A markdown table from a header row and rows of cells. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
