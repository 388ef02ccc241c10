// Resident memory of the workerd processes under a `wrangler dev` process, read from /proc (Linux).
import { readdirSync, readFileSync } from "node:fs";

function parentOf(pid: string): string | null {
  try {
    // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? null;
  } catch {
    return null;
  }
}

/** Pids of every process below `root` (children, grandchildren, …). */
export function descendants(root: number): number[] {
  const children = new Map<string, string[]>();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    const parent = parentOf(pid);
    if (parent) children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [String(root)];
  while (queue.length) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(Number(child));
      queue.push(child);
    }
  }
  return out;
}

/**
 * VmRSS (KiB) of each workerd process below `root` (wrangler dev runs two: its proxy and the
 * Worker's), with the address its `entry` socket listens on (the proxy's is wrangler dev's port).
 */
export function workerdRss(root: number): { pid: number; kb: number; entry: string }[] {
  const out: { pid: number; kb: number; entry: string }[] = [];
  for (const pid of descendants(root)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "workerd") continue;
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      const entry = /--socket-addr=entry=([^\0]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"))?.[1] ?? "?";
      if (m) out.push({ pid, kb: Number(m[1]), entry });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Sum of VmRSS (KiB) of the workerd processes below `root`; 0 when none is found. */
export function workerdRssKb(root: number): number {
  return workerdRss(root).reduce((n, p) => n + p.kb, 0);
}
