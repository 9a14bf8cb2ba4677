import { test } from 'node:test';
import assert from 'node:assert/strict';
import { periodicArtifacts, periodFrequencies, AnalysisError, type ImageSet } from '../../src/analysis/index.js';
import { Rng } from '../../src/data/random.js';
import { mapSet, setOf } from './helpers.js';

const SIDE = 32;
/**
 * Natural-looking images: a sum of random waves whose amplitude falls as 1/frequency (the
 * spectrum of natural images), random directions and phases, per image and channel.
 */
function naturalSet(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const waves = Array.from({ length: n * 3 }, () =>
    Array.from({ length: 40 }, () => {
      const f = rng.uniform(0.02, 0.5);
      const theta = rng.uniform(0, Math.PI);
      return { kx: f * Math.cos(theta), ky: f * Math.sin(theta), amp: 0.012 / f, phase: rng.uniform(0, 2 * Math.PI) };
    }),
  );
  return setOf(n, 3, SIDE, SIDE, (i, ch, y, x) => 0.5 + waves[i * 3 + ch].reduce((s, w) => s + w.amp * Math.cos(2 * Math.PI * (w.kx * x + w.ky * y) + w.phase), 0));
}

const images = naturalSet(24, 1);
const added = (pattern: (y: number, x: number) => number) => setOf(24, 3, SIDE, SIDE, (i, ch, y, x) => images.data[((i * 3 + ch) * SIDE + y) * SIDE + x] + pattern(y, x));
const at = (r: ReturnType<typeof periodicArtifacts>, p: number) => r.find((a) => a.period === p)!;

test('periodic artifacts: the frequencies of each period are those whose exact period it is', () => {
  const fs = (p: number) => [...new Set(periodFrequencies(p).map((f) => f.fx || f.fy))].sort();
  assert.deepEqual(fs(2), [0.5]);
  assert.deepEqual(fs(4), [0.25]);
  assert.deepEqual(fs(8), [0.125, 0.375]);
  assert.equal(periodFrequencies(2).length, 3);
  assert.equal(periodFrequencies(4).length, 4);
});

test('periodic artifacts: a checkerboard of amplitude A is found at period 2 with amplitude A, not at 4 or 8', () => {
  for (const A of [0.02, 0.08]) {
    const r = periodicArtifacts(images, added((y, x) => ((x + y) % 2 ? A : -A)));
    assert.ok(Math.abs(at(r, 2).amplitude - A) < 0.1 * A, `amplitude ${at(r, 2).amplitude} for ${A}`);
    assert.ok(at(r, 2).db > 3 && at(r, 2).byDirection.diagonal > at(r, 2).byDirection.horizontal);
    assert.ok(Math.abs(at(r, 4).db) < 1e-6 && Math.abs(at(r, 8).db) < 1e-6, `p4 ${at(r, 4).db} p8 ${at(r, 8).db}`);
  }
});

test('periodic artifacts: period-4 stripes and period-8 square waves land at their periods with their RMS amplitude', () => {
  const A = 0.05;
  const stripes = periodicArtifacts(images, added((_, x) => (x % 4 < 2 ? A : -A)));
  // A +-A square wave of period 4 has RMS A, all of it at 1/4 (and its mirror 3/4).
  assert.ok(Math.abs(at(stripes, 4).amplitude - A) < 0.1 * A, `p4 amplitude ${at(stripes, 4).amplitude}`);
  assert.ok(at(stripes, 4).byDirection.horizontal > 3 && Math.abs(at(stripes, 4).byDirection.vertical) < 1e-6);
  assert.ok(Math.abs(at(stripes, 2).db) < 1e-6);
  const squares = periodicArtifacts(images, added((y) => (y % 8 < 4 ? A : -A)));
  assert.ok(Math.abs(at(squares, 8).amplitude - A) < 0.1 * A, `p8 amplitude ${at(squares, 8).amplitude}`);
  assert.ok(at(squares, 8).byDirection.vertical > 3);
});

test('periodic artifacts: a pure colour cast adds nothing; blur removes power (below 0 dB) and adds none', () => {
  const cast = periodicArtifacts(images, mapSet(images, (v, i) => v + [0.04, -0.03, 0.02][Math.floor(i / (SIDE * SIDE)) % 3]));
  for (const a of cast) {
    assert.ok(Math.abs(a.db) < 1e-4, `cast p${a.period}: ${a.db} dB`);
    assert.ok(a.amplitude < 1e-3, `cast p${a.period}: amplitude ${a.amplitude}`);
  }
  // Mild blur, as a generic autoencoder's: a 3x3 box filter (edges clamped).
  const blurred = setOf(24, 3, SIDE, SIDE, (i, ch, y, x) => {
    let s = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += images.data[((i * 3 + ch) * SIDE + Math.min(SIDE - 1, Math.max(0, y + dy))) * SIDE + Math.min(SIDE - 1, Math.max(0, x + dx))];
    return s / 9;
  });
  for (const a of periodicArtifacts(images, blurred)) {
    assert.ok(a.db < -1, `blur p${a.period}: ${a.db} dB`);
    assert.equal(a.amplitude, 0);
  }
  assert.deepEqual(periodicArtifacts(images, images).map((a) => a.db), [0, 0, 0]);
});

test('periodic artifacts: images smaller than a period and bad periods are refused', () => {
  const tiny = setOf(1, 1, 4, 4, () => 0.5);
  assert.throws(() => periodicArtifacts(tiny, tiny), AnalysisError);
  assert.throws(() => periodicArtifacts(images, images, [1]), AnalysisError);
});

test('periodic artifacts: the interval of a grid on every image is narrower than of the same grid on half of them, and both hold the estimate', () => {
  const A = 0.04;
  const all = at(periodicArtifacts(images, added((y, x) => ((x + y) % 2 ? A : -A)), [2], { seed: 0 }), 2);
  const half = at(periodicArtifacts(images, setOf(24, 3, SIDE, SIDE, (i, ch, y, x) => images.data[((i * 3 + ch) * SIDE + y) * SIDE + x] + (i % 2 ? ((x + y) % 2 ? A : -A) : 0)), [2], { seed: 0 }), 2);
  for (const r of [all, half]) {
    assert.ok(r.ci95.db[0] <= r.db && r.db <= r.ci95.db[1], `db ${r.db} in ${r.ci95.db}`);
    assert.ok(r.ci95.amplitude[0] <= r.amplitude && r.amplitude <= r.ci95.amplitude[1]);
  }
  assert.ok(all.ci95.db[1] - all.ci95.db[0] < half.ci95.db[1] - half.ci95.db[0], `all ${all.ci95.db}, half ${half.ci95.db}`);
});
