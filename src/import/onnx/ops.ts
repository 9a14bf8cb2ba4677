// The ONNX operators this importer runs, each as a check (at load time, so unsupported modes are
// refused before anything runs) and a run function on engine tensors. Shape-computing operators
// also run on Consts in JavaScript.
import { F, cat, full, isFloating, onesLike, tensor, type DType, type Tensor } from '../../engine/index.js';
import type { OnnxNode } from './graph.js';
import { ACTIVATION_OPERATORS } from './ops-activation.js';
import { LAYOUT_OPERATORS, SCATTER_REDUCTIONS } from './ops-layout.js';
import { REDUCE_OPERATORS } from './ops-reduce.js';
import { SPATIAL_OPERATORS } from './ops-spatial.js';
import {
  T, axesOf, axis, binary, checkAutoPad, checkSpatialRank, dimsOf, indexTensor, ints, need, only2d, product, reshape, torchPadList, unary, unsupported, type OpSpec, type RunContext,
} from './opkit.js';
import { dtypeOfOnnx } from './proto.js';
import { RESIZE_OPERATORS } from './resize.js';
import { Const, broadcastDims, broadcastJs, castValues, concatJs, pickJs, type Value } from './values.js';

export type { LoadInfo, OpSpec, RunContext } from './opkit.js';

// ---- padding for convolution and pooling ------------------------------------------------------

/** Begin and end padding of each spatial axis, from pads or auto_pad. */
function spatialPads(node: OnnxNode, size: number[], kernel: number[], strides: number[], dilations: number[]): [number[], number[]] {
  const n = size.length;
  const mode = node.string('auto_pad', 'NOTSET');
  if (mode === 'VALID') return [new Array(n).fill(0), new Array(n).fill(0)];
  if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(size[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size[i]);
      const small = Math.floor(total / 2);
      begin.push(mode === 'SAME_UPPER' ? small : total - small);
      end.push(total - begin[i]);
    }
    return [begin, end];
  }
  const pads = node.ints('pads', new Array(2 * n).fill(0));
  if (pads.length !== 2 * n) throw node.error(`pads has ${pads.length} values, expected ${2 * n}`);
  return [pads.slice(0, n), pads.slice(n)];
}

/**
 * Padding the engine op can take itself (symmetric, at most `limit` per axis), or else the
 * input padded explicitly with `fill` and zero padding for the op.
 */
function padFor(x: Tensor, begin: number[], end: number[], fill: number, limit: number[] | null): [Tensor, [number, number]] {
  const symmetric = begin.every((b, i) => b === end[i] && (!limit || b <= limit[i]));
  if (symmetric) return [x, [begin[0], begin[1]]];
  return [x.pad(torchPadList(begin, end), 'constant', fill), [0, 0]];
}

/**
 * ONNX's MaxPool Indices from the engine's. The engine numbers positions within each (n, c) plane
 * of the input it pooled (explicitly padded, `width` wide, when the padding was not its own);
 * ONNX numbers them in the whole unpadded tensor, row-major, or column-major within each plane
 * (storage_order 1).
 */
function onnxPoolIndices(planeIndices: Tensor, dims: number[], width: number, [top, left]: number[], columnMajor: boolean, ctx: RunContext): Tensor {
  const [batch, channels, h, w] = dims;
  const flat = planeIndices.to({ dtype: 'float64' });
  const row = flat.div(width).floor();
  const [y, x] = [row.sub(top), flat.sub(row.mul(width)).sub(left)];
  const within = columnMajor ? x.mul(h).add(y) : y.mul(w).add(x);
  const planes = tensor(Float64Array.from({ length: batch * channels }, (_, k) => k * h * w), [batch, channels, 1, 1], { device: ctx.device });
  return within.add(planes).to({ dtype: 'int64' });
}

function poolGeometry(node: OnnxNode, x: Tensor) {
  const kernel = node.ints('kernel_shape');
  if (kernel.length !== 2) unsupported(node, `${kernel.length}-D pooling (only 2-D)`);
  const strides = node.ints('strides', [1, 1]);
  const dilations = node.ints('dilations', [1, 1]);
  const [begin, end] = spatialPads(node, x.shape.slice(2), kernel, strides, dilations);
  // The engine accepts symmetric pooling padding up to half the effective kernel.
  const limit = kernel.map((k, i) => Math.floor(((k - 1) * dilations[i] + 1) / 2));
  return { kernel: [kernel[0], kernel[1]] as [number, number], strides: [strides[0], strides[1]] as [number, number], dilations: [dilations[0], dilations[1]] as [number, number], begin, end, limit, ceilMode: node.int('ceil_mode', 0) === 1 };
}

// ---- operator table --------------------------------------------------------------------------

const ONNX_TRUNC_DIV = (a: number, b: number, dtype: DType) => (isFloating(dtype) ? a / b : Math.trunc(a / b));

const BASE_OPERATORS: Record<string, OpSpec> = {
  Add: binary((a, b) => a.add(b), (a, b) => a + b),
  Sub: binary((a, b) => a.sub(b), (a, b) => a - b),
  Mul: binary((a, b) => a.mul(b), (a, b) => a * b),
  Div: binary((a, b) => (isFloating(a.dtype) ? a.div(b) : a.div(b).to({ dtype: a.dtype })), ONNX_TRUNC_DIV),
  Pow: binary((a, b) => (b.numel === 1 && b.ndim <= a.ndim ? a.pow(b.item()) : a.pow(b)), (a, b) => a ** b),

  Relu: unary((x) => x.relu(), (x) => Math.max(0, x)),
  Sigmoid: unary((x) => x.sigmoid()),
  Tanh: unary((x) => x.tanh()),
  Sqrt: unary((x) => x.sqrt(), Math.sqrt),
  Exp: unary((x) => x.exp(), Math.exp),
  Log: unary((x) => x.log(), Math.log),
  Neg: unary((x) => x.neg(), (x) => -x),
  Abs: unary((x) => x.abs(), Math.abs),
  Floor: unary((x) => x.floor(), Math.floor),
  Reciprocal: unary((x) => x.reciprocal(), (x) => 1 / x),
  Erf: unary((x) => x.erf()),
  LeakyRelu: { run: (n, inputs, ctx) => [F.leakyRelu(T(need(n, inputs, 0), ctx), n.float('alpha', 0.01))] },
  Identity: { run: (n, inputs) => [need(n, inputs, 0)] },
  Dropout: {
    check: (n, load) => {
      // Training mode drops at random; an inference graph leaves it off (absent, or a constant
      // false) or drops nothing (ratio 0: torchvision's Swin attention is exported that way).
      const mode = n.opset >= 12 ? n.inputs[2] : undefined;
      if (!mode || load.constant(mode)?.[0] === 0) return;
      const ratio = n.inputs[1] ? load.constant(n.inputs[1])?.[0] : 0.5;
      if (ratio === 0) return;
      const given = load.constant(mode)?.[0] === 1 ? 'true' : `'${mode}' (not a constant false)`;
      unsupported(n, `training_mode ${given} with ratio ${ratio ?? `'${n.inputs[1]}' (not a constant 0)`}`);
    },
    // Dropout that drops nothing is the identity; the optional mask output is all true.
    run: (n, inputs, ctx) => {
      const x = need(n, inputs, 0);
      return n.outputs.length > 1 && n.outputs[1] !== '' ? [x, onesLike(T(x, ctx)).to({ dtype: 'bool' })] : [x];
    },
  },

  Conv: {
    check: (n, load) => {
      checkAutoPad(n);
      checkSpatialRank(n, load, 1);
    },
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const w = T(need(n, inputs, 1), ctx);
      only2d(n, x);
      const strides = n.ints('strides', [1, 1]);
      const dilations = n.ints('dilations', [1, 1]);
      const [begin, end] = spatialPads(n, x.shape.slice(2), w.shape.slice(2), strides, dilations);
      const [input, padding] = padFor(x, begin, end, 0, null);
      const bias = inputs[2] ? T(inputs[2], ctx) : null;
      return [F.conv2d(input, w, bias, { stride: [strides[0], strides[1]], padding, dilation: [dilations[0], dilations[1]], groups: n.int('group', 1) })];
    },
  },
  BatchNormalization: {
    check: (n) => {
      if (n.int('training_mode', 0) !== 0 || n.outputs.slice(1).some((o) => o !== '')) unsupported(n, 'training-mode batch normalization');
    },
    run: (n, inputs, ctx) => {
      const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map((i) => T(need(n, inputs, i), ctx));
      return [F.batchNorm(x, mean, variance, { weight: scale, bias, training: false, eps: n.float('epsilon', 1e-5) })];
    },
  },
  MaxPool: {
    check: (n, load) => {
      const order = n.int('storage_order', 0);
      if (order !== 0 && order !== 1) unsupported(n, `storage_order ${order}`);
      checkAutoPad(n);
      checkSpatialRank(n, load, null);
    },
    run: (n, inputs, ctx) => {
      const given = T(need(n, inputs, 0), ctx);
      only2d(n, given);
      // The engine pools floating values only; integers pass through float64 exactly.
      const x = isFloating(given.dtype) ? given : given.to({ dtype: 'float64' });
      const g = poolGeometry(n, x);
      const [input, padding] = padFor(x, g.begin, g.end, -Infinity, g.limit);
      const opts = { stride: g.strides, padding, dilation: g.dilations, ceilMode: g.ceilMode };
      const wantIndices = (n.outputs[1] ?? '') !== '';
      const [y, planeIndices] = wantIndices ? F.maxPool2dWithIndices(input, g.kernel, opts) : [F.maxPool2d(input, g.kernel, opts), null];
      const values = y.dtype === given.dtype ? y : y.to({ dtype: given.dtype });
      if (!planeIndices) return [values];
      const offset = input === x ? [0, 0] : g.begin;
      return [values, onnxPoolIndices(planeIndices, x.shape, input.shape[3], offset, n.int('storage_order', 0) === 1, ctx)];
    },
  },
  AveragePool: {
    check: (n, load) => {
      checkAutoPad(n);
      checkSpatialRank(n, load, null);
      if (n.ints('dilations', [1, 1]).some((d) => d !== 1)) unsupported(n, 'dilated average pooling');
    },
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      only2d(n, x);
      const g = poolGeometry(n, x);
      const countIncludePad = n.int('count_include_pad', 0) === 1;
      const opts = { stride: g.strides, ceilMode: g.ceilMode };
      const [input, padding] = padFor(x, g.begin, g.end, 0, g.limit);
      if (input === x) return [F.avgPool2d(x, g.kernel, { ...opts, padding, countIncludePad })];
      const summed = F.avgPool2d(input, g.kernel, opts);
      if (countIncludePad) return [summed];
      // Explicit padding counts the pad zeros; divide by the share of real elements per window.
      const real = onesLike(x.slice(0, 0, 1).slice(1, 0, 1)).pad(torchPadList(g.begin, g.end));
      return [summed.div(F.avgPool2d(real, g.kernel, opts))];
    },
  },
  GlobalAveragePool: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      return [x.mean(x.shape.slice(2).map((_, i) => i + 2), true)];
    },
  },
  GlobalMaxPool: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const [values] = x.flatten(2).maxDim(2, true);
      return [values.reshape([...x.shape.slice(0, 2), ...x.shape.slice(2).map(() => 1)])];
    },
  },
  LRN: {
    check: (n) => {
      // Even sizes place the window differently in ONNX and in the engine's LRN.
      if (n.int('size') % 2 === 0) unsupported(n, `LRN with an even size (${n.int('size')})`);
    },
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      only2d(n, x);
      return [F.localResponseNorm(x, n.int('size'), n.float('alpha', 1e-4), n.float('beta', 0.75), n.float('bias', 1))];
    },
  },

  Gemm: {
    run: (n, inputs, ctx) => {
      const a = T(need(n, inputs, 0), ctx);
      const b = T(need(n, inputs, 1), ctx);
      const c = inputs[2] ? T(inputs[2], ctx) : null;
      const [transA, transB, alpha, beta] = [n.int('transA', 0), n.int('transB', 0), n.float('alpha', 1), n.float('beta', 1)];
      // The common fully-connected layer maps onto one fused linear call.
      if (!transA && transB && alpha === 1 && (beta === 1 || !c)) return [F.linear(a, b, c)];
      let y = (transA ? a.transpose(0, 1) : a).matmul(transB ? b.transpose(0, 1) : b);
      if (alpha !== 1) y = y.mul(alpha);
      if (c) y = y.add(beta === 1 ? c : c.mul(beta));
      return [y];
    },
  },
  MatMul: { run: (n, inputs, ctx) => [T(need(n, inputs, 0), ctx).matmul(T(need(n, inputs, 1), ctx))] },
  Einsum: { run: (n, inputs, ctx) => [F.einsum(n.string('equation'), inputs.map((_, i) => T(need(n, inputs, i), ctx)))] },

  Concat: {
    run: (n, inputs, ctx) => {
      const parts = inputs.filter((v): v is Value => v !== undefined && product(dimsOf(v)) > 0);
      if (parts.length === 0) throw n.error('no non-empty inputs');
      const ax = axis(n, n.int('axis'), dimsOf(parts[0]).length);
      if (parts.every((p) => p instanceof Const)) return [concatJs(parts as Const[], ax)];
      return [cat(parts.map((p) => T(p, ctx)), ax)];
    },
  },
  Split: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const ax = axis(n, n.int('axis', 0), x.ndim);
      const d = x.shape[ax];
      let sizes = n.opset >= 13 ? (inputs[1] ? ints(inputs[1]) : undefined) : n.has('split') ? n.ints('split') : undefined;
      if (!sizes) {
        const parts = n.outputs.length;
        const each = Math.ceil(d / parts);
        sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(each, d - i * each)));
      }
      if (sizes.reduce((s, v) => s + v, 0) !== d) throw n.error(`split sizes [${sizes}] do not add up to ${d}`);
      return x.split(sizes, ax);
    },
  },
  Flatten: {
    run: (n, inputs) => {
      const x = need(n, inputs, 0);
      const dims = dimsOf(x);
      const a = n.int('axis', 1);
      const at = a < 0 ? a + dims.length : a;
      if (at < 0 || at > dims.length) throw n.error(`axis ${a} is out of range for rank ${dims.length}`);
      return [reshape(x, [product(dims.slice(0, at)), product(dims.slice(at))])];
    },
  },
  Reshape: {
    run: (n, inputs) => {
      const x = need(n, inputs, 0);
      const dims = dimsOf(x);
      const allowZero = n.int('allowzero', 0) === 1;
      const target = ints(need(n, inputs, 1)).map((s, i) => (s === 0 && !allowZero ? dims[i] : s));
      const known = product(target.filter((s) => s !== -1));
      const free = target.filter((s) => s === -1).length;
      const total = product(dims);
      if (free > 1 || target.some((s) => s === undefined || s < -1) || (free === 1 ? known === 0 || total % known !== 0 : known !== total)) {
        throw n.error(`cannot reshape [${dims}] to [${ints(need(n, inputs, 1))}]`);
      }
      return [reshape(x, target.map((s) => (s === -1 ? total / known : s)))];
    },
  },
  Transpose: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const perm = n.ints('perm', x.shape.map((_, i) => x.ndim - 1 - i));
      return [x.permute(perm)];
    },
  },
  Squeeze: {
    run: (n, inputs) => {
      const x = need(n, inputs, 0);
      const dims = dimsOf(x);
      const axes = axesOf(n, inputs, 1, 13)?.map((a) => axis(n, a, dims.length));
      for (const a of axes ?? []) if (dims[a] !== 1) throw n.error(`cannot squeeze axis ${a} of size ${dims[a]}`);
      return [reshape(x, dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)))];
    },
  },
  Unsqueeze: {
    run: (n, inputs) => {
      const x = need(n, inputs, 0);
      const dims = dimsOf(x);
      const raw = axesOf(n, inputs, 1, 13);
      if (!raw) throw n.error('axes are required');
      const rank = dims.length + raw.length;
      const axes = raw.map((a) => axis(n, a, rank));
      const out: number[] = [];
      let next = 0;
      for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : dims[next++]);
      return [reshape(x, out)];
    },
  },

  Constant: {
    check: (n) => {
      const known = ['value', 'value_float', 'value_floats', 'value_int', 'value_ints'];
      const name = n.attributeNames()[0];
      if (!known.includes(name)) unsupported(n, `a Constant given by '${name ?? 'nothing'}'`);
    },
    run: (n) => {
      const value = n.tensor('value');
      if (value) return [Const.of(value)];
      if (n.has('value_float')) return [new Const('float32', [], [n.float('value_float')])];
      if (n.has('value_floats')) return [new Const('float32', [n.floats('value_floats').length], n.floats('value_floats'))];
      if (n.has('value_int')) return [new Const('int64', [], [n.int('value_int')])];
      return [new Const('int64', [n.ints('value_ints').length], n.ints('value_ints'))];
    },
  },
  ConstantOfShape: {
    run: (n, inputs, ctx) => {
      const dims = ints(need(n, inputs, 0));
      if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw n.error(`invalid shape [${dims}]`);
      const value = n.tensor('value');
      const dtype = value?.dtype ?? 'float32';
      const fill = value ? Number(value.values[0]) : 0;
      if (isFloating(dtype)) return [full(dims, fill, { dtype: ctx.floatDtype, device: ctx.device })];
      return [new Const(dtype, dims, new Array<number>(product(dims)).fill(fill))];
    },
  },
  Shape: {
    run: (n, inputs) => {
      const dims = dimsOf(need(n, inputs, 0));
      const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + dims.length : a, 0), dims.length);
      const picked = dims.slice(clampAxis(n.int('start', 0)), clampAxis(n.int('end', dims.length)));
      return [new Const('int64', [picked.length], picked)];
    },
  },
  Cast: {
    check: (n) => void dtypeOfOnnx(n.int('to'), n.where),
    run: (n, inputs) => {
      const x = need(n, inputs, 0);
      const to = dtypeOfOnnx(n.int('to'), n.where);
      return [x instanceof Const ? new Const(to, x.dims, castValues(x.values, to)) : x.to({ dtype: to })];
    },
  },
  Gather: {
    run: (n, inputs, ctx) => {
      const data = need(n, inputs, 0);
      const indices = need(n, inputs, 1);
      const dims = dimsOf(data);
      const ax = axis(n, n.int('axis', 0), dims.length);
      const idx = ints(indices).map((i) => (i < 0 ? i + dims[ax] : i));
      if (idx.some((i) => i < 0 || i >= dims[ax])) throw n.error(`an index is out of range for axis ${ax} of size ${dims[ax]}`);
      const outDims = [...dims.slice(0, ax), ...dimsOf(indices), ...dims.slice(ax + 1)];
      if (data instanceof Const) {
        const picked = pickJs(data, dims.map((d, i) => (i === ax ? idx : Array.from({ length: d }, (_, k) => k))));
        return [picked.withDims(outDims)];
      }
      const index = indexTensor(idx, [idx.length], ctx);
      return [data.indexSelect(ax, index).reshape(outDims)];
    },
  },
  Slice: {
    run: (n, inputs, ctx) => {
      const data = need(n, inputs, 0);
      const dims = dimsOf(data);
      const fromInputs = n.opset >= 10;
      const starts = fromInputs ? ints(need(n, inputs, 1)) : n.ints('starts');
      const ends = fromInputs ? ints(need(n, inputs, 2)) : n.ints('ends');
      const axes = (fromInputs ? (inputs[3] ? ints(inputs[3]) : undefined) : n.has('axes') ? n.ints('axes') : undefined) ?? starts.map((_, i) => i);
      const steps = (fromInputs && inputs[4] ? ints(inputs[4]) : undefined) ?? starts.map(() => 1);
      if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) throw n.error('starts, ends, axes and steps differ in length');
      // Per axis, the indices kept, with ONNX's clamping of out-of-range starts and ends.
      const kept = dims.map((d) => Array.from({ length: d }, (_, k) => k));
      const ranges: [number, number, number, number][] = [];
      axes.forEach((a, i) => {
        const ax = axis(n, a, dims.length);
        const d = dims[ax];
        const step = steps[i];
        if (step === 0) throw n.error('a slice step is 0');
        const norm = (v: number) => (v < 0 ? v + d : v);
        const lo = step > 0 ? 0 : -1;
        const hi = step > 0 ? d : d - 1;
        const start = Math.min(Math.max(norm(starts[i]), 0), hi);
        const end = Math.min(Math.max(norm(ends[i]), lo), hi);
        const list: number[] = [];
        for (let k = start; step > 0 ? k < end : k > end; k += step) list.push(k);
        kept[ax] = list;
        ranges.push([ax, start, end, step]);
      });
      if (data instanceof Const) return [pickJs(data, kept)];
      let out: Tensor = data;
      for (const [ax, start, end, step] of ranges) {
        if (step > 0) out = out.slice(ax, start, Math.max(start, end), step);
        else out = out.indexSelect(ax, indexTensor(kept[ax], [kept[ax].length], ctx));
      }
      return [out];
    },
  },
  Pad: {
    check: (n) => {
      const mode = n.string('mode', 'constant');
      if (!['constant', 'reflect', 'edge'].includes(mode)) unsupported(n, `pad mode '${mode}'`);
      if (n.opset >= 18 && n.inputs[3]) unsupported(n, 'Pad with an axes input');
    },
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const pads = n.opset >= 11 ? ints(need(n, inputs, 1)) : n.ints('pads');
      const rank = x.ndim;
      if (pads.length !== 2 * rank) throw n.error(`pads has ${pads.length} values for an input of rank ${rank}`);
      const mode = n.string('mode', 'constant');
      const begin = pads.slice(0, rank);
      const end = pads.slice(rank);
      if (mode === 'constant') {
        const value = n.opset >= 11 ? (inputs[2] ? ints(inputs[2])[0] : 0) : n.float('value', 0);
        return [x.pad(torchPadList(begin, end), 'constant', value)];
      }
      // The engine's reflect/replicate pads cover the spatial axes of N, C, spatial... inputs.
      if (rank < 3 || rank > 5 || begin[0] || begin[1] || end[0] || end[1]) unsupported(n, `${mode} padding of the batch or channel axis or of a rank-${rank} input`);
      // The engine pads these modes for floating inputs only; integers pass through float64 exactly.
      const source = isFloating(x.dtype) ? x : x.to({ dtype: 'float64' });
      const padded = source.pad(torchPadList(begin.slice(2), end.slice(2)), mode === 'reflect' ? 'reflect' : 'replicate');
      return [padded.dtype === x.dtype ? padded : padded.to({ dtype: x.dtype })];
    },
  },
  Clip: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const bound = (i: number, attr: string) => (n.opset >= 11 ? (inputs[i] ? ints(inputs[i])[0] : null) : n.has(attr) ? n.float(attr) : null);
      const [min, max] = [bound(1, 'min'), bound(2, 'max')];
      // Neither bound is valid ONNX (a pass-through); the engine's clamp wants at least one.
      return [min === null && max === null ? x : x.clamp(min, max)];
    },
  },
  Softmax: softmaxLike((x, d) => F.softmax(x, d)),
  LogSoftmax: softmaxLike((x, d) => F.logSoftmax(x, d)),


  HardSigmoid: { run: (n, inputs, ctx) => [T(need(n, inputs, 0), ctx).mul(n.float('alpha', 0.2)).add(n.float('beta', 0.5)).clamp(0, 1)] },
  HardSwish: unary((x) => F.hardswish(x)),
  Not: {
    run: (n, inputs) => {
      const x = need(n, inputs, 0);
      return [x instanceof Const ? new Const('bool', x.dims, x.values.map((v) => (v ? 0 : 1))) : F.logical('not', x.to({ dtype: 'bool' }))];
    },
  },
  Equal: compare((a, b) => a.eq(b), (a, b) => a === b),
  Less: compare((a, b) => a.lt(b), (a, b) => a < b),
  LessOrEqual: compare((a, b) => a.le(b), (a, b) => a <= b),
  Greater: compare((a, b) => a.gt(b), (a, b) => a > b),
  GreaterOrEqual: compare((a, b) => a.ge(b), (a, b) => a >= b),
  And: logic('and', (a, b) => a && b),
  Or: logic('or', (a, b) => a || b),
  Xor: logic('xor', (a, b) => a !== b),
  Where: {
    run: (n, inputs, ctx) => {
      const [cond, a, b] = [0, 1, 2].map((i) => need(n, inputs, i));
      if (cond instanceof Const && a instanceof Const && b instanceof Const) {
        const dims = broadcastDims(broadcastDims(cond.dims, a.dims) ?? [], b.dims);
        if (!dims || !broadcastDims(cond.dims, a.dims)) throw n.error(`shapes [${cond.dims}], [${a.dims}] and [${b.dims}] do not broadcast`);
        const [c, x, y] = [cond, a, b].map((v) => expandJs(v, dims));
        return [new Const(a.dtype, dims, c.values.map((v, i) => (v ? x.values[i] : y.values[i])))];
      }
      const [x, y] = common(T(a, ctx), T(b, ctx));
      return [T(cond, ctx).to({ dtype: 'bool' }).where(x, y)];
    },
  },
  Expand: {
    run: (n, inputs) => {
      const x = need(n, inputs, 0);
      const shape = ints(need(n, inputs, 1));
      // ONNX Expand broadcasts both ways: a 1 in `shape` keeps the input's size.
      const dims = broadcastDims(dimsOf(x), shape);
      if (!dims) throw n.error(`cannot expand [${dimsOf(x)}] to [${shape}]`);
      return [x instanceof Const ? expandJs(x, dims) : x.expand(dims)];
    },
  },
  Mod: {
    run: (n, inputs, ctx) => {
      const a = need(n, inputs, 0);
      const b = need(n, inputs, 1);
      // fmod=0 (integers only): the result takes the divisor's sign, as Python's %; fmod=1: C's fmod.
      const fmod = n.int('fmod', 0) === 1;
      if (a instanceof Const && b instanceof Const) {
        const r = broadcastJs(a, b, (x, y) => (fmod ? x % y : x - Math.floor(x / y) * y));
        if (!r) throw n.error(`shapes [${a.dims}] and [${b.dims}] do not broadcast`);
        return [r];
      }
      return [F.remainder(T(a, ctx), T(b, ctx), fmod ? 'trunc' : 'floor')];
    },
  },
  Range: {
    run: (n, inputs) => {
      const [start, limit, delta] = [0, 1, 2].map((i) => ints(need(n, inputs, i))[0]);
      if (!delta) throw n.error('Range with a delta of 0');
      const count = Math.max(Math.ceil((limit - start) / delta), 0);
      const first = need(n, inputs, 0);
      const dtype = first instanceof Const ? first.dtype : first.dtype;
      return [new Const(dtype, [count], Array.from({ length: count }, (_, i) => start + i * delta))];
    },
  },
  ScatterND: {
    check: (n) => {
      const reduction = n.string('reduction', 'none');
      if (!Object.hasOwn(SCATTER_REDUCTIONS, reduction)) unsupported(n, `ScatterND reduction '${reduction}'`);
    },
    run: (n, inputs, ctx) => {
      const data = need(n, inputs, 0);
      const indices = need(n, inputs, 1);
      const updates = need(n, inputs, 2);
      const dims = dimsOf(data);
      const idxDims = dimsOf(indices);
      const k = idxDims[idxDims.length - 1];
      if (!(k >= 1 && k <= dims.length)) throw n.error(`index tuples of length ${k} do not fit data of rank ${dims.length}`);
      const rows = scatterRows(n, dims, ints(indices), k);
      const rowSize = product(dims.slice(k));
      const reduction = SCATTER_REDUCTIONS[n.string('reduction', 'none')];
      if (product(dimsOf(updates)) !== rows.length * rowSize) throw n.error(`updates of shape [${dimsOf(updates)}] do not fit ${rows.length} slices of ${rowSize}`);
      if (data instanceof Const && updates instanceof Const) {
        const values = [...data.values];
        const combine = COMBINE[reduction];
        rows.forEach((row, r) => {
          for (let e = 0; e < rowSize; e++) values[row * rowSize + e] = combine(values[row * rowSize + e], updates.values[r * rowSize + e]);
        });
        return [new Const(data.dtype, dims, values)];
      }
      const flat = T(data, ctx).reshape([product(dims.slice(0, k)), rowSize]);
      const rowsOfUpdates = T(updates, ctx).reshape([rows.length, rowSize]).to({ dtype: flat.dtype });
      if (reduction === 'none' || reduction === 'sum') return [F.indexPut(flat, [indexTensor(rows, [rows.length], ctx)], rowsOfUpdates, reduction === 'sum').reshape(dims)];
      const index = indexTensor(rows.flatMap((row) => new Array<number>(rowSize).fill(row)), [rows.length, rowSize], ctx);
      return [F.scatter(flat, 0, index, rowsOfUpdates, reduction).reshape(dims)];
    },
  },
  LayerNormalization: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const from = axis(n, n.int('axis', -1), x.ndim);
      const normalized = x.shape.slice(from);
      const scale = T(need(n, inputs, 1), ctx);
      const bias = inputs[2] ? T(inputs[2], ctx) : null;
      const eps = n.float('epsilon', 1e-5);
      const y = F.layerNorm(x, normalized, scale.reshape(normalized), bias && bias.reshape(normalized), eps);
      if (!n.outputs.slice(1).some((o) => o !== '')) return [y];
      // The optional statistics, kept with size-1 normalized axes.
      const axes = normalized.map((_, i) => from + i);
      const mean = x.mean(axes, true);
      return [y, mean, x.sub(mean).square().mean(axes, true).add(eps).rsqrt()];
    },
  },
};


/** Elementwise comparison: a bool result, in JavaScript when both sides are Consts. */
function compare(fn: (a: Tensor, b: Tensor) => Tensor, js: (a: number, b: number) => boolean): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const a = need(n, inputs, 0);
      const b = need(n, inputs, 1);
      if (a instanceof Const && b instanceof Const) {
        const r = broadcastJs(a, b, (x, y) => (js(x, y) ? 1 : 0));
        if (!r) throw n.error(`shapes [${a.dims}] and [${b.dims}] do not broadcast`);
        return [new Const('bool', r.dims, r.values)];
      }
      return [fn(T(a, ctx), T(b, ctx))];
    },
  };
}

/** Boolean logic; Consts stay in JavaScript. */
function logic(op: 'and' | 'or' | 'xor', js: (a: boolean, b: boolean) => boolean): OpSpec {
  return compare((a, b) => F.logical(op, a.to({ dtype: 'bool' }), b.to({ dtype: 'bool' })), (a, b) => js(a !== 0, b !== 0));
}

/** Two tensors in a common dtype for ops that do not promote (Where): ints join a float side. */
function common(a: Tensor, b: Tensor): [Tensor, Tensor] {
  if (a.dtype === b.dtype) return [a, b];
  if (isFloating(a.dtype) && !isFloating(b.dtype)) return [a, b.to({ dtype: a.dtype })];
  return [a.to({ dtype: b.dtype }), b];
}

/** A Const broadcast to dims (which must be a broadcast of its own). */
function expandJs(c: Const, dims: number[]): Const {
  return broadcastJs(c, new Const(c.dtype, dims, new Array<number>(product(dims)).fill(0)), (x) => x)!;
}

/** How an update meets the value it lands on, per reduction (JavaScript, for Consts). */
const COMBINE: Record<string, (old: number, update: number) => number> = {
  none: (_, u) => u,
  sum: (a, u) => a + u,
  prod: (a, u) => a * u,
  amax: Math.max,
  amin: Math.min,
};

/** Flat row offsets of ScatterND's index tuples into data's first k dims, range-checked. */
function scatterRows(n: OnnxNode, dims: number[], indices: number[], k: number): number[] {
  const strides = dims.slice(0, k).map((_, i) => product(dims.slice(i + 1, k)));
  const rows: number[] = [];
  for (let at = 0; at < indices.length; at += k) {
    let row = 0;
    for (let j = 0; j < k; j++) {
      const raw = indices[at + j];
      const i = raw < 0 ? raw + dims[j] : raw;
      if (!(i >= 0 && i < dims[j])) throw n.error(`index ${raw} is out of range for axis ${j} of size ${dims[j]}`);
      row += i * strides[j];
    }
    rows.push(row);
  }
  return rows;
}


function softmaxLike(fn: (x: Tensor, dim: number) => Tensor): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      if (n.opset >= 13) return [fn(x, axis(n, n.int('axis', -1), x.ndim))];
      // Before opset 13 the input is viewed as 2-D [before axis, from axis on].
      const ax = axis(n, n.int('axis', 1), x.ndim);
      return [fn(x.reshape([product(x.shape.slice(0, ax)), product(x.shape.slice(ax))]), 1).reshape(x.shape)];
    },
  };
}

/** Every operator this importer runs, by ONNX name (default domain). */
export const OPERATORS: Record<string, OpSpec> = { ...BASE_OPERATORS, ...ACTIVATION_OPERATORS, ...REDUCE_OPERATORS, ...LAYOUT_OPERATORS, ...SPATIAL_OPERATORS, ...RESIZE_OPERATORS };

export const SUPPORTED_OPERATORS = Object.keys(OPERATORS).sort();
