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

export interface HttpClient {
  request(method: string, path: string, headers?: Record<string, string>, body?: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  close(): void;
}

export function httpClient(base: string, maxSockets: number): HttpClient {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  return {
    request(method, path, headers = {}, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method,
            path,
            headers: payload === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(payload);
      });
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
