// Moving and picking elements: depth/space rearrangement, tiling, triangles and the
// element-wise gathers and scatters.
import { F, type Tensor } from '../../engine/index.js';
import type { OnnxNode } from './graph.js';
import { T, axis, dimsOf, indexTensor, ints, need, product, unsupported, type Inputs, type OpSpec, type RunContext } from './opkit.js';

function blockSize(n: OnnxNode, x: Tensor): number {
  const b = n.int('blocksize');
  if (x.ndim !== 4) throw n.error(`needs a 4-D input, got rank ${x.ndim}`);
  if (!(b >= 1)) throw n.error(`blocksize ${b} must be positive`);
  return b;
}

function depthToSpace(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const b = blockSize(n, x);
  const [batch, c, h, w] = x.shape;
  if (c % (b * b)) throw n.error(`${c} channels are not a multiple of blocksize² = ${b * b}`);
  const depth = c / (b * b);
  // DCR takes the block offsets from the outer channel digits, CRD from the inner ones.
  const blocks = n.string('mode', 'DCR') === 'DCR'
    ? x.reshape([batch, b, b, depth, h, w]).permute([0, 3, 4, 1, 5, 2])
    : x.reshape([batch, depth, b, b, h, w]).permute([0, 1, 4, 2, 5, 3]);
  return [blocks.reshape([batch, depth, h * b, w * b])];
}

function spaceToDepth(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const b = blockSize(n, x);
  const [batch, c, h, w] = x.shape;
  if (h % b || w % b) throw n.error(`sides ${h}x${w} are not multiples of blocksize ${b}`);
  const blocks = x.reshape([batch, c, h / b, b, w / b, b]).permute([0, 3, 5, 1, 2, 4]);
  return [blocks.reshape([batch, c * b * b, h / b, w / b])];
}

/** Indices made non-negative along `size`, range-checked. */
function wrapIndices(n: OnnxNode, raw: number[], size: number): number[] {
  return raw.map((i) => {
    const r = i < 0 ? i + size : i;
    if (!(r >= 0 && r < size)) throw n.error(`index ${i} is out of range for an axis of size ${size}`);
    return r;
  });
}

function gatherElements(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const indices = need(n, inputs, 1);
  const ax = axis(n, n.int('axis', 0), x.ndim);
  return [x.gather(ax, indexTensor(wrapIndices(n, ints(indices), x.shape[ax]), dimsOf(indices), ctx))];
}

/** ONNX's scatter reductions by the engine's names. */
export const SCATTER_REDUCTIONS = { none: 'none', add: 'sum', mul: 'prod', max: 'amax', min: 'amin' } as Record<string, 'none' | 'sum' | 'prod' | 'amax' | 'amin'>;

function scatterElements(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const indices = need(n, inputs, 1);
  const updates = T(need(n, inputs, 2), ctx);
  const ax = axis(n, n.int('axis', 0), x.ndim);
  const index = indexTensor(wrapIndices(n, ints(indices), x.shape[ax]), dimsOf(indices), ctx);
  return [F.scatter(x, ax, index, updates.to({ dtype: x.dtype }), SCATTER_REDUCTIONS[n.string('reduction', 'none')])];
}

/** GatherND: index tuples into the leading dims after `batch_dims`, each picking a slice. */
function gatherND(n: OnnxNode, inputs: Inputs, ctx: RunContext): Tensor[] {
  const x = T(need(n, inputs, 0), ctx);
  const indices = need(n, inputs, 1);
  const idxDims = dimsOf(indices);
  const b = n.int('batch_dims', 0);
  const k = idxDims[idxDims.length - 1];
  const dims = x.shape;
  if (!(b >= 0 && k >= 1 && b + k <= dims.length && idxDims.slice(0, b).join() === dims.slice(0, b).join())) {
    throw n.error(`indices of shape [${idxDims}] with batch_dims ${b} do not fit data of shape [${dims}]`);
  }
  const picked = dims.slice(b, b + k);
  const perBatch = product(picked);
  const tuples = product(idxDims.slice(b, -1));
  const flat = ints(indices);
  const rows: number[] = [];
  for (let t = 0; t < flat.length / k; t++) {
    const batch = Math.floor(t / tuples);
    let row = 0;
    for (let j = 0; j < k; j++) row = row * picked[j] + wrapIndices(n, [flat[t * k + j]], picked[j])[0];
    rows.push(batch * perBatch + row);
  }
  const rest = dims.slice(b + k);
  const table = x.reshape([product(dims.slice(0, b)) * perBatch, product(rest)]);
  return [table.indexSelect(0, indexTensor(rows, [rows.length], ctx)).reshape([...idxDims.slice(0, -1), ...rest])];
}

export const LAYOUT_OPERATORS: Record<string, OpSpec> = {
  DepthToSpace: {
    check: (n) => {
      const mode = n.string('mode', 'DCR');
      if (mode !== 'DCR' && mode !== 'CRD') unsupported(n, `mode '${mode}'`);
    },
    run: depthToSpace,
  },
  SpaceToDepth: { run: spaceToDepth },
  Tile: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const repeats = ints(need(n, inputs, 1));
      if (repeats.length !== x.ndim || repeats.some((r) => r < 0)) throw n.error(`repeats [${repeats}] do not fit an input of rank ${x.ndim}`);
      return [x.repeat(repeats)];
    },
  },
  Trilu: {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      if (x.ndim < 2) throw n.error(`needs an input of rank 2 or more, got ${x.ndim}`);
      const k = inputs[1] ? ints(inputs[1])[0] : 0;
      return [F.triangle(x, n.int('upper', 1) === 1, k)];
    },
  },
  GatherElements: { run: gatherElements },
  GatherND: { run: gatherND },
  ScatterElements: {
    check: (n) => {
      const reduction = n.string('reduction', 'none');
      if (!Object.hasOwn(SCATTER_REDUCTIONS, reduction)) unsupported(n, `reduction '${reduction}'`);
    },
    run: scatterElements,
  },
};
