import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { removeOldSoakFiles, scratchName } from "../../scripts/lib/soak-files";
import { memoryCheck } from "../../scripts/lib/soak-memory";

const MiB = 1024;

describe("the soak's memory check", () => {
  it("passes an app whose RSS doubles when a no-op Worker grows as much per request over the same requests", () => {
    const row = memoryCheck({ warmKb: 300 * MiB, afterKb: 600 * MiB, requests: 10_000 }, { warmKb: 150 * MiB, afterKb: 420 * MiB, requests: 10_000 });
    expect(row.ok).toBe(true);
    expect(row.evidence).toContain("app VmRSS 300 -> 600 MiB (+300 MiB, 2.00x) over 10000 requests = 30.7 KiB/request");
    expect(row.evidence).toContain("no-op reference VmRSS 150 -> 420 MiB (+270 MiB, 2.80x) over 10000 requests = 27.6 KiB/request");
    expect(row.evidence).toContain("limit 35.2 KiB/request");
  });

  it("fails an app that grows more per request than 1.2x the no-op Worker plus 2 KiB", () => {
    // 30 KiB/request against a no-op's 10: what a leak of about 20 KiB per request looks like.
    const row = memoryCheck({ warmKb: 300 * MiB, afterKb: 300 * MiB + 30 * 5_000, requests: 5_000 }, { warmKb: 150 * MiB, afterKb: 150 * MiB + 10 * 5_000, requests: 5_000 });
    expect(row.ok).toBe(false);
    expect(row.evidence).toContain("= 30.0 KiB/request");
    expect(row.evidence).toContain("= 10.0 KiB/request");
    expect(row.evidence).toContain("limit 14.0 KiB/request");
  });

  it("shows how much wrangler's proxy process, which runs no code of ours, grew in each run", () => {
    const row = memoryCheck(
      { warmKb: 269 * MiB, afterKb: 440 * MiB, requests: 1_646, proxy: { warmKb: 88 * MiB, afterKb: 155 * MiB } },
      { warmKb: 151 * MiB, afterKb: 199 * MiB, requests: 1_646, proxy: { warmKb: 78 * MiB, afterKb: 115 * MiB } },
    );
    expect(row.ok).toBe(false);
    expect(row.evidence).toContain("wrangler's proxy process alone (no code of ours): app run 41.7, no-op run 23.0 KiB/request");
  });

  it("shows the live JavaScript objects in the Worker's isolate, or ? when the inspector did not answer", () => {
    const app = { warmKb: 300 * MiB, afterKb: 500 * MiB, requests: 2_000 };
    const reference = { warmKb: 150 * MiB, afterKb: 200 * MiB, requests: 2_000 };
    expect(memoryCheck({ ...app, heap: { warmKb: 10 * MiB, afterKb: 12.5 * MiB } }, reference).evidence).toContain("live JS objects in the Worker's isolate 10.0 -> 12.5 MiB");
    expect(memoryCheck({ ...app, heap: { warmKb: null, afterKb: 12.5 * MiB } }, reference).evidence).toContain("live JS objects in the Worker's isolate ? -> 12.5 MiB");
  });

  it("passes an app whose RSS grows with the runtime when its live JS objects stay within 1.2x of warm-up, and fails one whose objects grow", () => {
    const app = { warmKb: 300 * MiB, afterKb: 300 * MiB + 30 * 5_000, requests: 5_000 };
    const reference = { warmKb: 150 * MiB, afterKb: 150 * MiB + 10 * 5_000, requests: 5_000 };
    expect(memoryCheck({ ...app, heap: { warmKb: 10.5 * MiB, afterKb: 10.6 * MiB } }, reference).ok).toBe(true);
    expect(memoryCheck({ ...app, heap: { warmKb: 10.5 * MiB, afterKb: 30 * MiB } }, reference).ok).toBe(false);
    expect(memoryCheck({ ...app, heap: { warmKb: null, afterKb: 10.6 * MiB } }, reference).ok).toBe(false);
  });

  it("passes an app whose RSS stays within 1.2x of its warm-up level, even with no reference", () => {
    const row = memoryCheck({ warmKb: 300 * MiB, afterKb: 350 * MiB, requests: 5_000 }, { error: "could not run: port in use" });
    expect(row.ok).toBe(true);
    expect(row.evidence).toContain("no-op reference: could not run: port in use");
  });

  it("does not compare against a reference that saw a different number of requests", () => {
    const row = memoryCheck({ warmKb: 300 * MiB, afterKb: 500 * MiB, requests: 5_000 }, { warmKb: 150 * MiB, afterKb: 400 * MiB, requests: 4_000 });
    expect(row.ok).toBe(false);
    expect(row.evidence).toContain("no-op reference saw 4000 requests, not the same number");
  });

  it("fails when no workerd process of the app was found", () => {
    expect(memoryCheck({ warmKb: 0, afterKb: 0, requests: 10 }, { warmKb: 1, afterKb: 2, requests: 10 }).ok).toBe(false);
  });
});

describe("what soak runs leave on disk", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a new run deletes older soak logs and finished runs' scratch directories (emails included), keeping its own log and a running soak's directory", () => {
    dir = mkdtempSync(`${tmpdir()}/soak-files-test-`);
    const logs = `${dir}/wrangler`;
    const tmp = `${dir}/tmp`;
    mkdirSync(logs, { recursive: true });
    for (const name of ["soak-old1.log", "soak-old2.log", "soak-new.log", "other.log"]) writeFileSync(`${logs}/${name}`, "x");
    const ended = spawnSync(process.execPath, ["-e", ""]).pid!;
    const finished = `${tmp}/${scratchName(ended, "old")}`;
    mkdirSync(`${finished}/tmp/miniflare-0123/files/email`, { recursive: true });
    writeFileSync(`${finished}/tmp/miniflare-0123/files/email/a.eml`, "mail");
    const running = `${tmp}/${scratchName(process.pid, "now")}`;
    mkdirSync(running, { recursive: true });
    const foreign = `${tmp}/miniflare-someone-elses`;
    mkdirSync(foreign, { recursive: true });

    removeOldSoakFiles(logs, "soak-new.log", tmp);

    expect(existsSync(`${logs}/soak-old1.log`)).toBe(false);
    expect(existsSync(`${logs}/soak-old2.log`)).toBe(false);
    expect(existsSync(`${logs}/soak-new.log`)).toBe(true);
    expect(existsSync(`${logs}/other.log`)).toBe(true);
    expect(existsSync(finished)).toBe(false);
    expect(existsSync(running)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
  });
});
