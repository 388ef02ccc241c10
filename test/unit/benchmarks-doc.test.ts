import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BENCHMARKS_DOC, BenchReport, markdownTable, recordBenchmark, recording } from "../../bench/lib/benchmarks-doc";

describe("docs/benchmarks.md sections written by the benchmarks", () => {
  const file = () => join(mkdtempSync(join(tmpdir(), "bench-doc-")), "benchmarks.md");

  it("creates the file with its header, then replaces only the named section", () => {
    const f = file();
    const now = new Date("2026-11-27T10:00:00Z");
    recordBenchmark("holds", "Holds", markdownTable(["workload", "holds/s"], [["socket", 600]]), { file: f, now });
    recordBenchmark("onsale", "On-sale", "first", { file: f, now });
    recordBenchmark("holds", "Holds", markdownTable(["workload", "holds/s"], [["socket", 700]]), { file: f, now });
    const text = readFileSync(f, "utf8");
    expect(text.startsWith("# Benchmarks")).toBe(true);
    expect(text).toContain("| socket | 700 |");
    expect(text).not.toContain("| socket | 600 |");
    expect(text.match(/<!-- bench:holds -->/g)).toHaveLength(1);
    expect(text).toContain("first");
    expect(text).toMatch(/on 2026-11-27 10:00 UTC; load average [\d.]+ [\d.]+ [\d.]+ on \d+ cores/);
    expect(text.indexOf("bench:holds")).toBeLessThan(text.indexOf("bench:onsale"));
  });

  it("keeps hand-written text outside the sections", () => {
    const f = file();
    writeFileSync(f, "# Benchmarks\n\nIntro by hand.\n");
    recordBenchmark("fanout", "Fan-out", "table", { file: f });
    expect(readFileSync(f, "utf8")).toMatch(/^# Benchmarks\n\nIntro by hand.\n\n<!-- bench:fanout -->/);
  });

  it("refuses a section name that could break the markers", () => {
    expect(() => recordBenchmark("a -->", "x", "y", { file: file() })).toThrow(/kebab-case/);
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("does not record when BENCH_RECORD=0, as bench:smoke runs", () => {
    expect(recording({})).toBe(true);
    expect(recording({ BENCH_RECORD: "0" })).toBe(false);
    vi.stubEnv("BENCH_RECORD", "0");
    const before = readFileSync(BENCHMARKS_DOC, "utf8");
    expect(recordBenchmark("holds", "Holds", "smoke figures")).toBeNull();
    expect(readFileSync(BENCHMARKS_DOC, "utf8")).toBe(before);
  });

  it("records what a report printed, verbatim, in a preformatted block", () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const f = file();
    const report = new BenchReport("auth", "Tokens and passwords");
    report.log("what        ms");
    report.log("verify    0.12\nargon2id  160.0");
    expect(report.record("BENCH_N=200.", { file: f })).toBe(f);
    expect(readFileSync(f, "utf8")).toContain("## Tokens and passwords\n\nBENCH_N=200.\n\n```text\nwhat        ms\nverify    0.12\nargon2id  160.0\n```\n");
  });

  it("has a section, under the same title, for every benchmark that records one (so links to it hold)", () => {
    const benchDir = new URL("../../bench/", import.meta.url);
    const reports = readdirSync(benchDir)
      .filter((f) => f.endsWith(".ts"))
      .flatMap((f) => [...readFileSync(new URL(f, benchDir), "utf8").matchAll(/new BenchReport\(\s*["']([a-z0-9-]+)["'],\s*["']([^"']+)["']/g)]);
    expect(reports.map((m) => m[1])).toEqual(expect.arrayContaining(["analytics", "auth", "fanout", "holds", "holds-cost", "listing"]));
    const doc = readFileSync(BENCHMARKS_DOC, "utf8");
    for (const [, name, title] of reports) expect(doc).toContain(`<!-- bench:${name} -->\n## ${title}\n`);
  });
});
