// Bad calls become JavaScript errors carrying libtorch's reason; the process keeps running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, randn, tensor, zeros, memoryStats, type DType, type Tensor } from '../../src/engine/index.js';
import { callRaw } from '../../src/engine/op.js';

test('shape mismatches report libtorch\'s message', () => {
  assert.throws(() => randn([2, 3]).matmul(randn([2, 3])), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
  assert.throws(() => F.conv2d(randn([1, 2, 5, 5]), randn([4, 3, 3, 3])), /expected input\[1, 2, 5, 5\] to have 3 channels, but got 2 channels/);
  assert.throws(() => randn([2, 3]).reshape([4, 2]), /shape '\[4, 2\]' is invalid for input of size 6/);
  assert.throws(() => F.crossEntropy(randn([2, 3]), tensor(new BigInt64Array([0n, 5n]))), /Target 5 is out of bounds/);
  assert.throws(() => randn([2]).select(0, 9), /index 9 out of range for tensor of size \[2\]/);
  assert.throws(() => randn([3], { requiresGrad: true }).mul(2).backward(), /grad can be implicitly created only for scalar outputs/);
});

test('a bad dtype name is refused with the list of supported ones', () => {
  assert.throws(() => zeros([2], { dtype: 'float8' as DType }), (e: Error) => e instanceof TypeError && /unknown dtype 'float8'; supported: float32/.test(e.message));
  assert.throws(() => tensor([1]).to({ dtype: 'complex64' as DType }), /unknown dtype 'complex64'/);
});

test('using a disposed tensor is an error, not a crash', () => {
  const t = randn([3]);
  t.dispose();
  assert.equal(t.disposed, true);
  assert.throws(() => t.add(1), /Tensor was disposed/);
  assert.throws(() => t.shape, /Tensor was disposed/);
  assert.throws(() => randn([3]).add(t), /Tensor was disposed/);
  t.dispose(); // twice is harmless
});

test('wrong argument types name the argument', () => {
  assert.throws(() => F.conv2d(randn([1, 1, 3, 3]), { handle: 'weights' } as unknown as Tensor), /argument 'weight': expected a Tensor/);
  assert.throws(() => randn([6]).reshape([2.5, 2]), /argument 'shape': expected an integer, got 2.5/);
  assert.throws(() => randn([6]).reshape(['a' as unknown as number]), /argument 'shape': expected an integer/);
  assert.throws(() => F.leakyRelu(randn([2]), 'steep' as unknown as number), /argument 'negative_slope': expected a number/);
  assert.throws(() => callRaw('add', 'Tensor', [randn([2]).handle]), /aten::add: missing argument 'other'/);
  assert.throws(() => callRaw('relu', '', [randn([2]).handle, 1, 2]), /too many arguments/);
  assert.throws(() => callRaw('no_such_op', '', []), /libtorch has no operator aten::no_such_op/);
  assert.throws(() => tensor([1, 2, 3], [2, 2]), /3 values do not fill shape \[2,2\]/);
  assert.throws(() => zeros([-1]), /invalid shape \[-1\]/);
});

test('errors inside an op leak no tensors', () => {
  const x = randn([2, 3]);
  const before = memoryStats().liveTensors;
  for (let i = 0; i < 100; i++) assert.throws(() => x.matmul(x));
  assert.equal(memoryStats().liveTensors, before);
});
