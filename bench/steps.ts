// The training step the benchmarks time, written once so that every bench measures the same step.
import { F, noGrad, tidy, type Tensor } from '../src/engine/index.js';
import type { Module, Optimizer } from '../src/nn/index.js';
import type { SegNet } from '../src/models/segnet.js';

/**
 * The S2SNets fine-tune step as the fine-tune job takes it: the frozen encoder runs without an
 * autograd graph, the decoder learns from the frozen classifier's cross-entropy.
 * @param ae the autoencoder (encoder frozen, in eval mode)
 * @param classifier the frozen classifier (eval mode)
 * @param optimizer over the decoder's parameters
 * @param x a batch of inputs, in the layout the models use
 * @param y its labels
 * @example const step = finetuneStep(ae, classifier, new Adam(ae.decoder.trainableParameters(), { lr: 1e-4 }), x, y); step();
 */
export function finetuneStep(ae: SegNet, classifier: Module, optimizer: Optimizer, x: Tensor, y: Tensor): () => void {
  return () =>
    tidy(() => {
      const encoding = noGrad(() => ae.encoder.encode(x));
      const loss = F.crossEntropy(classifier.forward(ae.decoder.decode(encoding)), y);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    });
}

/**
 * Milliseconds per call of `step` over `steps` timed calls, after `warmUp` untimed ones.
 * @param step the work of one step
 * @param steps timed calls
 * @param warmUp untimed calls first (allocator, oneDNN primitive caches)
 * @example const ms = msPerStep(finetuneStep(ae, classifier, optimizer, x, y), 10, 3);
 */
export function msPerStep(step: () => void, steps: number, warmUp: number): number {
  for (let i = 0; i < warmUp; i++) step();
  const start = performance.now();
  for (let i = 0; i < steps; i++) step();
  return (performance.now() - start) / steps;
}
