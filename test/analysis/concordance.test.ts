import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalysisError, averageRanks, kendallTau, kendallTest, kendallW } from '../../src/analysis/index.js';

const close = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test("Kendall's tau against hand counts, with ties (tau-b)", () => {
  close(kendallTau([1, 2, 3, 4], [1, 2, 3, 4]), 1);
  close(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // Pairs of [1,2,3] vs [10,30,20]: (1,2)+ (1,3)+ (2,3)-: (2 - 1) / 3.
  close(kendallTau([1, 2, 3], [10, 30, 20]), 1 / 3);
  // x = [1,2,3,4], y = [1,1,2,3]: 5 concordant, 0 discordant, 1 pair tied in y: 5 / sqrt(6 * 5).
  close(kendallTau([1, 2, 3, 4], [1, 1, 2, 3]), 5 / Math.sqrt(30));
  assert.equal(kendallTau([1, 2, 3], [5, 5, 5]), null);
  assert.throws(() => kendallTau([1], [1]), AnalysisError);
  assert.throws(() => kendallTau([1, 2], [1]), /paired/);
});

test('exact permutation p-values match hand-computed counts', () => {
  // n = 4: 24 orderings; tau = 1 only for the identity and -1 only for the reverse: p = 2/24.
  assert.deepEqual(kendallTest([1, 2, 3, 4], [1, 2, 3, 4]), { tau: 1, p: 2 / 24, method: 'exact', permutations: 24, n: 4 });
  // n = 3, tau = 1/3: |tau| >= 1/3 for every ordering of 3 (tau is +-1 or +-1/3): p = 1.
  const t3 = kendallTest([1, 2, 3], [10, 30, 20]);
  assert.equal(t3.p, 1);
  // n = 5, one swap of neighbours: tau = (9 - 1) / 10 = 0.8. Orderings with |tau| >= 0.8: at most one
  // inversion or at least nine; 1 + 4 (one adjacent swap) on each side: 10 of 120.
  const t5 = kendallTest([1, 2, 3, 4, 5], [1, 2, 3, 5, 4]);
  close(t5.tau, 0.8);
  close(t5.p, 10 / 120);
  // Beyond 8 items: seeded Monte Carlo, reproducible, close to the exact value's order of magnitude.
  const x = Array.from({ length: 10 }, (_, i) => i);
  const mc = kendallTest(x, x, { permutations: 2000, seed: 3 });
  assert.equal(mc.method, 'monte-carlo');
  assert.equal(mc.p, 1 / 2001, 'no random ordering of 10 reaches |tau| = 1 in 2,000 draws');
  assert.deepEqual(kendallTest(x, [...x].reverse(), { permutations: 2000, seed: 3 }).tau, -1);
  assert.deepEqual(kendallTest(x, x.map((v) => (v * 7) % 10), { permutations: 500, seed: 1 }), kendallTest(x, x.map((v) => (v * 7) % 10), { permutations: 500, seed: 1 }));
});

test("Kendall's W: 1 for agreement, 0 for cancelling rankings, hand value otherwise", () => {
  close(kendallW([[1, 2, 3], [1, 2, 3], [1, 2, 3]]), 1);
  close(kendallW([[1, 2, 3], [3, 2, 1]]), 0);
  // m = 2, n = 3: rank sums [2, 5, 5] around 4: S = 4 + 1 + 1 = 6; W = 12 * 6 / (4 * 24) = 0.75.
  close(kendallW([[1, 2, 3], [1, 3, 2]]), 0.75);
  assert.deepEqual(averageRanks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  assert.equal(kendallW([[1, 1], [2, 2]]), null);
  assert.throws(() => kendallW([[1, 2]]), AnalysisError);
});
