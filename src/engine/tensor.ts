// Tensor: a typed handle to a libtorch tensor. Operations return new Tensors registered with the
// current tidy() scope; methods ending in `_` update in place and return `this`, as in PyTorch.
import { native, type NativeTensor } from './native.js';
import { callRaw, callVoid, type OpArg } from './op.js';
import { track, type Disposable } from './scope.js';
import { dtypeFromTorch, dtypeOfArray, viewBuffer, type AnyTypedArray, type DType } from './dtype.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Shape = readonly number[];
export type MemoryFormat = 'contiguous' | 'channels_last' | 'preserve';

export class Tensor implements Disposable {
  /** @internal The native handle; use only inside the engine. */
  readonly handle: NativeTensor;

  constructor(handle: NativeTensor) {
    this.handle = handle;
    track(this);
  }

  get shape(): number[] {
    return this.handle.shape;
  }
  get dtype(): DType {
    return dtypeFromTorch(this.handle.dtype);
  }
  get device(): string {
    return this.handle.device;
  }
  get ndim(): number {
    return this.handle.shape.length;
  }
  get numel(): number {
    return this.handle.shape.reduce((a, b) => a * b, 1);
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }
  get requiresGrad(): boolean {
    return this.handle.requiresGrad;
  }
  get isLeaf(): boolean {
    return this.handle.isLeaf;
  }
  size(dim: number): number {
    const s = this.shape;
    return s[dim < 0 ? s.length + dim : dim];
  }

  dispose(): void {
    this.handle.dispose();
  }

  /** Marks this tensor as a leaf whose gradient autograd accumulates into .grad. */
  requiresGrad_(on = true): this {
    this.handle.requiresGrad = on;
    return this;
  }

  /** The accumulated gradient, or null. A new handle each call: dispose it when done. */
  get grad(): Tensor | null {
    const g = this.handle.grad();
    return g ? new Tensor(g) : null;
  }
  set grad(g: Tensor | null) {
    this.handle.setGrad(g ? g.handle : null);
  }

  /** Backpropagates from this (scalar) tensor into every leaf that requires grad. */
  backward(gradient?: Tensor, retainGraph = false): void {
    native.backward([this.handle], gradient ? [gradient.handle] : null, retainGraph);
  }

  // ---- data out ----------------------------------------------------------------------------

  /** Values as a typed array (float16/bfloat16 widened to Float32Array, int64 as BigInt64Array). */
  data(): AnyTypedArray {
    const d = this.dtype;
    if (d === 'float16' || d === 'bfloat16') {
      const wide = this.to({ dtype: 'float32' });
      try {
        return wide.data();
      } finally {
        wide.dispose();
      }
    }
    return viewBuffer(this.handle.toBuffer(), d);
  }

  /** Values as a Float32Array, converting any dtype. */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.data() as Float32Array;
    const f = this.to({ dtype: 'float32' });
    try {
      return f.data() as Float32Array;
    } finally {
      f.dispose();
    }
  }

  /** Values as plain numbers (flat). */
  toArray(): number[] {
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d as Float32Array);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new RangeError(`item() needs a tensor with one element, this one has shape [${this.shape}]`);
    return this.toArray()[0];
  }

  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- conversion --------------------------------------------------------------------------

  to(opts: { dtype?: DType; device?: string; nonBlocking?: boolean; copy?: boolean; memoryFormat?: MemoryFormat }): Tensor {
    return wrap(callRaw('to', 'dtype_layout', [this.handle, opts.dtype ?? this.dtype, null, opts.device ?? this.device, null, opts.nonBlocking ?? false, opts.copy ?? false, opts.memoryFormat ?? null]));
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  float(): Tensor {
    return this.to({ dtype: 'float32' });
  }
  long(): Tensor {
    return this.to({ dtype: 'int64' });
  }
  pinMemory(): Tensor {
    return wrap(callRaw('pin_memory', '', [this.handle]));
  }
  /**
   * A copy on `device` (this tensor itself when already there). From the host to CUDA it goes
   * through pinned (page-locked) memory without blocking the host, so the copy overlaps queued
   * GPU work.
   * @param device e.g. 'cuda:0'
   * @example const x = hostBatch.transferTo('cuda');
   */
  transferTo(device: string): Tensor {
    if (this.device === device) return this;
    if (!(device.startsWith('cuda') && this.device === 'cpu')) return this.to({ device });
    const staged = this.pinMemory();
    const moved = staged.to({ device, nonBlocking: true });
    staged.dispose();
    return moved;
  }
  /** Elements between neighbours along dim in memory (torch.Tensor.stride(dim)): 1 for channels in channels_last. */
  stride(dim: number): number {
    return callRaw('stride', 'int', [this.handle, dim]) as number;
  }
  contiguous(memoryFormat: MemoryFormat = 'contiguous'): Tensor {
    return wrap(callRaw('contiguous', '', [this.handle, memoryFormat]));
  }
  clone(): Tensor {
    return wrap(callRaw('clone', '', [this.handle]));
  }
  /** The same bytes read as another dtype of equal size (no copy; shares storage). */
  viewAs(dtype: DType): Tensor {
    return wrap(callRaw('view', 'dtype', [this.handle, dtype]));
  }
  /** Same data, cut from the autograd graph. */
  detach(): Tensor {
    return wrap(callRaw('detach', '', [this.handle]));
  }

  // ---- shape -------------------------------------------------------------------------------

  reshape(shape: Shape): Tensor {
    return wrap(callRaw('reshape', '', [this.handle, [...shape]]));
  }
  view(shape: Shape): Tensor {
    return wrap(callRaw('view', '', [this.handle, [...shape]]));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(callRaw('flatten', 'using_ints', [this.handle, startDim, endDim]));
  }
  permute(dims: Shape): Tensor {
    return wrap(callRaw('permute', '', [this.handle, [...dims]]));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(callRaw('transpose', 'int', [this.handle, dim0, dim1]));
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? wrap(callRaw('squeeze', '', [this.handle])) : wrap(callRaw('squeeze', 'dim', [this.handle, dim]));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(callRaw('unsqueeze', '', [this.handle, dim]));
  }
  expand(shape: Shape): Tensor {
    return wrap(callRaw('expand', '', [this.handle, [...shape]]));
  }
  /** Elements start..end (exclusive) with step along dim; negative indices count from the end. */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    return wrap(callRaw('slice', 'Tensor', [this.handle, dim, start, end ?? null, step]));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(callRaw('narrow', '', [this.handle, dim, start, length]));
  }
  /** A view of this tensor's storage with the given size, strides and offset (in elements). */
  asStrided(size: Shape, stride: Shape, storageOffset = 0): Tensor {
    return wrap(callRaw('as_strided', '', [this.handle, [...size], [...stride], storageOffset]));
  }
  select(dim: number, index: number): Tensor {
    return wrap(callRaw('select', 'int', [this.handle, dim, index]));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(callRaw('index_select', '', [this.handle, dim, index.handle]));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(callRaw('gather', '', [this.handle, dim, index.handle]));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapList(callRaw('chunk', '', [this.handle, chunks, dim]));
  }
  split(sizes: number[], dim = 0): Tensor[] {
    return wrapList(callRaw('split_with_sizes', '', [this.handle, sizes, dim]));
  }
  /** Zero-pads or pads with `value`; pad lists (left, right, top, bottom, ...) from the last dim. */
  pad(pad: number[], mode: 'constant' | 'reflect' | 'replicate' = 'constant', value = 0): Tensor {
    if (mode === 'constant') return wrap(callRaw('constant_pad_nd', '', [this.handle, pad, value]));
    const op = `${mode === 'reflect' ? 'reflection' : 'replication'}_pad${pad.length / 2}d`;
    return wrap(callRaw(op, '', [this.handle, pad]));
  }
  flip(dims: number[]): Tensor {
    return wrap(callRaw('flip', '', [this.handle, dims]));
  }
  repeat(repeats: number[]): Tensor {
    return wrap(callRaw('repeat', '', [this.handle, repeats]));
  }

  // ---- elementwise -------------------------------------------------------------------------

  add(other: Tensor | number, alpha = 1): Tensor {
    return binary('add', this, other, [alpha]);
  }
  sub(other: Tensor | number, alpha = 1): Tensor {
    return binary('sub', this, other, [alpha]);
  }
  mul(other: Tensor | number): Tensor {
    return binary('mul', this, other);
  }
  div(other: Tensor | number): Tensor {
    return binary('div', this, other);
  }
  pow(exponent: Tensor | number): Tensor {
    return typeof exponent === 'number'
      ? wrap(callRaw('pow', 'Tensor_Scalar', [this.handle, exponent]))
      : wrap(callRaw('pow', 'Tensor_Tensor', [this.handle, exponent.handle]));
  }
  maximum(other: Tensor): Tensor {
    return wrap(callRaw('maximum', '', [this.handle, other.handle]));
  }
  minimum(other: Tensor): Tensor {
    return wrap(callRaw('minimum', '', [this.handle, other.handle]));
  }
  eq(other: Tensor | number): Tensor {
    return binary('eq', this, other);
  }
  ne(other: Tensor | number): Tensor {
    return binary('ne', this, other);
  }
  gt(other: Tensor | number): Tensor {
    return binary('gt', this, other);
  }
  lt(other: Tensor | number): Tensor {
    return binary('lt', this, other);
  }
  ge(other: Tensor | number): Tensor {
    return binary('ge', this, other);
  }
  le(other: Tensor | number): Tensor {
    return binary('le', this, other);
  }
  /** Elementwise choice: where this (bool) is true take a, else b. */
  where(a: Tensor, b: Tensor): Tensor {
    return wrap(callRaw('where', 'self', [this.handle, a.handle, b.handle]));
  }
  neg(): Tensor {
    return unary('neg', this);
  }
  abs(): Tensor {
    return unary('abs', this);
  }
  sqrt(): Tensor {
    return unary('sqrt', this);
  }
  rsqrt(): Tensor {
    return unary('rsqrt', this);
  }
  exp(): Tensor {
    return unary('exp', this);
  }
  log(): Tensor {
    return unary('log', this);
  }
  sign(): Tensor {
    return unary('sign', this);
  }
  floor(): Tensor {
    return unary('floor', this);
  }
  round(): Tensor {
    return unary('round', this);
  }
  reciprocal(): Tensor {
    return unary('reciprocal', this);
  }
  square(): Tensor {
    return unary('square', this);
  }
  isfinite(): Tensor {
    return unary('isfinite', this);
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return wrap(callRaw('clamp', '', [this.handle, min, max]));
  }
  relu(): Tensor {
    return unary('relu', this);
  }
  sigmoid(): Tensor {
    return unary('sigmoid', this);
  }
  tanh(): Tensor {
    return unary('tanh', this);
  }
  erf(): Tensor {
    return unary('erf', this);
  }
  matmul(other: Tensor): Tensor {
    return wrap(callRaw('matmul', '', [this.handle, other.handle]));
  }

  // ---- reductions --------------------------------------------------------------------------

  sum(dim?: number | number[], keepdim = false): Tensor {
    return reduce('sum', this, dim, keepdim);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return reduce('mean', this, dim, keepdim);
  }
  /** Variance (unbiased unless `unbiased` is false). */
  var(dim?: number | number[], unbiased = true, keepdim = false): Tensor {
    if (dim === undefined) return wrap(callRaw('var', '', [this.handle, unbiased]));
    return wrap(callRaw('var', 'dim', [this.handle, typeof dim === 'number' ? [dim] : dim, unbiased, keepdim]));
  }
  std(dim?: number | number[], unbiased = true, keepdim = false): Tensor {
    if (dim === undefined) return wrap(callRaw('std', '', [this.handle, unbiased]));
    return wrap(callRaw('std', 'dim', [this.handle, typeof dim === 'number' ? [dim] : dim, unbiased, keepdim]));
  }
  max(): Tensor {
    return unary('max', this);
  }
  min(): Tensor {
    return unary('min', this);
  }
  /** Largest values along dim and their indices. */
  maxDim(dim: number, keepdim = false): [Tensor, Tensor] {
    return wrapList(callRaw('max', 'dim', [this.handle, dim, keepdim])) as [Tensor, Tensor];
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(callRaw('argmax', '', [this.handle, dim ?? null, keepdim]));
  }
  /** The k largest (or smallest) values along dim, with their indices. */
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return wrapList(callRaw('topk', '', [this.handle, k, dim, largest, sorted])) as [Tensor, Tensor];
  }
  norm(p = 2): Tensor {
    return wrap(callRaw('norm', 'Scalar', [this.handle, p]));
  }

  // ---- in place ----------------------------------------------------------------------------

  copy_(src: Tensor): this {
    callVoid('copy_', '', [this.handle, src.handle, false]);
    return this;
  }
  /** Copies the rows of `src` to the positions `index` (int64) along `dim`. */
  indexCopy_(dim: number, index: Tensor, src: Tensor): this {
    callVoid('index_copy_', '', [this.handle, dim, index.handle, src.handle]);
    return this;
  }
  zero_(): this {
    callVoid('zero_', '', [this.handle]);
    return this;
  }
  fill_(value: number): this {
    callVoid('fill_', 'Scalar', [this.handle, value]);
    return this;
  }
  add_(other: Tensor | number, alpha = 1): this {
    if (typeof other === 'number') callVoid('add_', 'Scalar', [this.handle, other, alpha]);
    else callVoid('add_', 'Tensor', [this.handle, other.handle, alpha]);
    return this;
  }
  sub_(other: Tensor | number): this {
    return this.add_(other, -1);
  }
  mul_(other: Tensor | number): this {
    if (typeof other === 'number') callVoid('mul_', 'Scalar', [this.handle, other]);
    else callVoid('mul_', 'Tensor', [this.handle, other.handle]);
    return this;
  }
  div_(other: Tensor | number): this {
    if (typeof other === 'number') callVoid('div_', 'Scalar', [this.handle, other]);
    else callVoid('div_', 'Tensor', [this.handle, other.handle]);
    return this;
  }
  clamp_(min: number | null, max: number | null = null): this {
    callVoid('clamp_', '', [this.handle, min, max]);
    return this;
  }
  uniform_(from = 0, to = 1): this {
    callVoid('uniform_', '', [this.handle, from, to]);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    callVoid('normal_', '', [this.handle, mean, std]);
    return this;
  }
}

// ---- helpers shared by the engine ------------------------------------------------------------

/** @internal Wraps a raw handle returned by an op. */
export function wrap(raw: unknown): Tensor {
  return new Tensor(raw as NativeTensor);
}

/** @internal Wraps a list of raw handles. */
export function wrapList(raw: unknown): Tensor[] {
  return (raw as NativeTensor[]).map((h) => new Tensor(h));
}

function unary(name: string, t: Tensor): Tensor {
  return wrap(callRaw(name, '', [t.handle]));
}

function binary(name: string, a: Tensor, b: Tensor | number, extra: OpArg[] = []): Tensor {
  return typeof b === 'number'
    ? wrap(callRaw(name, 'Scalar', [a.handle, b, ...extra]))
    : wrap(callRaw(name, 'Tensor', [a.handle, b.handle, ...extra]));
}

// libtorch names the dim-list overloads differently: sum.dim_IntList but mean.dim.
const DIM_OVERLOAD = { sum: 'dim_IntList', mean: 'dim' } as const;

function reduce(name: 'sum' | 'mean', t: Tensor, dim: number | number[] | undefined, keepdim: boolean): Tensor {
  if (dim === undefined) return wrap(callRaw(name, '', [t.handle]));
  return wrap(callRaw(name, DIM_OVERLOAD[name], [t.handle, typeof dim === 'number' ? [dim] : dim, keepdim]));
}

// ---- creation --------------------------------------------------------------------------------

export interface CreateOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

function checkShape(shape: Shape): number[] {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`invalid shape [${shape}]: sizes must be non-negative integers`);
  }
  return [...shape];
}

/**
 * A tensor from values. Numbers default to float32; a typed array keeps its own dtype unless
 * `dtype` says otherwise. Shape defaults to 1-D.
 */
export function tensor(values: number[] | ArrayBufferView, shape?: Shape, opts: CreateOptions = {}): Tensor {
  const arr: ArrayBufferView = Array.isArray(values) ? new Float32Array(values) : values;
  const n = (arr as unknown as { length: number }).length;
  const dims = checkShape(shape ?? [n]);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== n) throw new RangeError(`${n} values do not fill shape [${dims}] (${count} elements)`);
  const own = dtypeOfArray(arr);
  const base = new Tensor(native.fromBuffer(arr, dims, own, undefined));
  const wantDtype = opts.dtype ?? own;
  const wantDevice = opts.device ?? 'cpu';
  if (wantDtype === own && wantDevice === 'cpu') return finish(base, opts);
  const converted = base.to({ dtype: wantDtype, device: wantDevice });
  base.dispose();
  return finish(converted, opts);
}

/** A one-element tensor. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return tensor([value], [], opts);
}

function factory(name: string, overload: string, args: OpArg[], opts: CreateOptions): Tensor {
  const dtype = opts.dtype ?? 'float32';
  return finish(wrap(callRaw(name, overload, [...args, dtype, null, opts.device ?? 'cpu', null])), opts);
}

export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('zeros', '', [checkShape(shape)], opts);
}
export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('ones', '', [checkShape(shape)], opts);
}
export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  return factory('full', '', [checkShape(shape), value], opts);
}
export function empty(shape: Shape, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'float32';
  return finish(wrap(callRaw('empty', 'memory_format', [checkShape(shape), dtype, null, opts.device ?? 'cpu', null, null])), opts);
}
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int64' : 'float32');
  return factory('arange', 'start_step', [start, end, step], { ...opts, dtype });
}
export function eye(n: number, opts: CreateOptions = {}): Tensor {
  return factory('eye', '', [n], opts);
}
/** Standard normal samples (seed with manualSeed). */
export function randn(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('randn', '', [checkShape(shape)], opts);
}
/** Uniform samples in [0, 1). */
export function rand(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('rand', '', [checkShape(shape)], opts);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('randint', 'low', [low, high, checkShape(shape)], { dtype: 'int64', ...opts });
}
/** A random permutation of 0..n-1. */
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  return factory('randperm', '', [n], { dtype: 'int64', ...opts });
}
export function zerosLike(t: Tensor): Tensor {
  return wrap(callRaw('zeros_like', '', [t.handle]));
}
export function onesLike(t: Tensor): Tensor {
  return wrap(callRaw('ones_like', '', [t.handle]));
}

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(callRaw('cat', '', [tensors.map((t) => t.handle), dim]));
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(callRaw('stack', '', [tensors.map((t) => t.handle), dim]));
}

/** True where both tensors are within atol + rtol * |b| of each other everywhere. */
export function allclose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
  return callRaw('allclose', '', [a.handle, b.handle, rtol, atol, false]) as boolean;
}
