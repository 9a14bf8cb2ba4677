import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tensor } from '../../src/engine/index.js';
import { Rng } from '../../src/data/random.js';
import { AnalysisError, imageNmi, interNmi, intraNmi, nmiOfLevels, type ImageSet } from '../../src/analysis/index.js';
import { mapSet, randomSet, setOf } from './helpers.js';

const H = (ps: number[]) => -ps.reduce((s, p) => s + p * Math.log(p), 0);

test('NMI of small signals against entropies worked out by hand', () => {
  // X = 0 0 1 1, Y = 0 0 0 1: H(X) = ln 2, H(Y) = H(3/4, 1/4), H(X, Y) = H(1/2, 1/4, 1/4).
  const x = Int32Array.from([0, 0, 1, 1]);
  const y = Int32Array.from([0, 0, 0, 1]);
  const hx = Math.log(2);
  const hy = H([0.75, 0.25]);
  const mutual = hx + hy - H([0.5, 0.25, 0.25]);
  assert.ok(Math.abs(nmiOfLevels(x, y, 2) - (2 * mutual) / (hx + hy)) < 1e-12);
  assert.ok(Math.abs(nmiOfLevels(x, y, 2, 'sqrt') - mutual / Math.sqrt(hx * hy)) < 1e-12);
  // Independent by construction: every pair of levels occurs once.
  assert.equal(nmiOfLevels(Int32Array.from([0, 0, 1, 1]), Int32Array.from([0, 1, 0, 1]), 2), 0);
  assert.throws(() => nmiOfLevels(x, Int32Array.from([0]), 2), AnalysisError);
});

test('identical images give 1, independent uniform noise about 0 (default 64 bins, 256x256)', () => {
  const a = randomSet(3, 3, 32, 32, 1);
  assert.ok(Math.abs(intraNmi(a, a) - 1) < 1e-9);
  assert.ok(Math.abs(intraNmi(a, a, { normalization: 'sqrt' }) - 1) < 1e-9);
  const big1 = randomSet(1, 1, 256, 256, 2);
  const big2 = randomSet(1, 1, 256, 256, 3);
  const noise = intraNmi(big1, big2);
  assert.ok(noise >= 0 && noise < 0.02, `noise NMI ${noise}`);
  // Fewer pixels, same bins: the plug-in estimator's positive bias grows, as expected of it.
  assert.ok(intraNmi(randomSet(1, 1, 32, 32, 2), randomSet(1, 1, 32, 32, 3)) > noise);
});

test('property: NMI is symmetric and lies in [0, 1] for both normalisations; sqrt >= arithmetic', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 2, max: 80 }), fc.integer({ min: 1, max: 12 }), fc.double({ min: 0, max: 1, noNaN: true }), (seed, bins, side, mix) => {
      const a = randomSet(1, 2, side, side, seed, 5);
      // b: a blend of a and fresh noise, so the pair shares some but not all of its signal.
      const noise = randomSet(1, 2, side, side, seed + 1);
      const b = mapSet(a, (v, i) => mix * v + (1 - mix) * noise.data[i]);
      const ab = imageNmi(a, 0, b, 0, { bins });
      const ba = imageNmi(b, 0, a, 0, { bins });
      const sq = imageNmi(a, 0, b, 0, { bins, normalization: 'sqrt' });
      assert.ok(Math.abs(ab - ba) < 1e-12);
      for (const v of [ab, sq]) assert.ok(v >= 0 && v <= 1, `NMI ${v}`);
      assert.ok(sq >= ab - 1e-12);
    }),
    { numRuns: 200 },
  );
});

test('NMI is invariant to a bijective map of intensity levels (x -> 1 - x, a permutation of levels)', () => {
  const bins = 16;
  const a = randomSet(1, 1, 32, 32, 3, bins);
  const b = mapSet(a, (v, i) => (i % 7 === 0 ? 0.5 / bins : v)); // b shares most of a's signal
  const flipped = mapSet(b, (v) => 1 - v); // level k -> bins-1-k
  const perm = new Rng(9).shuffle(Array.from({ length: bins }, (_, k) => k));
  const permuted = mapSet(b, (v) => (perm[Math.floor(v * bins)] + 0.5) / bins);
  const base = imageNmi(a, 0, b, 0, { bins });
  assert.ok(base > 0.5 && base < 1, `base ${base}`);
  assert.ok(Math.abs(imageNmi(a, 0, flipped, 0, { bins }) - base) < 1e-12);
  assert.ok(Math.abs(imageNmi(a, 0, permuted, 0, { bins }) - base) < 1e-12);
  // A map that merges levels loses information and lowers NMI.
  const merged = mapSet(b, (v) => (v < 0.5 ? 0.25 : 0.75));
  assert.ok(imageNmi(a, 0, merged, 0, { bins }) < base);
});

test('constant images: both constant give 1, one constant gives 0', () => {
  const flat = setOf(2, 1, 4, 4, (i) => (i === 0 ? 0.3 : 0.9));
  const noisy = randomSet(2, 1, 4, 4, 5);
  assert.equal(imageNmi(flat, 0, flat, 1), 1);
  assert.equal(imageNmi(flat, 0, noisy, 0), 0);
  assert.equal(imageNmi(noisy, 1, flat, 1), 0);
});

test('channels are compared one by one and averaged', () => {
  // Channel 0 identical (NMI 1), channel 1 of b constant (NMI 0): mean 1/2.
  const a = randomSet(1, 2, 8, 8, 11);
  const b = mapSet(a, (v, i) => (i < 64 ? v : 0.5));
  assert.ok(Math.abs(imageNmi(a, 0, b, 0) - 0.5) < 1e-12);
});

test('inter-NMI: a pattern painted on every input gives 1, unrelated reconstructions about 0; seeded', () => {
  const pattern = randomSet(1, 1, 16, 16, 6);
  const repeated: ImageSet = { data: Float32Array.from({ length: 5 * 256 }, (_, i) => pattern.data[i % 256]), shape: [5, 1, 16, 16] };
  assert.ok(Math.abs(interNmi(repeated, { pairs: 20 }) - 1) < 1e-9);
  const unrelated = randomSet(6, 1, 64, 64, 7);
  assert.ok(interNmi(unrelated, { pairs: 20, bins: 16 }) < 0.02);
  // Pairs are distinct images: identical images would push the mean towards 1.
  const two = randomSet(2, 1, 64, 64, 8);
  assert.ok(interNmi(two, { pairs: 10, bins: 16 }) < 0.02);
  assert.equal(interNmi(unrelated, { seed: 4, pairs: 30 }), interNmi(unrelated, { seed: 4, pairs: 30 }));
  assert.notEqual(interNmi(unrelated, { seed: 4, pairs: 30 }), interNmi(unrelated, { seed: 5, pairs: 30 }));
  assert.throws(() => interNmi(randomSet(1, 1, 4, 4, 1)), /at least two images/);
});

test('tensors and plain data give the same values; bad options and shapes are refused', () => {
  const a = randomSet(2, 3, 8, 8, 12);
  const b = randomSet(2, 3, 8, 8, 13);
  const ta = tensor(a.data, a.shape);
  const tb = tensor(b.data, b.shape);
  assert.equal(intraNmi(ta, tb), intraNmi(a, b));
  assert.equal(interNmi(tb, { pairs: 5 }), interNmi(b, { pairs: 5 }));
  assert.throws(() => intraNmi(a, randomSet(2, 3, 8, 4, 1)), /differ in shape/);
  assert.throws(() => intraNmi(a, b, { bins: 1 }), /bins must be an integer from 2/);
  assert.throws(() => intraNmi(a, b, { normalization: 'max' as 'sqrt' }), /normalization/);
  assert.throws(() => intraNmi({ data: new Float32Array(3), shape: [1, 1, 2, 2] }, a), /do not fill the shape/);
});
