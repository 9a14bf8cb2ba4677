import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.js';
import { gridEnergy } from '../../src/analysis/index.js';
import { mapSet, randomSet, setOf } from './helpers.js';

// A smooth natural-looking image: low-frequency waves in every channel.
const smooth = setOf(2, 3, 64, 64, (i, ch, y, x) => 0.5 + 0.3 * Math.sin((x + 3 * ch) / 9 + i) * Math.cos(y / 13));

test('grid energy: a checkerboard added to an image is ~1, a smooth change ~0, white noise ~3/4', () => {
  const checker = setOf(2, 3, 64, 64, (i, ch, y, x) => smooth.data[((i * 3 + ch) * 64 + y) * 64 + x] + ((x + y) % 2 ? 0.05 : -0.05));
  assert.ok(Math.abs(gridEnergy(smooth, checker) - 1) < 1e-6);
  // Stripes of period 2 (one direction) count as well.
  const stripes = setOf(2, 3, 64, 64, (i, ch, y, x) => smooth.data[((i * 3 + ch) * 64 + y) * 64 + x] + (x % 2 ? 0.05 : -0.05));
  assert.ok(Math.abs(gridEnergy(smooth, stripes) - 1) < 1e-6);
  // A checkerboard whose strength varies across the image (as strided artifacts do) is still ~1.
  const modulated = setOf(2, 3, 64, 64, (i, ch, y, x) => smooth.data[((i * 3 + ch) * 64 + y) * 64 + x] + ((x + y) % 2 ? 0.05 : -0.05) * (1 + Math.sin(y / 10)));
  assert.ok(gridEnergy(smooth, modulated) > 0.99);
  // A smooth change of the image (contrast and a slow wave) has almost no period-2 energy.
  const blurred = mapSet(smooth, (v, i) => 0.8 * v + 0.1 + 0.05 * Math.sin((i % 64) / 15));
  assert.ok(gridEnergy(smooth, blurred) < 0.01, `smooth ${gridEnergy(smooth, blurred)}`);
  const noise = randomSet(2, 3, 64, 64, 4);
  const noisy = mapSet(smooth, (v, i) => v + 0.1 * (noise.data[i] - 0.5));
  assert.ok(Math.abs(gridEnergy(smooth, noisy) - 0.75) < 0.03, `noise ${gridEnergy(smooth, noisy)}`);
});

test('grid energy: a brightness shift gives 0 (up to float32 rounding), as do identical sets; tensors work; tiny images are refused', () => {
  assert.ok(gridEnergy(smooth, mapSet(smooth, (v) => v + 0.125)) < 1e-12);
  assert.equal(gridEnergy(smooth, smooth), 0);
  const odd = setOf(1, 1, 5, 5, (_, __, y, x) => ((x + y) % 2 ? 1 : 0));
  assert.ok(Math.abs(gridEnergy(setOf(1, 1, 5, 5, () => 0.5), tensor(odd.data, odd.shape)) - 1) < 1e-6, 'odd last row and column left out');
  assert.throws(() => gridEnergy(setOf(1, 1, 1, 4, () => 0), setOf(1, 1, 1, 4, () => 0)), /at least 2x2/);
});
