import { rng } from "./random";
import { shardOf } from "../../durable-objects/onsale/order";
import { afterTick, decideTick, emptyRoomState, HEADS_PER_SHARD, inSession, type InventoryView, type RoomConfig, type RoomState } from "../../durable-objects/onsale/room.logic";
import { ShardEngine, type TickReport } from "../../durable-objects/onsale/shard.logic";

/** A seeded [0,1) source for the waiting room's draws in unit tests. */
export const rngFor = rng;

export interface Admission {
  userId: string;
  tick: number;
  joinedAt: number;
  early: boolean;
  /** The session's end (epoch ms), as the shard signs it. */
  expiresAt: number;
}

/**
 * A whole room in memory, run as the WaitingRoom and QueueShard objects run it: the coordinator's
 * decision, then each shard's order and report in turn. `between(n)` runs after shard n reported and
 * before shard n+1 takes its order (the shards of one tick answer at different moments).
 */
export class RoomSim {
  readonly engines: ShardEngine[];
  state: RoomState = emptyRoomState();
  readonly admitted: Admission[] = [];
  private ticks = 0;

  constructor(
    readonly config: RoomConfig,
    private readonly random: () => number,
    private readonly headLimit = HEADS_PER_SHARD,
  ) {
    this.engines = Array.from({ length: config.shards }, (_, n) => {
      const e = new ShardEngine();
      e.load({ eventId: config.eventId, shard: n, shards: config.shards, opensAt: config.opensAt, shopperSessionSeconds: config.shopperSessionSeconds, enabled: true }, false, []);
      return e;
    });
  }

  join(userId: string, now: number): void {
    const r = this.engines[shardOf(userId, this.config.shards)].join(userId, now);
    if (!r.ok) throw new Error(r.message);
  }

  /**
   * One tick at `now` with seats for `buyers` more buyers (4 seats each, every earlier admission has
   * held already), or against what an inventory says (its `admissionStats`); answers who it
   * admitted, lowest key first within each shard.
   */
  tick(buyers: number | InventoryView, now: number, between: (shard: number) => void = () => {}): Admission[] {
    const tick = ++this.ticks;
    const inv = typeof buyers === "number" ? { capacity: 1e9, available: buyers * 4, held: 0, booked: 0, admissionsUsed: inSession(this.state, now), seatsPerBuyer: null } : buyers;
    const d = decideTick(this.config, this.state, inv, now);
    const fresh: Admission[] = [];
    const reports: TickReport[] = this.engines.map((e, n) => {
      const { toAdmit } = e.takeOrder({ open: d.open, admit: d.perShard[n] ?? 0, soldOut: d.soldOut, sketches: this.state.sketches, ratePerSecond: d.ratePerSecond }, this.random);
      for (const v of toAdmit) {
        e.admit(v, `token-${v.userId}`, now, e.sessionEnd(now));
        fresh.push({ userId: v.userId, tick, joinedAt: v.joinedAt, early: v.early, expiresAt: e.sessionEnd(now) });
      }
      const report = e.report(toAdmit, this.headLimit, now);
      between(n);
      return report;
    });
    this.state = afterTick(this.state, d, reports, now);
    this.admitted.push(...fresh);
    return fresh;
  }
}
