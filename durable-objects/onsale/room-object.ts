import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";
import type { EventInventoryRpc } from "../inventory/contract";
import {
  afterTick,
  beginTick,
  configView,
  decideConfigure,
  decideTick,
  emptyRoomState,
  measuredRate,
  nextTickAt,
  recoverInflight,
  tickInterval,
  type InventoryView,
  type RoomConfig,
  type RoomConfigView,
  type RoomResult,
  type RoomState,
} from "./room.logic";
import { shardName, type OnSaleInput } from "./contract";
import type { ShardConfig, TickOrder, TickReport } from "./shard.logic";

const CONFIG = "config";
const STATE = "state";
/** Set by a shard's wake, cleared when a tick begins: someone joined after their shard reported. */
const WOKEN = "woken";

/** What the room calls on a shard (its stub; replaced in tests to inject faults). */
export interface ShardCalls {
  configure(config: ShardConfig, powDifficulty: number): Promise<void>;
  tick(order: TickOrder): Promise<TickReport>;
  count(): Promise<number>;
}

const log = (msg: string, extra: Record<string, unknown>) => console.warn(JSON.stringify({ level: "warn", msg, ...extra }));

export interface RoomStats {
  waiting: number;
  admitted: number;
  activeShoppers: number;
  admitPerMinute: number;
  soldOut: boolean;
  shards: number;
  status: RoomConfigView["status"];
  opensAt: string;
}

/**
 * The coordinator of one event's waiting room (docs/onsale.md), named by the event id: the on-sale
 * configuration and, every tick (its alarm), admission quota for the QueueShard objects from what
 * the event's inventory object says can still sell. A thin shell over ./onsale/room.logic.ts.
 */
export class WaitingRoom extends DurableObject<Env> {
  /** Replaced in tests through runInDurableObject. */
  now: () => number = () => Date.now();
  /** Replaced in tests through runInDurableObject (fault injection): the calls to shard `n`. */
  shardCalls: (eventId: string, n: number) => ShardCalls = (eventId, n) =>
    this.env.QUEUE_SHARD.get(this.env.QUEUE_SHARD.idFromName(shardName(eventId, n))) as unknown as ShardCalls;
  private config: RoomConfig | null;
  private state: RoomState;
  private woken: boolean;
  private lastActiveShoppers = 0;
  /** Ticks run one at a time (the alarm and an explicit `tick` may meet). */
  private ticking: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = ctx.storage.kv.get<RoomConfig>(CONFIG) ?? null;
    this.state = ctx.storage.kv.get<RoomState>(STATE) ?? emptyRoomState();
    this.woken = ctx.storage.kv.get<boolean>(WOKEN) === true;
  }

  private get tickMs(): number {
    return tickInterval(this.env.ONSALE_TICK_MS);
  }

  /** Replaced in tests through runInDurableObject (fault injection): the event's inventory object. */
  inventory: (eventId: string) => Pick<EventInventoryRpc, "setOnSale" | "admissionStats"> = (eventId) =>
    this.env.EVENT_INVENTORY.get(this.env.EVENT_INVENTORY.idFromName(eventId)) as unknown as EventInventoryRpc;

  private shardConfig(c: RoomConfig, n: number, enabled = c.enabled): ShardConfig {
    return { eventId: c.eventId, shard: n, shards: c.shards, opensAt: c.opensAt, shopperSessionSeconds: c.shopperSessionSeconds, enabled, generation: c.generation ?? 0 };
  }

  private setWoken(on: boolean): void {
    if (this.woken === on) return;
    this.woken = on;
    this.ctx.storage.kv.put(WOKEN, on);
  }

  private save(): void {
    if (this.config) this.ctx.storage.kv.put(CONFIG, this.config);
    this.ctx.storage.kv.put(STATE, this.state);
  }

  private async rearm(): Promise<void> {
    const at = this.config ? nextTickAt(this.config, this.state, this.now(), this.tickMs, this.woken) : null;
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  // RPC (the contract with durable-objects/onsale/client.ts and the shards)

  /**
   * Puts the event on sale (or changes a room not yet open, or repeats the same PUT). The inventory's
   * gate goes on first: whatever fails after it, holds need an admission, so the room is never live
   * while holds are open to all; the answer is then 503 and the same PUT again completes the switch.
   */
  async configure(eventId: string, input: OnSaleInput): Promise<RoomResult<RoomConfigView>> {
    const current = this.config;
    const changesShards = current?.enabled === true && input.shards !== undefined && input.shards !== current.shards;
    const joined = changesShards ? (await Promise.all(Array.from({ length: current.shards }, (_, n) => this.shardCalls(eventId, n).count()))).reduce((a, b) => a + b, 0) : 0;
    const d = decideConfigure(current, this.state, eventId, input, joined);
    if (!d.ok) return d;
    const c = d.value;
    const unavailable = (what: string, e: unknown): RoomResult<RoomConfigView> => {
      log("switching on-sale mode on failed", { eventId, what, error: String(e) });
      return { ok: false, code: "DEPENDENCY_UNAVAILABLE", message: `Switching on-sale mode on did not complete (${what}); send the same PUT again` };
    };
    try {
      // An event without inventory (never published) cannot go on sale: refused before anything changes.
      const gate = await this.inventory(eventId).setOnSale(true, c.generation ?? 0);
      if (!gate.ok) return { ok: false, code: "NO_QUEUE", message: `The event has no inventory to sell: ${gate.message}` };
    } catch (e) {
      return unavailable("the inventory's gate", e);
    }
    if (!current?.enabled) {
      this.state = emptyRoomState();
      this.setWoken(false);
    }
    this.config = c;
    this.save();
    // Shards of an earlier, larger room are emptied too (the new generation), and stay off.
    const shards = Math.max(c.shards, current?.shards ?? 0);
    const results = await Promise.allSettled(Array.from({ length: shards }, (_, n) => this.shardCalls(eventId, n).configure(this.shardConfig(c, n, c.enabled && n < c.shards), c.powDifficulty)));
    const failed = results.findIndex((r) => r.status === "rejected");
    await this.rearm();
    if (failed >= 0) return unavailable(`queue shard ${failed}`, (results[failed] as PromiseRejectedResult).reason);
    return { ok: true, value: configView(c, this.state) };
  }

  /**
   * Ends on-sale mode: holds are open to all again, the shards close their sockets' queue. Switches
   * the gate off even for a room that never completed its switch (a PUT that failed after the gate).
   */
  async end(eventId?: string): Promise<RoomResult<null>> {
    const c = this.config;
    const id = c?.eventId ?? eventId;
    if (!id) return { ok: false, code: "NO_QUEUE", message: "This event is not in on-sale mode" };
    if (c) {
      this.config = { ...c, enabled: false };
      this.save();
    }
    await this.ctx.storage.deleteAlarm();
    await this.inventory(id).setOnSale(false);
    if (!c) return { ok: false, code: "NO_QUEUE", message: "This event is not in on-sale mode" };
    await Promise.all(Array.from({ length: c.shards }, (_, n) => this.shardCalls(id, n).configure(this.shardConfig(this.config!, n), 0)));
    return { ok: true, value: null };
  }

  async settings(): Promise<RoomResult<RoomConfigView>> {
    if (!this.config) return { ok: false, code: "NO_QUEUE", message: "This event is not in on-sale mode" };
    return { ok: true, value: configView(this.config, this.state) };
  }

  async stats(): Promise<RoomResult<RoomStats>> {
    const c = this.config;
    if (!c) return { ok: false, code: "NO_QUEUE", message: "This event is not in on-sale mode" };
    const view = configView(c, this.state);
    return {
      ok: true,
      value: {
        waiting: this.state.waiting.reduce((a, b) => a + b, 0),
        admitted: this.state.admittedTotal,
        activeShoppers: this.lastActiveShoppers,
        admitPerMinute: Math.round(measuredRate(this.state, this.now()) * 60),
        soldOut: this.state.soldOut,
        shards: c.shards,
        status: view.status,
        opensAt: view.opensAt,
      },
    };
  }

  /**
   * A shard has a visitor the room may not know of (it joined after the shard's last report, or the
   * shard has not heard from the room lately): a tick comes soon even if the last one found nobody.
   */
  async wake(): Promise<void> {
    if (!this.config?.enabled) return;
    this.setWoken(true);
    const want = Math.max(this.now() + 1, this.state.opened ? 0 : this.config.opensAt);
    const at = await this.ctx.storage.getAlarm();
    if (at === null || at > want + this.tickMs) await this.ctx.storage.setAlarm(want);
  }

  /** One round: read the inventory, decide, order every shard, keep what they report. */
  async tick(): Promise<RoomStats | null> {
    const run = this.ticking.then(() => this.tickOnce());
    this.ticking = run.catch(() => undefined);
    await run;
    const s = await this.stats();
    return s.ok ? s.value : null;
  }

  private async tickOnce(): Promise<void> {
    const c = this.config;
    if (!c?.enabled) return;
    // A tick that the object did not live to record: presume its grants until the shards report.
    if (this.state.inflight) {
      this.state = recoverInflight(this.state);
      this.save();
    }
    // From here on, a join the shards' reports miss wakes the room again.
    this.setWoken(false);
    const inv = await this.inventory(c.eventId).admissionStats();
    if (!inv.ok) throw new Error(`admission stats of ${c.eventId}: ${inv.code} ${inv.message}`);
    if (inv.value.salesOver) {
      // Cancelled or past its sales window: nothing more can sell, the room ends.
      log("the event's sales are over: ending its waiting room", { eventId: c.eventId });
      await this.end();
      return;
    }
    const now = this.now();
    const view: InventoryView = inv.value;
    const decision = decideTick(c, this.state, view, now);
    // First phase: the grants are saved before any shard acts on them.
    this.state = beginTick(this.state, decision, now);
    this.save();
    const seq = this.state.seq!;
    const sketches = this.state.sketches;
    // Sold-out visitors are pointed at the waitlist only when joining it works: while the inventory's
    // gate is on, the waitlist is closed (409 WAITLIST_CLOSED) and the room's queue is the only way in.
    const waitlist = inv.value.onSale ? undefined : `/v1/events/${c.eventId}/waitlist`;
    const results = await Promise.allSettled(
      Array.from({ length: c.shards }, (_, n) => {
        const order: TickOrder = {
          open: decision.open, admit: decision.perShard[n] ?? 0, soldOut: decision.soldOut, waitlist, sketches, ratePerSecond: decision.ratePerSecond, at: now,
          seq, ackedThrough: this.state.acked?.[n] ?? 0, generation: c.generation ?? 0,
        };
        return this.shardCalls(c.eventId, n).tick(order);
      }),
    );
    const reports = results.map((r, n) => {
      if (r.status === "fulfilled") return r.value;
      log("a queue shard's tick failed; its grant is presumed admitted until it reports", { eventId: c.eventId, shard: n, granted: decision.perShard[n] ?? 0, error: String(r.reason) });
      return null;
    });
    this.state = afterTick(this.state, decision, reports, now);
    this.lastActiveShoppers = decision.activeShoppers + reports.reduce((n, r) => n + (r?.admitted ?? 0), 0);
    this.save();
  }

  async alarm(): Promise<void> {
    try {
      await this.tick();
    } finally {
      await this.rearm();
    }
  }
}
