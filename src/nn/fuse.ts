// BatchNorm folding for frozen, eval-mode networks. In eval mode a BatchNorm2d is the affine map
//   y = (x - mean) * s + beta,   s = gamma / sqrt(var + eps)   (per channel),
// so a Conv2d feeding it directly can absorb it: w' = w * s, b' = beta + (b - mean) * s, and
// the BatchNorm becomes an Identity. The outputs stay the same (up to rounding) and the
// gradients with respect to the input too, at one pass over each activation less, forward
// and backward.
//
// Pairs are found in two places:
//   - a Sequential whose layer i is a Conv2d and layer i + 1 a BatchNorm2d;
//   - a module that runs convs into BatchNorms in its own forward() (e.g. a ResNet bottleneck)
//     and says so by implementing FoldsConvBn.
import { noGrad, tidy, type Tensor } from '../engine/index.js';
import { BatchNorm2d, Conv2d, Identity, Sequential } from './layers.js';
import { inputLayout, type Module } from './module.js';
import { S2SNetsError } from '../common/errors.js';

export class FoldBatchNormError extends S2SNetsError {
  override name = 'FoldBatchNormError';
  static override readonly codes = ['S2SNETS_FOLD_BATCH_NORM'] as const;
}

/**
 * Folds `bn` into `conv` and returns the module to run in place of `bn` from now on (an
 * Identity; the same Identity again when `bn` was folded before).
 */
export type FoldConvBn = (conv: Conv2d, bn: Module) => Module;

/** Implemented by modules whose forward() feeds a Conv2d straight into a BatchNorm2d outside a Sequential. */
export interface FoldsConvBn {
  /** Calls fold(conv, bn) for each such pair and runs what it returns instead of bn. */
  foldConvBn(fold: FoldConvBn): void;
}

function declaresPairs(m: Module): m is Module & FoldsConvBn {
  return typeof (m as Partial<FoldsConvBn>).foldConvBn === 'function';
}

/** w' = w * s, b' = beta + (b - mean) * s with s = gamma / sqrt(var + eps); computed in float64. */
function foldInto(conv: Conv2d, bn: BatchNorm2d): void {
  tidy(() =>
    noGrad(() => {
      const wide = (t: Tensor) => t.to({ dtype: 'float64' });
      const scale = wide(bn.weight).mul(wide(bn.running_var).add(bn.eps).rsqrt());
      const mean = wide(bn.running_mean);
      const shift = conv.bias ? wide(conv.bias).sub(mean) : mean.neg();
      const bias = shift.mul(scale).add(wide(bn.bias));
      conv.weight.copy_(wide(conv.weight).mul(scale.view([-1, 1, 1, 1])));
      if (conv.bias) conv.bias.copy_(bias);
      else conv.setParameter('bias', bias.to({ dtype: conv.weight.dtype }).requiresGrad_(conv.weight.requiresGrad));
    }),
  );
}

/** Folds one pair of children of `host` and puts an Identity where the BatchNorm was registered. */
function foldPair(host: Module, conv: Conv2d, bn: Module): Module {
  if (!(bn instanceof BatchNorm2d)) return bn;
  if (bn.training) throw new FoldBatchNormError(`cannot fold ${host.constructor.name}'s BatchNorm2d: it is in training mode (call eval() first; folding uses the running statistics)`);
  if (bn.numFeatures !== conv.outChannels) throw new FoldBatchNormError(`cannot fold a BatchNorm2d of ${bn.numFeatures} channels into a Conv2d with ${conv.outChannels} outputs in ${host.constructor.name}`);
  foldInto(conv, bn);
  for (const t of bn.stateDict().values()) t.dispose();
  const identity = new Identity();
  for (const [name, child] of host.namedChildren()) if (child === bn) host.addModule(name, identity);
  return identity;
}

/**
 * Folds every Conv2d -> BatchNorm2d pair of a frozen eval-mode network into the Conv2d, in
 * place, and returns the module. The state dict changes (BatchNorm entries go, bias-free convs
 * gain a bias): fold a copy you will not save as the original architecture.
 */
export function foldBatchNorm<M extends Module>(module: M): M {
  for (const [, m] of [...module.namedModules()]) {
    if (m instanceof Sequential) {
      m.layers.forEach((layer, i) => {
        const next = m.layers[i + 1];
        if (layer instanceof Conv2d && next) m.layers[i + 1] = foldPair(m, layer, next);
      });
    } else if (declaresPairs(m)) {
      m.foldConvBn((conv, bn) => foldPair(m, conv, bn));
    }
  }
  return module;
}

/** How inferenceForward lays out the weights and the input. */
export interface InferenceOptions {
  /** NHWC weights and input (faster with oneDNN on the CPU; the output comes back contiguous). */
  channelsLast: boolean;
}

/**
 * Readies a module for forward passes only, in place: eval mode, frozen, its Conv2d -> BatchNorm2d
 * pairs folded, and with `channelsLast` its weights in NHWC. Returns the forward to call, which
 * hands the input over in the weights' layout and returns a contiguous output: the same tensors
 * as module.forward in eval mode, up to float rounding, for less work. The module's state dict
 * changes (see foldBatchNorm): use an instance you will not save.
 * @param module the network (BatchNorms with their running statistics)
 * @param o the layout
 * @returns x -> the module's output; call it under noGrad
 * @example
 * const reconstruct = inferenceForward(ae, { channelsLast: true });
 * const images = noGrad(() => reconstruct(batch));
 */
export function inferenceForward(module: Module, o: InferenceOptions): (x: Tensor) => Tensor {
  foldBatchNorm(module.eval().freeze());
  if (!o.channelsLast) return (x) => module.forward(x);
  const input = inputLayout(module, true);
  return (x) => tidy(() => module.forward(input(x)).contiguous());
}
