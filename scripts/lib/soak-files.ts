// What a soak run leaves on disk: its Worker log in .wrangler/ and one scratch directory under the
// system temp dir (embedded Postgres data, wrangler's and Miniflare's temp files, among them one
// .eml file per email sent). Each run clears what earlier runs left, so repeated runs do not fill
// the disk; a run still going (another soak on this machine) keeps its scratch directory.
import { readdirSync, rmSync } from "node:fs";

export const SCRATCH_PREFIX = "evently-soak-run-";

/** The scratch directory name of run `run` of the soak process `pid`. */
export const scratchName = (pid: number, run: string) => `${SCRATCH_PREFIX}${pid}-${run}`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Deletes every `soak-*.log` in `logDir` but `keepLog` (a file name), and every scratch directory in
 * `tmpDir` whose soak process has ended. Returns what it deleted.
 */
export function removeOldSoakFiles(logDir: string, keepLog: string, tmpDir: string): string[] {
  const removed: string[] = [];
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const name of list(logDir)) {
    if (!/^soak-.+\.log$/.test(name) || name === keepLog) continue;
    rmSync(`${logDir}/${name}`, { force: true });
    removed.push(`${logDir}/${name}`);
  }
  for (const name of list(tmpDir)) {
    const m = new RegExp(`^${SCRATCH_PREFIX}(\\d+)-`).exec(name);
    if (!m || alive(Number(m[1]))) continue;
    rmSync(`${tmpDir}/${name}`, { recursive: true, force: true });
    removed.push(`${tmpDir}/${name}`);
  }
  return removed;
}
