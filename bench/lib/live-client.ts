// One buyer's live seat-map socket (API.md "Holds over the live socket"): authenticates once with an
// `auth` frame, then sends `hold`/`release` frames and waits for the `reply` with the same `ref`.
// Snapshots and deltas reach it too (as they reach every browser); it does not parse them.
import WebSocket from "ws";

export interface LiveReply {
  type: "reply";
  ref: string;
  ok: boolean;
  hold?: { id: string; seats: { id: string }[] };
  error?: { code: string; message: string };
}

export class LiveClient {
  private readonly waiting = new Map<string, { resolve: (r: LiveReply) => void; reject: (e: Error) => void }>();
  private authed: ((f: { ok: boolean; code?: string; message?: string }) => void) | null = null;
  private closed: Error | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const text = data.toString();
      // Replies and auth answers are written with `type` first; deltas are not worth parsing here.
      if (text.startsWith('{"type":"reply"')) {
        const r = JSON.parse(text) as LiveReply;
        const done = this.waiting.get(r.ref);
        this.waiting.delete(r.ref);
        done?.resolve(r);
      } else if (text.startsWith('{"type":"auth"')) this.authed?.(JSON.parse(text));
    });
    ws.on("close", () => this.fail(new Error("socket closed")));
    ws.on("error", (e) => this.fail(e));
  }

  /** Opens the socket and authenticates it; throws when the object refuses the token. */
  static async open(url: string, token: string): Promise<LiveClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const client = new LiveClient(ws);
    const answer = await new Promise<{ ok: boolean; code?: string; message?: string }>((resolve) => {
      client.authed = resolve;
      ws.send(JSON.stringify({ type: "auth", token }));
    });
    if (!answer.ok) throw new Error(`auth refused: ${answer.code} ${answer.message ?? ""}`);
    return client;
  }

  /** Sends a `hold` or `release` frame and resolves with its reply. */
  request(frame: { type: "hold"; ref: string; seatIds: string[] } | { type: "release"; ref: string; holdId: string }): Promise<LiveReply> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.waiting.set(frame.ref, { resolve, reject });
      this.ws.send(JSON.stringify(frame), (e) => {
        if (e) {
          this.waiting.delete(frame.ref);
          reject(e);
        }
      });
    });
  }

  close(): void {
    this.ws.terminate();
  }

  private fail(e: Error): void {
    this.closed ??= e;
    const pending = [...this.waiting.values()];
    this.waiting.clear();
    for (const done of pending) done.reject(e);
  }
}
