// Normalizations over channel groups or axes, transposed convolution and grid sampling.
import { F, type Tensor } from '../../engine/index.js';
import type { OnnxNode } from './graph.js';
import { T, axis, checkAutoPad, checkSpatialRank, need, torchPadList, unsupported, type Inputs, type OpSpec, type RunContext } from './opkit.js';

function groupNormalization(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const groups = n.int('num_groups');
  const channels = x.shape[1];
  if (!(groups >= 1) || channels % groups) throw n.error(`${channels} channels do not split into ${groups} groups`);
  let [scale, bias] = [1, 2].map((i) => T(need(n, inputs, i), ctx).reshape([-1]));
  // Opset 18 gives one scale and bias per group (opset 21: per channel).
  if (scale.shape[0] === groups && groups !== channels) {
    [scale, bias] = [scale, bias].map((t) => t.reshape([groups, 1]).expand([groups, channels / groups]).reshape([channels]));
  }
  return [F.groupNorm(x, groups, scale, bias, n.float('epsilon', 1e-5))];
}

/** MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes`, as ONNX's function body. */
function meanVarianceNormalization(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const axes = n.ints('axes', [0, 2, 3]).map((a) => axis(n, a, x.ndim));
  const centred = x.sub(x.mean(axes, true));
  const variance = x.square().mean(axes, true).sub(x.mean(axes, true).square());
  return [centred.div(variance.sqrt().add(1e-9))];
}

function lpNormalization(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const ax = axis(n, n.int('axis', -1), x.ndim);
  const norm = n.int('p', 2) === 1 ? x.abs().sum(ax, true) : x.square().sum(ax, true).sqrt();
  return [x.div(norm)];
}

/**
 * Begin and end cropping of the full transposed convolution (no padding) on each axis: from
 * pads, or from output_shape / auto_pad as ONNX defines them.
 */
function transposedCrop(n: OnnxNode, size: number[], kernel: number[], strides: number[], dilations: number[], extra: number[]): [number[], number[]] {
  const full = size.map((s, i) => (s - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 + extra[i]);
  const mode = n.string('auto_pad', 'NOTSET');
  const wanted = n.has('output_shape') ? n.ints('output_shape').slice(-2) : mode === 'SAME_UPPER' || mode === 'SAME_LOWER' ? size.map((s, i) => s * strides[i]) : null;
  if (!wanted) {
    const pads = mode === 'VALID' ? [0, 0, 0, 0] : n.ints('pads', [0, 0, 0, 0]);
    if (pads.length !== 4) throw n.error(`pads has ${pads.length} values, expected 4`);
    return [pads.slice(0, 2), pads.slice(2)];
  }
  const total = full.map((f, i) => f - wanted[i]);
  const begin = total.map((t) => (mode === 'SAME_UPPER' ? Math.floor(t / 2) : t - Math.floor(t / 2)));
  return [begin, total.map((t, i) => t - begin[i])];
}

function convTranspose(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const w = T(need(n, inputs, 1), ctx);
  if (x.ndim !== 4 || w.ndim !== 4) throw n.error(`input of rank ${x.ndim} and weight of rank ${w.ndim}: both must be 4-D`);
  const strides = n.ints('strides', [1, 1]);
  const dilations = n.ints('dilations', [1, 1]);
  const groups = n.int('group', 1);
  const outputPadding = n.ints('output_padding', [0, 0]);
  // The full result without padding, then cropped (or zero-extended by output_padding) per ONNX.
  const full = F.convTranspose2d(x, w, null, { stride: [strides[0], strides[1]], dilation: [dilations[0], dilations[1]], groups });
  const [begin, end] = transposedCrop(n, x.shape.slice(2), w.shape.slice(2), strides, dilations, outputPadding);
  const endPad = end.map((e, i) => outputPadding[i] - e);
  let y = full.pad(torchPadList(begin.map((b) => -b), endPad));
  if (inputs[2]) y = y.add(T(inputs[2], ctx).reshape([1, -1, 1, 1]));
  return [y];
}

const GRID_MODES: Record<string, 'bilinear' | 'nearest' | 'bicubic'> = { bilinear: 'bilinear', linear: 'bilinear', nearest: 'nearest', bicubic: 'bicubic', cubic: 'bicubic' };

export const SPATIAL_OPERATORS: Record<string, OpSpec> = {
  InstanceNormalization: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const [scale, bias] = [1, 2].map((i) => T(need(n, inputs, i), ctx));
      return [F.groupNorm(x, x.shape[1], scale, bias, n.float('epsilon', 1e-5))];
    },
  },
  GroupNormalization: { run: groupNormalization },
  MeanVarianceNormalization: { run: meanVarianceNormalization },
  LpNormalization: {
    check: (n) => {
      if (![1, 2].includes(n.int('p', 2))) unsupported(n, `p = ${n.int('p')} (only 1 and 2)`);
    },
    run: lpNormalization,
  },
  ConvTranspose: {
    check: (n, load) => {
      checkAutoPad(n);
      checkSpatialRank(n, load, 1);
    },
    run: convTranspose,
  },
  GridSample: {
    check: (n, load) => {
      const mode = n.string('mode', 'bilinear');
      const padding = n.string('padding_mode', 'zeros');
      const grid = load.dims(n.inputs[1] ?? '');
      if (grid && grid.length !== 4) unsupported(n, `a grid of rank ${grid.length} (only 2-D sampling: [N, H, W, 2])`);
      if (!GRID_MODES[mode]) unsupported(n, `mode '${mode}'`);
      if (!['zeros', 'border', 'reflection'].includes(padding)) unsupported(n, `padding_mode '${padding}'`);
    },
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const grid = T(need(n, inputs, 1), ctx);
      if (x.ndim !== 4) unsupported(n, `an input of rank ${x.ndim} (only 4-D)`);
      const padding = n.string('padding_mode', 'zeros') as 'zeros' | 'border' | 'reflection';
      return [F.gridSample(x, grid.to({ dtype: x.dtype }), GRID_MODES[n.string('mode', 'bilinear')], padding, n.int('align_corners', 0) === 1)];
    },
  },
};
