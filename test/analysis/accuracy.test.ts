import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, randn, manualSeed, memoryStats, isGradEnabled, type Tensor } from '../../src/engine/index.js';
import { AnalysisError, accuracyGrid, accuracyOf, crossMatrix, deltaMatrix, evaluateClassifier, labelValues, predictClassifier, topKAccuracy } from '../../src/analysis/index.js';

const labels4 = () => tensor(BigInt64Array.from([0n, 1n, 2n, 2n]));

test('topKAccuracy counts labels among the k largest logits, for each k', () => {
  // Label ranks: row 0 first, row 1 second (3 > 1), row 2 third, row 3 second.
  const logits = tensor([5, 0, 0, 0, 1, 3, 9, 8, 7, 0, 2, 1], [4, 3]);
  assert.deepEqual(topKAccuracy(logits, labels4(), [1, 2, 3]), [0.25, 0.75, 1]);
  // Order of ks is kept; k beyond the number of classes counts every row.
  assert.deepEqual(topKAccuracy(logits, labels4(), [5, 1]), [1, 0.25]);
  assert.throws(() => topKAccuracy(logits, labels4(), [0]), AnalysisError);
  assert.throws(() => topKAccuracy(logits, tensor(BigInt64Array.from([0n, 1n])), [1]), /labels: expected \[4\]/);
});

/** A fixed random linear classifier on flattened images, as a plain forward function. */
function linearClassifier(features: number, classes: number): { forward: (x: Tensor) => Tensor; weight: Tensor } {
  const weight = randn([features, classes]);
  return { forward: (x: Tensor) => x.flatten(1).matmul(weight), weight };
}

test('evaluateClassifier: batched result equals the whole-set top-k, top5 only above 5 classes', async () => {
  manualSeed(3);
  const images = randn([23, 1, 4, 4]);
  const { forward } = linearClassifier(16, 10);
  const labels = tensor(BigInt64Array.from({ length: 23 }, (_, i) => BigInt(i % 10)));
  const [top1, top5] = topKAccuracy(forward(images), labels, [1, 5]);
  for (const batchSize of [1, 5, 23, 100]) {
    const acc = await evaluateClassifier(forward, images, labels, { batchSize });
    assert.deepEqual(acc, { top1, top5, n: 23 }, `batch size ${batchSize}`);
  }
  assert.ok(top5 > top1, 'the random classifier is right more often within its top 5');
  const three = linearClassifier(16, 3);
  const small = await evaluateClassifier(three.forward, images, tensor(BigInt64Array.from({ length: 23 }, (_, i) => BigInt(i % 3))), { batchSize: 4 });
  assert.equal(small.top5, null);
});

test('evaluateClassifier applies the transform on the device, runs without autograd and frees every batch', async () => {
  const images = tensor([1, 0, 0, 1, 0, 1, 1, 0], [4, 2, 1, 1]); // one-hot "logits" in the channels
  const labels = tensor(BigInt64Array.from([0n, 1n, 1n, 1n]));
  const gradSeen: boolean[] = [];
  const forward = (x: Tensor) => {
    gradSeen.push(isGradEnabled());
    return x.flatten(1);
  };
  assert.deepEqual(await evaluateClassifier(forward, images, labels, { batchSize: 3 }), { top1: 0.75, top5: null, n: 4 });
  // The transform swaps the two channels: the right answers become wrong and the other way round.
  const swapped = await evaluateClassifier(forward, images, labels, { batchSize: 3, device: 'cpu', transform: (x) => x.flip([1]) });
  assert.equal(swapped.top1, 0.25);
  assert.deepEqual(gradSeen, [false, false, false, false]);
  const before = memoryStats().liveTensors;
  await evaluateClassifier(forward, images, labels, { batchSize: 1 });
  assert.equal(memoryStats().liveTensors, before);
  await assert.rejects(evaluateClassifier(forward, images, labels.slice(0, 0, 3)), /labels: expected \[4\]/);
  await assert.rejects(evaluateClassifier(forward, images, labels, { batchSize: 0 }), AnalysisError);
});

test('an asynchronous forward gives the same predictions as the synchronous one and leaves no tensor behind', async () => {
  manualSeed(4);
  const images = randn([23, 1, 4, 4]);
  const { forward } = linearClassifier(16, 10);
  const labels = tensor(BigInt64Array.from({ length: 23 }, (_, i) => BigInt(i % 10)));
  // As ONNX Runtime does: the pixels leave synchronously, the logits come back after an await.
  const seen: Tensor[] = [];
  const later = async (x: Tensor) => {
    const logits = forward(x).toFloat32Array();
    await new Promise((r) => setImmediate(r));
    const out = tensor(logits, [x.shape[0], 10]);
    seen.push(x, out);
    return out;
  };
  const sync = await predictClassifier(forward, images, labels, { batchSize: 5 });
  const awaited = await predictClassifier(later, images, labels, { batchSize: 5, transform: (x) => x.mul(1) });
  // Every batch's input and logits are freed by predictClassifier itself, not left to the GC.
  assert.equal(seen.length, 10);
  assert.ok(seen.every((t) => t.disposed));
  assert.deepEqual([Array.from(awaited.top1), Array.from(awaited.top5Hit!)], [Array.from(sync.top1), Array.from(sync.top5Hit!)]);
});

test('crossMatrix and deltaMatrix against hand counts', async () => {
  const labels = labels4();
  const good = tensor([5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 1, 2], [4, 3]); // all right
  const half = tensor([5, 0, 0, 5, 0, 1, 0, 0, 5, 0, 2, 1], [4, 3]); // rows 0 and 2 right
  const identity = (x: Tensor) => x;
  const reversed = (x: Tensor) => x.flip([1]); // class k scored by logit 2-k
  const m = await crossMatrix(
    [
      { name: 'A', images: good },
      { name: 'B', images: half },
    ],
    [
      { name: 'id', forward: identity },
      { name: 'reversed', forward: reversed },
    ],
    good,
    labels,
    { batchSize: 3 },
  );
  assert.deepEqual(m.rows, ['A', 'B']);
  assert.deepEqual(m.columns, ['id', 'reversed']);
  assert.deepEqual(m.original, [1, 0.25]);
  assert.deepEqual(m.top1, [
    [1, 0.25],
    [0.5, 0],
  ]);
  assert.deepEqual(m.delta, [
    [0, 0],
    [-0.5, -0.25],
  ]);
  assert.deepEqual(deltaMatrix([[0.5, 0.75, 1]], [0.25, 0.5, 1]), [[0.25, 0.25, 0]]);
  assert.throws(() => deltaMatrix([[0.5, 0.75]], [0.25]), /row 0 has 2 values but the baseline has 1/);
});

test('predictClassifier gives each image its argmax class and top-5 hit; accuracyOf counts them', async () => {
  // 7 classes, 3 images: logits rank the classes 0..6 by the values given.
  const logits = tensor([
    9, 8, 7, 6, 5, 4, 3, // predicts 0; label 5 is 6th: no top-5 hit
    0, 1, 2, 3, 4, 5, 6, // predicts 6; label 2 is 5th: a top-5 hit
    1, 9, 0, 0, 0, 0, 0, // predicts 1 = label
  ], [3, 7]);
  const labels = tensor(BigInt64Array.from([5n, 2n, 1n]));
  const p = await predictClassifier((x) => x.flatten(1), logits.reshape([3, 7, 1, 1]), labels, { batchSize: 2 });
  assert.deepEqual(Array.from(p.top1), [0, 6, 1]);
  assert.deepEqual(Array.from(p.top5Hit!), [0, 1, 1]);
  assert.deepEqual(accuracyOf(p, labelValues(labels)), { top1: 1 / 3, top5: 2 / 3, n: 3 });
  const [top1, top5] = topKAccuracy(logits, labels, [1, 5]);
  assert.deepEqual(accuracyOf(p, [5, 2, 1]), { top1, top5, n: 3 });
  // With 5 classes or fewer top-5 is always right: no hits are stored.
  const three = await predictClassifier((x) => x.flatten(1), logits.slice(1, 0, 3).reshape([3, 3, 1, 1]), tensor(BigInt64Array.from([0n, 2n, 1n])));
  assert.deepEqual([Array.from(three.top1), three.top5Hit], [[0, 2, 1], null]);
  assert.throws(() => accuracyOf(p, [1, 2]), /one label per prediction/);
});

test('accuracyGrid keeps the per-image predictions its accuracies were counted from', async () => {
  manualSeed(5);
  const images = randn([30, 1, 3, 3]);
  const { forward } = linearClassifier(9, 8);
  const labels = tensor(BigInt64Array.from({ length: 30 }, (_, i) => BigInt(i % 8)));
  const grid = await accuracyGrid([{ name: 'noisy', images: images.add(randn([30, 1, 3, 3])) }], [{ name: 'lin', forward }], images, labels, { batchSize: 7 });
  assert.deepEqual(grid.original[0], await evaluateClassifier(forward, images, labels));
  assert.deepEqual(grid.cells[0][0], accuracyOf(grid.predictions[0][0], grid.labels));
  assert.deepEqual(Array.from(grid.labels), Array.from({ length: 30 }, (_, i) => i % 8));
  assert.equal(grid.originalPredictions[0].top5Hit!.length, 30);
});
