// The V8 heap of a Worker's isolate under `wrangler dev`, read over workerd's own inspector (the
// Worker's workerd process runs with --inspector-addr; its /json/list names each Worker
// `core:user:<name>`). RSS counts the runtime's native memory too; a JavaScript leak of ours, objects
// we keep reachable, shows in a heap snapshot.
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

/**
 * Sum of the self sizes of the objects in a heap snapshot (taken after a full GC): the live objects.
 * `Runtime.getHeapUsage` is no use here: its usedSize still counts garbage (it grew 10-17 MiB in a
 * soak run in which the snapshot's live objects grew by 0.4 MiB).
 */
function liveHeapOnce(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 1 << 30 });
    const chunks: string[] = [];
    // A first session sometimes gets no answer at all: give up on it quickly.
    let timer = setTimeout(() => done(new Error("the inspector did not answer")), 5_000);
    const done = (e: Error | null, kb = 0) => {
      clearTimeout(timer);
      ws.terminate();
      if (e) reject(e);
      else resolve(kb);
    };
    ws.on("error", (e) => done(e));
    ws.on("open", () => {
      ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
      ws.send(JSON.stringify({ id: 2, method: "HeapProfiler.takeHeapSnapshot", params: { reportProgress: false } }));
    });
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; method?: string; params?: { chunk: string }; error?: { message: string } };
      if (msg.id === 1) {
        clearTimeout(timer);
        timer = setTimeout(() => done(new Error("the heap snapshot took over 120 s")), 120_000);
      } else if (msg.method === "HeapProfiler.addHeapSnapshotChunk") {
        chunks.push(msg.params!.chunk);
      } else if (msg.id === 2) {
        if (msg.error) return done(new Error(msg.error.message));
        try {
          done(null, liveBytes(JSON.parse(chunks.join(""))) / 1024);
        } catch (e) {
          done(e as Error);
        }
      }
    });
  });
}

function liveBytes(snapshot: { snapshot: { meta: { node_fields: string[] } }; nodes: number[] }): number {
  const fields = snapshot.snapshot.meta.node_fields;
  const selfSize = fields.indexOf("self_size");
  let total = 0;
  for (let i = selfSize; i < snapshot.nodes.length; i += fields.length) total += snapshot.nodes[i];
  return total;
}

/** KiB of live objects in `workerName`'s isolate (a heap snapshot); null when it cannot be read. */
export async function isolateHeapKb(root: number, workerName: string): Promise<number | null> {
  const url = await inspectorUrl(root, workerName);
  if (!url) return null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await liveHeapOnce(url);
    } catch {
      // try a new session
    }
  }
  return null;
}
