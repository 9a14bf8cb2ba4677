import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AnalysisError, bootstrapMeans, deltaMatrix, mean, TIE_TOLERANCE, totalOrder } from '../../src/analysis/index.js';
import { Rng } from '../../src/data/random.js';

test('total order from the square part of a cross matrix', () => {
  // Accuracy of column j on the reconstructions of row i's AE, and on the originals.
  // vgg keeps everyone's accuracy, alexnet nobody's: vgg > resnet > alexnet.
  const names = ['alexnet', 'vgg', 'resnet'];
  const base = [0.8, 0.9, 0.85];
  const m = [
    [0.75, 0.6, 0.55],
    [0.79, 0.89, 0.84],
    [0.7, 0.8, 0.84],
  ];
  const ord = totalOrder(names, deltaMatrix(m, base));
  assert.deepEqual(ord.ranking, ['vgg', 'resnet', 'alexnet']);
  assert.deepEqual(ord.wins, { alexnet: 0, vgg: 2, resnet: 1 });
  assert.equal(ord.isTotal, true);
  assert.deepEqual(ord.violations, []);
  assert.equal(ord.epsilon, 0);
  assert.equal(ord.resamples, 0);
  assert.deepEqual(ord.pairs[0], { a: 'alexnet', b: 'vgg', aAbove: 0, bAbove: 1, tie: 0, established: 'b' });
});

test('the rule compares changes, not accuracies: a weak classifier can rank first', () => {
  // a's AE costs b nothing (b: 0.9 -> 0.9); b's AE costs a a lot (a: 0.5 -> 0.2). a > b, though b is more accurate.
  const ord = totalOrder(['b', 'a'], deltaMatrix([[0.9, 0.2], [0.9, 0.5]], [0.9, 0.5]));
  assert.deepEqual(ord.ranking, ['a', 'b']);
  assert.equal(ord.isTotal, true);
});

test('ties within epsilon are listed with the chains they leave unresolved', () => {
  // p vs q differ by 0.002 < epsilon; r sits between them: p > r > q.
  const d = [
    [0, -0.1, 0],
    [-0.102, 0, -0.2],
    [-0.1, 0, 0],
  ];
  const tied = totalOrder(['p', 'q', 'r'], d, { epsilon: 0.005 });
  assert.equal(tied.isTotal, false);
  assert.equal(tied.violations.length, 1);
  const [v] = tied.violations;
  assert.equal(v.kind, 'tie');
  assert.deepEqual(v.classifiers, ['p', 'q']);
  assert.match(v.description, /p and q are tied: q on p's reconstructions -10\.00 pts, p on q's -10\.20 pts \(within \+0\.50 pts\); intransitive with p > r > q/);
  // A smaller epsilon decides the pair: q loses less on p's reconstructions than p on q's.
  const decided = totalOrder(['p', 'q', 'r'], d, { epsilon: 0.001 });
  assert.equal(decided.isTotal, true);
  assert.deepEqual(decided.ranking, ['p', 'r', 'q']);
});

test('a 3-cycle is listed once, in the direction it runs', () => {
  const cyclic = totalOrder(['x', 'y', 'z'], [
    [0, 0, -0.5],
    [-0.5, 0, 0],
    [0, -0.5, 0],
  ]);
  assert.equal(cyclic.isTotal, false);
  assert.deepEqual(cyclic.violations, [{ kind: 'cycle', classifiers: ['x', 'y', 'z'], description: 'intransitive: x > y > z > x' }]);
  // Equal wins: ranked by name.
  assert.deepEqual(cyclic.ranking, ['x', 'y', 'z']);
});

test('a longer cycle without any 3-cycle (only possible with ties) is listed too', () => {
  // a > b > c > d > a, with a ~ c and b ~ d.
  const names = ['a', 'b', 'c', 'd'];
  const wins: [number, number][] = [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
  ];
  const d = names.map(() => names.map(() => 0));
  for (const [i, j] of wins) d[j][i] = -0.3; // i > j: i loses more on j's reconstructions
  const ord = totalOrder(names, d);
  assert.equal(ord.isTotal, false);
  assert.deepEqual(
    ord.violations.filter((v) => v.kind === 'cycle'),
    [{ kind: 'cycle', classifiers: ['a', 'b', 'c', 'd'], description: 'intransitive: a > b > c > d > a' }],
  );
  assert.deepEqual(ord.violations.filter((v) => v.kind === 'tie').map((v) => v.classifiers), [['a', 'c'], ['b', 'd']]);
});

test('property: a ranking planted in the changes is recovered; isTotal matches a brute-force check', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 7 }).chain((n) => fc.tuple(fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }), fc.array(fc.double({ min: -0.002, max: 0.002, noNaN: true }), { minLength: n * n, maxLength: n * n }))), ([ranks, noise]) => {
      // Planted: the classifier of rank r costs every other one 0.05 * r, plus noise well below epsilon.
      const n = ranks.length;
      const names = Array.from({ length: n }, (_, i) => `c${i}`);
      const d = names.map((_, i) => names.map((_, j) => (i === j ? 0 : -0.05 * ranks[i] + noise[i * n + j])));
      const ord = totalOrder(names, d);
      assert.equal(ord.isTotal, true);
      assert.deepEqual(ord.ranking, [...names].sort((a, b) => ranks[names.indexOf(a)] - ranks[names.indexOf(b)]));
    }),
    { numRuns: 100 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 6 }).chain((n) => fc.array(fc.array(fc.double({ min: -0.05, max: 0.05, noNaN: true }), { minLength: n, maxLength: n }), { minLength: n, maxLength: n })), (d) => {
      const n = d.length;
      const names = Array.from({ length: n }, (_, i) => `k${i}`);
      const eps = 0.01;
      const gt = (i: number, j: number) => d[i][j] - d[j][i] - eps > TIE_TOLERANCE;
      let undecided = 0;
      let transitive = true;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (i < j && !gt(i, j) && !gt(j, i)) undecided++;
          for (let k = 0; k < n; k++) if (gt(i, j) && gt(j, k) && !gt(i, k)) transitive = false;
        }
      }
      const complete = undecided === 0;
      const ord = totalOrder(names, d, { epsilon: eps });
      assert.equal(ord.isTotal, complete && transitive);
      // Every listed cycle is one; a transitive relation has none; a complete intransitive one has one.
      const cycles = ord.violations.filter((v) => v.kind === 'cycle').map((v) => v.classifiers.map((c) => names.indexOf(c)));
      for (const c of cycles) c.forEach((x, k) => assert.ok(gt(x, c[(k + 1) % c.length])));
      if (transitive) assert.equal(cycles.length, 0);
      if (complete && !transitive) assert.ok(cycles.length > 0);
      assert.equal(ord.violations.filter((v) => v.kind === 'tie').length, undecided);
      if (ord.isTotal) for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) assert.ok(gt(names.indexOf(ord.ranking[a]), names.indexOf(ord.ranking[b])));
    }),
    { numRuns: 300 },
  );
});

test('changes equal as image counts are ties, whatever the division rounds', () => {
  // Every pair of counts on 100 images with an equal change, k images lost by both: b keeps
  // hb - k of hb, a keeps ha - k of ha. As shares, (hb - k)/n - hb/n and (ha - k)/n - ha/n often
  // differ in the last bits (0.23 - 0.26 against 0.26 - 0.29).
  const n = 100;
  let roundedApart = 0;
  for (let ha = 0; ha <= n; ha += 3) {
    for (let hb = 0; hb <= n; hb += 5) {
      for (let k = 0; k <= Math.min(ha, hb); k += 2) {
        const base = [ha / n, hb / n];
        const d = deltaMatrix([[ha / n, (hb - k) / n], [(ha - k) / n, hb / n]], base);
        if (d[0][1] !== d[1][0]) roundedApart++;
        const ord = totalOrder(['a', 'b'], d);
        assert.deepEqual([ord.pairs[0].aAbove, ord.pairs[0].bAbove, ord.pairs[0].tie], [0, 0, 1], `ha ${ha}, hb ${hb}, k ${k}`);
        // With an epsilon of exactly k' images, a difference of k' images is still a tie.
        const e = totalOrder(['a', 'b'], deltaMatrix([[ha / n, (hb - k) / n], [ha / n, hb / n]], base), { epsilon: k / n });
        assert.equal(e.pairs[0].tie, 1, `epsilon ${k} images: ha ${ha}, hb ${hb}`);
      }
    }
  }
  assert.ok(roundedApart > 100, `the enumeration must hold ties that floating point breaks (${roundedApart})`);
});

test('resampled changes equal as counts in every resample are an established tie', () => {
  // Per image: a on b's reconstructions changes exactly as b on a's (lose the same images), but
  // from different original accuracies, so each resample's two means differ only by rounding.
  const rng = new Rng(5);
  const images = 997;
  const originalA = Float64Array.from({ length: images }, () => (rng.next() < 0.9 ? 1 : 0));
  const originalB = Float64Array.from({ length: images }, () => (rng.next() < 0.6 ? 1 : 0));
  const lost = Float64Array.from({ length: images }, (_, k) => (originalA[k] && originalB[k] && rng.next() < 0.2 ? 1 : 0));
  const [oa, ob, bOnA, aOnB] = bootstrapMeans([originalA, originalB, originalB.map((v, k) => v - lost[k]), originalA.map((v, k) => v - lost[k])], { resamples: 1000, seed: 3 });
  // resampled[i][j]: j's change on i's reconstructions.
  const dAB = bOnA.map((v, r) => v - ob[r]);
  const dBA = aOnB.map((v, r) => v - oa[r]);
  const differing = dAB.filter((v, r) => v !== dBA[r]).length;
  assert.ok(differing > 0, 'the resamples must hold ties that floating point breaks');
  const zero = new Float64Array(1000);
  const point = [
    [0, mean(originalB.map((v, k) => v - lost[k])) - mean(originalB)],
    [mean(originalA.map((v, k) => v - lost[k])) - mean(originalA), 0],
  ];
  const ord = totalOrder(['a', 'b'], point, {
    resampled: [
      [zero, dAB],
      [dBA, zero],
    ],
  });
  assert.deepEqual(ord.pairs[0], { a: 'a', b: 'b', aAbove: 0, bAbove: 0, tie: 1, established: 'tie' });
});

test('bad input is refused with a message naming the problem', () => {
  assert.throws(() => totalOrder(['a', 'b'], [[0, 0]]), AnalysisError);
  assert.throws(() => totalOrder(['a', 'a'], [[0, 0], [0, 0]]), /unique/);
  assert.throws(() => totalOrder(['a', 'b'], [[0, NaN], [0, 0]]), /non-finite/);
  assert.throws(() => totalOrder(['a', 'b'], [[0, 0], [0, 0]], { epsilon: -1 }), /epsilon/);
  assert.throws(() => totalOrder(['a', 'b'], [[0, 0], [0, 0]], { resampled: [[[0], [0]], [[0], []]] }), /same number/);
});

/**
 * Per-image correctness of classifiers on the originals (each right with probability 0.95) and on
 * each other's reconstructions: AE i makes a right answer wrong with probability cost[i], for
 * every classifier alike. Returns the point deltas and their paired bootstrap resamples.
 */
function simulatedDeltas(cost: number[], images: number, seed: number): { delta: number[][]; resampled: Float64Array[][] } {
  const rng = new Rng(seed);
  const n = cost.length;
  const original = cost.map(() => Float64Array.from({ length: images }, () => (rng.next() < 0.95 ? 1 : 0)));
  // change[i][j][k]: classifier j on image k, AE i's reconstruction minus the original (0 or -1).
  const change = cost.map((c) => cost.map((_, j) => Float64Array.from(original[j], (right) => (right && rng.next() < c ? -1 : 0))));
  const flat = change.flat();
  const samples = bootstrapMeans(flat, { resamples: 1000, seed });
  return { delta: change.map((row) => row.map((v) => mean(v))), resampled: cost.map((_, i) => cost.map((_, j) => samples[i * n + j])) };
}

test('bootstrap: a planted strong order is established, a planted tie is uncertain', () => {
  // a costs others 1 %, b 6 %, c 11 %: a > b > c by wide margins on 1,000 images.
  const strong = simulatedDeltas([0.01, 0.06, 0.11], 1000, 1);
  const ord = totalOrder(['a', 'b', 'c'], strong.delta, { resampled: strong.resampled });
  assert.equal(ord.isTotal, true);
  assert.deepEqual(ord.ranking, ['a', 'b', 'c']);
  assert.equal(ord.resamples, 1000);
  for (const p of ord.pairs) {
    assert.equal(p.established, 'a', `${p.a} vs ${p.b}`);
    assert.ok(p.aAbove >= 0.95);
  }
  // p and q cost the same: whichever the point estimate favours, the bootstrap does not establish it.
  const tie = simulatedDeltas([0.05, 0.05, 0.2], 1000, 2);
  const tied = totalOrder(['p', 'q', 'r'], tie.delta, { resampled: tie.resampled });
  assert.equal(tied.isTotal, false);
  const pq = tied.pairs.find((x) => x.a === 'p' && x.b === 'q')!;
  assert.equal(pq.established, null);
  assert.ok(pq.aAbove < 0.95 && pq.bAbove < 0.95 && pq.aAbove + pq.bAbove > 0.5, JSON.stringify(pq));
  assert.ok(Math.abs(pq.aAbove + pq.bAbove + pq.tie - 1) < 1e-12);
  assert.deepEqual(tied.violations.map((v) => [v.kind, v.classifiers]), [['uncertain', ['p', 'q']]]);
  assert.match(tied.violations[0].description, /p vs q is uncertain: p above in \d+\.\d% of 1000 resamples, q above in \d+\.\d%, tied in \d+\.\d%/);
  // r costs the most: both relations with it are established.
  assert.deepEqual(tied.pairs.filter((x) => x.b === 'r').map((x) => x.established), ['a', 'a']);
  assert.equal(tied.ranking[2], 'r');
});

test('a classifier not shown to beat chance makes the order not total, with the reason', () => {
  const d = [
    [0, 0],
    [-0.3, 0],
  ];
  const plain = totalOrder(['good', 'guesser'], d);
  assert.equal(plain.isTotal, true);
  const guarded = totalOrder(['good', 'guesser'], d, { atChance: [{ name: 'guesser', reason: 'top-1 11.0 [7.0, 15.0] % reaches 10.0 %' }] });
  assert.equal(guarded.isTotal, false);
  assert.deepEqual(guarded.ranking, ['good', 'guesser']);
  assert.deepEqual(guarded.violations.map((v) => [v.kind, v.classifiers]), [['chance', ['guesser']]]);
  assert.match(guarded.violations[0].description, /guesser is not shown to beat chance \(top-1 11\.0 \[7\.0, 15\.0\] % reaches 10\.0 %\)/);
  assert.throws(() => totalOrder(['a', 'b'], [[0, 0], [0, 0]], { atChance: [{ name: 'c', reason: '' }] }), /not a classifier/);
});
