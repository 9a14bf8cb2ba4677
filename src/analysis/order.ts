// The order of classifiers induced by the cross-evaluation matrix.
//
// Rule: let d(i->j) be the change in accuracy of classifier j when it is given the
// reconstructions of classifier i's S2SNet instead of the originals. Classifier i is ranked
// above j (i > j: i's input signal contains what j needs) when j loses less on i's
// reconstructions than i loses on j's: d(i->j) > d(j->i) + epsilon. Within epsilon, the pair is
// a tie. The relation is a strict total order when every pair is decided (no ties) and it is
// transitive (no cycle i > j > k > i); every pair or cycle that breaks this is listed.

export const ORDER_RULE =
  "Classifier A ranks above B when B keeps more of its accuracy on A's reconstructions than A keeps on B's " +
  '(the change in accuracy from the originals is larger for B-on-A than for A-on-B by more than epsilon). ' +
  "Higher means its S2SNet lets through a signal that also serves the others.";

export interface OrderViolation {
  kind: 'tie' | 'cycle';
  description: string;
  classifiers: string[];
}

export interface TotalOrder {
  /** Most wins first; ties in wins broken by name. */
  ranking: string[];
  wins: Record<string, number>;
  isTotal: boolean;
  violations: OrderViolation[];
  rule: string;
  epsilon: number;
}

/**
 * names[i] is classifier i; delta[i][j] is d(i->j), the accuracy change of classifier j on
 * the reconstructions of classifier i's AE.
 */
export function totalOrder(names: string[], delta: number[][], epsilon = 0.005): TotalOrder {
  const n = names.length;
  if (delta.length !== n || delta.some((r) => r.length !== n)) throw new RangeError(`totalOrder needs a ${n}x${n} matrix of changes`);
  const above = (i: number, j: number) => delta[i][j] > delta[j][i] + epsilon;
  const violations: OrderViolation[] = [];
  const wins: Record<string, number> = Object.fromEntries(names.map((nm) => [nm, 0]));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (above(i, j)) wins[names[i]]++;
      else if (above(j, i)) wins[names[j]]++;
      else {
        violations.push({
          kind: 'tie',
          classifiers: [names[i], names[j]],
          description: `${names[i]} and ${names[j]} are tied: ${names[j]} on ${names[i]}'s reconstructions ${fmt(delta[i][j])}, ${names[i]} on ${names[j]}'s ${fmt(delta[j][i])} (within ${fmt(epsilon)})`,
        });
      }
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) {
        // Report each 3-cycle once, starting from its smallest index.
        if (i < j && i < k && j !== k && above(i, j) && above(j, k) && above(k, i)) {
          violations.push({ kind: 'cycle', classifiers: [names[i], names[j], names[k]], description: `intransitive: ${names[i]} > ${names[j]} > ${names[k]} > ${names[i]}` });
        }
      }
    }
  }
  const ranking = [...names].sort((a, b) => wins[b] - wins[a] || (a < b ? -1 : a > b ? 1 : 0));
  return { ranking, wins, isTotal: violations.length === 0, violations, rule: ORDER_RULE, epsilon };
}

function fmt(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pts`;
}
