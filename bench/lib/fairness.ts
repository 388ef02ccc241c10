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
