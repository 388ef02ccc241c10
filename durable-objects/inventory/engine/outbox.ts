/**
 * The object's one outbox: typed rows written in the same transaction as the change they record,
 * drained by the one alarm into queues (never straight into Postgres: a connection would cost the
 * object's single thread tens of milliseconds). Hold history and waitlist mirrors go to the
 * `inventory-events` queue, whose consumer writes Postgres idempotently; offer notifications go to
 * the notifications queue. Delivery is at least once: receivers dedupe.
 */
import { relayDueAt, type HistoryKind } from "../logic/rules";
import { latestMirrors, type WaitlistMirror } from "../logic/waitlist";
import type { InventoryStore } from "../store/store";

export interface HoldHistoryItem {
  holdId: string;
  kind: HistoryKind;
  userId: string;
  quantity: number;
  /** Epoch ms. */
  at: number;
}

export type OutboxItem =
  | { kind: "history"; body: HoldHistoryItem }
  | { kind: "mirror"; body: WaitlistMirror }
  /** A `notification.send` message (src/queues/messages.ts). */
  | { kind: "notify"; body: Record<string, unknown> };

/** The `inventory.outbox` message of the inventory-events queue (its zod schema: src/queues/messages.ts). */
export interface InventoryOutboxMessage {
  type: "inventory.outbox";
  eventId: string;
  history: HoldHistoryItem[];
  waitlist: WaitlistMirror[];
}

export interface OutboxSinks {
  events(messages: InventoryOutboxMessage[]): Promise<void>;
  notifications(bodies: unknown[]): Promise<void>;
}

/** Rows per drained chunk: a queue's sendBatch takes at most 100 messages. */
export const OUTBOX_CHUNK = 100;
export const OUTBOX_CHUNKS_PER_DRAIN = 50;

export class Outbox {
  private failures = 0;
  private lastDrainAt: number | null = null;
  /** Whether rows wait (null: unknown, ask the store); kept so the hold path skips the query. */
  private known: boolean | null = null;

  constructor(
    private readonly store: InventoryStore,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void = () => undefined,
  ) {}

  /** Call inside the transaction of the change it records. */
  add(item: OutboxItem): void {
    this.store.appendOutbox(item.kind, JSON.stringify(item.body));
    this.known = true;
  }

  /** A row was written by the store itself (a hold's history row, with the hold): there is something to drain. */
  wrote(): void {
    this.known = true;
  }

  pending(): boolean {
    return (this.known ??= this.store.outboxPending());
  }

  /** When the alarm should drain next (null: nothing to send); backs off after failures. */
  dueAt(now: number): number | null {
    return this.pending() ? relayDueAt(now, this.lastDrainAt, this.failures) : null;
  }

  /** Sends what is waiting, chunk by chunk; a chunk is deleted only once sent. Never throws. */
  async drain(eventId: string, sinks: OutboxSinks, now: number): Promise<void> {
    this.lastDrainAt = now;
    try {
      for (let i = 0; i < OUTBOX_CHUNKS_PER_DRAIN; i++) {
        const rows = this.store.peekOutbox(OUTBOX_CHUNK);
        if (rows.length === 0) break;
        const history: HoldHistoryItem[] = [];
        const mirrors: WaitlistMirror[] = [];
        const notes: unknown[] = [];
        for (const r of rows) {
          const body = JSON.parse(r.body);
          if (r.kind === "history") history.push(body);
          else if (r.kind === "mirror") mirrors.push(body);
          else notes.push(body);
        }
        if (history.length > 0 || mirrors.length > 0) {
          await sinks.events([{ type: "inventory.outbox", eventId, history, waitlist: latestMirrors(mirrors) }]);
        }
        if (notes.length > 0) await sinks.notifications(notes);
        this.store.deleteOutboxThrough(rows[rows.length - 1].seq);
        this.failures = 0;
        if (rows.length < OUTBOX_CHUNK) break;
      }
    } catch (e) {
      this.failures++;
      this.log("outbox drain failed, will retry", { eventId, failures: this.failures, error: String(e).slice(0, 500) });
    } finally {
      this.known = null;
    }
  }
}
