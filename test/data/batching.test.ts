import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, dispose, memoryStats, tensor, tidy } from '../../src/engine/index.js';
import { batchAt, BatchOrder, batches, disposeDataset, type Dataset } from '../../src/data/index.js';

/** N one-pixel images whose value is their index; labels are index mod 3. */
function indexed(n: number): Dataset {
  return {
    name: 'indexed',
    images: tidy(() => arange(0, n, 1, { dtype: 'float32' }).reshape([n, 1, 1, 1])),
    labels: tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3))),
    classNames: ['a', 'b', 'c'],
  };
}

/** The example indices of each batch of one epoch, read back from the images. */
function epoch(d: Dataset, opts: Parameters<typeof batches>[1]): number[][] {
  const out: number[][] = [];
  for (const b of batches(d, opts)) {
    const xs = b.x.toArray();
    assert.deepEqual(b.y.toArray(), xs.map((i) => i % 3), 'labels travel with their images');
    out.push(xs);
    dispose(b);
  }
  return out;
}

test('one epoch visits every example exactly once, in batches of batchSize and a smaller last one', () => {
  const d = indexed(103);
  const e = epoch(d, { batchSize: 10, seed: 1 });
  assert.deepEqual(e.map((b) => b.length), [...new Array(10).fill(10), 3]);
  assert.deepEqual(e.flat().sort((a, b) => a - b), Array.from({ length: 103 }, (_, i) => i));
  assert.notDeepEqual(e.flat(), Array.from({ length: 103 }, (_, i) => i), 'shuffled');
  const noShuffle = epoch(d, { batchSize: 10, shuffle: false });
  assert.deepEqual(noShuffle.flat(), Array.from({ length: 103 }, (_, i) => i));
  const dropped = epoch(d, { batchSize: 10, seed: 1, dropLast: true });
  assert.equal(dropped.length, 10);
  assert.ok(dropped.every((b) => b.length === 10));
  assert.equal(new Set(dropped.flat()).size, 100);
  disposeDataset(d);
});

test('the order is a function of (seed, epoch): reproducible, and different across seeds and epochs', () => {
  const d = indexed(50);
  const a = epoch(d, { batchSize: 8, seed: 7 });
  assert.deepEqual(epoch(d, { batchSize: 8, seed: 7 }), a);
  assert.notDeepEqual(epoch(d, { batchSize: 8, seed: 8 }), a);
  const next = epoch(d, { batchSize: 8, seed: 7, epoch: 1 });
  assert.notDeepEqual(next, a);
  assert.deepEqual(next.flat().sort((x, y) => x - y), a.flat().sort((x, y) => x - y));

  // batchAt(step) walks the same epochs back to back, so a resumed run sees the same batches.
  const order = new BatchOrder(50, { batchSize: 8, seed: 7 });
  assert.equal(order.batchesPerEpoch, 7);
  for (const step of [0, 6, 7, 13, 3]) {
    const want = (step < 7 ? a : next)[step % 7];
    const b = batchAt(d, order, step);
    assert.deepEqual(b.x.toArray(), want, `step ${step}`);
    dispose(b);
  }
  disposeDataset(d);
});

test('batches leave the dataset alive and leak nothing when the caller disposes each batch', () => {
  const d = indexed(64);
  const before = memoryStats().liveTensors;
  for (let e = 0; e < 3; e++) {
    for (const b of batches(d, { batchSize: 16, seed: e, epoch: e })) {
      tidy(() => {
        b.x.mul(2).sum();
      });
      dispose(b);
    }
  }
  assert.equal(memoryStats().liveTensors, before);
  assert.equal(d.images.disposed, false);
  assert.equal(d.labels.disposed, false);
  assert.throws(() => new BatchOrder(5, { batchSize: 8, dropLast: true }), /make no batch/);
  assert.throws(() => new BatchOrder(5, { batchSize: 0 }), /batchSize must be a positive integer/);
  disposeDataset(d);
});
