// Resize and Upsample. Where the engine's interpolation computes exactly what ONNX asks (bilinear
// or nearest-floor resizing of H and W whose output size is the scale times the input size) it
// runs; every other case is resampled one axis at a time by a matrix built here from ONNX's
// definition (coordinate transform, nearest rounding, linear or cubic weights), which stays
// differentiable through the matrix product.
import { F, tensor, type Tensor } from '../../engine/index.js';
import type { OnnxNode } from './graph.js';
import { T, dimsOf, ints, need, product, unsupported, type OpSpec } from './opkit.js';

const TRANSFORMS = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn'];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

interface Sampling {
  mode: 'nearest' | 'linear' | 'cubic';
  transform: string;
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
}

function sampling(n: OnnxNode): Sampling {
  return {
    mode: n.string('mode', 'nearest') as Sampling['mode'],
    transform: n.string('coordinate_transformation_mode', n.opset >= 11 ? 'half_pixel' : 'asymmetric'),
    nearest: n.string('nearest_mode', n.opset >= 11 ? 'round_prefer_floor' : 'floor'),
    cubicA: n.float('cubic_coeff_a', -0.75),
    excludeOutside: n.int('exclude_outside', 0) === 1,
  };
}

function checkResize(n: OnnxNode): void {
  const s = sampling(n);
  if (!['nearest', 'linear', 'cubic'].includes(s.mode)) unsupported(n, `resize mode '${s.mode}'`);
  if (!TRANSFORMS.includes(s.transform)) unsupported(n, `coordinate_transformation_mode '${s.transform}'`);
  if (s.mode === 'nearest' && !NEAREST_MODES.includes(s.nearest)) unsupported(n, `nearest_mode '${s.nearest}'`);
  if (n.int('antialias', 0) !== 0) unsupported(n, `antialias ${n.int('antialias')}`);
  if (n.has('axes')) unsupported(n, `the axes attribute [${n.ints('axes')}]`);
  const policy = n.string('keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') unsupported(n, `keep_aspect_ratio_policy '${policy}'`);
}

/**
 * Where output position `x` of an axis samples the input, in input coordinates. `length` is the
 * output length ONNX's definition uses: the size asked for, or else in * scale unrounded.
 */
function sourceCoordinate(s: Sampling, x: number, scale: number, inSize: number, length: number): number {
  switch (s.transform) {
    case 'align_corners':
      return length === 1 ? 0 : (x * (inSize - 1)) / (length - 1);
    case 'asymmetric':
      return x / scale;
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / scale;
    case 'pytorch_half_pixel':
      return length > 1 ? (x + 0.5) / scale - 0.5 : -0.5;
    default:
      return (x + 0.5) / scale - 0.5;
  }
}

/** Weights of the taps at floor(c) - taps/2 + 1 ... for a fractional position t in (0, 1]. */
function tapWeights(s: Sampling, t: number): number[] {
  if (s.mode === 'linear') return [1 - t, t];
  if (s.mode === 'nearest') {
    if (t === 1) return [0, 1];
    const up = s.nearest === 'ceil' || (s.nearest === 'round_prefer_floor' && t > 0.5) || (s.nearest === 'round_prefer_ceil' && t >= 0.5);
    return up ? [0, 1] : [1, 0];
  }
  const a = s.cubicA;
  const far = (d: number) => ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  const near = (d: number) => ((a + 2) * d - (a + 3)) * d * d + 1;
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** The [out, in] matrix resampling one axis (rows sum to 1; taps beyond the edge repeat it). */
function resampleMatrix(s: Sampling, inSize: number, outSize: number, scale: number, length: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  for (let x = 0; x < outSize; x++) {
    const c = sourceCoordinate(s, x, scale, inSize, length);
    // An integral position takes fraction 1 from the tap below, as ONNX's reference does.
    const base = Number.isInteger(c) ? c - 1 : Math.floor(c);
    const t = Number.isInteger(c) ? 1 : c - base;
    const weights = tapWeights(s, t);
    const first = base - weights.length / 2 + 1;
    const inside = weights.map((_, k) => first + k >= 0 && first + k < inSize);
    const total = s.excludeOutside ? weights.reduce((sum, w, k) => sum + (inside[k] ? w : 0), 0) : 1;
    weights.forEach((w, k) => {
      if (s.excludeOutside && !inside[k]) return;
      const at = Math.min(Math.max(first + k, 0), inSize - 1);
      m[x * inSize + at] += w / total;
    });
  }
  return m;
}

/** x resampled along every axis whose size or scale changes. */
function resampleAxes(x: Tensor, s: Sampling, scales: number[], outDims: number[], lengths: number[]): Tensor {
  let y = x;
  x.shape.forEach((inSize, ax) => {
    if (inSize === outDims[ax] && scales[ax] === 1) return;
    const m = tensor(resampleMatrix(s, inSize, outDims[ax], scales[ax], lengths[ax]), [outDims[ax], inSize], { dtype: x.dtype, device: x.device });
    y = y.transpose(ax, -1).matmul(m.transpose(0, 1)).transpose(ax, -1);
  });
  return y;
}

/** Whether the engine's own interpolation computes this resize exactly. */
function engineCovers(x: Tensor, s: Sampling, scales: number[], outDims: number[]): boolean {
  if (x.ndim !== 4 || scales[0] !== 1 || scales[1] !== 1 || outDims[0] !== x.shape[0] || outDims[1] !== x.shape[1]) return false;
  // The engine maps positions by the size ratio, ONNX by 1/scale: the same only when they agree.
  if (![2, 3].every((a) => outDims[a] === x.shape[a] * scales[a] && outDims[a] > 1)) return false;
  if (s.mode === 'nearest') return s.transform === 'asymmetric' && s.nearest === 'floor';
  return s.mode === 'linear' && ['half_pixel', 'pytorch_half_pixel', 'align_corners'].includes(s.transform);
}

function resize(n: OnnxNode, x: Tensor, s: Sampling, scaleList: number[] | undefined, sizes: number[] | undefined): Tensor {
  const dims = x.shape;
  let scales: number[];
  let outDims: number[];
  if (sizes?.length) {
    if (sizes.length !== dims.length) throw n.error(`sizes [${sizes}] do not match an input of rank ${dims.length}`);
    outDims = sizes;
    scales = sizes.map((d, i) => d / dims[i]);
  } else {
    if (!scaleList || scaleList.length !== dims.length || !scaleList.every((v) => v > 0)) throw n.error(`scales [${scaleList ?? []}] must be ${dims.length} positive values`);
    scales = scaleList;
    outDims = dims.map((d, i) => Math.floor(d * scaleList[i]));
  }
  if (engineCovers(x, s, scales, outDims)) {
    return F.interpolate(x, [outDims[2], outDims[3]], s.mode === 'nearest' ? 'nearest' : 'bilinear', s.transform === 'align_corners');
  }
  const lengths = sizes?.length ? outDims : dims.map((d, i) => d * scales[i]);
  return resampleAxes(x, s, scales, outDims, lengths);
}

export const RESIZE_OPERATORS: Record<string, OpSpec> = {
  Resize: {
    check: checkResize,
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const scaleInput = n.opset >= 11 ? inputs[2] : inputs[1];
      const sizeInput = n.opset >= 11 ? inputs[3] : undefined;
      const scales = scaleInput && product(dimsOf(scaleInput)) > 0 ? ints(scaleInput) : undefined;
      return [resize(n, x, sampling(n), scales, sizeInput ? ints(sizeInput) : undefined)];
    },
  },
  Upsample: {
    check: (n) => {
      if (n.string('mode', 'nearest') !== 'nearest') unsupported(n, `Upsample mode '${n.string('mode')}' (only nearest; re-export at opset 11 or later for linear)`);
    },
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const s: Sampling = { mode: 'nearest', transform: 'asymmetric', nearest: 'floor', cubicA: 0, excludeOutside: false };
      return [resize(n, x, s, n.opset >= 9 ? ints(need(n, inputs, 1)) : n.floats('scales'), undefined)];
    },
  },
};
