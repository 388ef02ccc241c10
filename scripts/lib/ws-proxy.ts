// Local WebSocket-to-TCP bridge for the Neon serverless driver (its `wsProxy` form):
//   ws://127.0.0.1:PORT/v1?address=host:port
// Only loopback targets are allowed. Local development and tests only; production talks to Neon.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

export interface WsProxy {
  /** `ws://host:port`; the Neon driver's `wsProxy` wants it without the scheme, plus `/v1?address=…`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);
const TCP_HIGH_WATER = 1 << 20; // bytes queued towards the WebSocket before the TCP side is paused
const FORCE_DESTROY_MS = 2000;

export async function startWsProxy(opts: { port?: number; host?: string } = {}): Promise<WsProxy> {
  const host = opts.host ?? '127.0.0.1';
  const sessions = new Set<{ ws: WebSocket; tcp: Socket }>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = parseTarget(req.url);
    if (!target) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws, target));
  });

  function bridge(ws: WebSocket, target: { host: string; port: number }): void {
    // net.Socket queues writes made while it is still connecting, so no buffering is needed here.
    const tcp = connect({ host: target.host, port: target.port });
    tcp.setNoDelay(true);
    const session = { ws, tcp };
    sessions.add(session);
    const frontend = new FrontendTracker();
    let queued = 0;

    ws.on('message', (data: RawData) => {
      const chunk = toBuffer(data);
      const terminated = frontend.feed(chunk);
      if (tcp.destroyed || tcp.writableEnded) return;
      const flushed = tcp.write(chunk);
      // The driver sends Terminate and then never closes its socket: end the TCP side for it.
      if (terminated) tcp.end();
      else if (!flushed) {
        ws.pause();
        tcp.once('drain', () => ws.resume());
      }
    });
    ws.on('close', () => {
      sessions.delete(session);
      tcp.destroy();
    });
    ws.on('error', () => tcp.destroy());

    tcp.on('data', (chunk: Buffer) => {
      frontend.observeBackend(chunk);
      queued += chunk.length;
      if (queued > TCP_HIGH_WATER) tcp.pause();
      ws.send(chunk, { binary: true }, () => {
        queued -= chunk.length;
        if (queued <= TCP_HIGH_WATER && tcp.isPaused()) tcp.resume();
      });
    });
    tcp.on('error', () => {}); // followed by 'close'
    tcp.on('close', () => {
      sessions.delete(session);
      endWebSocket(ws);
    });
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address();
  if (!address || typeof address === 'string') throw new Error('ws proxy: no TCP address');
  const port = address.port;

  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    async close() {
      for (const { ws, tcp } of sessions) {
        tcp.destroy();
        ws.terminate();
      }
      sessions.clear();
      for (const ws of wss.clients) ws.terminate();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function parseTarget(reqUrl: string | undefined): { host: string; port: number } | null {
  if (!reqUrl) return null;
  const url = new URL(reqUrl, 'http://proxy.invalid');
  if (url.pathname !== '/v1') return null;
  const address = url.searchParams.get('address');
  if (!address) return null;
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = Number(address.slice(colon + 1));
  if (!LOOPBACK_HOSTS.has(host) || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/**
 * Closes a WebSocket by ending its TCP socket (after flushing what is queued) instead of sending a
 * close frame: with a close frame workerd raises `Network connection lost` after the close event,
 * and the driver's Pool rethrows it.
 */
function endWebSocket(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: Socket | null })._socket;
  if (!socket || socket.destroyed) {
    ws.terminate();
    return;
  }
  socket.end();
  setTimeout(() => socket.destroy(), FORCE_DESTROY_MS).unref();
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/**
 * Follows message boundaries of the client-to-server Postgres stream to spot a Terminate message
 * ('X', int32 4) wherever it falls inside a frame. Gives up if the session switches to TLS/GSS.
 */
class FrontendTracker {
  private phase: 'untyped' | 'awaitingEncryptionReply' | 'typed' | 'opaque' = 'untyped';
  private header = Buffer.alloc(0);
  private remaining = 0; // body bytes of the current message still to skip

  /** Returns true when the chunk completes a Terminate message. */
  feed(chunk: Buffer): boolean {
    let terminated = false;
    let offset = 0;
    while (offset < chunk.length && this.phase !== 'opaque') {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= n;
        offset += n;
        continue;
      }
      // Startup-phase messages carry no type byte: int32 length then int32 code.
      const headerSize = this.phase === 'typed' ? 5 : 8;
      const n = Math.min(headerSize - this.header.length, chunk.length - offset);
      this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + n)]);
      offset += n;
      if (this.header.length < headerSize) break;

      if (this.phase === 'typed') {
        const length = this.header.readInt32BE(1);
        if (this.header[0] === 0x58 && length === 4) terminated = true;
        this.remaining = length - 4;
      } else {
        const length = this.header.readInt32BE(0);
        const code = this.header.readInt32BE(4);
        this.remaining = length - 8;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) this.phase = 'awaitingEncryptionReply';
        else if (code >> 16 === 3) this.phase = 'typed'; // StartupMessage, protocol 3.x
      }
      this.header = Buffer.alloc(0);
      if (this.remaining < 0) this.phase = 'opaque';
    }
    return terminated;
  }

  /** The server answers an SSL/GSS request with one byte; anything but 'N' means encryption. */
  observeBackend(chunk: Buffer): void {
    if (this.phase !== 'awaitingEncryptionReply' || chunk.length === 0) return;
    this.phase = chunk[0] === 0x4e ? 'untyped' : 'opaque';
  }
}
