// Reductions (over axes, along one axis, or across inputs) and the index-returning ArgMax/ArgMin/TopK.
import { F, type Tensor } from '../../engine/index.js';
import type { OnnxNode } from './graph.js';
import { Const, broadcastJs, type Value } from './values.js';
import { T, axesOf, axis, ints, need, type Inputs, type OpSpec, type RunContext } from './opkit.js';

type Reducer = (x: Tensor, axes: number[], keep: boolean) => Tensor;

/**
 * A Reduce* operator: axes from the attribute, or from input 1 from opset `axesInputSince` on
 * (13 for ReduceSum, 18 for the others); no axes reduces everything unless noop_with_empty_axes.
 */
function reduce(fn: Reducer, axesInputSince: number): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const keep = n.int('keepdims', 1) === 1;
      const axes = axesOf(n, inputs, 1, axesInputSince);
      if (!axes?.length && n.int('noop_with_empty_axes', 0) === 1) return [x];
      const all = x.shape.map((_, i) => i);
      const list = [...new Set((axes?.length ? axes : all).map((a) => axis(n, a, x.ndim)))];
      return [fn(x, list, keep)];
    },
  };
}

/** The product over several axes, one at a time from the last (prod takes one axis). */
function productOver(x: Tensor, axes: number[], keep: boolean): Tensor {
  return [...axes].sort((a, b) => b - a).reduce((y, a) => F.reduceBy('prod', y, [a], keep), x);
}

/** Max/Min/Sum/Mean across any number of broadcast inputs; Consts stay in JavaScript. */
function across(fold: (a: Tensor, b: Tensor) => Tensor, js: (a: number, b: number) => number, average: boolean): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const values = inputs.filter((v): v is Value => v !== undefined);
      if (values.length === 0) throw n.error('needs at least one input');
      if (values.every((v) => v instanceof Const) && !average) {
        const r = (values as Const[]).reduce<Const | null>((acc, v) => acc && broadcastJs(acc, v, js), values[0] as Const);
        if (!r) throw n.error('the inputs do not broadcast');
        return [r];
      }
      const folded = values.map((v) => T(v, ctx)).reduce((a, b) => fold(a, b));
      return [average ? folded.div(values.length) : folded];
    },
  };
}

/** ArgMax/ArgMin; select_last_index picks the last of equal extremes (found on the reversed axis). */
function argExtreme(smallest: boolean): OpSpec {
  return {
    run: (n, inputs, ctx) => {
      const x = T(need(n, inputs, 0), ctx);
      const ax = axis(n, n.int('axis', 0), x.ndim);
      const keep = n.int('keepdims', 1) === 1;
      if (n.int('select_last_index', 0) === 0) return [F.argExtreme(x, ax, keep, smallest)];
      return [F.argExtreme(x.flip([ax]), ax, keep, smallest).neg().add(x.shape[ax] - 1)];
    },
  };
}

function topK(n: OnnxNode, inputs: Inputs, ctx: RunContext): Value[] {
  const x = T(need(n, inputs, 0), ctx);
  const k = n.opset >= 10 ? ints(need(n, inputs, 1))[0] : n.int('k');
  const ax = axis(n, n.int('axis', -1), x.ndim);
  if (!(k >= 0 && k <= x.shape[ax])) throw n.error(`K = ${k} is out of range for axis ${ax} of size ${x.shape[ax]}`);
  return x.topk(k, ax, n.int('largest', 1) === 1, true);
}

function cumulativeSum(n: OnnxNode, inputs: Inputs, ctx: RunContext): Value[] {
  const x = T(need(n, inputs, 0), ctx);
  const ax = axis(n, ints(need(n, inputs, 1))[0], x.ndim);
  const reverse = n.int('reverse', 0) === 1;
  const source = reverse ? x.flip([ax]) : x;
  let sums = F.cumsum(source, ax);
  // Exclusive sums leave each element out: the running sums shifted by one, starting at zero.
  if (n.int('exclusive', 0) === 1) sums = sums.narrow(ax, 0, x.shape[ax] - 1).pad(padOne(x.ndim, ax));
  return [reverse ? sums.flip([ax]) : sums];
}

/** The engine's pad list adding one zero before the start of axis `ax`. */
function padOne(rank: number, ax: number): number[] {
  const list = new Array<number>(2 * (rank - ax)).fill(0);
  list[list.length - 2] = 1;
  return list;
}

export const REDUCE_OPERATORS: Record<string, OpSpec> = {
  ReduceMean: reduce((x, axes, keep) => x.mean(axes, keep), 18),
  ReduceSum: reduce((x, axes, keep) => x.sum(axes, keep), 13),
  ReduceMax: reduce((x, axes, keep) => F.reduceBy('amax', x, axes, keep), 18),
  ReduceMin: reduce((x, axes, keep) => F.reduceBy('amin', x, axes, keep), 18),
  ReduceProd: reduce(productOver, 18),
  ReduceLogSumExp: reduce((x, axes, keep) => F.reduceBy('logsumexp', x, axes, keep), 18),
  ReduceL1: reduce((x, axes, keep) => x.abs().sum(axes, keep), 18),
  ReduceL2: reduce((x, axes, keep) => x.square().sum(axes, keep).sqrt(), 18),
  ReduceSumSquare: reduce((x, axes, keep) => x.square().sum(axes, keep), 18),
  ReduceLogSum: reduce((x, axes, keep) => x.sum(axes, keep).log(), 18),
  Max: across((a, b) => a.maximum(b), Math.max, false),
  Min: across((a, b) => a.minimum(b), Math.min, false),
  Sum: across((a, b) => a.add(b), (a, b) => a + b, false),
  Mean: across((a, b) => a.add(b), (a, b) => a + b, true),
  ArgMax: argExtreme(false),
  ArgMin: argExtreme(true),
  TopK: { run: topK },
  CumSum: { run: cumulativeSum },
};

