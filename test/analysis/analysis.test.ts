import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.js';
import { Rng } from '../../src/data/random.js';
import { crossMatrix, topKAccuracy, totalOrder, imageNmi, intraNmi, interNmi, srgbToLab, channelHistograms, gridEnergy, reconstructionRows, type ImageSet } from '../../src/analysis/index.js';

function randomSet(n: number, c: number, h: number, w: number, seed: number, bins?: number): ImageSet {
  const rng = new Rng(seed);
  // With `bins`, values sit at bin centres so that level maps are exact.
  const data = Float32Array.from({ length: n * c * h * w }, () => (bins ? (rng.int(bins) + 0.5) / bins : rng.next()));
  return { data, shape: [n, c, h, w] };
}

test('top-k accuracy and the cross matrix against hand counts', () => {
  // Logits are the images themselves: rows of a 3-class problem.
  const labels = tensor(BigInt64Array.from([0n, 1n, 2n, 2n]));
  const good = tensor([5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 1, 2], [4, 3]); // all right
  const half = tensor([5, 0, 0, 5, 0, 1, 0, 0, 5, 0, 2, 1], [4, 3]); // 2 of 4 right; the misses are 2nd best in one case
  const identity = (x: typeof good) => x;
  assert.equal(topKAccuracy(identity, half, labels), 0.5);
  assert.equal(topKAccuracy(identity, half, labels, { k: 2, batchSize: 3 }), 0.75);
  const reversed = (x: typeof good) => x.flip([1]); // class k scored by logit 2-k
  const m = crossMatrix([{ name: 'A', images: good }, { name: 'B', images: half }], [{ name: 'id', forward: identity }, { name: 'reversed', forward: reversed }], good, labels, { batchSize: 2 });
  assert.deepEqual(m.original, [1, 0.25]);
  assert.deepEqual(m.top1, [[1, 0.25], [0.5, 0]]);
  assert.deepEqual(m.delta, [[0, 0], [-0.5, -0.25]]);
});

test('total order: a consistent matrix gives a total order, ties and cycles are listed', () => {
  // d[i][j]: change of classifier j on i's reconstructions. a keeps everyone well, c nobody.
  const names = ['c', 'a', 'b'];
  const d = [
    [0, -0.3, -0.2],
    [-0.01, 0, -0.02],
    [-0.1, -0.15, 0],
  ];
  const ord = totalOrder(names, d);
  assert.deepEqual(ord.ranking, ['a', 'b', 'c']);
  assert.equal(ord.isTotal, true);
  assert.deepEqual(ord.violations, []);

  const cyclic = totalOrder(['x', 'y', 'z'], [
    [0, 0, -0.5],
    [-0.5, 0, 0],
    [0, -0.5, 0],
  ]);
  assert.equal(cyclic.isTotal, false);
  assert.ok(cyclic.violations.some((v) => v.kind === 'cycle' && v.classifiers.length === 3), JSON.stringify(cyclic.violations));

  const tied = totalOrder(['p', 'q'], [
    [0, -0.1],
    [-0.102, 0],
  ]);
  assert.equal(tied.isTotal, false);
  assert.equal(tied.violations[0].kind, 'tie');
  assert.match(tied.violations[0].description, /p and q are tied/);
});

test('NMI: identical images give 1, independent noise about 0, symmetric, in [0, 1]', () => {
  const a = randomSet(3, 3, 64, 64, 1);
  const b = randomSet(3, 3, 64, 64, 2);
  assert.ok(Math.abs(intraNmi(a, a) - 1) < 1e-9);
  const noise = imageNmi(a, 0, b, 0, { bins: 16 });
  assert.ok(noise >= 0 && noise < 0.02, `noise NMI ${noise}`);
  assert.ok(Math.abs(imageNmi(a, 1, b, 2) - imageNmi(b, 2, a, 1)) < 1e-12);
  const v = imageNmi(a, 0, b, 1, { bins: 64 });
  assert.ok(v >= 0 && v <= 1);
});

test('NMI is invariant to a bijective map of intensity levels', () => {
  const bins = 16;
  const a = randomSet(1, 1, 32, 32, 3, bins);
  const b = { data: a.data.map((v, i) => (i % 7 === 0 ? 0.5 / bins : v)), shape: a.shape } as ImageSet; // b shares most of a's signal
  const flipped = { data: b.data.map((v) => 1 - v), shape: b.shape } as ImageSet; // level k -> bins-1-k
  const perm = new Rng(9).shuffle(Array.from({ length: bins }, (_, k) => k));
  const permuted = { data: b.data.map((v) => (perm[Math.floor(v * bins)] + 0.5) / bins), shape: b.shape } as ImageSet;
  const base = imageNmi(a, 0, b, 0, { bins });
  assert.ok(base > 0.5 && base < 1);
  assert.ok(Math.abs(imageNmi(a, 0, flipped, 0, { bins }) - base) < 1e-12);
  assert.ok(Math.abs(imageNmi(a, 0, permuted, 0, { bins }) - base) < 1e-12);
});

test('NMI of constant images: both constant 1, one constant 0; inter-NMI of a repeated pattern is 1', () => {
  const flat = { data: new Float32Array(2 * 16).fill(0.3), shape: [2, 1, 4, 4] } as ImageSet;
  const noisy = randomSet(2, 1, 4, 4, 5);
  assert.equal(imageNmi(flat, 0, flat, 1), 1);
  assert.equal(imageNmi(flat, 0, noisy, 0), 0);
  const pattern = randomSet(1, 1, 16, 16, 6);
  const repeated = { data: Float32Array.from({ length: 5 * 256 }, (_, i) => pattern.data[i % 256]), shape: [5, 1, 16, 16] } as ImageSet;
  assert.ok(Math.abs(interNmi(repeated, { pairs: 20 }) - 1) < 1e-9);
  assert.ok(interNmi(randomSet(5, 1, 64, 64, 7), { pairs: 20, bins: 16 }) < 0.02);
});

test('CIELAB of known colours', () => {
  const close = (x: number[], y: number[], tol: number) => x.every((v, i) => Math.abs(v - y[i]) < tol);
  assert.ok(close(srgbToLab(1, 1, 1), [100, 0, 0], 1e-3));
  assert.ok(close(srgbToLab(0, 0, 0), [0, 0, 0], 1e-6));
  assert.ok(close(srgbToLab(1, 0, 0), [53.24, 80.09, 67.2], 0.05), String(srgbToLab(1, 0, 0)));
  assert.ok(close(srgbToLab(0, 0, 1), [32.3, 79.19, -107.86], 0.05), String(srgbToLab(0, 0, 1)));
});

test('histograms are densities per channel and show a colour cast', () => {
  const grey = { data: new Float32Array(3 * 64).fill(0.5), shape: [1, 3, 8, 8] } as ImageSet;
  const reddish = { data: Float32Array.from({ length: 3 * 64 }, (_, i) => (i < 64 ? 0.8 : 0.5)), shape: [1, 3, 8, 8] } as ImageSet;
  const h = channelHistograms(grey, reddish, 32);
  assert.deepEqual(h.map((c) => c.name), ['L*', 'a*', 'b*']);
  for (const c of h) {
    assert.ok(Math.abs(c.original.reduce((s, v) => s + v, 0) - 1) < 1e-9);
    assert.ok(Math.abs(c.reconstruction.reduce((s, v) => s + v, 0) - 1) < 1e-9);
  }
  const mean = (p: number[], [lo, hi]: [number, number]) => p.reduce((s, v, k) => s + v * (lo + ((k + 0.5) * (hi - lo)) / p.length), 0);
  assert.ok(mean(h[1].reconstruction, h[1].range) > mean(h[1].original, h[1].range) + 10, 'a* (red-green) moves towards red');
  assert.equal(channelHistograms(randomSet(1, 1, 4, 4, 1), randomSet(1, 1, 4, 4, 2))[0].name, 'intensity');
});

test('grid energy: a checkerboard error is ~1, a smooth error ~0, noise ~3/4', () => {
  const zero = { data: new Float32Array(64 * 64), shape: [1, 1, 64, 64] } as ImageSet;
  const checker = { data: Float32Array.from({ length: 64 * 64 }, (_, i) => (((i % 64) + Math.floor(i / 64)) % 2 ? 0.1 : -0.1)), shape: [1, 1, 64, 64] } as ImageSet;
  const smooth = { data: Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin((i % 64) / 20) * 0.1), shape: [1, 1, 64, 64] } as ImageSet;
  assert.ok(Math.abs(gridEnergy(zero, checker) - 1) < 1e-6);
  assert.ok(gridEnergy(zero, smooth) < 0.01);
  const noise = gridEnergy(zero, { data: randomSet(1, 1, 64, 64, 4).data.map((v) => v - 0.5), shape: [1, 1, 64, 64] });
  assert.ok(Math.abs(noise - 0.75) < 0.05, `noise ${noise}`);
});

test('reconstruction rows: originals first, one row per set, amplified differences', () => {
  const orig = randomSet(4, 1, 5, 5, 1);
  const rec = { data: orig.data.map((v) => Math.min(1, v + 0.05)), shape: orig.shape } as ImageSet;
  const rows = reconstructionRows(orig, [{ name: 'A_S', images: rec }], [0, 2], 4);
  assert.deepEqual(rows.reconstructions.map((r) => r.label), ['original', 'A_S']);
  assert.equal(rows.reconstructions[1].images.length, 2);
  const d = rows.differences[0].images[0];
  const expected = Math.round(Math.abs(rec.data[0] - orig.data[0]) * 4 * 255);
  assert.equal(d.data[0], expected);
  assert.deepEqual([d.width, d.height, d.channels], [5, 5, 1]);
});
