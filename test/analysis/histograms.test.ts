import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.js';
import { Rng } from '../../src/data/random.js';
import { AnalysisError, channelHistograms, channelHistogramsEach, srgbToLab } from '../../src/analysis/index.js';
import { mapSet, randomSet, setOf } from './helpers.js';

test('CIELAB (D65) of known sRGB colours', () => {
  const cases: [number[], number[]][] = [
    [[1, 1, 1], [100, 0, 0]],
    [[0, 0, 0], [0, 0, 0]],
    [[1, 0, 0], [53.2408, 80.0925, 67.2032]],
    [[0, 1, 0], [87.7347, -86.1827, 83.1793]],
    [[0, 0, 1], [32.297, 79.1875, -107.8602]],
    [[0.5, 0.5, 0.5], [53.3889, 0, 0]],
  ];
  for (const [rgb, lab] of cases) {
    const got = srgbToLab(rgb[0], rgb[1], rgb[2]);
    got.forEach((v, i) => assert.ok(Math.abs(v - lab[i]) < 2e-3, `Lab of [${rgb}] is [${got}], expected [${lab}]`));
  }
});

test('CIELAB of random colours matches the textbook formulas to 1e-5', () => {
  // Independent reference: IEC 61966-2-1 sRGB decoding, the sRGB->XYZ matrix, CIE 1976 L*a*b*, D65 white.
  const lin = (c: number) => (c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
  const f = (t: number) => (t > (6 / 29) ** 3 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);
  const rng = new Rng(5);
  for (let k = 0; k < 2000; k++) {
    // Every tenth colour has a component at exactly 1 or 0, the ends of the range.
    const srgb = [rng.next(), rng.next(), k % 10 === 0 ? 1 : k % 10 === 1 ? 0 : rng.next()];
    const [r, g, b] = srgb.map(lin);
    const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
    const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
    const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883;
    const expected = [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
    const got = srgbToLab(srgb[0], srgb[1], srgb[2]);
    got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `Lab of [${srgb}]: [${got}] vs [${expected}]`));
  }
});

test('grayscale: intensity histogram over [0, 1], values beyond the range in the end bins', () => {
  const orig = { data: Float32Array.from([0, 0.3, 0.6, 1]), shape: [1, 1, 2, 2] as [number, number, number, number] };
  const recon = { data: Float32Array.from([-0.2, 0.1, 0.2, 1.5]), shape: orig.shape };
  const [h] = channelHistograms(orig, recon, 4);
  assert.deepEqual(h, { name: 'intensity', range: [0, 1], original: [0.25, 0.25, 0.25, 0.25], reconstruction: [0.75, 0, 0, 0.25] });
});

test('RGB: L*, a*, b* histograms over fixed ranges, each summing to 1', () => {
  const white = setOf(1, 3, 4, 4, () => 1);
  const h = channelHistograms(white, white, 64);
  assert.deepEqual(h.map((c) => [c.name, c.range]), [['L*', [0, 100]], ['a*', [-128, 127]], ['b*', [-128, 127]]]);
  // White: L* = 100 in the top bin; a* = b* = 0 in bin floor(128 / 255 * 64) = 32.
  assert.equal(h[0].original[63], 1);
  assert.equal(h[1].original[32], 1);
  assert.equal(h[2].reconstruction[32], 1);
  const noisy = channelHistograms(randomSet(2, 3, 8, 8, 1), randomSet(2, 3, 8, 8, 2), 32);
  for (const c of noisy) {
    assert.equal(c.original.length, 32);
    assert.ok(Math.abs(c.original.reduce((s, v) => s + v, 0) - 1) < 1e-9);
    assert.ok(Math.abs(c.reconstruction.reduce((s, v) => s + v, 0) - 1) < 1e-9);
  }
});

test('a red colour cast moves a* up and leaves the grey original at a* = 0', () => {
  const grey = setOf(1, 3, 8, 8, () => 0.5);
  const reddish = setOf(1, 3, 8, 8, (_, ch) => (ch === 0 ? 0.8 : 0.5));
  const [, a] = channelHistograms(grey, tensor(reddish.data, reddish.shape), 32);
  const mean = (p: number[]) => p.reduce((s, v, k) => s + v * (-128 + ((k + 0.5) * 255) / p.length), 0);
  const expectedA = srgbToLab(0.8, 0.5, 0.5)[1];
  assert.ok(expectedA > 20);
  // Bin centres are within half a bin (4 units) of the true value.
  assert.ok(Math.abs(mean(a.reconstruction) - expectedA) < 4, `mean a* ${mean(a.reconstruction)} vs ${expectedA}`);
  assert.ok(Math.abs(mean(a.original)) < 4);
});

test('channelHistogramsEach gives each set of reconstructions what channelHistograms gives it', () => {
  const originals = randomSet(2, 3, 8, 8, 1);
  const sets = { a: randomSet(2, 3, 8, 8, 2), b: randomSet(2, 3, 8, 8, 3) };
  const each = channelHistogramsEach(originals, sets, 16);
  assert.deepEqual(Object.keys(each), ['a', 'b']);
  for (const [name, set] of Object.entries(sets)) assert.deepEqual(each[name], channelHistograms(originals, set, 16));
  assert.notDeepEqual(each.a, each.b);
});

test('histograms refuse other channel counts and mismatched sets', () => {
  const two = randomSet(1, 2, 4, 4, 1);
  assert.throws(() => channelHistograms(two, two), /1 channel\) or RGB \(3 channels\) images, got 2 channels/);
  assert.throws(() => channelHistograms(randomSet(1, 3, 4, 4, 1), randomSet(2, 3, 4, 4, 1)), AnalysisError);
  assert.throws(() => channelHistograms(randomSet(1, 1, 4, 4, 1), mapSet(randomSet(1, 1, 4, 4, 1), (v) => v), 0), /bins/);
});
