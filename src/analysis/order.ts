// The order of classifiers induced by the square (classifier x classifier) part of the
// cross-evaluation matrix.
//
// Rule: let d(i->j) = M[i][j] - base[j] be the change in accuracy of classifier j when it is
// given the reconstructions of classifier i's S2SNet instead of the originals. Classifier i is
// ranked above j (i > j: i's input signal contains what j needs) when j loses less on i's
// reconstructions than i loses on j's: d(i->j) > d(j->i) + epsilon. Within epsilon the pair is
// a tie. The relation is a strict total order when every pair is decided (no ties) and it is
// transitive. Every violation is listed: each tied pair (with the chains a > c > b that the tie
// leaves unresolved), each 3-cycle, and, for a group of classifiers that beat each other in a
// circle without any 3-cycle (possible only alongside ties), one shortest cycle through it.
import { AnalysisError } from './images.js';

export const ORDER_RULE =
  "Classifier A ranks above B when B keeps more of its accuracy on A's reconstructions than A keeps on B's " +
  '(the change in accuracy from the originals is larger for B-on-A than for A-on-B by more than epsilon; smaller differences are ties). ' +
  "Higher means its S2SNet lets through a signal that also serves the others. The relation is a strict total order when no pair is tied and it is transitive; " +
  'the ranking lists classifiers by the number of others they rank above, equal counts by name.';

export interface OrderViolation {
  /** 'tie': an undecided pair; 'cycle': classifiers that rank above each other in a circle. */
  kind: 'tie' | 'cycle';
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
  rule: string;
  epsilon: number;
}

/**
 * names[i] is classifier i; delta[i][j] is d(i->j), the accuracy change of classifier j on the
 * reconstructions of classifier i's AE (the cross matrix's delta rows for the classifiers' AEs).
 */
export function totalOrder(names: string[], delta: number[][], epsilon = 0.005): TotalOrder {
  const n = names.length;
  if (new Set(names).size !== n) throw new AnalysisError(`totalOrder: classifier names must be unique, got ${names.join(', ')}`);
  if (delta.length !== n || delta.some((r) => r.length !== n)) throw new AnalysisError(`totalOrder: needs a ${n}x${n} matrix of accuracy changes, one row and column per classifier`);
  if (delta.some((r) => r.some((v) => !Number.isFinite(v)))) throw new AnalysisError('totalOrder: the matrix of accuracy changes holds a non-finite value');
  if (!(epsilon >= 0)) throw new AnalysisError(`totalOrder: epsilon must be >= 0, got ${epsilon}`);

  const above = names.map((_, i) => names.map((_, j) => i !== j && delta[i][j] > delta[j][i] + epsilon));
  const wins: Record<string, number> = Object.fromEntries(names.map((nm, i) => [nm, above[i].filter(Boolean).length]));
  const violations: OrderViolation[] = [];

  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (above[i][j] || above[j][i]) continue;
      // Chains a > c > b that transitivity would need to decide the pair.
      const chains = names.flatMap((c, k) => (above[i][k] && above[k][j] ? [`${names[i]} > ${c} > ${names[j]}`] : above[j][k] && above[k][i] ? [`${names[j]} > ${c} > ${names[i]}`] : []));
      violations.push({
        kind: 'tie',
        classifiers: [names[i], names[j]],
        description:
          `${names[i]} and ${names[j]} are tied: ${names[j]} on ${names[i]}'s reconstructions ${points(delta[i][j])}, ${names[i]} on ${names[j]}'s ${points(delta[j][i])} (within ${points(epsilon)})` +
          (chains.length ? `; intransitive with ${chains.join(', ')}` : ''),
      });
    }
  }

  const inThreeCycle = new Set<number>();
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      for (let k = i + 1; k < n; k++) {
        // Each 3-cycle once: from its smallest index, in the direction it runs.
        if (j !== k && above[i][j] && above[j][k] && above[k][i]) {
          [i, j, k].forEach((x) => inThreeCycle.add(x));
          violations.push(cycleViolation([names[i], names[j], names[k]]));
        }
      }
    }
  }
  for (const group of circularGroups(above)) {
    if (group.some((x) => inThreeCycle.has(x))) continue;
    violations.push(cycleViolation(shortestCycle(above, group).map((x) => names[x])));
  }

  const ranking = [...names].sort((a, b) => wins[b] - wins[a] || (a < b ? -1 : a > b ? 1 : 0));
  return { ranking, wins, isTotal: violations.length === 0, violations, rule: ORDER_RULE, epsilon };
}

function cycleViolation(cycle: string[]): OrderViolation {
  return { kind: 'cycle', classifiers: cycle, description: `intransitive: ${[...cycle, cycle[0]].join(' > ')}` };
}

/** Strongly connected groups of two or more classifiers under `above` (each reaches the others). */
function circularGroups(above: boolean[][]): number[][] {
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

function points(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pts`;
}
