// The V8 heap of a Worker's isolate under `wrangler dev`, read over workerd's own inspector (the
// Worker's workerd process runs with --inspector-addr; its /json/list names each Worker
// `core:user:<name>`). RSS counts the runtime's native memory too; a JavaScript leak of ours, objects
// we keep reachable, shows here after a full GC.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import WebSocket from "ws";
import { descendants } from "./proc-memory";

/** TCP ports `pid` listens on (from /proc; loopback or any address). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed while we looked
    }
  }
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, st 0A is LISTEN, the inode is the tenth field
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports;
}

async function inspectorUrl(root: number, workerName: string): Promise<string | null> {
  for (const pid of descendants(root)) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!cmdline.includes("--inspector-addr=")) continue;
    for (const port of listeningPorts(pid)) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2_000) });
        const targets = (await res.json()) as { id: string; webSocketDebuggerUrl: string }[];
        const target = Array.isArray(targets) ? targets.find((t) => t.id === `core:user:${workerName}`) : undefined;
        if (target) return target.webSocketDebuggerUrl;
      } catch {
        // not the inspector
      }
    }
  }
  return null;
}

function heapOnce(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => done(new Error("the inspector did not answer")), timeoutMs);
    const done = (e: Error | null, kb = 0) => {
      clearTimeout(timer);
      ws.terminate();
      if (e) reject(e);
      else resolve(kb);
    };
    ws.on("error", (e) => done(e));
    ws.on("open", () => {
      ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
      ws.send(JSON.stringify({ id: 2, method: "Runtime.getHeapUsage" }));
    });
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: { usedSize?: number }; error?: { message: string } };
      if (msg.id !== 2) return;
      if (msg.result?.usedSize === undefined) done(new Error(msg.error?.message ?? "no heap usage"));
      else done(null, msg.result.usedSize / 1024);
    });
  });
}

/** KiB of V8 heap in use by `workerName`'s isolate after a full GC; null when it cannot be read. */
export async function isolateHeapKb(root: number, workerName: string): Promise<number | null> {
  const url = await inspectorUrl(root, workerName);
  if (!url) return null;
  // A first session sometimes gets no answer at all; a fresh one does.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await heapOnce(url, 5_000);
    } catch {
      // try a new session
    }
  }
  return null;
}
