// Closed-loop HTTP load: N clients, each sending its next request when the previous one answered.
import http from "node:http";

export interface Sample {
  status: number;
  ms: number;
}

export class Recorder {
  readonly samples: Sample[] = [];
  errors = 0;
  ops = 0;

  record(status: number, ms: number): void {
    this.samples.push({ status, ms });
  }

  count(status: number): number {
    return this.samples.filter((s) => s.status === status).length;
  }

  percentile(p: number): number {
    const sorted = this.samples.map((s) => s.ms).sort((a, b) => a - b);
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}

/** Epoch ms (sub-ms, from performance.now()) of a request's steps on the client. */
export interface ClientTiming {
  /** request() called. */
  called: number;
  /** The request fully handed to the socket (after waiting for a pooled socket or a new connection). */
  sent: number;
  /** The whole response read. */
  received: number;
}

export const epochNow = () => performance.timeOrigin + performance.now();

export interface HttpClient {
  request(method: string, path: string, headers?: Record<string, string>, body?: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; timing: ClientTiming }>;
  close(): void;
}

/** What a pooled socket last carried, to say so when a request on it fails. */
const lastUse = new WeakMap<object, { what: string; at: number }>();

/**
 * Requests sent again on a new connection after workerd closed the pooled keep-alive socket they
 * were written to (see httpClient), and the last such failure.
 */
export const staleSocketRetries = { count: 0, last: "" };

/**
 * workerd closes a keep-alive connection after 5 s without a request (kj's HttpServer pipeline
 * timeout). A request written to such a socket as it is being closed fails with ECONNRESET
 * ("socket hang up" or "read ECONNRESET") before any response; with workerd's one thread busy for
 * seconds that race is no longer rare. So idle sockets are dropped here after `FREE_SOCKET_MS`,
 * well before workerd's 5 s, and a request that still fails that way on a reused socket (nothing
 * answered, so workerd never read it) is sent once more on a new connection.
 */
const FREE_SOCKET_MS = 2_000;

export function httpClient(base: string, maxSockets: number): HttpClient {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: FREE_SOCKET_MS });
  const send = (method: string, path: string, headers: Record<string, string>, payload: string | undefined, pooled: boolean, called: number) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; timing: ClientTiming }>((resolve, reject) => {
      let sentAfterIdle: number | undefined;
      let sent = NaN;
      const req = http.request(
        {
          agent: pooled ? agent : false,
          host: url.hostname,
          port: url.port,
          method,
          path,
          headers: payload === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            lastUse.set(req.socket!, { what: `${method} ${path} -> ${res.statusCode}`, at: performance.now() });
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), timing: { called, sent, received: epochNow() } });
          });
          res.on("error", (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(`${method} ${path}: response ${e.message}`, { cause: e }), { code: e.code })));
        },
      );
      req.on("finish", () => (sent = epochNow()));
      req.on("socket", (socket) => {
        const prev = lastUse.get(socket);
        if (prev) sentAfterIdle = performance.now() - prev.at;
      });
      // Say which request failed, and on what (a bare "socket hang up" does not).
      req.on("error", (e: NodeJS.ErrnoException) => {
        const prev = req.socket ? lastUse.get(req.socket) : undefined;
        const socket = req.reusedSocket ? `reused socket (sent ${Math.round(sentAfterIdle ?? NaN)} ms after its last response, ${prev?.what})` : "new socket";
        reject(Object.assign(new Error(`${method} ${path}: ${e.message}${e.code ? ` (${e.code})` : ""} on a ${socket}`, { cause: e }), { code: e.code, stale: req.reusedSocket && e.code === "ECONNRESET" }));
      });
      req.end(payload);
    });
  return {
    async request(method, path, headers = {}, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const called = epochNow();
      try {
        return await send(method, path, headers, payload, true, called);
      } catch (e) {
        if (!(e as { stale?: boolean }).stale) throw e;
        staleSocketRetries.count++;
        staleSocketRetries.last = (e as Error).message;
        return await send(method, path, headers, payload, false, called);
      }
    },
    close: () => agent.destroy(),
  };
}

/** Runs `iteration(client)` in a loop on `clients` concurrent clients for `ms` milliseconds. */
export async function closedLoop(clients: number, ms: number, iteration: (client: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  const until = started + ms;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      while (performance.now() < until) await iteration(i);
    }),
  );
  return (performance.now() - started) / 1000;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padStart(widths[i])).join("  ");
}

export const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? Math.round(n).toString() : n.toFixed(1)) : "-");
