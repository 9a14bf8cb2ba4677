// What every operator implementation shares: the run context, the load-time view of the graph,
// access to inputs and attributes, and factories for elementwise operators.
import { tensor, type DType, type Tensor } from '../../engine/index.js';
import { OnnxUnsupportedOperatorError } from './errors.js';
import type { OnnxNode } from './graph.js';
import { Const, broadcastJs, materialize, type Value } from './values.js';

export interface RunContext {
  device: string;
  /** The module's floating dtype; float constants are made in it. */
  floatDtype: DType;
}

export type Inputs = (Value | undefined)[];

/** What a check can know about a node's inputs before anything runs. */
export interface LoadInfo {
  /** Dims of an initializer; null for any other value. */
  dims(name: string): number[] | null;
  /** The values of a small initializer or Constant node, else null. */
  constant(name: string): number[] | null;
}

export interface OpSpec {
  /** Refuses, with OnnxUnsupportedOperatorError, a mode or input this importer does not run. */
  check?(node: OnnxNode, load: LoadInfo): void;
  run(node: OnnxNode, inputs: Inputs, ctx: RunContext): Value[];
}

// ---- helpers ------------------------------------------------------------------------------------

export function unsupported(node: OnnxNode, what: string): never {
  throw new OnnxUnsupportedOperatorError(`${node.where}: ${what} is not supported`);
}

export function need(node: OnnxNode, inputs: Inputs, i: number): Value {
  const v = inputs[i];
  if (v === undefined) throw node.error(`input ${i} is required but missing`);
  return v;
}

export function T(v: Value, ctx: RunContext): Tensor {
  return v instanceof Const ? materialize(v, ctx.device, ctx.floatDtype) : v;
}

/** Values of a shape-like input (axes, pads, sizes): Consts directly, tensors read back. */
export function ints(v: Value): number[] {
  return v instanceof Const ? v.values : v.toArray();
}

export function dimsOf(v: Value): number[] {
  return v instanceof Const ? v.dims : v.shape;
}

export function axis(node: OnnxNode, a: number, rank: number): number {
  const r = a < 0 ? a + rank : a;
  if (!Number.isInteger(r) || r < 0 || r >= rank) throw node.error(`axis ${a} is out of range for rank ${rank}`);
  return r;
}

export function reshape(v: Value, dims: number[]): Value {
  return v instanceof Const ? v.withDims(dims) : v.reshape(dims);
}

/** Axes from the attribute (older opsets) or from input `index` (from `inputSince` on). */
export function axesOf(node: OnnxNode, inputs: Inputs, index: number, inputSince: number): number[] | undefined {
  if (node.opset >= inputSince) return inputs[index] ? ints(inputs[index]) : undefined;
  return node.has('axes') ? node.ints('axes') : undefined;
}

export const product = (xs: number[]) => xs.reduce((p, x) => p * x, 1);

export function only2d(node: OnnxNode, x: Tensor): void {
  if (x.ndim !== 4) unsupported(node, `input of rank ${x.ndim} (only 4-D NCHW inputs, i.e. 2-D spatial)`);
}

export function unary(fn: (x: Tensor) => Tensor, js?: (x: number) => number): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const x = need(n, inputs, 0);
      if (x instanceof Const && js) return [new Const(x.dtype, x.dims, x.values.map(js))];
      return [fn(T(x, ctx))];
    },
  };
}

export function binary(fn: (a: Tensor, b: Tensor) => Tensor, js: (a: number, b: number, dtype: DType) => number): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const a = need(n, inputs, 0);
      const b = need(n, inputs, 1);
      if (a instanceof Const && b instanceof Const) {
        const r = broadcastJs(a, b, (x, y) => js(x, y, a.dtype));
        if (!r) throw n.error(`shapes [${a.dims}] and [${b.dims}] do not broadcast`);
        return [r];
      }
      return [fn(T(a, ctx), T(b, ctx))];
    },
  };
}

/**
 * An int64 index tensor on the context's device.
 * @param values The indices (already range-checked).
 * @param dims Its shape.
 * @param ctx The run's device.
 * @example indexTensor([2, 0], [2], ctx)
 */
export function indexTensor(values: number[], dims: number[], ctx: RunContext): Tensor {
  return tensor(BigInt64Array.from(values, BigInt), dims, { device: ctx.device });
}

const AUTO_PADS = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

export function checkAutoPad(node: OnnxNode): void {
  const mode = node.string('auto_pad', 'NOTSET');
  if (!AUTO_PADS.includes(mode)) unsupported(node, `auto_pad '${mode}'`);
}

/** The engine's pad list (last axis first) for ONNX begin/end pads of the trailing axes. */
export function torchPadList(begin: number[], end: number[]): number[] {
  const list: number[] = [];
  for (let i = begin.length - 1; i >= 0; i--) list.push(begin[i], end[i]);
  return list;
}


/**
 * Refuses at load a convolution or pooling node whose spatial rank is not 2, judged from
 * kernel_shape, else from the weight's dims (input `weightInput`) when it is an initializer; a
 * computed weight is checked when the node runs.
 * @param node The node.
 * @param load What is known before running.
 * @param weightInput Index of the weight input, or null (pooling).
 * @throws OnnxUnsupportedOperatorError naming the rank and where it was read
 * @example checkSpatialRank(node, load, 1) // Conv with a [8, 3, 3] weight: "1-D Conv (weight of rank 3; ...) is not supported"
 */
export function checkSpatialRank(node: OnnxNode, load: LoadInfo, weightInput: number | null): void {
  const kernel = node.has('kernel_shape') ? node.ints('kernel_shape') : null;
  const weight = weightInput === null ? null : load.dims(node.inputs[weightInput] ?? '');
  if (kernel && kernel.length !== 2) unsupported(node, `${kernel.length}-D ${node.opType} (kernel_shape [${kernel}]; only 2-D, on NCHW inputs)`);
  if (!kernel && weight && weight.length !== 4) unsupported(node, `${weight.length - 2}-D ${node.opType} (weight of rank ${weight.length}; only 2-D, on NCHW inputs)`);
}
