import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { tidy, type Tensor } from '../../src/engine/index.js';
import { classCounts, disposeDataset, limitDataset, loadBuiltinDataset, stratifiedSplit, type Dataset } from '../../src/data/index.js';

const cacheDir = mkdtempSync(join(tmpdir(), 's2snets-datasets-'));
test.after(() => rmSync(cacheDir, { recursive: true, force: true }));

const require = createRequire(import.meta.url);
function packageJson(pkg: string, file: string): { data: unknown } {
  return JSON.parse(readFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), file), 'utf8'));
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().max().item());
}

function assertSameDataset(a: Dataset, b: Dataset): void {
  assert.deepEqual(a.images.shape, b.images.shape);
  assert.equal(maxAbsDiff(a.images, b.images), 0);
  assert.equal(tidy(() => a.labels.ne(b.labels).sum().item()), 0);
  assert.deepEqual(a.classNames, b.classNames);
}

/** Each image's float32 bytes as a base64 string (for exact set membership). */
function imageKeys(d: Dataset): string[] {
  const px = d.images.toFloat32Array();
  return Array.from({ length: d.labels.shape[0] }, (_, i) => Buffer.from(px.buffer, px.byteOffset + i * 784 * 4, 784 * 4).toString('base64'));
}

/** Whether some image of class `label` is within `tol` of `want` everywhere. */
function containsImage(d: Dataset, label: number, want: ArrayLike<number>, tol: number): boolean {
  const px = d.images.toFloat32Array();
  const labels = d.labels.toArray();
  return labels.some((y, i) => y === label && Array.prototype.every.call(want, (v: number, k: number) => Math.abs(px[i * 784 + k] - v) <= tol));
}

test('MNIST: shapes, ranges, the package counts, a stratified 80/20 split, and a cache equal to a fresh parse', async () => {
  const fresh = await loadBuiltinDataset('mnist', { cacheDir });
  assert.equal(fresh.source, 'package');
  const { train, test: held } = fresh;
  assert.deepEqual(train.images.shape.slice(1), [1, 28, 28]);
  assert.equal(train.images.dtype, 'float32');
  assert.equal(train.labels.dtype, 'int64');
  assert.equal(train.images.shape[0] + held.images.shape[0], 10000);
  assert.equal(tidy(() => train.images.min().item()), 0);
  assert.equal(tidy(() => train.images.max().item()), 1);
  // Per-digit counts of the mnist package, split 80/20 per class.
  const perClass = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
  const testCounts = classCounts(held);
  assert.deepEqual(testCounts, perClass.map((n) => Math.round(0.2 * n)));
  assert.deepEqual(classCounts(train), perClass.map((n, c) => n - testCounts[c]));

  // The package's first "0" digit (floats rounded to 3 decimals) is among the class-0 images.
  const first = (packageJson('mnist', 'src/digits/0.json').data as number[]).slice(0, 784);
  assert.ok([train, held].some((d) => containsImage(d, 0, first, 0.0021)), 'first digit of 0.json not found among the 0s');

  // MNIST has no duplicate digits, so disjoint splits share no image.
  const trainKeys = new Set(imageKeys(train));
  assert.ok(imageKeys(held).every((k) => !trainKeys.has(k)));

  const cached = await loadBuiltinDataset('mnist', { cacheDir });
  assert.equal(cached.source, 'cache');
  assertSameDataset(cached.train, train);
  assertSameDataset(cached.test, held);

  // A damaged cache is rebuilt, with the same result.
  writeFileSync(join(cacheDir, 'mnist.safetensors'), 'not a safetensors file');
  const rebuilt = await loadBuiltinDataset('mnist', { cacheDir });
  assert.equal(rebuilt.source, 'package');
  assertSameDataset(rebuilt.test, held);
  for (const d of [train, held, cached.train, cached.test, rebuilt.train, rebuilt.test]) disposeDataset(d);
});

test('Fashion-MNIST: 60,000 / 10,000 with 1,000 test images per class, class names, bytes as in the package, cache equal', async () => {
  const fresh = await loadBuiltinDataset('fashion-mnist', { cacheDir });
  const { train, test: held } = fresh;
  assert.deepEqual(train.images.shape, [60000, 1, 28, 28]);
  assert.deepEqual(held.images.shape, [10000, 1, 28, 28]);
  assert.deepEqual(classCounts(held), new Array(10).fill(1000));
  assert.deepEqual(classCounts(train), new Array(10).fill(6000));
  assert.equal(held.classNames[1], 'Trouser');
  assert.equal(held.classNames[9], 'Ankle boot');
  assert.ok(tidy(() => train.images.min().item()) >= 0 && tidy(() => train.images.max().item()) <= 1);

  // Class 9's first image in the package, as bytes / 255, is one of the class-9 images exactly.
  const bytes = (packageJson('fashion-mnist', 'src/clothes/9.json').data as number[][])[0];
  const want = Float32Array.from(bytes, (v) => v / 255);
  assert.ok([train, held].some((d) => containsImage(d, 9, want, 0)), 'first image of 9.json not found among the ankle boots');

  const cached = await loadBuiltinDataset('fashion-mnist', { cacheDir });
  assert.equal(cached.source, 'cache');
  assertSameDataset(cached.test, held);
  assertSameDataset(cached.train, train);
  for (const d of [train, held, cached.train, cached.test]) disposeDataset(d);
});

test('stratifiedSplit is a seeded, disjoint, complete partition with the asked fraction per class', () => {
  const labels = Array.from({ length: 1000 }, (_, i) => (i * 7) % 3);
  const a = stratifiedSplit(labels, 3, 0.25, 5);
  const b = stratifiedSplit(labels, 3, 0.25, 5);
  const c = stratifiedSplit(labels, 3, 0.25, 6);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.test, c.test);
  const all = [...a.train, ...a.test].sort((x, y) => x - y);
  assert.deepEqual(all, labels.map((_, i) => i));
  for (let k = 0; k < 3; k++) {
    const n = labels.filter((y) => y === k).length;
    assert.equal(a.test.filter((i) => labels[i] === k).length, Math.round(0.25 * n));
  }
});

test('limitDataset takes a seeded, stratified subset', async () => {
  const { train, test: held } = await loadBuiltinDataset('mnist', { cacheDir });
  const small = limitDataset(held, 100, 3);
  assert.equal(small.labels.shape[0], 100);
  // 2000 test digits, about 200 per class: every class gets 9 to 12 of the 100.
  for (const n of classCounts(small)) assert.ok(n >= 9 && n <= 12, `class count ${n}`);
  const again = limitDataset(held, 100, 3);
  assertSameDataset(small, again);
  const other = limitDataset(held, 100, 4);
  assert.ok(maxAbsDiff(small.images, other.images) > 0);
  for (const d of [train, held, small, again, other]) disposeDataset(d);
});
