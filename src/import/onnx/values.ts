// Values flowing through a graph: engine Tensors, or Consts — small arrays known in JavaScript
// (shapes, indices, axes, scalars). Shape arithmetic such as Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape runs on Consts in plain JS instead of on device tensors.
import { isFloating, tensor, type DType, type Tensor } from '../../engine/index.js';
import type { TensorData } from './proto.js';

export class Const {
  constructor(
    readonly dtype: DType,
    readonly dims: number[],
    readonly values: number[],
  ) {}

  static of(d: TensorData): Const {
    return new Const(d.dtype, d.dims, Array.from(d.values as ArrayLike<number | bigint>, Number));
  }

  get numel(): number {
    return this.values.length;
  }

  /** The same values with other dims (same element count). */
  withDims(dims: number[]): Const {
    return new Const(this.dtype, dims, this.values);
  }
}

export type Value = Tensor | Const;

const INT64_MAX = 2n ** 63n - 1n;

/**
 * A device tensor holding a Const. Floating values take the module's float dtype, so a model
 * moved to float64 keeps computing in float64.
 */
export function materialize(c: Const, device: string, floatDtype: DType): Tensor {
  if (isFloating(c.dtype)) return tensor(Float64Array.from(c.values), c.dims, { dtype: floatDtype, device });
  if (c.dtype === 'int64') {
    // INT64_MAX/MIN arrive as doubles just past the int64 range (e.g. Slice's "to the end").
    const big = BigInt64Array.from(c.values, (v) => {
      const b = BigInt(Math.trunc(v));
      return b > INT64_MAX ? INT64_MAX : b < -INT64_MAX - 1n ? -INT64_MAX - 1n : b;
    });
    return tensor(big, c.dims, { device });
  }
  return tensor(Int32Array.from(c.values), c.dims, { dtype: c.dtype, device });
}

/** Values cast to an element type the way ONNX Cast does (float to int truncates). */
export function castValues(values: number[], to: DType): number[] {
  if (isFloating(to)) return values;
  if (to === 'bool') return values.map((v) => (v !== 0 ? 1 : 0));
  return values.map((v) => Math.trunc(v));
}

export function stridesOf(dims: number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** The numpy broadcast of two shapes, or null if they do not broadcast. */
export function broadcastDims(a: number[], b: number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Elementwise fn over two broadcast Consts; null when the shapes do not broadcast. */
export function broadcastJs(a: Const, b: Const, fn: (x: number, y: number) => number): Const | null {
  const dims = broadcastDims(a.dims, b.dims);
  if (!dims) return null;
  const count = dims.reduce((p, d) => p * d, 1);
  const index = (c: Const) => {
    const s = stridesOf(c.dims);
    const offset = dims.length - c.dims.length;
    return (flat: number) => {
      let rem = flat;
      let at = 0;
      for (let i = 0; i < dims.length; i++) {
        const stride = dims.slice(i + 1).reduce((p, d) => p * d, 1);
        const coord = Math.floor(rem / stride);
        rem -= coord * stride;
        if (i >= offset && c.dims[i - offset] !== 1) at += coord * s[i - offset];
      }
      return at;
    };
  };
  const ia = index(a);
  const ib = index(b);
  const values = Array.from({ length: count }, (_, k) => fn(a.values[ia(k)], b.values[ib(k)]));
  return new Const(a.dtype, dims, values);
}

/** The sub-array taking, along every axis, the listed indices (a cartesian selection). */
export function pickJs(c: Const, perAxis: number[][]): Const {
  const s = stridesOf(c.dims);
  const dims = perAxis.map((ix) => ix.length);
  const values: number[] = [];
  const walk = (axis: number, offset: number) => {
    if (axis === perAxis.length) {
      values.push(c.values[offset]);
      return;
    }
    for (const i of perAxis[axis]) walk(axis + 1, offset + i * s[axis]);
  };
  if (dims.every((d) => d > 0)) walk(0, 0);
  return new Const(c.dtype, dims, values);
}

/** Concatenation of Consts along axis. */
export function concatJs(parts: Const[], axis: number): Const {
  const first = parts[0];
  const outer = first.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const chunk = (c: Const) => c.dims.slice(axis).reduce((p, d) => p * d, 1);
  const values: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const c of parts) values.push(...c.values.slice(o * chunk(c), (o + 1) * chunk(c)));
  }
  const dims = [...first.dims];
  dims[axis] = parts.reduce((sum, c) => sum + c.dims[axis], 0);
  return new Const(first.dtype, dims, values);
}
