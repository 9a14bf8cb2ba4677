import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalysisError, bootstrapMeans, meanEstimate, pairedChange, percentileInterval } from '../../src/analysis/index.js';
import { Rng } from '../../src/data/random.js';

test('percentile intervals interpolate between order statistics', () => {
  const [lo, hi] = percentileInterval(Float64Array.from({ length: 101 }, (_, i) => 100 - i));
  assert.ok(Math.abs(lo - 2.5) < 1e-9 && Math.abs(hi - 97.5) < 1e-9, `${lo} ${hi}`);
  assert.deepEqual(percentileInterval([3, 1, 2], 0.5), [1.5, 2.5]);
  assert.throws(() => percentileInterval([]), AnalysisError);
  assert.throws(() => percentileInterval([1, NaN]), /not finite/);
  assert.throws(() => percentileInterval([1], 1), /level/);
});

test('bootstrap means: seeded and reproducible, paired across calls, each a mean of a resample', () => {
  const v = [0, 1, 1, 0, 1];
  const [a] = bootstrapMeans([v], { resamples: 50, seed: 4 });
  const [b] = bootstrapMeans([v], { resamples: 50, seed: 4 });
  assert.deepEqual(a, b);
  // Every resampled mean of 5 zeros and ones is a multiple of 1/5.
  for (const m of a) assert.ok(Math.abs(m * 5 - Math.round(m * 5)) < 1e-12);
  // The same images in every resample: a vector and its complement always sum to 1.
  const [x, y] = bootstrapMeans([v, v.map((e) => 1 - e)], { resamples: 50, seed: 4 });
  x.forEach((m, i) => assert.ok(Math.abs(m + y[i] - 1) < 1e-12));
  assert.deepEqual(x, a, 'adding a vector to the call does not change the resamples');
  assert.throws(() => bootstrapMeans([v, [1]]), /paired vectors/);
  assert.throws(() => bootstrapMeans([[]]), AnalysisError);
});

test('coverage: 95% intervals cover the true accuracy in 93-97% of 200 simulated evaluation sets', () => {
  // Each set: 300 images, each classified right with probability 0.9 (accuracy near the demo's).
  const truth = 0.9;
  const rng = new Rng(11);
  let covered = 0;
  const sets = 200;
  for (let s = 0; s < sets; s++) {
    const right = Uint8Array.from({ length: 300 }, () => (rng.next() < truth ? 1 : 0));
    const { ci95 } = meanEstimate(right, { resamples: 1000, seed: s });
    if (ci95[0] <= truth && truth <= ci95[1]) covered++;
  }
  const rate = covered / sets;
  assert.ok(rate >= 0.93 && rate <= 0.97, `coverage ${rate}`);
});

test('the paired interval of a change is much narrower than two independent ones on correlated data', () => {
  // A classifier on 1,000 originals and on reconstructions that flip 3% of its answers.
  const rng = new Rng(5);
  const original = Uint8Array.from({ length: 1000 }, () => (rng.next() < 0.8 ? 1 : 0));
  const reconstructed = original.map((c) => (rng.next() < 0.03 ? 1 - c : c));
  const paired = pairedChange(original, reconstructed, { seed: 1 });
  const [sa] = bootstrapMeans([original], { seed: 1 });
  const [sb] = bootstrapMeans([reconstructed], { seed: 2 }); // other images: unpaired
  const unpaired = percentileInterval(sb.map((v, i) => v - sa[i]));
  const width = (x: [number, number]) => x[1] - x[0];
  assert.ok(width(paired.change.ci95) < 0.5 * width(unpaired), `paired ${width(paired.change.ci95)} vs unpaired ${width(unpaired)}`);
  assert.ok(paired.change.ci95[0] <= paired.change.value && paired.change.value <= paired.change.ci95[1]);
  assert.equal(paired.change.value, paired.b.value - paired.a.value);
});
