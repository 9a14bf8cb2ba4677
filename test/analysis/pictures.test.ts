import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.js';
import { AnalysisError, differenceMap, evenlySpacedIndices, imageAt, reconstructionGrid } from '../../src/analysis/index.js';
import { mapSet, randomSet } from './helpers.js';

test('imageAt: 8-bit channel-major pixels, clipped and rounded', () => {
  const set = { data: Float32Array.from([0, 0.5, 1, 1.2, -0.1, 0.2, 0.25, 0.3, 0, 0, 0, 0]), shape: [1, 3, 2, 2] as [number, number, number, number] };
  assert.deepEqual(imageAt(set, 0), { width: 2, height: 2, channels: 3, data: Uint8Array.from([0, 128, 255, 255, 0, 51, 64, 77, 0, 0, 0, 0]) });
  assert.throws(() => imageAt(set, 1), /index 1 is outside the set of 1 images/);
});

test('differenceMap: |reconstruction - original| * gain, clipped', () => {
  const orig = { data: Float32Array.from([0.5, 0.5, 0.5, 0.5]), shape: [1, 1, 2, 2] as [number, number, number, number] };
  const recon = { data: Float32Array.from([0.5, 0.6, 0.3, 0.9]), shape: orig.shape };
  // 0, 0.1 * 4, 0.2 * 4, 0.4 * 4 -> clipped at 1.
  assert.deepEqual(Array.from(differenceMap(orig, recon, 0, 4).data), [0, 102, 204, 255]);
});

test('reconstructionGrid: originals first, one row per set in order, amplified differences', () => {
  const orig = randomSet(10, 3, 5, 5, 1);
  const aS = mapSet(orig, (v) => Math.min(1, v + 0.05));
  const s2s = randomSet(10, 3, 5, 5, 2);
  const grid = reconstructionGrid(orig, [{ name: 'A_S', images: aS }, { name: 'S2S-vgg', images: tensor(s2s.data, s2s.shape) }], [0, 7], 8);
  assert.deepEqual(grid.reconstructions.map((r) => r.label), ['original', 'A_S', 'S2S-vgg']);
  assert.deepEqual(grid.differences.map((r) => r.label), ['|A_S - original| x8', '|S2S-vgg - original| x8']);
  assert.deepEqual(grid.reconstructions[0].images, [imageAt(orig, 0), imageAt(orig, 7)]);
  assert.deepEqual(grid.reconstructions[2].images[1], imageAt(s2s, 7));
  assert.deepEqual(grid.differences[0].images[1], differenceMap(orig, aS, 7, 8));
  // A count picks that many evenly spaced samples; no differences without gain.
  const spaced = reconstructionGrid(orig, [{ name: 'A_S', images: aS }], 4, 0);
  assert.deepEqual(spaced.reconstructions[1].images, evenlySpacedIndices(10, 4).map((i) => imageAt(aS, i)));
  assert.deepEqual(spaced.differences, []);
  assert.throws(() => reconstructionGrid(orig, [{ name: 'bad', images: randomSet(9, 3, 5, 5, 3) }], [0]), AnalysisError);
});

test('evenlySpacedIndices: the middle of equal strides, never more than the set holds', () => {
  assert.deepEqual(evenlySpacedIndices(10, 4), [1, 3, 6, 8]);
  assert.deepEqual(evenlySpacedIndices(100, 5), [10, 30, 50, 70, 90]);
  assert.deepEqual(evenlySpacedIndices(3, 8), [0, 1, 2]);
});
