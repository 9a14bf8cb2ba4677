// The training step the benchmarks time, written once so that every bench measures the same step.
import { noGrad, tidy, type Tensor } from '../src/engine/index.js';
import { Adam, type Module } from '../src/nn/index.js';
import type { SegNet } from '../src/models/segnet.js';
import { finetuneLoss } from '../src/train/finetune.js';
import { encodeAll } from '../src/train/encoding-cache.js';
import { prepareForFinetune, speedLayout, withSpeedOptions, type SpeedOptions } from '../src/train/speed.js';

/**
 * The S2SNets fine-tune step as the fine-tune job takes it (src/train/finetune.ts): the models
 * prepared with the speed options, the frozen encoder without an autograd graph, the decoder
 * learning from the frozen classifier's cross-entropy with Adam.
 * @param ae the autoencoder (its encoder is frozen and set to eval mode here)
 * @param classifier the classifier (frozen, eval mode, and folded or laid out as `speed` says)
 * @param speed the job's speed options (PLAIN_STEP: none)
 * @param x a batch of inputs (NCHW; the step lays it out as the job does)
 * @param y its labels
 * @param lr Adam's learning rate
 * @param o cachedEncodings: the step reads the batch's encoding (computed here, once) instead of
 *   running the encoder, as the fine-tunes of a run read their encode job's
 * @example const step = finetuneStep(ae, classifier, defaultPlan().finetune.speed, x, y, 1e-3); step();
 */
export function finetuneStep(ae: SegNet, classifier: Module, speed: SpeedOptions, x: Tensor, y: Tensor, lr: number, o: { cachedEncodings?: boolean } = {}): () => void {
  ae.encoder.freeze().eval();
  const encoder = prepareForFinetune(ae, classifier, speed);
  const optimizer = new Adam(ae.decoder.trainableParameters(), { lr });
  // A fine-tune of the run reads every step's encoding from the encodings its encode job computed.
  const cache = o.cachedEncodings ? encodeAll(x, x.shape[0], (b) => noGrad(() => encoder.encode(speedLayout(speed)(b))), { channelsLast: speed.channelsLast ?? false, device: x.device }) : null;
  const all = Array.from({ length: x.shape[0] }, (_, i) => i);
  const encodingOf = cache ? () => cache.lookup(all) : undefined;
  const loss = withSpeedOptions(speed, x.device.startsWith('cuda') ? 'cuda' : 'cpu', finetuneLoss(encoder, ae, classifier, { encodingOf }));
  const batch = { x, y };
  return () =>
    tidy(() => {
      const value = loss(batch, 0);
      optimizer.zeroGrad();
      value.backward();
      optimizer.step();
    });
}

/** No speed options: the step a plain PyTorch loop takes. */
export const PLAIN_STEP: SpeedOptions = {};

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
