// Element types round-trip through libtorch unchanged; devices other than the CPU when present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, engineInfo, manualSeed, randn, tensor, type DType } from '../../src/engine/index.js';

test('integer, float and bool typed arrays round-trip bit-identically', () => {
  const cases: [DType, ArrayBufferView & ArrayLike<unknown>][] = [
    ['float32', new Float32Array([1.5, -0, Number.MIN_VALUE, 3.4e38, Infinity, -Infinity])],
    ['float64', new Float64Array([Math.PI, -1e-300, Number.MAX_VALUE])],
    ['int64', new BigInt64Array([2n ** 62n + 1n, -(2n ** 63n), 0n])],
    ['int32', new Int32Array([2 ** 31 - 1, -(2 ** 31)])],
    ['int16', new Int16Array([32767, -32768])],
    ['int8', new Int8Array([127, -128])],
    ['uint8', new Uint8Array([0, 255])],
  ];
  for (const [dtype, values] of cases) {
    const t = tensor(values, [values.length]);
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.data(), values, dtype);
  }
  const flags = tensor(new Uint8Array([1, 0, 1]), [3], { dtype: 'bool' });
  assert.equal(flags.dtype, 'bool');
  assert.deepEqual(flags.toArray(), [1, 0, 1]);
  assert.deepEqual(tensor([0, 2, -1], [3], { dtype: 'bool' }).toArray(), [0, 1, 1]);
});

test('float16 and bfloat16 keep representable values and round others like PyTorch', () => {
  const exact = [0.5, -2, 1024, 1.5, 0];
  assert.deepEqual(tensor(exact, [5], { dtype: 'float16' }).toArray(), exact);
  assert.deepEqual(tensor(exact, [5], { dtype: 'bfloat16' }).toArray(), exact);
  assert.deepEqual(tensor([65504], [1], { dtype: 'float16' }).toArray(), [65504]);
  assert.deepEqual(tensor([2 ** 100], [1], { dtype: 'bfloat16' }).toArray(), [2 ** 100]);
  // Nearest representable value: 11 significant bits for float16, 8 for bfloat16.
  assert.deepEqual(tensor([0.1], [1], { dtype: 'float16' }).toArray(), [0.0999755859375]);
  assert.deepEqual(tensor([0.1], [1], { dtype: 'bfloat16' }).toArray(), [0.10009765625]);
  // Bit patterns of 1.0: 0x3C00 (float16) and 0x3F80 (bfloat16).
  assert.deepEqual(tensor([1], [1], { dtype: 'float16' }).viewAs('int16').toArray(), [0x3c00]);
  assert.deepEqual(tensor([1], [1], { dtype: 'bfloat16' }).viewAs('int16').toArray(), [0x3f80]);
});

test('conversions between dtypes truncate and test like PyTorch', () => {
  const x = tensor([-1.7, 0, 2.9]);
  assert.deepEqual(x.to({ dtype: 'int64' }).data(), new BigInt64Array([-1n, 0n, 2n]));
  assert.deepEqual(x.to({ dtype: 'bool' }).toArray(), [1, 0, 1]);
  assert.equal(x.add(tensor(new BigInt64Array([1n, 1n, 1n]))).dtype, 'float32', 'type promotion keeps the float');
  assert.equal(tensor(new BigInt64Array([1n])).add(2).dtype, 'int64', 'integral scalars keep integer tensors integral');
});

const info = engineInfo();
test('cpu device: tensors report cpu', () => {
  assert.equal(tensor([1]).device, 'cpu');
});

test('cuda device: round trip and conv2d match the CPU', { skip: info.cuda ? false : 'this libtorch has no usable CUDA device (engineInfo().cuda is false)' }, () => {
  manualSeed(41);
  const x = randn([2, 3, 8, 8]);
  const w = randn([4, 3, 3, 3]);
  const onGpu = x.to({ device: 'cuda' });
  assert.equal(onGpu.device, 'cuda:0');
  assert.deepEqual(onGpu.cpu().toArray(), x.toArray());
  const gpu = F.conv2d(onGpu, w.to({ device: 'cuda' }), null, { padding: 1 }).cpu().toArray();
  const cpu = F.conv2d(x, w, null, { padding: 1 }).toArray();
  gpu.forEach((v, i) => assert.ok(Math.abs(v - cpu[i]) < 1e-3, `conv2d[${i}] ${v} vs ${cpu[i]}`));
  for (const dtype of ['float16', 'bfloat16'] as const) {
    const h = tensor([0.5, -2, 1024], [3], { dtype, device: 'cuda' });
    assert.deepEqual(h.cpu().toArray(), [0.5, -2, 1024], dtype);
  }
});
