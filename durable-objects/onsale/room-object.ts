import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../src/env";
import type { EventInventoryRpc } from "../inventory/contract";
import type { QueueShard } from "./shard-object";
import {
  afterTick,
  configView,
  decideConfigure,
  decideTick,
  emptyRoomState,
  measuredRate,
  nextTickAt,
  type InventoryView,
  type RoomConfig,
  type RoomConfigView,
  type RoomResult,
  type RoomState,
} from "./room.logic";
import { shardName, type OnSaleInput } from "./contract";
import type { ShardConfig, TickReport } from "./shard.logic";

const CONFIG = "config";
const STATE = "state";
const TICK_MS_DEFAULT = 1_000;

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
  private config: RoomConfig | null;
  private state: RoomState;
  private lastActiveShoppers = 0;
  /** Ticks run one at a time (the alarm and an explicit `tick` may meet). */
  private ticking: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = ctx.storage.kv.get<RoomConfig>(CONFIG) ?? null;
    this.state = ctx.storage.kv.get<RoomState>(STATE) ?? emptyRoomState();
  }

  private get tickMs(): number {
    const n = Number(this.env.ONSALE_TICK_MS);
    return Number.isFinite(n) && n >= 50 ? n : TICK_MS_DEFAULT;
  }

  private inventory(eventId: string): EventInventoryRpc {
    return this.env.EVENT_INVENTORY.get(this.env.EVENT_INVENTORY.idFromName(eventId)) as unknown as EventInventoryRpc;
  }

  private shard(eventId: string, n: number): DurableObjectStub<QueueShard> {
    return this.env.QUEUE_SHARD.get(this.env.QUEUE_SHARD.idFromName(shardName(eventId, n)));
  }

  private shardConfig(c: RoomConfig, n: number): ShardConfig {
    return { eventId: c.eventId, shard: n, shards: c.shards, opensAt: c.opensAt, shopperSessionSeconds: c.shopperSessionSeconds, enabled: c.enabled };
  }

  private save(): void {
    if (this.config) this.ctx.storage.kv.put(CONFIG, this.config);
    this.ctx.storage.kv.put(STATE, this.state);
  }

  private async rearm(): Promise<void> {
    const at = this.config ? nextTickAt(this.config, this.state, this.now(), this.tickMs) : null;
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  // RPC (the contract with durable-objects/onsale/client.ts and the shards)

  /** Puts the event on sale (or changes a room not yet open). Shards first, then the inventory's gate. */
  async configure(eventId: string, input: OnSaleInput): Promise<RoomResult<RoomConfigView>> {
    const current = this.config;
    const changesShards = current !== null && input.shards !== undefined && input.shards !== current.shards;
    const joined = changesShards ? (await Promise.all(Array.from({ length: current.shards }, (_, n) => this.shard(eventId, n).count()))).reduce((a, b) => a + b, 0) : 0;
    const d = decideConfigure(current, this.state, eventId, input, joined);
    if (!d.ok) return d;
    // An event without inventory (never published) cannot go on sale; ask before changing anything.
    const ready = await this.inventory(eventId).admissionStats();
    if (!ready.ok) return { ok: false, code: "NO_QUEUE", message: `The event has no inventory to sell: ${ready.message}` };
    if (!this.config?.enabled) this.state = emptyRoomState();
    this.config = d.value;
    this.save();
    const c = d.value;
    await Promise.all(Array.from({ length: c.shards }, (_, n) => this.shard(eventId, n).configure(this.shardConfig(c, n), c.powDifficulty)));
    const gate = await this.inventory(eventId).setOnSale(true);
    if (!gate.ok) return { ok: false, code: "NO_QUEUE", message: `The event's inventory refused on-sale mode: ${gate.message}` };
    await this.rearm();
    return { ok: true, value: configView(c, this.state) };
  }

  /** Ends on-sale mode: holds are open to all again, the shards close their sockets' queue. */
  async end(): Promise<RoomResult<null>> {
    const c = this.config;
    if (!c) return { ok: false, code: "NO_QUEUE", message: "This event is not in on-sale mode" };
    this.config = { ...c, enabled: false };
    this.save();
    await this.inventory(c.eventId).setOnSale(false);
    await Promise.all(Array.from({ length: c.shards }, (_, n) => this.shard(c.eventId, n).configure(this.shardConfig(this.config!, n), 0)));
    await this.ctx.storage.deleteAlarm();
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

  /** A shard got its first waiting visitor: tick soon if the room sleeps. */
  async wake(): Promise<void> {
    if (!this.config?.enabled) return;
    const at = await this.ctx.storage.getAlarm();
    if (at === null) await this.ctx.storage.setAlarm(Math.max(this.now() + 1, this.state.opened ? 0 : this.config.opensAt));
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
    const inv = await this.inventory(c.eventId).admissionStats();
    if (!inv.ok) throw new Error(`admission stats of ${c.eventId}: ${inv.code} ${inv.message}`);
    const now = this.now();
    const view: InventoryView = inv.value;
    const decision = decideTick(c, this.state, view, now);
    const sketches = this.state.sketches;
    // Sold-out visitors are pointed at the waitlist only when joining it works: while the inventory's
    // gate is on, the waitlist is closed (409 WAITLIST_CLOSED) and the room's queue is the only way in.
    const waitlist = inv.value.onSale ? undefined : `/v1/events/${c.eventId}/waitlist`;
    const reports: TickReport[] = await Promise.all(
      Array.from({ length: c.shards }, (_, n) =>
        this.shard(c.eventId, n).tick({ open: decision.open, admit: decision.perShard[n] ?? 0, soldOut: decision.soldOut, waitlist, sketches, ratePerSecond: decision.ratePerSecond, at: now }),
      ),
    );
    this.state = afterTick(this.state, decision, reports, now);
    this.lastActiveShoppers = decision.activeShoppers + reports.reduce((n, r) => n + r.admitted, 0);
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
