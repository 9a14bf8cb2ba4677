// Forward-only inference on ONNX Runtime must make the same decisions as the differentiable
// libtorch import: identical top-1 classes, logits within 1e-4 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, randn, manualSeed } from '../../src/engine/index.js';
import { loadOnnxClassifier, OnnxInference, OnnxRuntimeError } from '../../src/import/onnx/index.js';
import { encodeModel, randomValues } from './onnx-build.js';

/** Conv 3->8 (3x3), ReLU, MaxPool, Conv 8->8, ReLU, global average pool, Gemm 8->10, dynamic batch. */
function smallClassifier(dir: string): string {
  const file = join(dir, 'small.onnx');
  const bytes = encodeModel({
    opset: 13,
    input: { name: 'input', dims: ['batch', 3, 16, 16] },
    output: { name: 'logits', dims: ['batch', 10] },
    initializers: [
      { name: 'w1', dims: [8, 3, 3, 3], values: randomValues(8 * 27, 1) },
      { name: 'b1', dims: [8], values: randomValues(8, 2) },
      { name: 'w2', dims: [8, 8, 3, 3], values: randomValues(8 * 72, 3).map((v) => v * 0.3) },
      { name: 'fc', dims: [10, 8], values: randomValues(80, 4) },
      { name: 'fcb', dims: [10], values: randomValues(10, 5) },
    ],
    nodes: [
      { op: 'Conv', inputs: ['input', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { op: 'MaxPool', inputs: ['r1'], outputs: ['p1'], attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } } },
      { op: 'Conv', inputs: ['p1', 'w2'], outputs: ['c2'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
      { op: 'GlobalAveragePool', inputs: ['r2'], outputs: ['g'] },
      { op: 'Flatten', inputs: ['g'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'fc', 'fcb'], outputs: ['logits'], attrs: { transB: { i: 1 } } },
    ],
  });
  writeFileSync(file, bytes);
  return file;
}

test('ONNX Runtime inference matches the libtorch import: same top-1, logits within 1e-4 relative', async () => {
  const file = smallClassifier(mkdtempSync(join(tmpdir(), 's2snets-ort-')));
  const ours = await loadOnnxClassifier(file);
  const session = await OnnxInference.open(file, { threads: 1 });
  manualSeed(3);
  for (const batch of [1, 7, 64]) {
    const x = randn([batch, 3, 16, 16]);
    const expected = noGrad(() => ours.forward(x));
    const got = await session.logits(x);
    assert.deepEqual(got.shape, [batch, 10]);
    assert.deepEqual(got.argmax(1).toArray(), expected.argmax(1).toArray());
    const rel = got.sub(expected).abs().max().item() / expected.abs().max().item();
    assert.ok(rel <= 1e-4, `batch ${batch}: relative error ${rel}`);
  }
  await session.close();
  // Run as a graph of a fixed batch of 4: chunks of 4, the last one padded, give the same rows.
  const chunked = await OnnxInference.open(file, { threads: 1, fixedBatch: 4 });
  const x = randn([7, 3, 16, 16]);
  const whole = noGrad(() => ours.forward(x));
  const rows = await chunked.logits(x);
  assert.deepEqual(rows.shape, [7, 10]);
  assert.ok(rows.sub(whole).abs().max().item() / whole.abs().max().item() <= 1e-4);
  await chunked.close();
});

test('a batch that does not fit the model is an OnnxRuntimeError naming the file and the shape', async () => {
  const file = smallClassifier(mkdtempSync(join(tmpdir(), 's2snets-ort-')));
  const session = await OnnxInference.open(file);
  await assert.rejects(session.logits(randn([2, 5, 16, 16])), (e: Error) => e instanceof OnnxRuntimeError && e.message.includes('small.onnx') && e.message.includes('[2, 5, 16, 16]'));
  await session.close();
  await assert.rejects(OnnxInference.open(join(tmpdir(), 'no-such-model.onnx')), OnnxRuntimeError);
});
