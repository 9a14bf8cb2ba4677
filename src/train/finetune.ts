// S2SNets fine-tuning: the decoder of a pretrained AE learns from a frozen classifier's loss,
// backpropagated through that classifier. The encoder is frozen too (its code and pooling
// indices are computed without autograd), so the decoder can only keep or drop signal, not
// re-encode it. There is no reconstruction term.
import { F, noGrad, type Tensor } from '../engine/index.js';
import { constantSchedule, type Module } from '../nn/index.js';
import type { SegNet } from '../models/segnet.js';
import { trainLoop, type TrainLoopResult } from './loop.js';
import { makeOptimizer, type CommonTrainOptions } from './classifier.js';
import { prepareForFinetune, withSpeedOptions, type SpeedOptions } from './speed.js';

export interface FinetuneOptions extends CommonTrainOptions {
  /** 'labels': the true labels (the paper); 'predictions': the classifier's own argmax on the originals (no labels needed). */
  targets?: 'labels' | 'predictions';
  /** Train encoder and decoder instead of the decoder alone. */
  trainWholeAe?: boolean;
  /** Speed options (mixed precision, channels_last, BatchNorm folding of the frozen classifier); see speed.ts. */
  speed?: SpeedOptions;
  name?: string;
}

export async function finetuneDecoder(ae: SegNet, classifier: Module, o: FinetuneOptions): Promise<TrainLoopResult> {
  classifier.eval().freeze();
  const whole = o.trainWholeAe ?? false;
  ae.encoder.freeze(!whole).train(whole);
  ae.decoder.freeze(false);
  // Before the optimizer is built: channels_last replaces parameter tensors.
  const speed = o.speed ?? {};
  prepareForFinetune(ae, classifier, speed);
  const deviceType = ae.parameters()[0].device.startsWith('cuda') ? 'cuda' : 'cpu';
  const optimizer = makeOptimizer(o.optimizer ?? 'adam', (whole ? ae : ae.decoder).trainableParameters(), o.lr, o.weightDecay);
  const targetOf = (b: { x: Tensor; y: Tensor }): Tensor =>
    o.targets === 'predictions' ? noGrad(() => classifier.forward(b.x).argmax(1)) : b.y;
  const result = await trainLoop({
    name: o.name ?? 'fine-tune decoder',
    steps: o.steps,
    optimizer,
    schedule: constantSchedule(o.lr),
    batch: o.batch,
    loss: withSpeedOptions(speed, deviceType, (b) => {
      const encoding = whole ? ae.encoder.encode(b.x) : noGrad(() => ae.encoder.encode(b.x));
      const reconstruction = ae.decoder.decode(encoding);
      return F.crossEntropy(classifier.forward(reconstruction), targetOf(b));
    }),
    modules: whole ? { ae } : { decoder: ae.decoder },
    seed: o.seed,
    checkpoint: o.checkpoint,
    signal: o.signal,
    onProgress: o.onProgress,
    readLossEvery: o.readLossEvery,
  });
  ae.eval();
  return result;
}
