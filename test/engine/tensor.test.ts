import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, zeros, arange, cat, stack, tidy, memoryStats } from '../../src/engine/index.js';

test('tensor round-trips values, shape and dtype', () => {
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.toArray(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(t.permute([1, 0]).contiguous().toArray(), [1, 4, 2, 5, 3, 6]);
});

test('shape ops: slice, cat, stack, pad', () => {
  const a = arange(6).reshape([2, 3]);
  assert.deepEqual(a.slice(1, 1, 3).contiguous().toArray(), [1, 2, 4, 5]);
  assert.deepEqual(cat([a, a], 0).shape, [4, 3]);
  assert.deepEqual(stack([a, a], 1).shape, [2, 2, 3]);
  assert.deepEqual(zeros([1, 1, 2, 2]).pad([1, 1, 1, 1], 'constant', 7).toArray().filter((v) => v === 7).length, 12);
});

test('tidy disposes everything but its result', () => {
  const before = memoryStats().liveTensors;
  const kept = tidy(() => {
    const a = zeros([10]);
    a.add(1);
    return a.add(2);
  });
  assert.equal(memoryStats().liveTensors, before + 1);
  assert.deepEqual(kept.toArray().slice(0, 2), [2, 2]);
  kept.dispose();
  assert.throws(() => kept.shape, /disposed/);
});

test('libtorch errors become JS errors with its message', () => {
  assert.throws(() => tensor([1, 2, 3]).add(tensor([1, 2])), /size of tensor a \(3\) must match/);
});
