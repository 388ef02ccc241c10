/** Fairness measures of the waiting room (bench/onsale.ts and its unit tests). */

/** Kendall's tau-a between two rankings of the same items (arrays of ranks, same index = same item). O(n log n) would do; n here is at most tens of thousands, so count discordant pairs by merge sort. */
export function kendallTau(a: number[], b: number[]): number {
  const n = a.length;
  if (n < 2) return 1;
  const order = a.map((_, i) => i).sort((i, j) => a[i] - a[j] || b[i] - b[j]);
  const seq = order.map((i) => b[i]);
  let discordant = 0;
  const sort = (xs: number[]): number[] => {
    if (xs.length < 2) return xs;
    const mid = xs.length >> 1;
    const l = sort(xs.slice(0, mid));
    const r = sort(xs.slice(mid));
    const out: number[] = [];
    let i = 0;
    let j = 0;
    while (i < l.length && j < r.length) {
      if (l[i] <= r[j]) out.push(l[i++]);
      else {
        discordant += l.length - i;
        out.push(r[j++]);
      }
    }
    return out.concat(l.slice(i), r.slice(j));
  };
  sort(seq);
  const pairs = (n * (n - 1)) / 2;
  return 1 - (2 * discordant) / pairs;
}

/**
 * Chi-square statistic of observed counts against a uniform expectation, with its degrees of
 * freedom and whether it passes at the 0.1% level (critical values up to 30 dof; Wilson-Hilferty beyond).
 */
export function chiSquareUniform(counts: number[]): { chi2: number; dof: number; critical: number; pass: boolean } {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  const dof = counts.length - 1;
  // 0.999 quantile of chi-square by Wilson-Hilferty (z = 3.090).
  const z = 3.090232;
  const critical = dof * (1 - 2 / (9 * dof) + z * Math.sqrt(2 / (9 * dof))) ** 3;
  return { chi2, dof, critical, pass: chi2 <= critical };
}

/** A visitor as the room's shards keep it (the bench reads them back after a run). */
export interface RoomRecord {
  userId: string;
  /** The shard's clock when the visitor joined (epoch ms). */
  joinedAt: number;
  /** Joined before the opening: drawn at random then. */
  early: boolean;
  /** The order key (durable-objects/onsale/order.ts); null for an early visitor before the draw. */
  key: number | null;
  /** The coordinator's time of the tick that admitted the visitor; null while waiting. */
  admittedAt: number | null;
}

/**
 * The early draw against join order: the early visitors (as the room classed them) are split into
 * four quarters by join order (ranks, so equal in size however the joins bunched in time), and the
 * first of them admitted (a quarter of the early visitors, or every early one admitted if fewer)
 * should come evenly from the four: chi-square against uniform, 3 dof.
 */
export function earlyShuffle(records: RoomRecord[]): { counts: number[]; early: number; sampled: number; chi2: number; dof: number; critical: number; pass: boolean } {
  const early = records.filter((r) => r.early).sort((a, b) => a.joinedAt - b.joinedAt || (a.userId < b.userId ? -1 : 1));
  const quarter = new Map(early.map((r, i) => [r.userId, Math.floor((i * 4) / early.length)]));
  const admitted = early.filter((r) => r.admittedAt !== null).sort(byAdmission);
  const sample = admitted.slice(0, Math.min(admitted.length, Math.floor(early.length / 4)));
  const counts = [0, 0, 0, 0];
  for (const r of sample) counts[quarter.get(r.userId)!]++;
  return { counts, early: early.length, sampled: sample.length, ...chiSquareUniform(counts) };
}

/** Admission order: by tick, within a tick by key (the order a shard admits in). */
const byAdmission = (a: RoomRecord, b: RoomRecord) => a.admittedAt! - b.admittedAt! || a.key! - b.key!;

/**
 * Late arrivals (joined after the opening) against arrival order: Kendall tau of join time vs admission
 * tick among the admitted (a tick's set is admitted at once and counts as agreeing), the largest
 * inversion (how much earlier a visitor had joined than one admitted a tick before them, ms), and how
 * many still waiting had joined before the last admitted arrival (passed over).
 */
export function lateOrder(records: RoomRecord[]): { admitted: number; ticks: number; tau: number; maxInversionMs: number; passedOver: number } {
  const late = records.filter((r) => !r.early);
  const admitted = late.filter((r) => r.admittedAt !== null).sort(byAdmission);
  const tau = kendallTau(
    admitted.map((r) => r.joinedAt),
    admitted.map((r) => r.admittedAt!),
  );
  let maxInversionMs = 0;
  let latestBefore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < admitted.length; ) {
    let j = i;
    while (j < admitted.length && admitted[j].admittedAt === admitted[i].admittedAt) j++;
    for (let k = i; k < j; k++) maxInversionMs = Math.max(maxInversionMs, latestBefore - admitted[k].joinedAt);
    for (let k = i; k < j; k++) latestBefore = Math.max(latestBefore, admitted[k].joinedAt);
    i = j;
  }
  const lastAdmittedJoin = Math.max(Number.NEGATIVE_INFINITY, ...admitted.map((r) => r.joinedAt));
  const passedOver = late.filter((r) => r.admittedAt === null && r.joinedAt < lastAdmittedJoin).length;
  // Ties count as agreeing, so tau says little when a few ticks admitted everyone: say over how many.
  const ticks = new Set(admitted.map((r) => r.admittedAt)).size;
  return { admitted: admitted.length, ticks, tau, maxInversionMs, passedOver };
}

/** A queue socket as the bench saw it (bench clock, ms). */
export interface SocketRecord {
  /** When its join was answered. */
  joinedAt?: number;
  admittedAt?: number;
  soldOutAt?: number;
}

/**
 * From the last sale to the last socket that was waiting then (joined, not admitted) showing
 * sold_out. No figure, with the reason, when the room did not sell out, nobody was waiting, or a
 * waiting socket never showed sold_out (the lag would understate).
 */
export function soldOutLag(
  sockets: SocketRecord[],
  lastSaleAt: number,
  room: { soldOut: boolean; available: number; held: number },
): { lagMs: number | null; waiting: number; told: number; reason?: string } {
  const waiting = sockets.filter((s) => s.joinedAt !== undefined && s.joinedAt <= lastSaleAt && (s.admittedAt === undefined || s.admittedAt > lastSaleAt));
  const told = waiting.filter((s) => s.soldOutAt !== undefined);
  const none = (reason: string) => ({ lagMs: null, waiting: waiting.length, told: told.length, reason });
  if (!room.soldOut) return none(`the room did not sell out: ${room.available} seats available and ${room.held} held at the end`);
  if (waiting.length === 0) return none("no socket was waiting when the last seat sold");
  if (told.length < waiting.length) return none(`${waiting.length - told.length} of ${waiting.length} sockets waiting at the last sale never showed sold_out`);
  return { lagMs: Math.max(...told.map((s) => s.soldOutAt!)) - lastSaleAt, waiting: waiting.length, told: told.length };
}
