// safetensors: bit-identical round trips, atomic writes, an independent Python reader, error paths, fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DTYPES, randn, tensor, type DType, type Tensor } from '../../src/engine/index.js';
import { SafetensorsError, loadSafetensors, saveSafetensors, encodeSafetensors } from '../../src/nn/index.js';
import { fuzzSafetensors } from '../fuzz/safetensors.fuzz.js';
import { pythonMissing, runPython } from './python.js';

const dir = mkdtempSync(join(tmpdir(), 's2snets-safetensors-'));

/** One tensor of every dtype, with awkward values (negative zero, extremes, odd shapes). */
function everyDtype(): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  const floats = randn([3, 5]).mul(100);
  for (const dtype of DTYPES) {
    const name = `t_${dtype}`;
    if (dtype === 'bool') m.set(name, tensor(new Uint8Array([1, 0, 0, 1, 1]), [5], { dtype }));
    else if (dtype === 'int64') m.set(name, tensor(new BigInt64Array([2n ** 62n + 3n, -(2n ** 63n), 0n, -1n]), [2, 2]));
    else if (dtype.startsWith('int') || dtype === 'uint8') m.set(name, floats.clamp(-100, 100).to({ dtype }));
    else m.set(name, floats.to({ dtype }));
  }
  m.set('scalar', tensor([-0], []));
  m.set('empty', tensor([], [0, 4]));
  return m;
}

/** The raw bytes of a tensor (half types as their 16-bit patterns). */
const bitsOf = (t: Tensor) => Buffer.from((t.dtype === 'float16' || t.dtype === 'bfloat16' ? t.viewAs('int16') : t).data().buffer);

test('round trip of every dtype is bit-identical, with metadata', () => {
  const original = everyDtype();
  const path = join(dir, 'all.safetensors');
  saveSafetensors(path, original, { source: 'test' });
  const { tensors, metadata } = loadSafetensors(path);
  assert.deepEqual(metadata, { source: 'test' });
  assert.deepEqual([...tensors.keys()].sort(), [...original.keys()].sort());
  for (const [name, t] of original) {
    const back = tensors.get(name)!;
    assert.equal(back.dtype, t.dtype, name);
    assert.deepEqual(back.shape, t.shape, name);
    assert.ok(bitsOf(back).equals(bitsOf(t)), `${name}: bytes differ`);
  }
});

test('saving is atomic: a failed save leaves the previous file and no temporary files', () => {
  const path = join(dir, 'atomic.safetensors');
  saveSafetensors(path, new Map([['a', tensor([1, 2])]]));
  const before = readFileSync(path);
  const disposed = tensor([3]);
  disposed.dispose();
  assert.throws(() => saveSafetensors(path, new Map([['a', disposed]])), /disposed/);
  assert.ok(readFileSync(path).equals(before));
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), []);
});

const READER = `
import json, struct, sys
import numpy as np
path = json.load(sys.stdin)['path']
data = open(path, 'rb').read()
(n,) = struct.unpack('<Q', data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
kinds = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
out = {}
for name, spec in header.items():
    if name == '__metadata__':
        out[name] = spec
        continue
    begin, end = spec['data_offsets']
    raw = body[begin:end]
    if spec['dtype'] == 'BF16':  # no numpy bfloat16: the top half of a float32
        values = (np.frombuffer(raw, '<u2').astype('<u4') << 16).view('<f4')
    else:
        values = np.frombuffer(raw, kinds[spec['dtype']])
    out[name] = {'dtype': spec['dtype'], 'shape': spec['shape'], 'values': [str(v) if spec['dtype'] == 'I64' else float(v) for v in values.reshape(-1)]}
print(json.dumps(out))
`;

const FILE_DTYPE: Record<DType, string> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL' };

test('an independent Python reader (struct + json + numpy) reads our file', { skip: pythonMissing(['numpy']) ?? false }, () => {
  const original = everyDtype();
  const path = join(dir, 'python.safetensors');
  saveSafetensors(path, original, { format: 'pt' });
  const read = runPython<Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>>(READER, { path });
  assert.deepEqual(read.__metadata__, { format: 'pt' });
  for (const [name, t] of original) {
    const r = read[name];
    assert.equal(r.dtype, FILE_DTYPE[t.dtype], name);
    assert.deepEqual(r.shape, t.shape, name);
    const ours = t.dtype === 'int64' ? Array.from(t.data() as BigInt64Array, String) : t.toArray();
    assert.deepEqual(r.values, ours, name);
  }
});

/** A file with the given header (object) and data bytes. */
function craft(header: unknown, data = new Uint8Array(0), declaredLength?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLength ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

test('malformed files fail with a SafetensorsError naming the file and the reason', () => {
  const good = Buffer.concat(encodeSafetensors(new Map([['w', tensor([1, 2, 3, 4], [2, 2])]])));
  const cases: [string, Buffer, RegExp][] = [
    ['truncated.safetensors', good.subarray(0, good.length - 3), /data_offsets \[0, 16\] outside the data section \(13 bytes\)/],
    ['tiny.safetensors', good.subarray(0, 5), /5 bytes, too short/],
    ['header-too-long.safetensors', craft({}, new Uint8Array(4), 1000n), /declared header length 1000 exceeds the file/],
    ['huge-header.safetensors', craft({}, new Uint8Array(0), 2n ** 63n), /declared header length \d+ exceeds the file/],
    ['offsets.safetensors', craft({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(8)), /tensor 'w': data_offsets \[4, 12\] outside the data section \(8 bytes\)/],
    ['reversed.safetensors', craft({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, new Uint8Array(8)), /data_offsets \[8, 0\] outside/],
    ['dtype.safetensors', craft({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor 'w': unsupported dtype "F8_E4M3"/],
    ['proto-dtype.safetensors', craft({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unsupported dtype "toString"/],
    ['mismatch.safetensors', craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /shape \[3\] of float32 needs 12 bytes, offsets give 8/],
    ['shape.safetensors', craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape \[-1\] is not a list of non-negative integers/],
    ['json.safetensors', Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x]')]), /header is not valid JSON/],
    ['array.safetensors', craft([1, 2]), /header is not a JSON object/],
  ];
  for (const [name, bytes, reason] of cases) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    assert.throws(
      () => loadSafetensors(path),
      (e: Error) => e instanceof SafetensorsError && e.message.startsWith(`${path}: `) && reason.test(e.message),
      name,
    );
  }
  assert.throws(() => loadSafetensors(join(dir, 'missing.safetensors')), (e: Error) => e instanceof SafetensorsError && /missing\.safetensors: cannot read \(ENOENT\)/.test(e.message));
});

test('fuzz: mutated and random files decode or fail with SafetensorsError, within the file size', () => {
  fuzzSafetensors(3000);
});
