/**
 * Benchmarks write their own tables into docs/benchmarks.md, so no figure in the docs is typed by
 * hand. Each benchmark owns one section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`;
 * writing replaces only that section and stamps it with the date, the load average and the core
 * count. Smoke runs (`npm run bench:smoke`, tiny sizes, CI) set BENCH_RECORD=0 and leave the file
 * alone. A benchmark prints its report through a `BenchReport`, which keeps the lines it prints and
 * writes them as the benchmark's section at the end of a full run.
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

/** Whether this run writes docs/benchmarks.md: not when BENCH_RECORD=0 (bench:smoke sets it). */
export function recording(env: Record<string, string | undefined> = process.env): boolean {
  return env.BENCH_RECORD !== "0";
}

/**
 * Replaces (or appends) the section `name` of docs/benchmarks.md with `markdown`, stamped, and
 * returns the file written; null when the run does not record (BENCH_RECORD=0) and no file is named.
 */
export function recordBenchmark(name: string, title: string, markdown: string, opts: { file?: string; now?: Date } = {}): string | null {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`benchmark section name must be kebab-case, got ${JSON.stringify(name)}`);
  if (!opts.file && !recording()) return null;
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

/**
 * The report of one benchmark: `log` prints a line and keeps it; `record` writes the kept lines to
 * the benchmark's section of docs/benchmarks.md, unless the run does not record: as one
 * preformatted block (format "text": tables exactly as printed) or as they are (format "markdown":
 * the benchmark prints markdown tables).
 */
export class BenchReport {
  private readonly lines: string[] = [];

  constructor(
    readonly name: string,
    readonly title: string,
    readonly format: "text" | "markdown" = "text",
  ) {}

  log(line = ""): void {
    console.log(line);
    this.lines.push(...line.split("\n"));
  }

  /** The kept lines as markdown: `intro` (what was run, at what size), then the lines verbatim. */
  markdown(intro: string): string {
    const body = this.lines.join("\n").replace(/^\n+|\n+$/g, "");
    return this.format === "markdown" ? `${intro.trim()}\n\n${body}` : `${intro.trim()}\n\n\`\`\`text\n${body}\n\`\`\``;
  }

  record(intro: string, opts: { file?: string; now?: Date } = {}): string | null {
    const file = recordBenchmark(this.name, this.title, this.markdown(intro), opts);
    if (file) console.log(`\nrecorded in ${file} (section ${this.name})`);
    else console.log(`\nnot recorded (BENCH_RECORD=0)`);
    return file;
  }
}
