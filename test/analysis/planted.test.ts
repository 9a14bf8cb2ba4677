import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plantedRetention, AnalysisError, type ImageSet } from '../../src/analysis/index.js';
import { generatePlantedDataset, disposeDataset } from '../../src/data/index.js';

const planted = generatePlantedDataset({ carrier: 'colour', count: 24, seed: 3 });
const originals: ImageSet = { data: planted.images.toFloat32Array(), shape: planted.images.shape as [number, number, number, number] };
disposeDataset(planted);
const [n, , h, w] = originals.shape;
const plane = h * w;
const mapPixels = (f: (rgb: number[], i: number, p: number) => number[]): ImageSet => {
  const data = new Float32Array(originals.data.length);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < plane; p++) {
      const rgb = [0, 1, 2].map((c) => originals.data[(i * 3 + c) * plane + p]);
      f(rgb, i, p).forEach((v, c) => (data[(i * 3 + c) * plane + p] = v));
    }
  }
  return { data, shape: originals.shape };
};

test('planted retention: the originals keep everything', () => {
  const r = plantedRetention(originals, originals, planted);
  assert.equal(r.paletteAgreement, 1);
  assert.equal(r.meanDeltaE, 0);
  assert.ok(r.maskIou > 0.9, `IoU ${r.maskIou}`);
});

test('planted retention: dropping colour (grey images) loses the palette but keeps the shape', () => {
  const grey = mapPixels(([r, g, b]) => Array(3).fill(0.299 * r + 0.587 * g + 0.114 * b));
  const res = plantedRetention(originals, grey, planted);
  assert.ok(res.paletteAgreement < 0.6, `agreement ${res.paletteAgreement}`);
  assert.ok(res.meanDeltaE > 20, `ΔE ${res.meanDeltaE}`);
  assert.ok(res.maskIou > 0.85, `IoU ${res.maskIou}`);
});

test('planted retention: swapping red and green channels changes the named colour of red and green shapes', () => {
  const swapped = mapPixels(([r, g, b]) => [g, r, b]);
  const res = plantedRetention(originals, swapped, planted);
  const redOrGreen = planted.colours.filter((c) => c <= 1).length;
  // Red becomes green and green red; blue and yellow keep their names.
  assert.equal(res.paletteAgreement, 1 - redOrGreen / n);
});

test('planted retention: a shapeless reconstruction (each image its mean colour plus noise) loses the mask', () => {
  const flat = mapPixels((rgb, i, p) => rgb.map((_, c) => 0.4 + 0.05 * Math.sin(p * 12.9898 + i * 78.233 + c)));
  assert.ok(plantedRetention(originals, flat, planted).maskIou < 0.4);
});

test('planted retention: truth that does not fit the images is refused', () => {
  assert.throws(() => plantedRetention(originals, originals, { ...planted, colours: planted.colours.slice(1) }), AnalysisError);
});
