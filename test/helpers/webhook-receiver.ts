// A real HTTP receiver for webhook deliveries, started by the global setup (Node side): the Worker
// under test POSTs to it over a real socket. Inboxes keep what arrived; an inbox can be told to
// answer 500 to its first N deliveries.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
  at: number;
}

interface Inbox {
  failFirst: number;
  seen: number;
  received: Received[];
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });

export async function startWebhookReceiver(): Promise<{ url: string; close: () => Promise<void> }> {
  const inboxes = new Map<string, Inbox>();
  const inbox = (name: string) => {
    let b = inboxes.get(name);
    if (!b) inboxes.set(name, (b = { failFirst: 0, seen: 0, received: [] }));
    return b;
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const [, kind, name] = url.pathname.split("/");
    const body = await read(req);
    if (kind === "in" && name && req.method === "POST") {
      const b = inbox(name);
      b.seen += 1;
      const status = b.seen <= b.failFirst ? 500 : 200;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      b.received.push({ headers, body, status, at: Date.now() });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "failing on purpose");
      return;
    }
    if (kind === "control" && name && req.method === "PUT") {
      inbox(name).failFirst = Number(url.searchParams.get("failFirst") ?? 0);
      res.writeHead(204).end();
      return;
    }
    if (kind === "control" && name && req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(inbox(name).received));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    // Keep-alive connections from workerd would hold `close` open for ever (a run that never ended).
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
