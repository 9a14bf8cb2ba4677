import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AnalysisError, claimsOverRankings, consistentRankings, kendallTau, kendallTest, kendallTests, totalOrder, type ClaimSubject, type PairConfidence, type TotalOrder } from '../../src/analysis/index.js';
import { claimSentence } from '../../src/report/index.js';

type Relations = Pick<TotalOrder, 'ranking' | 'pairs' | 'violations' | 'isTotal'>;

/** An order whose only established relations are `above` ([higher, lower] pairs); every other pair uncertain. */
function partialOrder(names: string[], above: [string, string][], violations: TotalOrder['violations'] = [], ranking = names): Relations {
  const pairs: PairConfidence[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const [a, b] = [names[i], names[j]];
      const established = above.some(([x, y]) => x === a && y === b) ? 'a' : above.some(([x, y]) => x === b && y === a) ? 'b' : null;
      pairs.push({ a, b, aAbove: established === 'a' ? 1 : 0.5, bAbove: established === 'b' ? 1 : 0.5, tie: 0, established });
    }
  }
  // `ranking`: what a tie-break would have chosen.
  return { ranking: [...ranking], pairs, violations, isTotal: false };
}

/** Every ordering of `names`. */
function permutations(names: string[]): string[][] {
  if (names.length <= 1) return [names];
  return names.flatMap((first, k) => permutations([...names.slice(0, k), ...names.slice(k + 1)]).map((rest) => [first, ...rest]));
}

const position = (ranking: string[], names: string[]) => names.map((nm) => names.length - ranking.indexOf(nm));
const verdict = (t: { tau: number | null; p: number | null }) => (t.tau === null ? 'not-comparable' : t.p! >= 0.05 ? 'no-evidence' : t.tau > 0 ? 'follows' : 'runs-against');

test('a partial order: the claim holds only if it holds for every consistent ranking, else the data cannot decide', () => {
  // Accuracy falls from c1 to c5. Established: c5 above c4, c3 above c2 and c5 above c1. A
  // tie-break ranking c5 > c1 > c3 > c4 > c2 gives "no evidence"; the relations also allow
  // c5 > c4 > c3 > c2 > c1: tau = -1, p = 2/120, "runs against accuracy".
  const names = ['c1', 'c2', 'c3', 'c4', 'c5'];
  const subjects: ClaimSubject[] = names.map((name, k) => ({ name, accuracy: 0.99 - 0.01 * k, parameters: 1000 }));
  const order = partialOrder(names, [['c5', 'c4'], ['c3', 'c2'], ['c5', 'c1']], [], ['c5', 'c1', 'c3', 'c4', 'c2']);
  const tieBreak = kendallTest(position(order.ranking, names), subjects.map((s) => s.accuracy));
  assert.equal(verdict(tieBreak), 'no-evidence');
  const claims = claimsOverRankings(order, subjects, 0)!;
  assert.equal(claims.basis, 'partial');
  assert.equal(claims.enumerated, true);
  assert.equal(claims.relations, 3);
  const consistent = permutations(names).filter((r) => r.indexOf('c5') < r.indexOf('c4') && r.indexOf('c3') < r.indexOf('c2') && r.indexOf('c5') < r.indexOf('c1'));
  assert.equal(claims.rankings, consistent.length);
  const acc = claims.orderVsAccuracy;
  assert.equal(acc.conclusion, 'undecided');
  assert.deepEqual(acc.low.ranking, ['c5', 'c4', 'c3', 'c2', 'c1']);
  assert.equal(acc.low.test.tau, -1);
  assert.equal(acc.low.test.p, 2 / 120);
  assert.deepEqual([acc.high.test.tau, acc.high.test.p], [0, 1]);
  // Every parameter count equal: not comparable in any ranking.
  assert.equal(claims.orderVsSize.conclusion, 'not-comparable');
  const sentence = claimSentence('accuracy', acc, claims);
  assert.match(sentence, new RegExp(`^the data cannot decide whether the order follows accuracy: over the ${consistent.length} rankings consistent with the 3 established relations, tau runs from -1\\.00 \\(p = 0\\.02: runs against accuracy\\) to `));
  assert.match(claimSentence('parameter count', claims.orderVsSize, claims), /cannot be compared with parameter count/);
});

test('a total order is one ranking with one tau, the same as the plain test', () => {
  const names = ['a', 'b', 'c', 'd'];
  // a > b > c > d by wide margins: a's reconstructions cost nobody anything, d's cost everyone.
  const d = names.map((_, i) => names.map((_, j) => (i === j ? 0 : -0.1 * i)));
  const order = totalOrder(names, d);
  assert.equal(order.isTotal, true);
  const subjects = names.map((name, k) => ({ name, accuracy: [0.9, 0.95, 0.8, 0.85][k], parameters: 10 * (4 - k) }));
  const claims = claimsOverRankings(order, subjects, 0)!;
  assert.equal(claims.basis, 'total');
  assert.equal(claims.rankings, 1);
  assert.deepEqual(claims.orderVsAccuracy.low, claims.orderVsAccuracy.high);
  assert.deepEqual(claims.orderVsAccuracy.low.ranking, ['a', 'b', 'c', 'd']);
  assert.deepEqual(claims.orderVsAccuracy.low.test, kendallTest(position(order.ranking, order.ranking), [0.9, 0.95, 0.8, 0.85]));
  // Size falls with position: tau = 1, but p = 2/24: no ordering of 4 classifiers reaches p < 0.05.
  assert.equal(claims.orderVsSize.low.test.tau, 1);
  assert.equal(claims.orderVsSize.conclusion, 'no-evidence');
  assert.match(claimSentence('parameter count', claims.orderVsSize, claims), /^no evidence that the order follows parameter count \(tau = 1\.00, p = 0\.08, exact over 24 permutations\); with 4 classifiers no ordering could reach p < 0\.05$/);
  assert.equal(claimsOverRankings({ ...order, ranking: ['a'], pairs: [] }, [subjects[0]], 0), null);
  assert.throws(() => claimsOverRankings(order, subjects.slice(0, 3), 0), AnalysisError);
});

test('property: rankings, range and conclusion match a brute force over all orderings', () => {
  const arb = fc.integer({ min: 2, max: 6 }).chain((n) =>
    fc.record({
      n: fc.constant(n),
      // A random hidden ranking; each of its pairs is established with probability 1/2 (so the relations are consistent).
      hidden: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      keep: fc.array(fc.boolean(), { minLength: (n * (n - 1)) / 2, maxLength: (n * (n - 1)) / 2 }),
      accuracy: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n, maxLength: n }),
    }),
  );
  fc.assert(
    fc.property(arb, ({ n, hidden, keep, accuracy }) => {
      const names = Array.from({ length: n }, (_, i) => `k${i}`);
      const above: [string, string][] = [];
      let k = 0;
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) if (keep[k++]) above.push([names[hidden[a]], names[hidden[b]]]);
      const order = partialOrder(names, above);
      const subjects = names.map((name, i) => ({ name, accuracy: accuracy[i], parameters: i }));
      const claims = claimsOverRankings(order, subjects, 0)!;
      const consistent = permutations(names).filter((r) => above.every(([x, y]) => r.indexOf(x) < r.indexOf(y)));
      assert.equal(claims.rankings, consistent.length);
      const y = names.map((_, i) => accuracy[i]);
      const tests = consistent.map((r) => kendallTest(position(r, names), y));
      if (tests[0].tau === null) return void assert.equal(claims.orderVsAccuracy.conclusion, 'not-comparable');
      const taus = tests.map((t) => t.tau!);
      assert.ok(Math.abs(claims.orderVsAccuracy.low.test.tau! - Math.min(...taus)) < 1e-12);
      assert.ok(Math.abs(claims.orderVsAccuracy.high.test.tau! - Math.max(...taus)) < 1e-12);
      const verdicts = new Set(tests.map(verdict));
      assert.equal(claims.orderVsAccuracy.conclusion, verdicts.size === 1 ? [...verdicts][0] : 'undecided');
    }),
    { numRuns: 150 },
  );
});

test('relations of a classifier at chance and inside a cycle do not constrain the rankings', () => {
  const names = ['a', 'b', 'c', 'd'];
  // a > b > c > a is a cycle; d is below all of them.
  const cyclic = partialOrder(names, [['a', 'b'], ['b', 'c'], ['c', 'a'], ['a', 'd'], ['b', 'd'], ['c', 'd']]);
  const fromCycle = consistentRankings(cyclic, 0);
  assert.equal(fromCycle.relations, 3);
  assert.equal(fromCycle.rankings.length, 6);
  assert.ok(fromCycle.rankings.every((r) => r[3] === 'd'));
  // d at chance: its relations go too, and it may stand anywhere.
  const chance = partialOrder(names, [['a', 'b'], ['b', 'c'], ['a', 'c'], ['a', 'd'], ['b', 'd'], ['c', 'd']], [{ kind: 'chance', classifiers: ['d'], description: '' }]);
  const fromChance = consistentRankings(chance, 0);
  assert.equal(fromChance.relations, 3);
  assert.deepEqual(fromChance.rankings.map((r) => r.join('')).sort(), ['abcd', 'abdc', 'adbc', 'dabc']);
});

test('beyond 8 classifiers the rankings are a seeded sample that keeps every relation and finds the extremes', () => {
  const names = Array.from({ length: 10 }, (_, i) => `m${i}`);
  // Only m0 > m1 is established; accuracy rises with the index, so the lowest tau puts m9 first... and m0 above m1.
  const order = partialOrder(names, [['m0', 'm1']]);
  const subjects = names.map((name, i) => ({ name, accuracy: i, parameters: i % 3 }));
  const claims = claimsOverRankings(order, subjects, 7)!;
  assert.equal(claims.enumerated, false);
  assert.ok(claims.rankings > 9000, `${claims.rankings}`);
  const sample = consistentRankings(order, 7);
  assert.ok(sample.rankings.every((r) => r.indexOf('m0') < r.indexOf('m1')));
  assert.deepEqual(claims.orderVsAccuracy.high.ranking, ['m9', 'm8', 'm7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm0', 'm1']);
  assert.equal(claims.orderVsAccuracy.low.ranking.join(','), 'm0,m1,m2,m3,m4,m5,m6,m7,m8,m9');
  assert.ok(Math.abs(claims.orderVsAccuracy.high.test.tau! - kendallTau(position(claims.orderVsAccuracy.high.ranking, names), names.map((_, i) => i))!) < 1e-12);
  assert.equal(claims.orderVsAccuracy.conclusion, 'undecided');
  assert.equal(claims.orderVsAccuracy.low.test.method, 'monte-carlo');
  assert.deepEqual(claimsOverRankings(order, subjects, 7), claims, 'the same seed gives the same claims');
  assert.match(claimSentence('accuracy', claims.orderVsAccuracy, claims), /over \d+ sampled rankings consistent with the 1 established relation \(a sample: the range may be wider\)/);
});

test('Kendall tests of rearrangements share one null: p never rises with |tau|, in the Monte Carlo test too', () => {
  const y = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
  const base = y.map((_, i) => i + 1);
  const xs = Array.from({ length: 40 }, (_, s) => base.map((_, i) => ((i * (s % 9 + 1) + s) % 10) + 1)).filter((x) => new Set(x).size === 10);
  const tests = kendallTests(xs, y, { permutations: 3000, seed: 4 });
  const sorted = [...tests].sort((a, b) => Math.abs(a.tau!) - Math.abs(b.tau!));
  for (let k = 1; k < sorted.length; k++) assert.ok(sorted[k].p! <= sorted[k - 1].p!, `|tau| ${sorted[k].tau} has p ${sorted[k].p} > ${sorted[k - 1].p}`);
  assert.deepEqual(kendallTests([base], y, { permutations: 3000, seed: 4 })[0], kendallTest(base, y, { permutations: 3000, seed: 4 }));
  assert.throws(() => kendallTests([base, base.map((v) => v * 2)], y), /rearrange the same scores/);
  assert.throws(() => kendallTests([], y), AnalysisError);
});
