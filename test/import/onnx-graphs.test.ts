// Operator modes torch.onnx.export does not emit (asymmetric pads, auto_pad, LRN, Resize modes,
// Gemm flags, negative-step Slice, ...) in small crafted graphs, compared with ONNX Runtime;
// and malformed models, which must fail with typed one-line errors before anything runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { tensor } from '../../src/engine/index.js';
import { loadOnnxClassifier, loadOnnxClassifierFromBytes, OnnxExternalDataError, OnnxGraphError, OnnxParseError, OnnxUnsupportedOperatorError } from '../../src/import/onnx/index.js';
import { encodeModel, ints64, randomValues, type ModelSpec, type NodeSpec, type TensorSpec } from './onnx-build.js';
import { relativeError } from './relative-error.js';

const X = [1, 4, 9, 9];
const w = (name: string, dims: number[], seed: number): TensorSpec => ({ name, dims, values: randomValues(dims.reduce((a, b) => a * b, 1), seed) });
const i64 = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], values: ints64(values) });
const f32 = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], values: Float32Array.from(values) });

interface Case {
  name: string;
  opset?: number;
  input?: number[];
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
}

const CASES: Case[] = [
  { name: 'Conv asymmetric pads, strides, dilation', nodes: [{ op: 'Conv', inputs: ['x', 'W', 'B'], outputs: ['y'], attrs: { pads: { ints: [0, 1, 2, 0] }, strides: { ints: [2, 1] }, dilations: { ints: [1, 2] } } }], initializers: [w('W', [6, 4, 3, 3], 1), w('B', [6], 2)] },
  { name: 'Conv SAME_UPPER, groups', nodes: [{ op: 'Conv', inputs: ['x', 'W'], outputs: ['y'], attrs: { auto_pad: { s: 'SAME_UPPER' }, strides: { ints: [2, 2] }, group: { i: 2 } } }], initializers: [w('W', [6, 2, 3, 3], 3)] },
  { name: 'Conv SAME_LOWER, even kernel', nodes: [{ op: 'Conv', inputs: ['x', 'W'], outputs: ['y'], attrs: { auto_pad: { s: 'SAME_LOWER' }, strides: { ints: [2, 1] } } }], initializers: [w('W', [3, 4, 4, 4], 4)] },
  { name: 'MaxPool SAME_UPPER', nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, auto_pad: { s: 'SAME_UPPER' } } }] },
  { name: 'MaxPool asymmetric pads, ceil_mode', nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, pads: { ints: [1, 0, 0, 1] }, ceil_mode: { i: 1 } } }] },
  { name: 'AveragePool asymmetric pads, count_include_pad 0', nodes: [{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 2, 0, 1] } } }] },
  { name: 'AveragePool asymmetric pads, count_include_pad 1', nodes: [{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 3] }, pads: { ints: [2, 1, 1, 0] }, count_include_pad: { i: 1 } } }] },
  { name: 'LRN', nodes: [{ op: 'LRN', inputs: ['x'], outputs: ['y'], attrs: { size: { i: 3 }, alpha: { f: 0.3 }, beta: { f: 0.75 }, bias: { f: 2 } } }] },
  { name: 'Resize linear align_corners to sizes', nodes: [{ op: 'Resize', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs: { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'align_corners' } } }], initializers: [i64('sizes', [1, 4, 13, 17])] },
  { name: 'Resize linear half_pixel by scales', nodes: [{ op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'half_pixel' } } }], initializers: [f32('scales', [1, 1, 2, 2])] },
  { name: 'Resize nearest asymmetric floor', nodes: [{ op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } } }], initializers: [f32('scales', [1, 1, 2, 3])] },
  { name: 'Upsample nearest (opset 9)', opset: 9, nodes: [{ op: 'Upsample', inputs: ['x', 'scales'], outputs: ['y'] }], initializers: [f32('scales', [1, 1, 2, 2])] },
  { name: 'Gemm transA, alpha, beta', input: [5, 3], nodes: [{ op: 'Gemm', inputs: ['x', 'B', 'C'], outputs: ['y'], attrs: { transA: { i: 1 }, alpha: { f: 0.5 }, beta: { f: 2 } } }], initializers: [w('B', [5, 4], 5), w('C', [1, 4], 6)] },
  { name: 'Transpose, MatMul', nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: { ints: [0, 1, 3, 2] } } }, { op: 'MatMul', inputs: ['x', 't'], outputs: ['y'] }] },
  { name: 'Softmax coerced to 2-D (opset 11)', opset: 11, nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: { i: 1 } } }] },
  { name: 'LogSoftmax axis 2, GlobalMaxPool', nodes: [{ op: 'LogSoftmax', inputs: ['x'], outputs: ['s'], attrs: { axis: { i: 2 } } }, { op: 'GlobalMaxPool', inputs: ['s'], outputs: ['y'] }] },
  { name: 'Slice negative step and clamped ends', nodes: [{ op: 'Slice', inputs: ['x', 'starts', 'ends', 'axes', 'steps'], outputs: ['y'] }], initializers: [i64('starts', [-1, 1]), i64('ends', [-1000, 1000]), i64('axes', [3, 2]), i64('steps', [-2, 3])] },
  { name: 'Pad edge, reflect, constant', nodes: [
    { op: 'Pad', inputs: ['x', 'p1'], outputs: ['a'], attrs: { mode: { s: 'edge' } } },
    { op: 'Pad', inputs: ['a', 'p2'], outputs: ['b'], attrs: { mode: { s: 'reflect' } } },
    { op: 'Pad', inputs: ['b', 'p1', 'v'], outputs: ['y'] },
  ], initializers: [i64('p1', [0, 0, 1, 2, 0, 0, 2, 1]), i64('p2', [0, 0, 2, 0, 0, 0, 1, 3]), { name: 'v', dims: [], values: Float32Array.from([0.5]) }] },
  { name: 'ReduceSum (axes input), ReduceMean (axes attribute)', nodes: [
    { op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['s'], attrs: { keepdims: { i: 0 } } },
    { op: 'ReduceMean', inputs: ['s'], outputs: ['y'], attrs: { axes: { ints: [-1] } } },
  ], initializers: [i64('axes', [2])] },
  { name: 'Unsqueeze, Squeeze, Split by attributes (opset 11)', opset: 11, nodes: [
    { op: 'Unsqueeze', inputs: ['x'], outputs: ['u'], attrs: { axes: { ints: [0] } } },
    { op: 'Squeeze', inputs: ['u'], outputs: ['q'], attrs: { axes: { ints: [0] } } },
    { op: 'Split', inputs: ['q'], outputs: ['a', 'b'], attrs: { axis: { i: 1 }, split: { ints: [1, 3] } } },
    { op: 'Sub', inputs: ['b', 'a'], outputs: ['y'] },
  ] },
  { name: 'Elementwise: Erf, Sigmoid, Tanh, Exp, Sqrt, Abs, Pow, Neg, Div, LeakyRelu, Clip', nodes: [
    { op: 'Erf', inputs: ['x'], outputs: ['e'] },
    { op: 'Abs', inputs: ['x'], outputs: ['a'] },
    { op: 'Sqrt', inputs: ['a'], outputs: ['r'] },
    { op: 'Pow', inputs: ['x', 'three'], outputs: ['p'] },
    { op: 'Exp', inputs: ['p'], outputs: ['ex'] },
    { op: 'Sigmoid', inputs: ['e'], outputs: ['s'] },
    { op: 'Tanh', inputs: ['r'], outputs: ['t'] },
    { op: 'Div', inputs: ['s', 'ex'], outputs: ['d'] },
    { op: 'Neg', inputs: ['t'], outputs: ['n'] },
    { op: 'Add', inputs: ['d', 'n'], outputs: ['sum'] },
    { op: 'LeakyRelu', inputs: ['sum'], outputs: ['l'], attrs: { alpha: { f: 0.2 } } },
    { op: 'Clip', inputs: ['l', 'lo', 'hi'], outputs: ['y'] },
  ], initializers: [{ name: 'three', dims: [], values: Float32Array.from([3]) }, { name: 'lo', dims: [], values: Float32Array.from([-0.4]) }, { name: 'hi', dims: [], values: Float32Array.from([0.3]) }] },
  { name: 'Shape, ConstantOfShape, Gather, Concat, Reshape with 0 and -1', nodes: [
    { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
    { op: 'ConstantOfShape', inputs: ['shape'], outputs: ['half'], attrs: { value: { t: { dims: [1], values: Float32Array.from([0.5]) } } } },
    { op: 'Add', inputs: ['x', 'half'], outputs: ['h'] },
    { op: 'Gather', inputs: ['shape', 'zero'], outputs: ['n'], attrs: { axis: { i: 0 } } },
    { op: 'Unsqueeze', inputs: ['n', 'zero1'], outputs: ['n1'] },
    { op: 'Concat', inputs: ['n1', 'minus1'], outputs: ['target'], attrs: { axis: { i: 0 } } },
    { op: 'Reshape', inputs: ['h', 'target'], outputs: ['flat'] },
    { op: 'Reshape', inputs: ['flat', 'zeroes'], outputs: ['y'] },
  ], initializers: [{ name: 'zero', dims: [], values: ints64([0]) }, i64('zero1', [0]), i64('minus1', [-1]), i64('zeroes', [0, -1, 4])] },
  { name: 'HardSigmoid (alpha, beta), HardSwish, Mod (fmod on floats)', opset: 14, nodes: [
    { op: 'HardSigmoid', inputs: ['x'], outputs: ['a'], attrs: { alpha: { f: 0.3 }, beta: { f: 0.4 } } },
    { op: 'HardSwish', inputs: ['x'], outputs: ['b'] },
    { op: 'Mod', inputs: ['x', 'c'], outputs: ['m'], attrs: { fmod: { i: 1 } } },
    { op: 'Add', inputs: ['a', 'b'], outputs: ['ab'] },
    { op: 'Add', inputs: ['ab', 'm'], outputs: ['y'] },
  ], initializers: [f32('c', [0.7])] },
  { name: 'LayerNormalization over the last two axes (opset 17)', opset: 17, nodes: [
    { op: 'LayerNormalization', inputs: ['x', 'S', 'B'], outputs: ['y'], attrs: { axis: { i: -2 }, epsilon: { f: 1e-3 } } },
  ], initializers: [w('S', [9, 9], 7), w('B', [9, 9], 8)] },
  { name: 'Where, Greater, Less, Not, Equal, And, Expand', nodes: [
    { op: 'Greater', inputs: ['x', 'zero'], outputs: ['g'] },
    { op: 'Less', inputs: ['x', 'half'], outputs: ['l'] },
    { op: 'Not', inputs: ['l'], outputs: ['nl'] },
    { op: 'Equal', inputs: ['g', 'nl'], outputs: ['eq'] },
    { op: 'And', inputs: ['eq', 'g'], outputs: ['both'] },
    { op: 'Expand', inputs: ['B', 'shape'], outputs: ['e'] },
    { op: 'Where', inputs: ['both', 'x', 'e'], outputs: ['y'] },
  ], initializers: [f32('zero', [0]), f32('half', [0.5]), w('B', [4, 1, 1], 9), i64('shape', [1, 4, 9, 9])] },
  { name: 'ScatterND into a tensor, Range, Gather', nodes: [
    { op: 'Range', inputs: ['r0', 'r1', 'r2'], outputs: ['idx'] },
    { op: 'Gather', inputs: ['x', 'idx'], outputs: ['picked'], attrs: { axis: { i: 1 } } },
    { op: 'ScatterND', inputs: ['picked', 'where', 'U'], outputs: ['y'] },
  ], initializers: [{ name: 'r0', dims: [], values: ints64([3]) }, { name: 'r1', dims: [], values: ints64([-1]) }, { name: 'r2', dims: [], values: ints64([-1]) },
    { name: 'where', dims: [2, 2], values: ints64([0, 1, 0, 3]) }, w('U', [2, 9, 9], 10)] },
  { name: 'Dropout with training_mode from Constant nodes: false, or true at ratio 0, as PyTorch writes them (opset 13)', nodes: [
    { op: 'Constant', inputs: [], outputs: ['off'], attrs: { value: { t: { dims: [], values: Uint8Array.from([0]) } } } },
    { op: 'Constant', inputs: [], outputs: ['on'], attrs: { value: { t: { dims: [], values: Uint8Array.from([1]) } } } },
    { op: 'Constant', inputs: [], outputs: ['none'], attrs: { value: { t: { dims: [], values: Float32Array.from([0]) } } } },
    { op: 'Dropout', inputs: ['x', 'ratio', 'off'], outputs: ['d'] },
    { op: 'Dropout', inputs: ['d', 'none', 'on'], outputs: ['y'] },
  ], initializers: [{ name: 'ratio', dims: [], values: Float32Array.from([0.5]) }] },
  { name: 'ScatterND with max, then min reductions (opset 18)', opset: 18, nodes: [
    { op: 'ScatterND', inputs: ['x', 'where', 'U'], outputs: ['a'], attrs: { reduction: { s: 'max' } } },
    { op: 'ScatterND', inputs: ['a', 'where2', 'U'], outputs: ['y'], attrs: { reduction: { s: 'min' } } },
  ], initializers: [{ name: 'where', dims: [2, 2], values: ints64([0, 1, 0, 3]) }, { name: 'where2', dims: [2, 2], values: ints64([0, 2, 0, 2]) }, w('U', [2, 9, 9], 11)] },
  { name: 'MaxPool Indices with explicit asymmetric padding, row-major', nodes: [
    { op: 'MaxPool', inputs: ['x'], outputs: ['v', 'i'], attrs: { kernel_shape: { ints: [2, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 0, 0, 2] } } },
    { op: 'Cast', inputs: ['i'], outputs: ['y'], attrs: { to: { i: 1 } } },
  ] },
  { name: 'MaxPool Indices with the engine\'s own padding, column-major (storage_order 1)', input: [2, 3, 9, 7], nodes: [
    { op: 'MaxPool', inputs: ['x'], outputs: ['v', 'i'], attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] }, storage_order: { i: 1 } } },
    { op: 'Cast', inputs: ['i'], outputs: ['y'], attrs: { to: { i: 1 } } },
  ] },
  { name: 'Einsum', nodes: [{ op: 'Einsum', inputs: ['x', 'x'], outputs: ['y'], attrs: { equation: { s: 'nchw,nciw->nchi' } } }] },
];

async function ortRun(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor('float32', x, dims) });
  return out.y.data as Float32Array;
}

for (const c of CASES) {
  test(`operator graph matches ONNX Runtime: ${c.name}`, async () => {
    const dims = c.input ?? X;
    const bytes = encodeModel({ opset: c.opset ?? 13, nodes: c.nodes, initializers: c.initializers, input: { name: 'x', dims }, output: { name: 'y' } });
    const x = randomValues(dims.reduce((a, b) => a * b, 1), 99);
    const ref = await ortRun(bytes, x, dims);
    const ours = loadOnnxClassifierFromBytes(bytes, { file: `${c.name}.onnx` }).forward(tensor(x, dims));
    assert.equal(ours.numel, ref.length);
    const err = relativeError(ours.toArray(), ref);
    assert.ok(err <= 1e-5, `max relative error ${err}`);
  });
}

// ---- malformed models ----------------------------------------------------------------------

const relu = (input: string, output: string, name = output): NodeSpec => ({ op: 'Relu', inputs: [input], outputs: [output], name });
const spec = (nodes: NodeSpec[], initializers: TensorSpec[] = []): ModelSpec => ({ opset: 13, nodes, initializers, input: { name: 'x', dims: [1, 3] }, output: { name: 'y' } });

test('unsupported operators are refused before any weight is decoded, all named at once with their node counts and the opset', () => {
  // The initializer's byte count is wrong: decoding it would fail, so the operator check ran first.
  const broken = { name: 'W', dims: [2, 3], values: new Float32Array(5) };
  const nodes: NodeSpec[] = [
    relu('x', 'a'),
    { op: 'RoiAlign', inputs: ['a', 'a'], outputs: ['b'], name: 'x/grid' },
    { op: 'Add', inputs: ['b', 'W'], outputs: ['c'] },
    { op: 'RoiAlign', inputs: ['c', 'c'], outputs: ['d'], name: 'x/grid2' },
    { op: 'Relu', domain: 'com.example', inputs: ['d'], outputs: ['y'], name: 'r' },
  ];
  assert.throws(() => loadOnnxClassifierFromBytes(encodeModel(spec(nodes, [broken])), { file: 'm.onnx' }), (e: Error) => {
    assert.ok(e instanceof OnnxUnsupportedOperatorError);
    assert.match(e.message, /^m\.onnx: 2 ONNX operators are not supported at opset 13: RoiAlign \(2 nodes\), com\.example\.Relu \(1 node\); supported: Abs, Add, .*Conv, .*Upsample, Where, Xor$/);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
  const mode = encodeModel(spec([{ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], name: 'up', attrs: { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'tf_crop_and_resize' } } }], [f32('s', [1, 2])]));
  assert.throws(() => loadOnnxClassifierFromBytes(mode, { file: 'm.onnx' }), (e: Error) => e instanceof OnnxUnsupportedOperatorError && /m\.onnx: node 'up' \(Resize\): coordinate_transformation_mode 'tf_crop_and_resize' is not supported/.test(e.message));
  const training = encodeModel(spec([
    { op: 'Constant', inputs: [], outputs: ['on'], attrs: { value: { t: { dims: [], values: Uint8Array.from([1]) } } } },
    { op: 'Dropout', inputs: ['x', '', 'on'], outputs: ['y'], name: 'drop' },
  ]));
  assert.throws(() => loadOnnxClassifierFromBytes(training, { file: 'm.onnx' }), (e: Error) => e instanceof OnnxUnsupportedOperatorError && /node 'drop' \(Dropout\): training_mode true with ratio 0.5 is not supported/.test(e.message));
  const volume = encodeModel(spec([{ op: 'GridSample', inputs: ['x', 'g'], outputs: ['y'], name: 'warp' }], [{ name: 'g', dims: [1, 2, 2, 2, 3], values: new Float32Array(24) }]));
  assert.throws(() => loadOnnxClassifierFromBytes(volume, { file: 'm.onnx' }), (e: Error) => e instanceof OnnxUnsupportedOperatorError && /node 'warp' \(GridSample\): a grid of rank 5 \(only 2-D sampling/.test(e.message));
});

test('a cyclic graph is refused, naming the nodes on the cycle', () => {
  const bytes = encodeModel(spec([relu('x', 'a'), { op: 'Add', inputs: ['a', 'c'], outputs: ['b'], name: 'add' }, relu('b', 'c', 'loop'), relu('c', 'y')]));
  assert.throws(() => loadOnnxClassifierFromBytes(bytes, { file: 'cyc.onnx' }), (e: Error) => e instanceof OnnxGraphError && /^cyc\.onnx: the graph has a cycle through nodes 'add', 'loop'/.test(e.message));
});

test('structural errors: dangling input, duplicate output, negative dims, initializer size, no data input', () => {
  const load = (m: ModelSpec) => () => loadOnnxClassifierFromBytes(encodeModel(m), { file: 'bad.onnx' });
  assert.throws(load(spec([relu('nowhere', 'y', 'r')])), /bad\.onnx: node 'r' \(Relu\): input 'nowhere' is produced by no node, initializer or graph input/);
  assert.throws(load(spec([relu('x', 'y', 'r1'), relu('x', 'y', 'r2')])), /node 'r2' \(Relu\): output 'y' is already produced/);
  assert.throws(load(spec([{ op: 'Add', inputs: ['x', 'b'], outputs: ['y'] }], [{ name: 'b', dims: [-3], values: new Float32Array(3) }])), (e: Error) => e instanceof OnnxGraphError && /initializer 'b': invalid dims \[-3\]/.test(e.message));
  assert.throws(load(spec([{ op: 'Add', inputs: ['x', 'b'], outputs: ['y'] }], [{ name: 'b', dims: [2, 3], values: new Float32Array(5) }])), /initializer 'b': raw_data holds 20 bytes but dims \[2,3\] of float32 need 24/);
  assert.throws(load({ ...spec([relu('x', 'y')]), input: { name: 'x', dims: [1, -2] } }), /input 'x' has invalid dims/);
  assert.throws(load({ ...spec([relu('x', 'y')]), opset: 3 }), /operator set 3 is not supported/);
});

test('truncated and garbage files give OnnxParseError naming the file', async () => {
  const full = encodeModel(spec([{ op: 'Add', inputs: ['x', 'b'], outputs: ['y'] }], [w('b', [1, 3], 1)]));
  for (const cut of [1, 10, full.length - 7]) {
    assert.throws(() => loadOnnxClassifierFromBytes(full.subarray(0, cut), { file: 'cut.onnx' }), (e: Error) => e instanceof OnnxParseError && /^cut\.onnx: not a valid ONNX model/.test(e.message));
  }
  await assert.rejects(loadOnnxClassifier(join(tmpdir(), 'no-such-model-s2snets.onnx')), (e: Error) => e instanceof OnnxParseError && /no-such-model-s2snets\.onnx: cannot read the model file \(ENOENT\)/.test(e.message));
});

test('external data: loads relative to the model, equals inline weights; refuses bad ranges and escaping paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2snets-onnx-ext-'));
  const weight = w('W', [5, 4, 3, 3], 7);
  const bias = w('B', [5], 8);
  const data = new Uint8Array(4096 + weight.values.byteLength);
  data.set(new Uint8Array(weight.values.buffer), 4096);
  mkdirSync(join(dir, 'weights'));
  writeFileSync(join(dir, 'weights', 'conv.bin'), data);
  const conv = (ext: TensorSpec['external']): ModelSpec => ({
    opset: 13,
    nodes: [{ op: 'Conv', inputs: ['x', 'W', 'B'], outputs: ['y'], attrs: { pads: { ints: [1, 1, 1, 1] } } }],
    initializers: [{ ...weight, external: ext }, bias],
    input: { name: 'x', dims: [1, 4, 6, 6] },
    output: { name: 'y' },
  });
  const path = join(dir, 'model.onnx');
  writeFileSync(path, encodeModel(conv({ location: 'weights/conv.bin', offset: 4096 })));
  const x = tensor(randomValues(144, 3), [1, 4, 6, 6]);
  const external = (await loadOnnxClassifier(path)).forward(x).toArray();
  const inline = loadOnnxClassifierFromBytes(encodeModel(conv(undefined)), { file: 'inline.onnx' }).forward(x).toArray();
  assert.deepEqual(external, inline);

  const expectLoadError = async (ext: TensorSpec['external'], pattern: RegExp) => {
    writeFileSync(path, encodeModel(conv(ext)));
    await assert.rejects(loadOnnxClassifier(path), (e: Error) => e instanceof OnnxExternalDataError && pattern.test(e.message));
  };
  await expectLoadError({ location: 'weights/conv.bin', offset: 4100 }, /external data range 4100\.\.4820 lies beyond the end of .*conv\.bin \(4816 bytes\)/);
  await expectLoadError({ location: 'weights/conv.bin', offset: 0, length: 100 }, /external data length 100 does not match the 720 bytes/);
  await expectLoadError({ location: '../outside.bin', offset: 0 }, /location '\.\.\/outside\.bin' is outside the model's folder/);
  await expectLoadError({ location: '/etc/passwd', offset: 0 }, /location '\/etc\/passwd' is outside the model's folder/);
  await expectLoadError({ location: 'weights/missing.bin', offset: 0 }, /cannot open external data file .*missing\.bin \(ENOENT\)/);
  const elsewhere = mkdtempSync(join(tmpdir(), 's2snets-onnx-elsewhere-'));
  writeFileSync(join(elsewhere, 'x.bin'), data);
  symlinkSync(elsewhere, join(dir, 'link'));
  await expectLoadError({ location: 'link/x.bin', offset: 4096 }, /links outside the model's folder/);
});
