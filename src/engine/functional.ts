// Neural-network operations, named and parameterised as in torch.nn.functional.
import { callRaw } from './op.js';
import { Tensor, wrap, wrapList } from './tensor.js';
import { tidy } from './scope.js';
import { winogradEnabled } from './runtime.js';

type Pair = number | [number, number];

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);
const opt = (t: Tensor | null | undefined) => (t ? t.handle : null);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

const convArgs = (input: Tensor, weight: Tensor, bias: Tensor | null | undefined, o: Conv2dOptions) =>
  [input.handle, weight.handle, opt(bias), pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.groups ?? 1];

/**
 * 2-D convolution as torch.nn.functional.conv2d. CPU float32 3x3 stride-1 convolutions run on
 * oneDNN's Winograd kernels where the build has them and they are on (setWinograd), the rest
 * as aten::conv2d.
 * @param input [N, C, H, W]
 * @param weight [O, C / groups, kH, kW]
 * @param bias [O], or none
 * @param o stride, padding, dilation (a number or [h, w]) and groups
 * @throws Error naming the operator and libtorch's reason when the shapes do not fit
 * @example
 * const y = F.conv2d(x, weight, bias, { padding: 1 }); // same size out, 3x3 kernel
 */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  return wrap(callRaw(winogradEnabled() ? 's2snets::conv2d' : 'conv2d', '', convArgs(input, weight, bias, o)));
}

/**
 * Which kernels conv2d would run for these operands now: 'winograd' or 'direct' (aten's choice).
 * @param input as for conv2d
 * @param weight as for conv2d
 * @param bias as for conv2d
 * @param o as for conv2d
 * @example
 * F.conv2dAlgorithm(x, conv.weight, conv.bias, { padding: 1 }) // 'winograd' on an AVX-512 CPU
 */
export function conv2dAlgorithm(input: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): 'winograd' | 'direct' {
  if (!winogradEnabled()) return 'direct';
  return callRaw('s2snets::conv2d_algorithm', '', convArgs(input, weight, bias, o)) as 'winograd' | 'direct';
}

export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return wrap(callRaw('linear', '', [input.handle, weight.handle, opt(bias)]));
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch norm over dim 1; in training mode the running statistics are updated in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, o: BatchNormOptions): Tensor {
  return wrap(callRaw('batch_norm', '', [input.handle, opt(o.weight), opt(o.bias), opt(runningMean), opt(runningVar), o.training, o.momentum ?? 0.1, o.eps ?? 1e-5, true]));
}

export function relu(x: Tensor): Tensor {
  return x.relu();
}
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return wrap(callRaw('leaky_relu', '', [x.handle, negativeSlope]));
}
export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}
export function tanh(x: Tensor): Tensor {
  return x.tanh();
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(x: Tensor, kernel: Pair, o: PoolOptions & { dilation?: Pair } = {}): Tensor {
  return wrap(callRaw('max_pool2d', '', [x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.ceilMode ?? false]));
}

/** Max pooling that also returns the flat argmax index of each window (for max_unpool2d). */
export function maxPool2dWithIndices(x: Tensor, kernel: Pair, o: PoolOptions & { dilation?: Pair } = {}): [Tensor, Tensor] {
  return wrapList(callRaw('max_pool2d_with_indices', '', [x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.ceilMode ?? false])) as [Tensor, Tensor];
}

/** Puts each value back at its argmax position, zeros elsewhere (SegNet's decoder upsampling). */
export function maxUnpool2d(x: Tensor, indices: Tensor, outputSize: [number, number]): Tensor {
  return wrap(callRaw('max_unpool2d', '', [x.handle, indices.handle, outputSize]));
}

export function avgPool2d(x: Tensor, kernel: Pair, o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor {
  return wrap(callRaw('avg_pool2d', '', [x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), o.ceilMode ?? false, o.countIncludePad ?? true, null]));
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return wrap(callRaw('adaptive_avg_pool2d', '', [x.handle, pair(outputSize)]));
}

export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return wrap(callRaw('dropout', '', [x.handle, p, training]));
}

/** Local response normalisation across channels (AlexNet). */
export function localResponseNorm(x: Tensor, size: number, alpha = 1e-4, beta = 0.75, k = 1): Tensor {
  // Same definition as torch.nn.functional.local_response_norm: average of squares over a
  // window of `size` channels centred on each channel, zero-padded at the ends. The window sum
  // adds `size` shifted channel slices: on the CPU this is several times faster than PyTorch's
  // average pooling over a [N, 1, C, H*W] view, forward and backward.
  const channels = x.shape[1];
  return tidy(() => {
    const padded = x.mul(x).pad([0, 0, 0, 0, Math.floor(size / 2), Math.floor((size - 1) / 2)]);
    let windowSum = padded.narrow(1, 0, channels);
    for (let offset = 1; offset < size; offset++) windowSum = windowSum.add(padded.narrow(1, offset, channels));
    return x.div(windowSum.mul(alpha / size).add(k).pow(beta));
  });
}

export type InterpolateMode = 'nearest' | 'bilinear' | 'bicubic';

/**
 * Resizes [N, C, H, W] to size, as torch.nn.functional.interpolate; differentiable (libtorch
 * 1.13 has the antialiased kernels' backward on the CPU and CUDA).
 * @param x [N, C, H, W], floating point
 * @param size [height, width] of the output
 * @param mode 'nearest', 'bilinear' or 'bicubic'
 * @param alignCorners as in PyTorch (bilinear and bicubic)
 * @param antialias (bilinear and bicubic) low-pass filter when shrinking, as PIL does; bicubic
 *   then uses PIL's kernel (a = -0.5) where the plain one uses a = -0.75, so it differs when enlarging too
 * @throws Error naming the operator when the input is not 4-d
 * @example F.interpolate(x, [299, 299], 'bicubic', false, true)
 */
export function interpolate(x: Tensor, size: [number, number], mode: InterpolateMode = 'nearest', alignCorners = false, antialias = false): Tensor {
  if (mode === 'nearest') return wrap(callRaw('upsample_nearest2d', '', [x.handle, size, null, null]));
  const op = `${antialias ? '_' : ''}upsample_${mode}2d${antialias ? '_aa' : ''}`;
  return wrap(callRaw(op, '', [x.handle, size, alignCorners, null, null]));
}

export function softmax(x: Tensor, dim: number): Tensor {
  return wrap(callRaw('softmax', 'int', [x.handle, dim, null]));
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return wrap(callRaw('log_softmax', 'int', [x.handle, dim, null]));
}

export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

/** Cross-entropy of logits [N, C] against class indices [N] (int64). */
export function crossEntropy(logits: Tensor, target: Tensor, reduction: Reduction = 'mean', labelSmoothing = 0): Tensor {
  return wrap(callRaw('cross_entropy_loss', '', [logits.handle, target.handle, null, REDUCTION[reduction], -100, labelSmoothing]));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(callRaw('mse_loss', '', [input.handle, target.handle, REDUCTION[reduction]]));
}

/**
 * Layer normalisation over the trailing dims `normalizedShape` (as torch.nn.functional.layer_norm).
 * @param x Input of shape [..., *normalizedShape].
 * @param normalizedShape The trailing dims normalised together.
 * @param weight Optional scale of shape normalizedShape.
 * @param bias Optional shift of shape normalizedShape.
 * @param eps Added to the variance.
 * @example F.layerNorm(x, [768], w, b, 1e-6)
 */
export function layerNorm(x: Tensor, normalizedShape: number[], weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  return wrap(callRaw('layer_norm', '', [x.handle, normalizedShape, opt(weight), opt(bias), eps, true]));
}

/**
 * x * relu6(x + 3) / 6, as torch.nn.functional.hardswish.
 * @param x Any float tensor.
 * @example F.hardswish(x)
 */
export function hardswish(x: Tensor): Tensor {
  return wrap(callRaw('hardswish', '', [x.handle]));
}

/**
 * Remainder of a / b: with the sign of b (Python's %, `floor`) or of a (C's fmod, `trunc`).
 * @param a Dividend.
 * @param b Divisor, broadcast against a.
 * @param rounding 'floor' for Python semantics, 'trunc' for C's fmod.
 * @example F.remainder(x, y, 'floor')
 */
export function remainder(a: Tensor, b: Tensor, rounding: 'floor' | 'trunc'): Tensor {
  return wrap(callRaw(rounding === 'floor' ? 'remainder' : 'fmod', 'Tensor', [a.handle, b.handle]));
}

/**
 * Elementwise boolean logic on bool tensors.
 * @param op 'and' | 'or' | 'xor' (binary) or 'not' (b ignored).
 * @example F.logical('and', a, b)
 */
export function logical(op: 'and' | 'or' | 'xor' | 'not', a: Tensor, b?: Tensor): Tensor {
  if (op === 'not') return wrap(callRaw('logical_not', '', [a.handle]));
  return wrap(callRaw(`logical_${op}`, '', [a.handle, b!.handle]));
}

/**
 * A copy of x with the rows picked by `indices` (one index tensor per leading dim) replaced by, or
 * (accumulate) increased by, `values`; differentiable with respect to x and values.
 * @example F.indexPut(x, [rows], v, false)
 */
export function indexPut(x: Tensor, indices: Tensor[], values: Tensor, accumulate: boolean): Tensor {
  return wrap(callRaw('index_put', '', [x.handle, indices.map((t) => t.handle), values.handle, accumulate]));
}

/**
 * Einstein summation, as torch.einsum.
 * @param equation e.g. 'bhqd,bhkd->bhqk'.
 * @param operands The tensors the equation names, in order.
 * @example F.einsum('ij,jk->ik', [a, b])
 */
export function einsum(equation: string, operands: Tensor[]): Tensor {
  return wrap(callRaw('einsum', '', [equation, operands.map((t) => t.handle), null]));
}

/**
 * An elementwise function of one tensor that has no method on Tensor, by its aten name.
 * @param name The aten operator: 'sin', 'cos', 'ceil' or 'mish'.
 * @param x Any float tensor (ceil also takes integers).
 * @throws Error naming the operator when libtorch rejects the dtype
 * @example F.pointwise('sin', x)
 */
export function pointwise(name: 'sin' | 'cos' | 'ceil' | 'mish', x: Tensor): Tensor {
  return wrap(callRaw(name, '', [x.handle]));
}

/**
 * ELU-family activations as torch.nn.functional.elu (scale 1) and celu.
 * @param x Any float tensor.
 * @param alpha The negative saturation value.
 * @param kind 'elu' or 'celu' (elu(x / alpha) * alpha for negatives).
 * @example F.elu(x, 1.0, 'elu')
 */
export function elu(x: Tensor, alpha: number, kind: 'elu' | 'celu' = 'elu'): Tensor {
  return wrap(callRaw(kind, '', [x.handle, alpha]));
}

/**
 * log(1 + exp(beta x)) / beta, switching to x above `threshold`, as torch.nn.functional.softplus.
 * @param x Any float tensor.
 * @param beta Steepness.
 * @param threshold beta*x above which the result is x.
 * @example F.softplus(x)
 */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return wrap(callRaw('softplus', '', [x.handle, beta, threshold]));
}

/**
 * GELU with the exact (erf) form or the tanh approximation, as torch.nn.functional.gelu.
 * @param x Any float tensor.
 * @param approximate 'none' or 'tanh'.
 * @example F.gelu(x, 'tanh')
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return wrap(callRaw('gelu', '', [x.handle, approximate]));
}

/**
 * Group normalisation over [N, C, ...] in `groups` channel groups, with a per-channel affine.
 * @param x [N, C, ...]
 * @param groups Number of groups (C must be a multiple); C groups is instance normalisation.
 * @param weight [C] or none; @param bias [C] or none; @param eps added to the variance.
 * @throws Error when C is not a multiple of groups
 * @example F.groupNorm(x, 8, gamma, beta, 1e-5)
 */
export function groupNorm(x: Tensor, groups: number, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  return wrap(callRaw('group_norm', '', [x.handle, groups, opt(weight), opt(bias), eps, true]));
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/**
 * Transposed 2-D convolution as torch.nn.functional.conv_transpose2d.
 * @param input [N, C, H, W]
 * @param weight [C, O / groups, kH, kW]
 * @param bias [O], or none
 * @param o stride, padding, output padding, dilation and groups
 * @throws Error naming libtorch's reason when the shapes do not fit
 * @example F.convTranspose2d(x, w, null, { stride: 2 })
 */
export function convTranspose2d(input: Tensor, weight: Tensor, bias: Tensor | null, o: ConvTranspose2dOptions = {}): Tensor {
  const args = [input.handle, weight.handle, opt(bias), pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.outputPadding ?? 0), o.groups ?? 1, pair(o.dilation ?? 1)];
  return wrap(callRaw('conv_transpose2d', 'input', args));
}

/**
 * Samples [N, C, H, W] at the normalised positions grid [N, Ho, Wo, 2] (x, y in [-1, 1]).
 * @param x The image.
 * @param grid Sampling positions.
 * @param mode 'bilinear' | 'nearest' | 'bicubic'; @param padding 'zeros' | 'border' | 'reflection'.
 * @param alignCorners Whether -1 and 1 are the centres (true) or the outer edges of the corner pixels.
 * @example F.gridSample(x, grid, 'bilinear', 'zeros', false)
 */
export function gridSample(x: Tensor, grid: Tensor, mode: 'bilinear' | 'nearest' | 'bicubic', padding: 'zeros' | 'border' | 'reflection', alignCorners: boolean): Tensor {
  const modes = { bilinear: 0, nearest: 1, bicubic: 2 };
  const paddings = { zeros: 0, border: 1, reflection: 2 };
  return wrap(callRaw('grid_sampler', '', [x.handle, grid.handle, modes[mode], paddings[padding], alignCorners]));
}

/**
 * Cumulative sum along dim, as torch.cumsum.
 * @param x Any tensor; @param dim The axis.
 * @example F.cumsum(x, 1)
 */
export function cumsum(x: Tensor, dim: number): Tensor {
  return wrap(callRaw('cumsum', '', [x.handle, dim, null]));
}

/**
 * The lower (tril) or upper (triu) triangle of the last two dims, the rest zero.
 * @param x [..., M, N]
 * @param upper Keep the upper triangle.
 * @param diagonal Offset of the kept diagonal (positive: above the main one).
 * @example F.triangle(x, true, 1)
 */
export function triangle(x: Tensor, upper: boolean, diagonal: number): Tensor {
  return wrap(callRaw(upper ? 'triu' : 'tril', '', [x.handle, diagonal]));
}

/**
 * A copy of x with src written at index along dim ('none'), or combined with what is there
 * ('sum', 'prod', 'amax', 'amin'), as torch.scatter and torch.scatter_reduce (include_self).
 * @param x The data.
 * @param dim The axis.
 * @param index int64, shaped like src.
 * @param src The values.
 * @param reduce How a value meets the one it lands on.
 * @example F.scatter(x, 0, idx, updates, 'none')
 */
export function scatter(x: Tensor, dim: number, index: Tensor, src: Tensor, reduce: 'none' | 'sum' | 'prod' | 'amax' | 'amin'): Tensor {
  if (reduce === 'none') return wrap(callRaw('scatter', 'src', [x.handle, dim, index.handle, src.handle]));
  return wrap(callRaw('scatter_reduce', 'two', [x.handle, dim, index.handle, src.handle, reduce, true]));
}

/**
 * A reduction over several axes that has no method on Tensor: amax, amin, logsumexp; or prod over one axis.
 * @param kind 'amax' | 'amin' | 'logsumexp' | 'prod'.
 * @param x Any tensor; @param dims The axes (prod: exactly one); @param keepdim Keep them as size 1.
 * @example F.reduceBy('amax', x, [2, 3], true)
 */
export function reduceBy(kind: 'amax' | 'amin' | 'logsumexp' | 'prod', x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (kind === 'prod') return wrap(callRaw('prod', 'dim_int', [x.handle, dims[0], keepdim, null]));
  return wrap(callRaw(kind, '', [x.handle, dims, keepdim]));
}

/**
 * The index of the largest or smallest value along dim (the first one on ties).
 * @param x Any tensor; @param dim The axis; @param keepdim Keep it as size 1; @param smallest argmin instead.
 * @example F.argExtreme(x, 1, true, false)
 */
export function argExtreme(x: Tensor, dim: number, keepdim: boolean, smallest: boolean): Tensor {
  return wrap(callRaw(smallest ? 'argmin' : 'argmax', '', [x.handle, dim, keepdim]));
}
