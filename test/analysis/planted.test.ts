import { test } from 'node:test';
import assert from 'node:assert/strict';
import { carrierChange, plantedRetention, plantedRetentionEach, plantedSignal, AnalysisError, type ImageSet } from '../../src/analysis/index.js';
import { generatePlantedDataset, disposeDataset, inMask, shapeCoverage, PLANTED_SHAPES, type PlantedTruth } from '../../src/data/index.js';

const planted = generatePlantedDataset({ carrier: 'colour', count: 48, seed: 3 });
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
const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;

test('planted retention: the originals keep everything', () => {
  const r = plantedRetention(plantedRetentionEach(originals, originals, planted));
  assert.equal(r.paletteAgreement, 1);
  assert.equal(r.shapeAgreement, 1);
  assert.equal(r.meanDeltaE, 0);
  assert.ok(r.maskIou > 0.9, `IoU ${r.maskIou}`);
  assert.deepEqual(r.ci95.shapeAgreement, [1, 1]);
});

test('planted retention: dropping colour (grey images) loses the palette but keeps the shape', () => {
  const grey = mapPixels(([r, g, b]) => Array(3).fill(0.299 * r + 0.587 * g + 0.114 * b));
  const res = plantedRetention(plantedRetentionEach(originals, grey, planted));
  assert.ok(res.paletteAgreement < 0.6, `agreement ${res.paletteAgreement}`);
  assert.ok(res.meanDeltaE > 20, `ΔE ${res.meanDeltaE}`);
  assert.ok(res.maskIou > 0.85, `IoU ${res.maskIou}`);
  assert.ok(res.shapeAgreement > 0.9, `shape kept ${res.shapeAgreement}`);
});

test('planted retention: swapping red and green channels changes the named colour of red and green shapes', () => {
  const swapped = mapPixels(([r, g, b]) => [g, r, b]);
  const res = plantedRetention(plantedRetentionEach(originals, swapped, planted));
  const redOrGreen = planted.colours.filter((c) => c <= 1).length;
  // Red becomes green and green red; blue and yellow keep their names.
  assert.equal(res.paletteAgreement, 1 - redOrGreen / n);
});

test('planted retention: a colour that drifts but stays far from the other palette colours keeps its name', () => {
  // Yellow pushed toward chartreuse and every colour saturated, as a fine-tuned decoder did
  // (CIELAB hue of yellow 99 -> 118 degrees, halfway to green's): still nowhere near green in RGB.
  const drifted = mapPixels(([r, g, b], i) => (planted.colours[i] === 3 ? [0.62 * r, 1.1 * g, 0] : [r, g, b]));
  const each = plantedRetentionEach(originals, drifted, planted);
  assert.equal(mean(each.paletteAgreement), 1);
  const yellow = planted.colours.map((c, i) => (c === 3 ? each.deltaE[i] : NaN)).filter((d) => !Number.isNaN(d));
  assert.ok(Math.min(...yellow) > 10, `ΔE of the drifted yellows ${Math.min(...yellow)}`);
});

test('planted retention: a 3x3 blur keeps every shape though the outline loses IoU; a shapeless image keeps none', () => {
  const blurred = mapPixels((_, i, p) => {
    const [x, y] = [p % w, Math.floor(p / w)];
    const out = [0, 0, 0];
    let count = 0;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const [xx, yy] = [x + dx, y + dy];
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        count++;
        for (let c = 0; c < 3; c++) out[c] += originals.data[(i * 3 + c) * plane + yy * w + xx];
      }
    }
    return out.map((v) => v / count);
  });
  const blur = plantedRetention(plantedRetentionEach(originals, blurred, planted));
  assert.equal(blur.shapeAgreement, 1);
  assert.ok(blur.maskIou < plantedRetention(plantedRetentionEach(originals, originals, planted)).maskIou);
  const flat = mapPixels((rgb, i, p) => rgb.map((_, c) => 0.4 + 0.05 * Math.sin(p * 12.9898 + i * 78.233 + c)));
  const none = plantedRetention(plantedRetentionEach(originals, flat, planted));
  assert.ok(none.maskIou < 0.4, `IoU ${none.maskIou}`);
  assert.ok(none.shapeAgreement < 0.5, `shape kept ${none.shapeAgreement}`);
});

test('planted retention: a shape redrawn as another shape of the same size and place is named by what it shows', () => {
  // Every pair (planted shape, drawn shape), white on black, centred, radius 9 px on 32 px.
  const kinds = PLANTED_SHAPES.length;
  const count = kinds * kinds;
  const draw = (shape: number) => Float32Array.from({ length: plane }, (_, p) => (inMask(shapeCoverage(shape, 16, 16, 9, p % 32, Math.floor(p / 32))) ? 1 : 0));
  const set = (shapeOf: (k: number) => number): ImageSet => {
    const data = new Float32Array(count * 3 * plane);
    for (let k = 0; k < count; k++) for (let c = 0; c < 3; c++) data.set(draw(shapeOf(k)), (k * 3 + c) * plane);
    return { data, shape: [count, 3, 32, 32] };
  };
  const plantedShape = (k: number) => Math.floor(k / kinds);
  const drawnShape = (k: number) => k % kinds;
  const masks = new Uint8Array(count * plane);
  for (let k = 0; k < count; k++) masks.set(Uint8Array.from(draw(plantedShape(k))), k * plane);
  const truth: PlantedTruth = { carrier: 'shape', shapes: Array.from({ length: count }, (_, k) => plantedShape(k)), colours: new Array(count).fill(0), masks };
  const each = plantedRetentionEach(set(plantedShape), set(drawnShape), truth);
  assert.deepEqual(Array.from(each.shapeAgreement), Array.from({ length: count }, (_, k) => (plantedShape(k) === drawnShape(k) ? 1 : 0)));
});

test('planted retention: the carrier change against a baseline is paired and signed', () => {
  const swapped = mapPixels(([r, g, b]) => [g, r, b]);
  const redOrGreen = planted.colours.filter((c) => c <= 1).length;
  const baseline = plantedRetentionEach(originals, originals, planted);
  const change = carrierChange('colour', baseline, plantedRetentionEach(originals, swapped, planted), { seed: 0 });
  assert.equal(change.value, -redOrGreen / n);
  assert.ok(change.ci95[1] < 0 && change.ci95[0] <= change.value, `interval ${change.ci95}`);
  const signal = plantedSignal(planted, originals, [{ name: 'A_S', images: originals }, { name: 'S2S', images: swapped }], { seed: 0 });
  assert.equal(signal.autoencoders[0].carrierChange, null);
  assert.deepEqual(signal.autoencoders[1].carrierChange, change);
});

test('planted retention: truth that does not fit the images is refused', () => {
  assert.throws(() => plantedRetentionEach(originals, originals, { ...planted, colours: planted.colours.slice(1) }), AnalysisError);
});

test('planted controls: the grey control drops the colour and keeps the shape, the blurred one drops the shape and keeps the colour, each against the baseline', () => {
  // With the originals as the baseline, each control is judged against a perfect reconstruction.
  const s = plantedSignal(planted, originals, [{ name: 'A_S', images: originals }], { seed: 0, resamples: 200 });
  const [grey, blurred] = s.controls;
  assert.deepEqual(s.controls.map((c) => [c.name, c.drops]), [['control: grey A_S', 'colour'], ['control: blurred A_S', 'shape']]);
  // Grey is nearest to one palette direction: only that colour's shapes keep their name.
  assert.ok(grey.paletteAgreement < 0.5, `grey keeps colour in ${grey.paletteAgreement}`);
  assert.ok(grey.shapeAgreement > 0.9, `grey keeps shape in ${grey.shapeAgreement}`);
  assert.ok(blurred.shapeAgreement < 0.5, `blur keeps shape in ${blurred.shapeAgreement}`);
  assert.ok(blurred.paletteAgreement > 0.9, `blur keeps colour in ${blurred.paletteAgreement}`);
  // The carrier here is colour: grey keeps clearly less of it than the baseline.
  assert.ok(grey.carrierChange.ci95[1] < 0);
});
