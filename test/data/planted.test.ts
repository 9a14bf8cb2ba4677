import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tidy } from '../../src/engine/index.js';
import { classCounts, disposeDataset, generatePlantedDataset, PLANTED_COLOURS, PLANTED_SHAPES, type PlantedDataset } from '../../src/data/index.js';

const SIZE = 32;

/** Foreground mask of image n: pixels whose brightest channel stands well above the grey background. */
function mask(px: Float32Array, n: number): boolean[] {
  const plane = SIZE * SIZE;
  const base = n * 3 * plane;
  return Array.from({ length: plane }, (_, p) => {
    const vals = [0, 1, 2].map((c) => px[base + c * plane + p]);
    return Math.max(...vals) - Math.min(...vals) > 0.35;
  });
}

/** Mean colour over the foreground of image n. */
function meanColour(px: Float32Array, n: number, m: boolean[]): number[] {
  const plane = SIZE * SIZE;
  const count = m.filter(Boolean).length;
  return [0, 1, 2].map((c) => m.reduce((s, on, p) => s + (on ? px[n * 3 * plane + c * plane + p] : 0), 0) / count);
}

/** Shape descriptors: fill of the bounding box, and how much of the mass lies in its lower half. */
function geometry(m: boolean[]): { fill: number; lowerShare: number; cornerFilled: boolean } {
  const on = m.flatMap((v, p) => (v ? [[p % SIZE, Math.floor(p / SIZE)]] : []));
  const xs = on.map(([x]) => x);
  const ys = on.map(([, y]) => y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const midY = (y0 + y1) / 2;
  const at = (x: number, y: number) => m[y * SIZE + x];
  return {
    fill: on.length / ((x1 - x0 + 1) * (y1 - y0 + 1)),
    lowerShare: ys.filter((y) => y > midY).length / on.length,
    cornerFilled: at(x0 + 1, y0 + 1) && at(x1 - 1, y1 - 1),
  };
}

function check(d: PlantedDataset): void {
  const px = d.images.toFloat32Array();
  const colourChannels: Record<string, (c: number[]) => boolean> = {
    red: ([r, g, b]) => r > 2 * g && r > 2 * b,
    green: ([r, g, b]) => g > 2 * r && g > 2 * b,
    blue: ([r, g, b]) => b > 2 * r && b > g,
    yellow: ([r, g, b]) => r > 2 * b && g > 2 * b,
  };
  for (let n = 0; n < d.shapes.length; n++) {
    const m = mask(px, n);
    const colour = PLANTED_COLOURS[d.colours[n]];
    assert.ok(colourChannels[colour](meanColour(px, n, m)), `image ${n}: ${colour} expected, mean ${meanColour(px, n, m)}`);
    const g = geometry(m);
    const shape = PLANTED_SHAPES[d.shapes[n]];
    const ok = {
      square: g.fill > 0.85,
      disc: g.fill > 0.65 && g.fill < 0.88 && !g.cornerFilled,
      triangle: g.fill < 0.65 && g.lowerShare > 0.6,
      cross: g.fill < 0.7 && !g.cornerFilled && Math.abs(g.lowerShare - 0.5) < 0.15,
    }[shape];
    assert.ok(ok, `image ${n}: ${shape} expected, geometry ${JSON.stringify(g)}`);
  }
}

test('planted shape carrier: labels are shapes, balanced, colour independent of the class, images show them', () => {
  const d = generatePlantedDataset({ carrier: 'shape', count: 200, seed: 3 });
  assert.deepEqual(d.images.shape, [200, 3, SIZE, SIZE]);
  assert.deepEqual(d.classNames, [...PLANTED_SHAPES]);
  assert.deepEqual(d.labels.toArray(), d.shapes);
  assert.deepEqual(classCounts(d), [50, 50, 50, 50]);
  // Every class shows every colour: colour carries no class information by construction.
  for (let s = 0; s < 4; s++) assert.equal(new Set(d.colours.filter((_, i) => d.shapes[i] === s)).size, 4);
  assert.ok(tidy(() => d.images.min().item()) >= 0 && tidy(() => d.images.max().item()) <= 1);
  check(d);
  disposeDataset(d);
});

test('planted colour carrier: labels are colours; seeded generation is reproducible', () => {
  const d = generatePlantedDataset({ carrier: 'colour', count: 120, seed: 9 });
  assert.deepEqual(d.classNames, [...PLANTED_COLOURS]);
  assert.deepEqual(d.labels.toArray(), d.colours);
  assert.deepEqual(classCounts(d), [30, 30, 30, 30]);
  for (let c = 0; c < 4; c++) assert.equal(new Set(d.shapes.filter((_, i) => d.colours[i] === c)).size, 4);
  check(d);
  const again = generatePlantedDataset({ carrier: 'colour', count: 120, seed: 9 });
  assert.deepEqual(again.images.toFloat32Array(), d.images.toFloat32Array());
  const other = generatePlantedDataset({ carrier: 'colour', count: 120, seed: 10 });
  assert.notDeepEqual(other.colours, d.colours);
  assert.throws(() => generatePlantedDataset({ carrier: 'texture' as 'shape', count: 4 }), /carrier must be 'shape' or 'colour'/);
  for (const x of [d, again, other]) disposeDataset(x);
});

test('planted difficulty: smaller shapes cover less, a lower saturation brings the colour towards grey, a bad radius is refused', () => {
  const stats = (opts: Omit<Parameters<typeof generatePlantedDataset>[0], 'count'>) => {
    const d = generatePlantedDataset({ count: 40, seed: 5, noise: 0, ...opts });
    const px = d.images.toFloat32Array();
    const plane = SIZE * SIZE;
    let covered = 0;
    let spread = 0;
    for (let n = 0; n < 40; n++) {
      const m = d.masks.subarray(n * plane, (n + 1) * plane);
      covered += m.reduce((a, b) => a + b, 0) / plane / 40;
      const inside = [0, 1, 2].map((c) => {
        let s = 0;
        m.forEach((v, p) => (s += v ? px[(n * 3 + c) * plane + p] : 0));
        return s / Math.max(1, m.reduce((a, b) => a + b, 0));
      });
      spread += (Math.max(...inside) - Math.min(...inside)) / 40;
    }
    disposeDataset(d);
    return { covered, spread };
  };
  const plain = stats({ carrier: 'colour' });
  const small = stats({ carrier: 'colour', radius: [0.1, 0.15] });
  const dull = stats({ carrier: 'colour', saturation: 0.4 });
  assert.ok(small.covered < plain.covered / 2, `covered ${small.covered} vs ${plain.covered}`);
  // The channel spread of the shape's mean colour scales with the saturation.
  assert.ok(Math.abs(dull.spread / plain.spread - 0.4) < 0.05, `spread ${dull.spread} vs ${plain.spread}`);
  assert.throws(() => generatePlantedDataset({ carrier: 'shape', count: 4, radius: [0.3, 0.2] }), /radius must be a range within \(0, 0.5\)/);
});
