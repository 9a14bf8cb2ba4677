import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allclose, arange, full, manualSeed, ones, rand, tensor, tidy } from '../../src/engine/index.js';
import { centerCrop, centerCropBox, denormalize, IMAGENET_MEAN, IMAGENET_STD, MNIST_MEAN, MNIST_STD, normalize, normalizedFromBytes, padTo, randomTranslate, resizedSize, resizeShorter, Rng, TransformError } from '../../src/data/index.js';

test('normalize subtracts the mean and divides by the std per channel; denormalize inverts it', () => {
  tidy(() => {
    manualSeed(1);
    const x = rand([2, 3, 4, 5]);
    const n = normalize(x, IMAGENET_MEAN, IMAGENET_STD);
    const xs = x.toFloat32Array();
    const ns = n.toFloat32Array();
    for (const i of [0, 21, 47, 99, 119]) {
      const c = Math.floor(i / 20) % 3;
      assert.ok(Math.abs(ns[i] - (xs[i] - IMAGENET_MEAN[c]) / IMAGENET_STD[c]) < 1e-6);
    }
    assert.ok(allclose(denormalize(n, IMAGENET_MEAN, IMAGENET_STD), x, 1e-6, 1e-6));
    // A single image [C, H, W] broadcasts the same way.
    const mean = tensor([...IMAGENET_MEAN], [3, 1, 1]).expand([3, 2, 2]).contiguous();
    assert.ok(allclose(normalize(mean, IMAGENET_MEAN, IMAGENET_STD), full([3, 2, 2], 0), 0, 1e-6));
    assert.throws(() => normalize(ones([1, 4, 4]), IMAGENET_MEAN, IMAGENET_STD), TransformError);
  });
});

test('normalizedFromBytes equals normalize of the bytes as float images, bit for bit, and keeps them channels last', () => {
  tidy(() => {
    for (const [c, mean, std] of [[3, IMAGENET_MEAN, IMAGENET_STD], [1, MNIST_MEAN, MNIST_STD]] as const) {
      const pixels = Uint8Array.from({ length: 2 * 5 * 7 * c }, (_, i) => (i * 37 + 11) % 256);
      const bytes = tensor(pixels, [2, 5, 7, c]);
      const x = normalizedFromBytes(bytes, mean, std);
      const expected = normalize(bytes.permute([0, 3, 1, 2]).float().div(255), mean, std);
      assert.deepEqual(x.shape, [2, c, 5, 7]);
      assert.deepEqual(x.contiguous().toFloat32Array(), expected.contiguous().toFloat32Array());
      assert.equal(x.stride(1), 1, 'channels last');
    }
    assert.throws(() => normalizedFromBytes(tensor(new Uint8Array(2 * 2 * 2 * 3), [2, 2, 2, 3]), MNIST_MEAN, MNIST_STD), TransformError);
    assert.throws(() => normalizedFromBytes(tensor(new Uint8Array(4 * 3), [4, 3]), IMAGENET_MEAN, IMAGENET_STD), TransformError);
    assert.throws(() => normalizedFromBytes(tensor(new Uint8Array(3), [1, 1, 1, 3]), IMAGENET_MEAN, [0.2, 0, 0.2]), TransformError);
  });
});

test('centerCrop takes the centred window, rounding offsets like torchvision', () => {
  tidy(() => {
    const img = arange(0, 6 * 8).reshape([1, 6, 8]);
    // 6x8 -> 2x4: top 2, left 2.
    assert.deepEqual(centerCrop(img, [2, 4]).toArray(), [18, 19, 20, 21, 26, 27, 28, 29]);
    // Python round(1.5) = 2 and round(0.5) = 0 (half to even).
    assert.deepEqual(centerCropBox(5, 4, 2, 3), { top: 2, left: 0 });
    assert.deepEqual(centerCropBox(4, 7, 1, 2), { top: 2, left: 2 });
    assert.deepEqual(centerCrop(arange(0, 25).reshape([1, 1, 5, 5]), 3).shape, [1, 1, 3, 3]);
    assert.deepEqual(centerCrop(arange(0, 25).reshape([1, 1, 5, 5]), 1).toArray(), [12]);
    assert.throws(() => centerCrop(img, 7), /larger than the image/);
  });
});

test('padTo pads 28x28 to 32x32 with 2 zeros on every side and keeps the image', () => {
  tidy(() => {
    const img = ones([2, 1, 28, 28]);
    const p = padTo(img, 32);
    assert.deepEqual(p.shape, [2, 1, 32, 32]);
    assert.equal(p.sum().item(), 2 * 28 * 28);
    assert.ok(allclose(centerCrop(p, 28), img));
    const v = p.toFloat32Array();
    assert.equal(v[0], 0);
    assert.equal(v[2 * 32 + 2], 1);
    assert.equal(v[2 * 32 + 1], 0);
    assert.equal(v[29 * 32 + 29], 1);
    assert.equal(v[30 * 32 + 29], 0);
  });
});

test('resizedSize keeps the aspect ratio; resizeShorter antialiases when shrinking', () => {
  assert.deepEqual(resizedSize(40, 60, 20), [20, 30]);
  assert.deepEqual(resizedSize(60, 40, 20), [30, 20]);
  assert.deepEqual(resizedSize(3, 4, 2), [2, 2]);
  tidy(() => {
    assert.deepEqual(resizeShorter(rand([3, 20, 30]), 10).shape, [3, 10, 15]);
    assert.ok(allclose(resizeShorter(full([1, 3, 16, 24], 0.3), 8), full([1, 3, 8, 12], 0.3), 1e-5, 1e-6));
    // Columns 1, 0, 0, 0 repeating: shrinking 4x averages them to 0.25 inside the image, where
    // plain bilinear sampling would hit only zeros.
    const stripes = tensor(Array.from({ length: 32 * 32 }, (_, i) => (i % 32) % 4 === 0 ? 1 : 0), [1, 1, 32, 32]);
    const small = resizeShorter(stripes, 8).toFloat32Array();
    for (let x = 2; x < 6; x++) assert.ok(Math.abs(small[3 * 8 + x] - 0.25) < 1e-5, `column ${x}: ${small[3 * 8 + x]}`);
  });
});

test('randomTranslate shifts the batch by the drawn offset and repeats the border', () => {
  tidy(() => {
    const x = arange(25).reshape([1, 1, 5, 5]).float();
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const probe = new Rng(seed);
      const dy = probe.int(5) - 2;
      const dx = probe.int(5) - 2;
      const out = randomTranslate(x, 2, new Rng(seed)).toArray();
      // Output pixel (r, c) is input pixel (r + dy, c + dx), clamped to the image (replicated border).
      const clamp = (v: number) => Math.max(0, Math.min(4, v));
      const expected = Array.from({ length: 25 }, (_, i) => clamp(Math.floor(i / 5) + dy) * 5 + clamp((i % 5) + dx));
      assert.deepEqual(out, expected, `seed ${seed}: shift ${dy},${dx}`);
      seen.add(`${dy},${dx}`);
    }
    assert.ok(seen.size > 10, 'offsets vary with the seed');
    assert.deepEqual(randomTranslate(x, 0, new Rng(1)).toArray(), x.toArray());
    assert.throws(() => randomTranslate(x, 5, new Rng(1)), TransformError);
  });
});
