// The order of classifiers induced by the square (classifier x classifier) part of the
// cross-evaluation matrix.
//
// Rule: let d(i->j) = M[i][j] - base[j] be the change in accuracy of classifier j when it is
// given the reconstructions of classifier i's S2SNet instead of the originals. Classifier i is
// ranked above j (i > j: i's input signal contains what j needs) when j loses less on i's
// reconstructions than i loses on j's: d(i->j) > d(j->i) + epsilon; within epsilon the pair is
// tied (compared as the image counts they are: see TIE_TOLERANCE). How sure that is comes from
// the bootstrap over evaluation images: the rule is applied in
// every resample of the delta matrix, and a relation (i above j, j above i, or a tie) counts as
// established only when it holds in at least `level` (95 %) of them. Without resamples the point
// estimate decides. The order is total when every pair is established as one classifier above
// the other and the relation is transitive. Every violation is listed: each pair that is not
// established (with its shares), each established tie (with the chains a > c > b it leaves
// unresolved), each 3-cycle, and, for a group that beats each other in a circle without any
// 3-cycle, one shortest cycle through it.
import { AnalysisError } from './images.js';

export const ORDER_RULE =
  "Classifier A ranks above B when B keeps more of its accuracy on A's reconstructions than A keeps on B's " +
  '(the change in accuracy from the originals is larger for B-on-A than for A-on-B by more than epsilon; otherwise the pair is tied). ' +
  'A relation counts as established when it holds in at least the given share of bootstrap resamples of the evaluation images. ' +
  "Higher means its S2SNet lets through a signal that also serves the others. The relation is a strict total order when every pair is established as one above the other and it is transitive; " +
  'the ranking lists classifiers by the number of others they are established above, then by the point estimate, then by name.';

/** Default tolerance of the rule: none; the bootstrap decides what is a real difference. */
export const ORDER_EPSILON = 0;

/** Default share of bootstrap resamples in which a relation must hold to be established. */
export const ORDER_LEVEL = 0.95;

/**
 * Accuracy changes are counts over n images divided by n, so two changes that are equal as
 * counts can differ in their last bits after the division and the subtraction (0.23 - 0.26 is
 * not 0.26 - 0.29 in floating point). Differences within this tolerance are exact ties: it is far
 * above that rounding (about 1e-16) and far below one image's share 1/n of any evaluation set of
 * under a billion images, so no real difference is lost.
 */
export const TIE_TOLERANCE = 1e-9;

/** Whether change `dij` exceeds `dji` by more than `epsilon`, comparing as counts would (see TIE_TOLERANCE). */
function exceeds(dij: number, dji: number, epsilon: number): boolean {
  return dij - dji - epsilon > TIE_TOLERANCE;
}

export interface OrderOptions {
  /** Differences within epsilon (a share: 0.005 is half a percentage point) count as ties. Default ORDER_EPSILON (0). */
  epsilon?: number;
  /** Bootstrap resamples of the delta matrix: resampled[i][j][b] is d(i->j) in resample b (all cells resampled alike). */
  resampled?: ArrayLike<number>[][];
  /** Share of resamples a relation must hold in to be established (default 0.95). */
  level?: number;
  /**
   * Classifiers not shown to beat chance (e.g. their accuracy interval reaches 1 / classes),
   * with why: such a classifier loses nothing on any reconstructions, so every relation it is
   * part of is empty and the order cannot be total.
   */
  atChance?: { name: string; reason: string }[];
}

/** How often each relation of a pair held across the bootstrap resamples (shares summing to 1). */
export interface PairConfidence {
  a: string;
  b: string;
  /** Share of resamples with a above b, with b above a, and tied. */
  aAbove: number;
  bAbove: number;
  tie: number;
  /** The relation that held in at least `level` of them, or null (uncertain). */
  established: 'a' | 'b' | 'tie' | null;
}

export interface OrderViolation {
  /**
   * 'uncertain': no relation of the pair is established; 'tie': the pair is established as tied;
   * 'cycle': classifiers that rank above each other in a circle; 'chance': a classifier not shown
   * to beat chance, whose relations carry no information.
   */
  kind: 'uncertain' | 'tie' | 'cycle' | 'chance';
  description: string;
  /** The pair, or the cycle in order (each above the next, the last above the first). */
  classifiers: string[];
}

export interface TotalOrder {
  /** Most wins first; equal wins by name. When isTotal, this is the order itself. */
  ranking: string[];
  /** How many others each classifier ranks above. */
  wins: Record<string, number>;
  isTotal: boolean;
  violations: OrderViolation[];
  /** Every pair (i < j in the order of names) with the shares of its relations. */
  pairs: PairConfidence[];
  rule: string;
  epsilon: number;
  /** Share of resamples that establishes a relation. */
  level: number;
  /** Bootstrap resamples behind the shares (0: the point estimate alone decided). */
  resamples: number;
}

/**
 * The order of classifiers from their accuracy changes on each other's reconstructions.
 *
 * @param names names[i] is classifier i.
 * @param delta delta[i][j] is d(i->j), the accuracy change of classifier j on the reconstructions
 *   of classifier i's AE (the cross matrix's delta rows for the classifiers' AEs).
 * @param opts epsilon, the bootstrap resamples of delta and the level that establishes a relation.
 * @returns The ranking, whether it is a strict total order, every violation and every pair's shares.
 * @throws AnalysisError on a malformed matrix, duplicate names, a negative epsilon or a level outside (0, 1].
 * @example
 * const order = totalOrder(['vgg', 'resnet'], [[0, -0.01], [-0.2, 0]], { resampled });
 * order.isTotal; // true when 'vgg above resnet' held in >= 95 % of the resamples
 */
export function totalOrder(names: string[], delta: number[][], opts: OrderOptions = {}): TotalOrder {
  const { epsilon, level, resampled, resamples } = checkedInputs(names, delta, opts);
  for (const c of opts.atChance ?? []) {
    if (!names.includes(c.name)) throw new AnalysisError(`totalOrder: atChance names '${c.name}', which is not a classifier of the order`);
  }
  const pointAbove = names.map((_, i) => names.map((_, j) => i !== j && exceeds(delta[i][j], delta[j][i], epsilon)));
  const pairs = pairConfidences(names, pointAbove, { epsilon, level, resampled, resamples });
  const above = establishedAbove(names, pairs);
  const wins: Record<string, number> = Object.fromEntries(names.map((nm, i) => [nm, above[i].filter(Boolean).length]));
  const pointWins = names.map((_, i) => pointAbove[i].filter(Boolean).length);
  const violations = describeViolations(names, delta, { pairs, above, epsilon, resamples, atChance: opts.atChance ?? [] });
  const ranking = names
    .map((name, i) => ({ name, i }))
    .sort((a, b) => wins[b.name] - wins[a.name] || pointWins[b.i] - pointWins[a.i] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((x) => x.name);
  return { ranking, wins, isTotal: violations.length === 0, violations, pairs, rule: ORDER_RULE, epsilon, level, resamples };
}

interface CheckedInputs {
  epsilon: number;
  level: number;
  resampled: ArrayLike<number>[][] | undefined;
  resamples: number;
}

/** The options with their defaults, after checking the matrix, the names and the resamples agree. */
function checkedInputs(names: string[], delta: number[][], opts: OrderOptions): CheckedInputs {
  const n = names.length;
  const epsilon = opts.epsilon ?? ORDER_EPSILON;
  const level = opts.level ?? ORDER_LEVEL;
  if (new Set(names).size !== n) throw new AnalysisError(`totalOrder: classifier names must be unique, got ${names.join(', ')}`);
  if (delta.length !== n || delta.some((r) => r.length !== n)) throw new AnalysisError(`totalOrder: needs a ${n}x${n} matrix of accuracy changes, one row and column per classifier`);
  if (delta.some((r) => r.some((v) => !Number.isFinite(v)))) throw new AnalysisError('totalOrder: the matrix of accuracy changes holds a non-finite value');
  if (!(epsilon >= 0)) throw new AnalysisError(`totalOrder: epsilon must be >= 0, got ${epsilon}`);
  if (!(level > 0 && level <= 1)) throw new AnalysisError(`totalOrder: level must be in (0, 1], got ${level}`);
  const resampled = opts.resampled;
  const resamples = resampled ? resampled[0]?.[0]?.length ?? 0 : 0;
  if (resampled && (resampled.length !== n || resampled.some((r) => r.length !== n || r.some((c) => c.length !== resamples)) || resamples === 0)) {
    throw new AnalysisError(`totalOrder: resampled must hold the same number (> 0) of resamples for each of the ${n}x${n} cells`);
  }
  return { epsilon, level, resampled, resamples };
}

/**
 * Every pair (i < j) with the share of resamples in which each relation held (the point estimate
 * alone, as 0 or 1, without resamples) and the relation established at `level`.
 */
function pairConfidences(names: string[], pointAbove: boolean[][], { epsilon, level, resampled, resamples }: CheckedInputs): PairConfidence[] {
  const pairs: PairConfidence[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const [aAbove, bAbove] = resampled ? resampledShares(resampled[i][j], resampled[j][i], resamples, epsilon) : [pointAbove[i][j] ? 1 : 0, pointAbove[j][i] ? 1 : 0];
      const tie = Math.max(0, 1 - aAbove - bAbove);
      const established = aAbove >= level ? 'a' : bAbove >= level ? 'b' : tie >= level ? 'tie' : null;
      pairs.push({ a: names[i], b: names[j], aAbove, bAbove, tie, established });
    }
  }
  return pairs;
}

/** Shares of resamples with i above j and with j above i, from the resampled changes d(i->j) and d(j->i). */
function resampledShares(dij: ArrayLike<number>, dji: ArrayLike<number>, resamples: number, epsilon: number): [number, number] {
  let ab = 0;
  let ba = 0;
  for (let r = 0; r < resamples; r++) {
    if (exceeds(dij[r], dji[r], epsilon)) ab++;
    else if (exceeds(dji[r], dij[r], epsilon)) ba++;
  }
  return [ab / resamples, ba / resamples];
}

/** above[i][j]: classifier i is established above j. */
function establishedAbove(names: string[], pairs: PairConfidence[]): boolean[][] {
  const above = names.map(() => names.map(() => false));
  for (const p of pairs) {
    const [i, j] = [names.indexOf(p.a), names.indexOf(p.b)];
    above[i][j] = p.established === 'a';
    above[j][i] = p.established === 'b';
  }
  return above;
}

/** Each 3-cycle i > j > k > i once, from its smallest index, in the direction it runs. */
function threeCycles(above: boolean[][]): [number, number, number][] {
  const n = above.length;
  const cycles: [number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      for (let k = i + 1; k < n; k++) if (j !== k && above[i][j] && above[j][k] && above[k][i]) cycles.push([i, j, k]);
    }
  }
  return cycles;
}

/**
 * Every violation of a strict total order, worded: pairs not established as one above the other,
 * classifiers at chance, 3-cycles, then one shortest cycle through each circular group without one.
 */
function describeViolations(
  names: string[],
  delta: number[][],
  { pairs, above, epsilon, resamples, atChance }: { pairs: PairConfidence[]; above: boolean[][]; epsilon: number; resamples: number; atChance: { name: string; reason: string }[] },
): OrderViolation[] {
  const violations: OrderViolation[] = [];
  for (const p of pairs) {
    if (p.established === null) violations.push(uncertainViolation(p, resamples));
    else if (p.established === 'tie') violations.push(tieViolation(names, delta, above, p, epsilon, resamples));
  }
  for (const c of atChance) {
    violations.push({ kind: 'chance', classifiers: [c.name], description: `${c.name} is not shown to beat chance (${c.reason}): it loses nothing on any reconstructions, so its relations carry no information` });
  }
  const inThreeCycle = new Set<number>();
  for (const cycle of threeCycles(above)) {
    cycle.forEach((x) => inThreeCycle.add(x));
    violations.push(cycleViolation(cycle.map((x) => names[x])));
  }
  for (const group of circularGroups(above)) {
    if (group.some((x) => inThreeCycle.has(x))) continue;
    violations.push(cycleViolation(shortestCycle(above, group).map((x) => names[x])));
  }
  return violations;
}

function uncertainViolation(p: PairConfidence, resamples: number): OrderViolation {
  const shares = resamples ? `${p.a} above in ${share(p.aAbove)} of ${resamples} resamples, ${p.b} above in ${share(p.bAbove)}, tied in ${share(p.tie)}` : '';
  return { kind: 'uncertain', classifiers: [p.a, p.b], description: `${p.a} vs ${p.b} is uncertain: ${shares}` };
}

/** An established tie, with both changes and the chains a > c > b that transitivity would need to decide it. */
function tieViolation(names: string[], delta: number[][], above: boolean[][], p: PairConfidence, epsilon: number, resamples: number): OrderViolation {
  const [i, j] = [names.indexOf(p.a), names.indexOf(p.b)];
  const chains = names.flatMap((c, k) => (above[i][k] && above[k][j] ? [`${p.a} > ${c} > ${p.b}`] : above[j][k] && above[k][i] ? [`${p.b} > ${c} > ${p.a}`] : []));
  return {
    kind: 'tie',
    classifiers: [p.a, p.b],
    description:
      `${p.a} and ${p.b} are tied: ${p.b} on ${p.a}'s reconstructions ${points(delta[i][j])}, ${p.a} on ${p.b}'s ${points(delta[j][i])} (within ${points(epsilon)}${resamples ? `; tied in ${share(p.tie)} of ${resamples} resamples` : ''})` +
      (chains.length ? `; intransitive with ${chains.join(', ')}` : ''),
  };
}

function cycleViolation(cycle: string[]): OrderViolation {
  return { kind: 'cycle', classifiers: cycle, description: `intransitive: ${[...cycle, cycle[0]].join(' > ')}` };
}

/**
 * Strongly connected groups of two or more classifiers under `above` (each reaches the others):
 * the classifiers that rank above each other in a circle.
 *
 * @param above above[i][j]: classifier i is established above j.
 * @returns Each group's indices, smallest first; groups in the order of their smallest member.
 * @example
 * circularGroups([[false, true, false], [false, false, true], [true, false, false]]); // [[0, 1, 2]]
 */
export function circularGroups(above: boolean[][]): number[][] {
  const n = above.length;
  const reach = above.map((row) => [...row]);
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (reach[i][k] && reach[k][j]) reach[i][j] = true;
  const seen = new Set<number>();
  const groups: number[][] = [];
  for (let i = 0; i < n; i++) {
    if (seen.has(i) || !reach[i][i]) continue;
    const group = [i, ...Array.from({ length: n }, (_, j) => j).filter((j) => j !== i && reach[i][j] && reach[j][i])];
    group.forEach((x) => seen.add(x));
    groups.push(group);
  }
  return groups;
}

/** A shortest cycle through the group's first member, by breadth-first search inside the group. */
function shortestCycle(above: boolean[][], group: number[]): number[] {
  const start = group[0];
  const parent = new Map<number, number>();
  let frontier = [start];
  while (frontier.length) {
    const next: number[] = [];
    for (const u of frontier) {
      for (const v of group) {
        if (!above[u][v]) continue;
        if (v === start) {
          const path = [u];
          while (path[0] !== start) path.unshift(parent.get(path[0])!);
          return path;
        }
        if (!parent.has(v)) {
          parent.set(v, u);
          next.push(v);
        }
      }
    }
    frontier = next;
  }
  throw new Error('unreachable: a strongly connected group always contains a cycle');
}

function share(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function points(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pts`;
}
