// Rank agreement: Kendall's tau between two orderings with a permutation p-value (does the
// classifiers' order follow their accuracy, or their size?), and Kendall's W across several
// rankings of the same items (do replicate seeds agree on the order?).
import { deriveSeed, Rng } from '../data/random.js';
import { AnalysisError } from './images.js';

/** Up to this many items the permutation test enumerates all n! orderings. */
export const EXACT_PERMUTATION_LIMIT = 8;
/** Random permutations of the Monte Carlo test beyond the exact limit. */
export const MONTE_CARLO_PERMUTATIONS = 100_000;

export interface KendallTest {
  /** Kendall's tau-b in [-1, 1]; null when one side is constant (no ordering to compare). */
  tau: number | null;
  /** Two-sided permutation p-value: share of orderings with |tau| at least the observed one; null with tau. */
  p: number | null;
  /** 'exact': all n! permutations; 'monte-carlo': seeded random permutations. */
  method: 'exact' | 'monte-carlo';
  permutations: number;
  n: number;
}

function checkPaired(x: ArrayLike<number>, y: ArrayLike<number>): void {
  if (x.length !== y.length) throw new AnalysisError(`Kendall's tau needs paired values, got ${x.length} and ${y.length}`);
  if (x.length < 2) throw new AnalysisError(`Kendall's tau needs at least 2 items, got ${x.length}`);
  for (const v of [...Array.from(x), ...Array.from(y)]) if (!Number.isFinite(v)) throw new AnalysisError("Kendall's tau: a value is not finite");
}

/** tau-b of x and y[perm[i]] (perm null: identity); null when either side has only ties. */
function tauB(x: ArrayLike<number>, y: ArrayLike<number>, perm: Int32Array | null = null): number | null {
  const n = x.length;
  let score = 0;
  let untiedX = 0;
  let untiedY = 0;
  for (let i = 0; i < n; i++) {
    const yi = y[perm ? perm[i] : i];
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(yi - y[perm ? perm[j] : j]);
      score += dx * dy;
      if (dx !== 0) untiedX++;
      if (dy !== 0) untiedY++;
    }
  }
  return untiedX === 0 || untiedY === 0 ? null : score / Math.sqrt(untiedX * untiedY);
}

/**
 * Kendall's tau-b between paired values.
 *
 * @param x Scores of the items by one criterion (e.g. position in the order, higher = first).
 * @param y Scores of the same items by another (e.g. accuracy).
 * @returns tau-b in [-1, 1], or null when x or y is constant.
 * @throws AnalysisError on unpaired, too few or non-finite values.
 * @example
 * kendallTau([1, 2, 3], [10, 30, 20]); // 1/3
 */
export function kendallTau(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  checkPaired(x, y);
  return tauB(x, y);
}

/**
 * Kendall's tau-b with a two-sided permutation p-value: every permutation of y against x up to
 * EXACT_PERMUTATION_LIMIT items, seeded random permutations beyond (p = (1 + hits) / (1 + draws)).
 *
 * @param x Scores by one criterion.
 * @param y Scores by another, paired with x.
 * @param opts seed of the Monte Carlo draws (default 0) and their number.
 * @throws AnalysisError on unpaired, too few or non-finite values.
 * @example
 * kendallTest([1, 2, 3, 4], [1, 2, 3, 4]); // { tau: 1, p: 2 / 24, method: 'exact', permutations: 24, n: 4 }
 */
export function kendallTest(x: ArrayLike<number>, y: ArrayLike<number>, opts: { seed?: number; permutations?: number } = {}): KendallTest {
  return kendallTests([x], y, opts)[0];
}

/**
 * Kendall tests of several orderings of the same scores against one y (e.g. every ranking of the
 * classifiers that their relations allow, against their accuracy), sharing one permutation null:
 * permuting y against any rearrangement of the same x values gives the same distribution of tau,
 * so one null serves all, and p is the same function of |tau| for every ordering (a larger |tau|
 * never gets a larger p, in the Monte Carlo test too).
 *
 * @param xs Scores by the first criterion, one array per ordering, each a rearrangement of xs[0].
 * @param y Scores by the second criterion, paired with each of xs.
 * @param opts seed of the Monte Carlo draws (default 0) and their number.
 * @returns One test per entry of xs, in order.
 * @throws AnalysisError on no orderings, unpaired, too few or non-finite values, or xs that are not rearrangements of each other.
 * @example
 * kendallTests([[1, 2, 3, 4], [2, 1, 3, 4]], [10, 20, 30, 40]).map((t) => t.p); // [2/24, 8/24]
 */
export function kendallTests(xs: ArrayLike<number>[], y: ArrayLike<number>, opts: { seed?: number; permutations?: number } = {}): KendallTest[] {
  if (xs.length === 0) throw new AnalysisError('Kendall tests need at least one ordering');
  for (const x of xs) checkPaired(x, y);
  const values = (x: ArrayLike<number>) => Float64Array.from(x).sort().join(',');
  const reference = values(xs[0]);
  if (xs.some((x) => values(x) !== reference)) throw new AnalysisError('Kendall tests: every ordering must rearrange the same scores (one permutation null serves them all)');
  const n = y.length;
  const exact = n <= EXACT_PERMUTATION_LIMIT;
  const method = exact ? 'exact' : 'monte-carlo';
  const observed = xs.map((x) => tauB(x, y));
  if (observed[0] === null) return xs.map(() => ({ tau: null, p: null, method, permutations: 0, n }));
  const nullTaus = permutationNull(xs[0], y, exact ? null : { seed: opts.seed ?? 0, draws: opts.permutations ?? MONTE_CARLO_PERMUTATIONS });
  return observed.map((tau) => {
    // Ties of floating-point sums: a permutation as extreme as the observed one may differ in the last bits.
    const hits = nullTaus.length - lowerBound(nullTaus, Math.abs(tau!) - 1e-12);
    const p = exact ? hits / nullTaus.length : (1 + hits) / (1 + nullTaus.length);
    return { tau, p, method, permutations: nullTaus.length, n };
  });
}

/** Sorted |tau| of y permuted against x: every permutation (monteCarlo null) or seeded random ones. */
function permutationNull(x: ArrayLike<number>, y: ArrayLike<number>, monteCarlo: { seed: number; draws: number } | null): Float64Array {
  const perm = Int32Array.from({ length: y.length }, (_, i) => i);
  const taus: number[] = [];
  if (monteCarlo === null) {
    forEachPermutation(perm, () => void taus.push(Math.abs(tauB(x, y, perm)!)));
  } else {
    const rng = new Rng(deriveSeed(monteCarlo.seed, 'kendall'));
    for (let d = 0; d < monteCarlo.draws; d++) {
      rng.shuffle(perm);
      taus.push(Math.abs(tauB(x, y, perm)!));
    }
  }
  return Float64Array.from(taus).sort();
}

/** Index of the first value of sorted `a` that is >= v (a.length when none). */
function lowerBound(a: Float64Array, v: number): number {
  let [lo, hi] = [0, a.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Calls visit once for each ordering of a (permuted in place; Heap's algorithm). */
function forEachPermutation(a: Int32Array, visit: () => void): void {
  const c = new Int32Array(a.length);
  visit();
  let i = 1;
  while (i < a.length) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      [a[j], a[i]] = [a[i], a[j]];
      visit();
      c[i]++;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
}

/** Ranks 1..n of the values, ties getting the mean of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < idx.length; ) {
    let end = start;
    while (end + 1 < idx.length && values[idx[end + 1]] === values[idx[start]]) end++;
    for (let k = start; k <= end; k++) ranks[idx[k]] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return ranks;
}

/**
 * Kendall's coefficient of concordance W of m rankings of the same n items (with the tie
 * correction): 1 when every ranking agrees, 0 when they cancel out.
 *
 * @param scores scores[r][i]: item i's score in ranking r (any scale; ties allowed).
 * @returns W in [0, 1]; null when every ranking is all ties.
 * @throws AnalysisError on fewer than 2 rankings or 2 items, or rankings of different lengths.
 * @example
 * kendallW([[1, 2, 3], [1, 2, 3]]); // 1
 * kendallW([[1, 2, 3], [3, 2, 1]]); // 0
 */
export function kendallW(scores: ArrayLike<number>[]): number | null {
  const m = scores.length;
  const n = scores[0]?.length ?? 0;
  if (m < 2 || n < 2) throw new AnalysisError(`Kendall's W needs at least 2 rankings of at least 2 items, got ${m} of ${n}`);
  if (scores.some((s) => s.length !== n)) throw new AnalysisError("Kendall's W: every ranking must rank the same items");
  const totals = new Float64Array(n);
  let tieCorrection = 0;
  for (const s of scores) {
    const r = averageRanks(s);
    r.forEach((v, i) => (totals[i] += v));
    const counts = new Map<number, number>();
    for (const v of r) counts.set(v, (counts.get(v) ?? 0) + 1);
    for (const t of counts.values()) tieCorrection += t ** 3 - t;
  }
  const meanTotal = (m * (n + 1)) / 2;
  let spread = 0;
  for (const t of totals) spread += (t - meanTotal) ** 2;
  const denominator = m * m * (n ** 3 - n) - m * tieCorrection;
  return denominator === 0 ? null : (12 * spread) / denominator;
}
