// Forward values of the engine's NN ops on small cases computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, arange, manualSeed, ones, randn, tensor, zeros, type Tensor } from '../../src/engine/index.js';

function assertClose(actual: Tensor | number[], expected: number[], tol = 1e-6, what = 'values'): void {
  const got = Array.isArray(actual) ? actual : actual.toArray();
  assert.equal(got.length, expected.length, `${what}: ${got.length} values, expected ${expected.length}`);
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `${what}[${i}]: ${v}, expected ${expected[i]}`));
}

/** 1..n laid out in the given shape. */
const count = (shape: number[]) => arange(1, shape.reduce((a, b) => a * b, 1) + 1, 1, { dtype: 'float32' }).reshape(shape);

test('conv2d: plain, bias, stride/padding, dilation, groups', () => {
  const x = count([1, 1, 3, 3]);
  // Kernel [[1, 0], [0, -1]]: x[i][j] - x[i+1][j+1] = -4 everywhere.
  const w = tensor([1, 0, 0, -1], [1, 1, 2, 2]);
  assertClose(F.conv2d(x, w), [-4, -4, -4, -4]);
  assertClose(F.conv2d(x, w, tensor([1])), [-3, -3, -3, -3]);
  // Zero padding 1, stride 2: windows start at -1 and 1; only the -1 tap sees data at (-1, -1).
  assertClose(F.conv2d(x, w, null, { padding: 1, stride: 2 }), [-1, -3, -7, 5 - 9]);
  assertClose(F.conv2d(x, ones([1, 1, 2, 2]), null, { dilation: 2 }), [1 + 3 + 7 + 9]);
  // Two groups of one channel with 1x1 kernels: each channel scaled by its own weight.
  const two = count([1, 2, 1, 2]);
  assertClose(F.conv2d(two, tensor([2, 3], [2, 1, 1, 1]), null, { groups: 2 }), [2, 4, 9, 12]);
});

test('linear and matmul', () => {
  const w = tensor([1, 0, 0, 1, 1, 1], [3, 2]);
  assertClose(F.linear(tensor([1, 2], [1, 2]), w, tensor([0, 0, 1])), [1, 2, 4]);
  assertClose(count([2, 2]).matmul(count([2, 2])), [7, 10, 15, 22]);
});

test('pooling: max (with indices), avg, adaptive avg', () => {
  const x = arange(16, undefined, 1, { dtype: 'float32' }).reshape([1, 1, 4, 4]);
  const [pooled, indices] = F.maxPool2dWithIndices(x, 2);
  assertClose(pooled, [5, 7, 13, 15]);
  assert.deepEqual(indices.toArray(), [5, 7, 13, 15]);
  assertClose(F.maxPool2d(x, 3, { stride: 1 }), [10, 11, 14, 15]);
  assertClose(F.avgPool2d(x, 2), [2.5, 4.5, 10.5, 12.5]);
  // Padding counted by default (divide by 4), excluded on request (divide by 1 at the corner).
  assertClose(F.avgPool2d(x.add(1), 2, { padding: 1 }).slice(3, 0, 1).slice(2, 0, 1), [1 / 4]);
  assertClose(F.avgPool2d(x.add(1), 2, { padding: 1, countIncludePad: false }).slice(3, 0, 1).slice(2, 0, 1), [1]);
  // 3 -> 2 adaptive windows overlap: rows/cols {0,1} and {1,2}.
  assertClose(F.adaptiveAvgPool2d(count([1, 1, 3, 3]), 2), [3, 4, 6, 7]);
});

test('max_unpool2d(max_pool2d(x)) keeps each maximum at its position and zeros elsewhere', () => {
  manualSeed(21);
  const [n, c, h, w] = [2, 3, 6, 8];
  const x = randn([n, c, h, w]);
  const [pooled, indices] = F.maxPool2dWithIndices(x, 2);
  const restored = F.maxUnpool2d(pooled, indices, [h, w]).toArray();
  const xs = x.toArray();
  const idx = indices.toArray();
  for (let plane = 0; plane < n * c; plane++) {
    for (let i = 0; i < h / 2; i++) {
      for (let j = 0; j < w / 2; j++) {
        const window = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([di, dj]) => (2 * i + di) * w + 2 * j + dj);
        const best = window.reduce((a, b) => (xs[plane * h * w + b] > xs[plane * h * w + a] ? b : a));
        assert.equal(idx[plane * (h / 2) * (w / 2) + i * (w / 2) + j], best, 'pooling index is the flat argmax in the plane');
        for (const at of window) {
          assert.equal(restored[plane * h * w + at], at === best ? xs[plane * h * w + at] : 0);
        }
      }
    }
  }
});

test('batchNorm: training normalises with batch statistics and updates running ones; eval uses running ones', () => {
  const x = tensor([1, 2, 3, 4], [4, 1, 1, 1]);
  const mean = zeros([1]);
  const variance = ones([1]);
  const eps = 1e-5;
  const out = F.batchNorm(x, mean, variance, { training: true, momentum: 0.1, eps, weight: tensor([2]), bias: tensor([1]) });
  // Batch mean 2.5, biased variance 1.25 (for normalising), unbiased 5/3 (for the running value).
  assertClose(out, [1, 2, 3, 4].map((v) => (2 * (v - 2.5)) / Math.sqrt(1.25 + eps) + 1), 1e-5);
  assertClose(mean, [0.25]);
  assertClose(variance, [0.9 + 0.1 * (5 / 3)]);
  const evalOut = F.batchNorm(x, tensor([1]), tensor([4]), { training: false, eps: 0 });
  assertClose(evalOut, [0, 0.5, 1, 1.5]);
});

test('activations and softmax', () => {
  assertClose(F.leakyRelu(tensor([-2, 3]), 0.1), [-0.2, 3]);
  assertClose(F.relu(tensor([-2, 3])), [0, 3]);
  assertClose(F.sigmoid(tensor([0, Math.log(3)])), [0.5, 0.75]);
  assertClose(F.tanh(tensor([0, Math.log(2)])), [0, 0.6]);
  const logits = tensor([0, Math.log(2), Math.log(3)]);
  assertClose(F.softmax(logits, 0), [1 / 6, 2 / 6, 3 / 6]);
  assertClose(F.logSoftmax(logits, 0), [1, 2, 3].map((v) => Math.log(v / 6)), 1e-5);
});

test('losses: crossEntropy (with smoothing and reductions) and mseLoss', () => {
  const logits = tensor([0, Math.log(3), Math.log(2), Math.log(2)], [2, 2]);
  const target = tensor(new BigInt64Array([1n, 0n]), [2]);
  const perSample = [-Math.log(3 / 4), -Math.log(1 / 2)];
  assertClose(F.crossEntropy(logits, target, 'none'), perSample, 1e-6);
  assertClose(F.crossEntropy(logits, target), [(perSample[0] + perSample[1]) / 2], 1e-6);
  assertClose(F.crossEntropy(logits, target, 'sum'), [perSample[0] + perSample[1]], 1e-6);
  // Smoothing s over C classes: target distribution (1 - s) one-hot + s / C.
  const s = 0.2;
  const logp0 = [Math.log(1 / 4), Math.log(3 / 4)];
  const smoothed0 = -((1 - s) * logp0[1] + (s / 2) * (logp0[0] + logp0[1]));
  assertClose(F.crossEntropy(logits.slice(0, 0, 1), target.slice(0, 0, 1), 'mean', s), [smoothed0], 1e-6);
  assertClose(F.mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0])), [13 / 3]);
  assertClose(F.mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0]), 'sum'), [13]);
});

test('localResponseNorm follows b_c = a_c / (k + alpha/n * sum of a^2 over the window)^beta', () => {
  // size 2: the window of channel c is {c-1, c} (zero outside).
  const x = tensor([1, 2, 3], [1, 3, 1, 1]);
  assertClose(F.localResponseNorm(x, 2, 1, 1, 1), [1 / (1 + 0.5), 2 / (1 + 2.5), 3 / (1 + 6.5)]);
  // size 3, beta 0.5: window {c-1, c, c+1}.
  const sums = [1 + 4, 1 + 4 + 9, 4 + 9];
  assertClose(F.localResponseNorm(x, 3, 0.3, 0.5, 2), [1, 2, 3].map((v, c) => v / Math.sqrt(2 + (0.3 / 3) * sums[c])), 1e-6);
});

test('interpolate: nearest and bilinear (with and without aligned corners)', () => {
  const x = count([1, 1, 2, 2]);
  assertClose(F.interpolate(x, [4, 4], 'nearest'), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assertClose(F.interpolate(x, [3, 3], 'bilinear', true), [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
  // Half-pixel centres: output column i samples (i + 0.5) / 2 - 0.5, clamped at the border.
  const row = tensor([2, 6], [1, 1, 1, 2]);
  assertClose(F.interpolate(row, [1, 4], 'bilinear'), [2, 3, 5, 6]);
});

test('dropout: zeros or scales by 1/(1-p) in training, identity in eval', () => {
  manualSeed(22);
  const x = ones([100, 100]);
  const out = F.dropout(x, 0.25, true).toArray();
  assert.ok(out.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
  const dropped = out.filter((v) => v === 0).length / out.length;
  assert.ok(Math.abs(dropped - 0.25) < 0.02, `dropped fraction ${dropped}`);
  assert.deepEqual(F.dropout(x, 0.25, false).toArray(), x.toArray());
  assert.ok(F.dropout(x, 1, true).toArray().every((v) => v === 0));
});
