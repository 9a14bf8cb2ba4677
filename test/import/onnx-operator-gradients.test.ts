// Operators PyTorch 1.13's exporter does not write (Gelu, Mish, GroupNormalization at opsets 18+)
// or writes only as other nodes (ReduceL1/L2, Softsign, ThresholdedRelu...), each in a one-node
// graph: values and input gradients in float64 against PyTorch's own operator. Float attributes
// are chosen exactly representable in float32, so both sides compute the same function.
// Operators the exporter does write are checked the same way in layer-sweep.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.js';
import { loadOnnxClassifierFromBytes } from '../../src/import/onnx/index.js';
import { pythonMissing, runPython } from '../nn/python.js';
import { encodeModel, ints64, randomValues, type NodeSpec, type TensorSpec } from './onnx-build.js';
import { relativeError } from './relative-error.js';

const X = [2, 4, 6, 6];
const i64 = (name: string, values: number[], dims = [values.length]): TensorSpec => ({ name, dims, values: ints64(values) });
const f32 = (name: string, values: number[], dims = [values.length]): TensorSpec => ({ name, dims, values: Float32Array.from(values) });
const node = (op: string, inputs: string[], attrs: NodeSpec['attrs'] = {}): NodeSpec => ({ op, inputs: ['x', ...inputs], outputs: ['y'], attrs });

interface Case {
  /** The PyTorch expression of the same function of x (and the initializers, by name). */
  torch: string;
  opset: number;
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
}

const CASES: Case[] = [
  { torch: "F.gelu(x, approximate='none')", opset: 20, nodes: [node('Gelu', [])] },
  { torch: "F.gelu(x, approximate='tanh')", opset: 20, nodes: [node('Gelu', [], { approximate: { s: 'tanh' } })] },
  { torch: 'F.mish(x)', opset: 18, nodes: [node('Mish', [])] },
  { torch: 'F.group_norm(x, 2, s.repeat_interleave(2), b.repeat_interleave(2), eps=0.125)', opset: 18, nodes: [node('GroupNormalization', ['s', 'b'], { num_groups: { i: 2 }, epsilon: { f: 0.125 } })], initializers: [f32('s', [0.5, 1.5]), f32('b', [0.25, -0.75])] },
  { torch: 'F.group_norm(x, 2, s, b, eps=1e-5)', opset: 21, nodes: [node('GroupNormalization', ['s', 'b'], { num_groups: { i: 2 } })], initializers: [f32('s', [0.5, 1.5, 2, 1]), f32('b', [0.25, -0.75, 0, 1])] },
  { torch: 'F.threshold(x, 0.25, 0.0)', opset: 17, nodes: [node('ThresholdedRelu', [], { alpha: { f: 0.25 } })] },
  { torch: 'F.softsign(x)', opset: 17, nodes: [node('Softsign', [])] },
  { torch: 'F.softplus(x)', opset: 17, nodes: [node('Softplus', [])] },
  { torch: 'F.normalize(x, p=2.0, dim=1, eps=0.0)', opset: 17, nodes: [node('LpNormalization', [], { axis: { i: 1 }, p: { i: 2 } })] },
  { torch: 'F.normalize(x, p=1.0, dim=-1, eps=0.0)', opset: 17, nodes: [node('LpNormalization', [], { p: { i: 1 } })] },
  { torch: 'torch.linalg.vector_norm(x, 2, dim=(2, 3), keepdim=True)', opset: 18, nodes: [node('ReduceL2', ['axes'])], initializers: [i64('axes', [2, 3])] },
  { torch: 'torch.linalg.vector_norm(x, 1, dim=1)', opset: 13, nodes: [node('ReduceL1', [], { axes: { ints: [1] }, keepdims: { i: 0 } })] },
  { torch: 'x.square().sum(dim=(1, 3), keepdim=True)', opset: 18, nodes: [node('ReduceSumSquare', ['axes'])], initializers: [i64('axes', [1, 3])] },
  { torch: 'torch.logsumexp(x, dim=(0, 2), keepdim=True)', opset: 18, nodes: [node('ReduceLogSumExp', ['axes'])], initializers: [i64('axes', [0, 2])] },
  { torch: 'torch.amax(x, dim=3)', opset: 18, nodes: [node('ReduceMax', ['axes'], { keepdims: { i: 0 } })], initializers: [i64('axes', [3])] },
  { torch: 'torch.prod(torch.prod(x, dim=3), dim=2)', opset: 13, nodes: [node('ReduceProd', [], { axes: { ints: [2, 3] }, keepdims: { i: 0 } })] },
  { torch: '(x + a + x * 0.5) / 3', opset: 13, nodes: [{ op: 'Mul', inputs: ['x', 'h'], outputs: ['xh'] }, { op: 'Mean', inputs: ['x', 'a', 'xh'], outputs: ['y'] }], initializers: [f32('a', [0.5, -1, 2, 0.25], [4, 1, 1]), f32('h', [0.5], [])] },
  { torch: 'x + a + x', opset: 13, nodes: [node('Sum', ['a', 'x'])], initializers: [f32('a', [0.5, -1, 2, 0.25, 1, 3], [6])] },
  { torch: 'torch.scatter(x, 2, i, u)', opset: 16, nodes: [node('ScatterElements', ['i', 'u'], { axis: { i: 2 } })], initializers: [i64('i', Array.from({ length: 2 * 4 * 2 * 6 }, (_, k) => ((Math.floor(k / 6) % 2) * 3 + k) % 6), [2, 4, 2, 6]), f32('u', Array.from({ length: 96 }, (_, k) => k / 16), [2, 4, 2, 6])] },
  { torch: "torch.scatter_reduce(x, 3, i, u, 'sum')", opset: 16, nodes: [node('ScatterElements', ['i', 'u'], { axis: { i: 3 }, reduction: { s: 'add' } })], initializers: [i64('i', Array.from({ length: 2 * 4 * 6 * 3 }, (_, k) => (k * 7) % 6), [2, 4, 6, 3]), f32('u', Array.from({ length: 144 }, (_, k) => k / 32), [2, 4, 6, 3])] },
  { torch: "torch.scatter_reduce(x, 1, i, u, 'amax')", opset: 18, nodes: [node('ScatterElements', ['i', 'u'], { axis: { i: 1 }, reduction: { s: 'max' } })], initializers: [i64('i', Array.from({ length: 2 * 3 * 6 * 6 }, (_, k) => (k * 7) % 4), [2, 3, 6, 6]), f32('u', Array.from({ length: 216 }, (_, k) => ((k * 13) % 17) / 8 - 1), [2, 3, 6, 6])] },
  { torch: "torch.scatter_reduce(x, 0, i, u, 'amin')", opset: 18, nodes: [node('ScatterElements', ['i', 'u'], { reduction: { s: 'min' } })], initializers: [i64('i', Array.from({ length: 3 * 4 * 6 * 6 }, (_, k) => k % 2), [3, 4, 6, 6]), f32('u', Array.from({ length: 432 }, (_, k) => ((k * 11) % 19) / 9 - 1), [3, 4, 6, 6])] },
  { torch: 'x[i[..., 0], i[..., 1]]', opset: 13, nodes: [node('GatherND', ['i'])], initializers: [i64('i', [0, 1, 1, 3, 1, 0], [3, 2])] },
  { torch: 'x[torch.arange(2).unsqueeze(1), i[..., 0]]', opset: 13, nodes: [node('GatherND', ['i'], { batch_dims: { i: 1 } })], initializers: [i64('i', [3, 0, 2, 2], [2, 2, 1])] },
  { torch: 'torch.gather(x, 1, i)', opset: 13, nodes: [node('GatherElements', ['i'], { axis: { i: 1 } })], initializers: [i64('i', Array.from({ length: 2 * 3 * 6 * 6 }, (_, k) => (k * 3) % 4), [2, 3, 6, 6])] },
  { torch: 'torch.triu(x, 1)', opset: 14, nodes: [node('Trilu', ['k'])], initializers: [i64('k', [1], [])] },
  { torch: "F.interpolate(x, size=(9, 5), mode='bicubic', align_corners=False)", opset: 13, nodes: [node('Resize', ['', '', 'sizes'], { mode: { s: 'cubic' } })], initializers: [i64('sizes', [2, 4, 9, 5])] },
  { torch: "F.interpolate(x, scale_factor=1.5, mode='bilinear', align_corners=False, recompute_scale_factor=False)", opset: 13, nodes: [node('Resize', ['', 'scales'], { mode: { s: 'linear' } })], initializers: [f32('scales', [1, 1, 1.5, 1.5])] },
  { torch: "F.interpolate(x, scale_factor=0.75, mode='bilinear', align_corners=False, recompute_scale_factor=False)", opset: 13, nodes: [node('Resize', ['', 'scales'], { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'pytorch_half_pixel' } })], initializers: [f32('scales', [1, 1, 0.75, 0.75])] },
  { torch: "F.interpolate(x, size=(4, 9), mode='bilinear', align_corners=True)", opset: 13, nodes: [node('Resize', ['', '', 'sizes'], { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'align_corners' } })], initializers: [i64('sizes', [2, 4, 4, 9])] },
  { torch: "F.interpolate(x, scale_factor=2.5, mode='nearest', recompute_scale_factor=False)", opset: 13, nodes: [node('Resize', ['', 'scales'], { coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } })], initializers: [f32('scales', [1, 1, 2.5, 2.5])] },
  { torch: 'F.conv_transpose2d(x, w, None, stride=2, padding=1, output_padding=1, dilation=2)', opset: 13, nodes: [node('ConvTranspose', ['w'], { strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] }, output_padding: { ints: [1, 1] }, dilations: { ints: [2, 2] } })], initializers: [{ name: 'w', dims: [4, 3, 3, 3], values: randomValues(108, 7) }] },
  { torch: "F.grid_sample(x, g, mode='bicubic', padding_mode='reflection', align_corners=True)", opset: 16, nodes: [node('GridSample', ['g'], { mode: { s: 'bicubic' }, padding_mode: { s: 'reflection' }, align_corners: { i: 1 } })], initializers: [{ name: 'g', dims: [2, 5, 3, 2], values: randomValues(60, 9).map((v) => v * 1.2) }] },
  { torch: 'torch.cumsum(x.flip(2), 2).flip(2) - x', opset: 13, nodes: [node('CumSum', ['axis'], { reverse: { i: 1 }, exclusive: { i: 1 } })], initializers: [i64('axis', [2], [])] },
];

const REFERENCE = `
import json, sys, torch
import torch.nn.functional as F
torch.set_num_threads(1)
out = []
for c in json.load(sys.stdin):
    env = {'torch': torch, 'F': F}
    for name, p in c['params'].items():
        env[name] = torch.tensor(p['values'], dtype=torch.int64 if p['int'] else torch.float64).reshape(p['dims'])
    x = torch.tensor(c['x'], dtype=torch.float64).reshape(c['shape']).requires_grad_(True)
    env['x'] = x
    y = eval(c['expr'], env)
    w = torch.tensor(c['w'][:y.numel()], dtype=torch.float64).reshape(y.shape)
    (g,) = torch.autograd.grad((y * w).sum(), x)
    out.append({'y': y.detach().flatten().tolist(), 'shape': list(y.shape), 'grad': g.flatten().tolist()})
print(json.dumps(out))
`;

const skip = pythonMissing(['torch']);
test(`${CASES.length} operators and modes in one-node graphs match PyTorch's own operator in float64: values and input gradients`, { skip: skip ?? false }, () => {
  const count = X.reduce((a, b) => a * b, 1);
  const x = Float64Array.from(randomValues(count, 1), (v) => v * 2);
  const w = Array.from(randomValues(4096, 2));
  const params = (c: Case) => Object.fromEntries((c.initializers ?? []).map((t) => [t.name, { values: Array.from(t.values as ArrayLike<number | bigint>, Number), dims: t.dims, int: t.values instanceof BigInt64Array }]));
  const refs = runPython<{ y: number[]; shape: number[]; grad: number[] }[]>(REFERENCE, CASES.map((c) => ({ expr: c.torch, params: params(c), x: Array.from(x), shape: X, w })));
  const failures: string[] = [];
  CASES.forEach((c, k) => {
    const bytes = encodeModel({ opset: c.opset, nodes: c.nodes, initializers: c.initializers, input: { name: 'x', dims: X }, output: { name: 'y' } });
    const model = loadOnnxClassifierFromBytes(bytes, { file: `${c.nodes[c.nodes.length - 1].op}.onnx` }).to({ dtype: 'float64' });
    const input = tensor(x, X).requiresGrad_(true);
    const y = model.forward(input);
    y.mul(tensor(Float64Array.from(w.slice(0, y.numel)), y.shape)).sum().backward();
    const ref = refs[k];
    const valueErr = y.shape.join() === ref.shape.join() ? relativeError(y.toArray(), ref.y) : Infinity;
    const gradErr = relativeError(input.grad!.toArray(), ref.grad);
    model.dispose();
    if (!(valueErr <= 1e-12 && gradErr <= 1e-12)) failures.push(`${c.torch}: values off by ${valueErr} (shape [${y.shape}] vs [${ref.shape}]), gradients by ${gradErr}`);
  });
  assert.deepEqual(failures, []);
});
