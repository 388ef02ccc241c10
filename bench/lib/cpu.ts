// CPU time by process kind over a window, from /proc (Linux): utime + stime of
//   workerd     the workerd processes this bench started (the Worker and every object, one process);
//   objects     of those, the process that runs only the objects, when they run apart (BENCH_SPLIT);
//   node server the row-lock reference server (a child process);
//   postgres    the backends connected to this bench's database (their process title names it);
//   load gen.   this process: the load generator and the WebSocket proxy the Neon driver uses.
// Postgres' shared processes (WAL writer, checkpointer) are not counted; a backend that exits inside
// a window loses at most one sampling interval of its CPU.
import { execSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

const CLK_TCK = Number(execSync("getconf CLK_TCK").toString().trim());
const SAMPLE_MS = 250;

/** "workerd" counts the objects' process too; "objects" is that share of it alone. */
export const CPU_KINDS = ["workerd", "objects", "node server", "postgres", "load gen."] as const;
export type CpuKind = (typeof CPU_KINDS)[number];
export type CpuMs = Record<CpuKind, number>;

/** The fields of /proc/<pid>/stat after the command name (so s[1] is the parent, s[11..12] utime and stime), and the name. */
function stat(pid: string): (string[] & { comm: string }) | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(") ");
    return Object.assign(text.slice(close + 2).split(" "), { comm: text.slice(text.indexOf("(") + 1, close) });
  } catch {
    return null;
  }
}
const cpuOf = (s: string[]) => ((Number(s[11]) + Number(s[12])) * 1000) / CLK_TCK;
const pids = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p));

function descendsFrom(pid: string, ancestor: string): boolean {
  for (let p = pid, i = 0; p !== "0" && p !== "1" && i < 10; i++) {
    if (p === ancestor) return true;
    const s = stat(p);
    if (!s) return false;
    p = s[1];
  }
  return false;
}

export class CpuMeter {
  private readonly kindOf = new Map<string, CpuKind | null>();
  private start = new Map<string, number>();
  private last = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;

  /** `dbName`: the bench's database; `serverPid`: the row-lock server's process; `objectPids`: the objects' workerd process, if apart. */
  constructor(private readonly dbName: string, private readonly serverPid: number, private readonly objectPids: string[] = []) {}

  /** Starts a window. */
  begin(): void {
    this.start = this.sample();
    this.last = new Map(this.start);
    this.timer = setInterval(() => {
      for (const [pid, ms] of this.sample()) this.last.set(pid, ms);
    }, SAMPLE_MS);
  }

  /** Ends the window: CPU ms per kind spent inside it. */
  end(): CpuMs {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const [pid, ms] of this.sample()) this.last.set(pid, ms);
    const out = Object.fromEntries(CPU_KINDS.map((k) => [k, 0])) as CpuMs;
    for (const [pid, ms] of this.last) out[this.kindOf.get(pid)!] += ms - (this.start.get(pid) ?? 0);
    out.workerd += out.objects;
    return out;
  }

  private sample(): Map<string, number> {
    const out = new Map<string, number>();
    for (const pid of pids()) {
      const s = stat(pid);
      if (!s) continue;
      let kind = this.kindOf.get(pid);
      if (kind === undefined) {
        kind = this.classify(pid, s);
        // A backend gets its database into its title only after authentication: ask again later.
        if (kind !== null || s.comm !== "postgres") this.kindOf.set(pid, kind);
      }
      if (kind) out.set(pid, cpuOf(s));
    }
    return out;
  }

  private classify(pid: string, s: string[] & { comm: string }): CpuKind | null {
    if (pid === String(process.pid)) return "load gen.";
    if (pid === String(this.serverPid)) return "node server";
    try {
      if (s.comm === "workerd") return this.objectPids.includes(pid) ? "objects" : descendsFrom(s[1], String(process.pid)) ? "workerd" : null;
      if (s.comm === "postgres") {
        const title = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
        return title.includes(` ${this.dbName} `) ? "postgres" : null;
      }
    } catch {
      // exited meanwhile
    }
    return null;
  }
}
