// The paper's claims that the order of classifiers follows neither their accuracy nor their size,
// tested so that the answer never rests on how an undecided pair was broken. When the order is
// total there is one ranking and one Kendall tau. When it is not, every ranking that keeps the
// established relations is as good as any other: tau is computed for each of them (all of them
// up to EXACT_PERMUTATION_LIMIT classifiers, a seeded sample beyond), the lowest and highest are
// reported with their permutation p-values, and the conclusion is the one that holds for every
// ranking, or 'undecided' when the rankings disagree. All rankings share one permutation null,
// so p falls as |tau| grows and the two extremes decide what holds for every ranking between them.
// Relations that carry no information are not kept: those of a classifier not shown to beat
// chance, and those inside a group that ranks above each other in a circle.
import { EXACT_PERMUTATION_LIMIT, kendallTau, kendallTests, type KendallTest } from './concordance.js';
import { deriveSeed, Rng } from '../data/random.js';
import { AnalysisError } from './images.js';
import { circularGroups, type TotalOrder } from './order.js';

/** Consistent rankings drawn beyond EXACT_PERMUTATION_LIMIT classifiers. */
export const SAMPLED_RANKINGS = 10_000;
/** The test level of the claims: a tau with p below it is evidence. */
export const CLAIM_LEVEL = 0.05;

/**
 * What holds for every ranking tested: the order follows the criterion (tau > 0, p < CLAIM_LEVEL),
 * runs against it (tau < 0, p < CLAIM_LEVEL), no evidence either way; 'undecided' when the rankings
 * disagree; 'not-comparable' when every classifier has the same value of the criterion.
 */
export type ClaimConclusion = 'follows' | 'runs-against' | 'no-evidence' | 'undecided' | 'not-comparable';

/** One ranking (first = highest) and its test. */
export interface RankedTest {
  ranking: string[];
  test: KendallTest;
}

/** One claim over the rankings tested: the lowest and highest tau (the same ranking when there is one) and what holds for all. */
export interface ClaimTest {
  conclusion: ClaimConclusion;
  low: RankedTest;
  high: RankedTest;
}

export interface OrderClaims {
  /** 'total': the order itself, one ranking; 'partial': the rankings consistent with its established relations. */
  basis: 'total' | 'partial';
  /** Distinct rankings tested. */
  rankings: number;
  /** true: every consistent ranking; false: a seeded sample of them (the true range may be wider). */
  enumerated: boolean;
  /** Established relations (a above b) every ranking keeps. */
  relations: number;
  orderVsAccuracy: ClaimTest;
  orderVsSize: ClaimTest;
}

/** A classifier's values of the criteria the order is compared with. */
export interface ClaimSubject {
  name: string;
  accuracy: number;
  parameters: number;
}

/**
 * The rankings (first = highest) that keep every informative established relation of an order.
 *
 * @param order The order (its pairs, violations and ranking).
 * @param seed Seed of the sample drawn beyond EXACT_PERMUTATION_LIMIT classifiers.
 * @param extra Rankings to add to a sample (e.g. the ones a criterion's greedy order gives); ignored when all are enumerated.
 * @returns Distinct rankings, whether they are all of them, and how many relations they keep.
 * @example
 * consistentRankings(order, 0).rankings.length; // 1 when the order is total
 */
export function consistentRankings(order: Pick<TotalOrder, 'ranking' | 'pairs' | 'violations'>, seed: number, extra: ((above: boolean[][], names: string[]) => number[][]) | null = null): { rankings: string[][]; enumerated: boolean; relations: number } {
  const names = [...order.ranking].sort();
  const n = names.length;
  const at = new Map(names.map((nm, i) => [nm, i]));
  const above = names.map(() => names.map(() => false));
  for (const p of order.pairs) {
    if (p.established === 'a') above[at.get(p.a)!][at.get(p.b)!] = true;
    if (p.established === 'b') above[at.get(p.b)!][at.get(p.a)!] = true;
  }
  const free = new Set(order.violations.filter((v) => v.kind === 'chance').flatMap((v) => v.classifiers.map((c) => at.get(c)!)));
  const group = new Map<number, number>();
  circularGroups(above).forEach((g, k) => g.forEach((i) => group.set(i, k)));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const sameCircle = group.has(i) && group.get(i) === group.get(j);
      if (free.has(i) || free.has(j) || sameCircle) above[i][j] = false;
    }
  }
  const relations = above.flat().filter(Boolean).length;
  const enumerated = n <= EXACT_PERMUTATION_LIMIT;
  const orders = enumerated ? linearExtensions(above) : [...sampledExtensions(above, seed), ...(extra?.(above, names) ?? [])];
  const distinct = new Map(orders.map((o) => [o.join(','), o]));
  return { rankings: [...distinct.values()].map((o) => o.map((i) => names[i])), enumerated, relations };
}

/** Every ordering of 0..n-1 in which i comes before j wherever above[i][j] (backtracking). */
function linearExtensions(above: boolean[][]): number[][] {
  const n = above.length;
  const out: number[][] = [];
  const prefix: number[] = [];
  const placed = new Array<boolean>(n).fill(false);
  const ready = (j: number) => !placed[j] && above.every((row, i) => placed[i] || !row[j]);
  const extend = () => {
    if (prefix.length === n) return void out.push([...prefix]);
    for (let j = 0; j < n; j++) {
      if (!ready(j)) continue;
      placed[j] = true;
      prefix.push(j);
      extend();
      prefix.pop();
      placed[j] = false;
    }
  };
  extend();
  return out;
}

/** SAMPLED_RANKINGS seeded orderings that keep `above`: each picks uniformly among the classifiers nothing unplaced is above. */
function sampledExtensions(above: boolean[][], seed: number): number[][] {
  const rng = new Rng(deriveSeed(seed, 'claim-rankings'));
  return Array.from({ length: SAMPLED_RANKINGS }, () => greedyExtension(above, (ready) => ready[rng.int(ready.length)]));
}

/** One ordering that keeps `above`, placing next whichever ready classifier `pick` chooses. */
function greedyExtension(above: boolean[][], pick: (ready: number[]) => number): number[] {
  const n = above.length;
  const placed = new Array<boolean>(n).fill(false);
  const order: number[] = [];
  while (order.length < n) {
    const ready = Array.from({ length: n }, (_, j) => j).filter((j) => !placed[j] && above.every((row, i) => placed[i] || !row[j]));
    const next = pick(ready);
    placed[next] = true;
    order.push(next);
  }
  return order;
}

/**
 * The claims that the order follows neither accuracy nor size, over every ranking consistent
 * with the order's established relations (see the top of this file).
 *
 * @param order The order of the classifiers.
 * @param subjects Each classifier's accuracy on the originals and parameter count.
 * @param seed Seed of the Monte Carlo permutations and of the ranking sample (beyond 8 classifiers).
 * @returns Both claims, or null with fewer than two classifiers.
 * @throws AnalysisError when the subjects are not the order's classifiers.
 * @example
 * const c = claimsOverRankings(order, [{ name: 'vgg', accuracy: 0.9, parameters: 1e6 }, ...], 0);
 * c.orderVsAccuracy.conclusion; // 'undecided' when the rankings disagree
 */
export function claimsOverRankings(order: Pick<TotalOrder, 'ranking' | 'pairs' | 'violations' | 'isTotal'>, subjects: ClaimSubject[], seed: number): OrderClaims | null {
  // One classifier has no order to compare with anything.
  if (subjects.length < 2) return null;
  const byName = new Map(subjects.map((s) => [s.name, s]));
  if (byName.size !== order.ranking.length || order.ranking.some((nm) => !byName.has(nm))) {
    throw new AnalysisError(`claims: the classifiers (${subjects.map((s) => s.name).join(', ')}) must be those of the order (${order.ranking.join(', ')})`);
  }
  const criteria = [(s: ClaimSubject) => s.accuracy, (s: ClaimSubject) => s.parameters];
  // In a sample, the orderings that put the most and the least accurate (or largest) first wherever allowed: the likely extremes.
  const extremes = (above: boolean[][], names: string[]) =>
    criteria.flatMap((value) => [1, -1].map((sign) => greedyExtension(above, (ready) => ready.reduce((best, j) => (sign * value(byName.get(names[j])!) > sign * value(byName.get(names[best])!) ? j : best)))));
  const { rankings, enumerated, relations } = consistentRankings(order, seed, extremes);
  const claim = (value: (s: ClaimSubject) => number) => claimTest(rankings, order.ranking.map((nm) => value(byName.get(nm)!)), order.ranking, seed);
  return {
    basis: order.isTotal ? 'total' : 'partial',
    rankings: rankings.length,
    enumerated,
    relations,
    orderVsAccuracy: claim(criteria[0]),
    orderVsSize: claim(criteria[1]),
  };
}

/** The lowest and highest tau over the rankings, their tests, and what holds for all (values[k] belongs to names[k]). */
function claimTest(rankings: string[][], values: number[], names: string[], seed: number): ClaimTest {
  const n = names.length;
  // Position score of each classifier (in the order of names) in a ranking: n for the first, 1 for the last.
  const positions = (ranking: string[]) => names.map((nm) => n - ranking.indexOf(nm));
  let [low, high] = [0, 0];
  let [lowTau, highTau] = [Infinity, -Infinity];
  rankings.forEach((ranking, k) => {
    const tau = kendallTau(positions(ranking), values);
    if (tau === null) return;
    if (tau < lowTau) [low, lowTau] = [k, tau];
    if (tau > highTau) [high, highTau] = [k, tau];
  });
  const [lowTest, highTest] = kendallTests([positions(rankings[low]), positions(rankings[high])], values, { seed });
  return { conclusion: conclusionOf(lowTest, highTest), low: { ranking: rankings[low], test: lowTest }, high: { ranking: rankings[high], test: highTest } };
}

/**
 * What holds for every tau between the lowest and the highest: p falls as |tau| grows, so two
 * significant extremes of one sign bound significant taus of that sign, and two insignificant
 * extremes bound insignificant ones; anything else mixes conclusions.
 */
function conclusionOf(low: KendallTest, high: KendallTest): ClaimConclusion {
  const verdict = (t: KendallTest): ClaimConclusion => (t.tau === null || t.p === null ? 'not-comparable' : t.p >= CLAIM_LEVEL ? 'no-evidence' : t.tau > 0 ? 'follows' : 'runs-against');
  const [a, b] = [verdict(low), verdict(high)];
  return a === b ? a : 'undecided';
}
