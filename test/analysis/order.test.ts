import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AnalysisError, deltaMatrix, totalOrder } from '../../src/analysis/index.js';

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
  assert.equal(ord.epsilon, 0.005);
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
  const tied = totalOrder(['p', 'q', 'r'], d);
  assert.equal(tied.isTotal, false);
  assert.equal(tied.violations.length, 1);
  const [v] = tied.violations;
  assert.equal(v.kind, 'tie');
  assert.deepEqual(v.classifiers, ['p', 'q']);
  assert.match(v.description, /p and q are tied: q on p's reconstructions -10\.00 pts, p on q's -10\.20 pts \(within \+0\.50 pts\); intransitive with p > r > q/);
  // A smaller epsilon decides the pair: q loses less on p's reconstructions than p on q's.
  const decided = totalOrder(['p', 'q', 'r'], d, 0.001);
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
      const gt = (i: number, j: number) => d[i][j] > d[j][i] + eps;
      let undecided = 0;
      let transitive = true;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (i < j && !gt(i, j) && !gt(j, i)) undecided++;
          for (let k = 0; k < n; k++) if (gt(i, j) && gt(j, k) && !gt(i, k)) transitive = false;
        }
      }
      const complete = undecided === 0;
      const ord = totalOrder(names, d, eps);
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

test('bad input is refused with a message naming the problem', () => {
  assert.throws(() => totalOrder(['a', 'b'], [[0, 0]]), AnalysisError);
  assert.throws(() => totalOrder(['a', 'a'], [[0, 0], [0, 0]]), /unique/);
  assert.throws(() => totalOrder(['a', 'b'], [[0, NaN], [0, 0]]), /non-finite/);
  assert.throws(() => totalOrder(['a', 'b'], [[0, 0], [0, 0]], -1), /epsilon/);
});
