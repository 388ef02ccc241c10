/**
 * Global order of a waiting room across its shards (docs/onsale.md), as one number per visitor so
 * shards compare places without talking to each other: early arrivals (before opensAt) draw a
 * uniform random key below LATE_BASE once, at the opening; later arrivals get LATE_BASE + arrival
 * time (ms) * 1024 + the shard's own sequence, so arrival order holds to the millisecond.
 */

/** Every early key is below it; every late key above. */
export const LATE_BASE = 2 ** 40;
/** Keys sampled per shard for the position sketch (positions are exact below this many waiting). */
export const SKETCH_SIZE = 512;

/** FNV-1a over the user id: the shard (0 … shards-1) that holds this visitor's place. */
export function shardOf(userId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

export function lateKey(joinedAt: number, seq: number): number {
  return LATE_BASE + joinedAt * 1024 + (seq % 1024);
}

/** A uniform integer key in [0, LATE_BASE) from a [0,1) source. */
export function earlyKey(random: () => number): number {
  return Math.floor(random() * LATE_BASE);
}

/** A shard's waiting keys, every `stride`-th one (sorted), so others can count how many are ahead. */
export interface Sketch {
  shard: number;
  waiting: number;
  stride: number;
  keys: number[];
}

export function makeSketch(shard: number, sortedKeys: number[]): Sketch {
  const stride = Math.max(1, Math.ceil(sortedKeys.length / SKETCH_SIZE));
  const keys: number[] = [];
  for (let i = 0; i < sortedKeys.length; i += stride) keys.push(sortedKeys[i]);
  return { shard, waiting: sortedKeys.length, stride, keys };
}

/** How many of the sketched shard's visitors wait ahead of `key` (exact when stride is 1). */
export function aheadIn(s: Sketch, key: number): number {
  let lo = 0;
  let hi = s.keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(s.waiting, lo * s.stride);
}

/** The lowest late key of anyone who joins at `at` or later: keys below it arrived before `at`. */
export function arrivedBefore(at: number): number {
  return LATE_BASE + at * 1024;
}

/**
 * The coordinator's cut: given each shard's lowest waiting keys, the `quota` lowest overall, as a
 * count per shard. Keys no shard reported are not admitted this tick (they come next tick), and
 * neither is any key they could precede: a shard that reported only part of its queue (`waiting`
 * above its heads) may have an unreported key just above its last reported one, and a visitor who
 * joined once the shards' reports had begun (`below`, arrivedBefore(the earliest report)) may be on a
 * shard that had already reported. So every admission comes before everyone not admitted.
 */
export function splitQuota(heads: number[][], quota: number, waiting: number[] = heads.map((h) => h.length), below = Number.POSITIVE_INFINITY): number[] {
  const counts = heads.map(() => 0);
  if (quota <= 0) return counts;
  let limit = below;
  heads.forEach((h, s) => {
    if ((waiting[s] ?? h.length) > h.length) limit = Math.min(limit, h.length ? h[h.length - 1] + 1 : Number.NEGATIVE_INFINITY);
  });
  const idx = heads.map(() => 0);
  for (let n = 0; n < quota; n++) {
    let best = -1;
    for (let s = 0; s < heads.length; s++) {
      if (idx[s] < heads[s].length && heads[s][idx[s]] < limit && (best < 0 || heads[s][idx[s]] < heads[best][idx[best]])) best = s;
    }
    if (best < 0) break;
    idx[best]++;
    counts[best]++;
  }
  return counts;
}
