// Pretraining of the generic autoencoder A_S: pixel-wise MSE reconstruction, no labels.
import { F } from '../engine/index.js';
import { cosineSchedule, inputLayout } from '../nn/index.js';
import type { SegNet } from '../models/segnet.js';
import { trainLoop, type TrainLoopResult } from './loop.js';
import { makeOptimizer, type CommonTrainOptions } from './classifier.js';

/**
 * Pretrains A_S: MSE between the AE's reconstruction and its input, cosine learning-rate decay.
 *
 * @param ae The autoencoder (changed in place; left in NHWC layout with `channelsLast`).
 * @param o Steps, learning rate, batches, checkpoint, layout.
 * @returns The loss curve and final loss.
 * @throws NonFiniteLossError, TrainingInterruptedError (see loop.ts)
 * @example await pretrainAutoencoder(ae, { steps: 1000, lr: 2e-3, seed: 1, batch: batches.batch, channelsLast: true });
 */
export function pretrainAutoencoder(ae: SegNet, o: CommonTrainOptions): Promise<TrainLoopResult> {
  const input = inputLayout(ae, o.channelsLast);
  const optimizer = makeOptimizer(o.optimizer ?? 'adam', ae.trainableParameters(), o.lr, o.weightDecay);
  return trainLoop({
    name: 'pretrain A_S',
    steps: o.steps,
    optimizer,
    schedule: cosineSchedule(o.lr, o.steps),
    batch: o.batch,
    ready: o.ready,
    loss: (b) => {
      const x = input(b.x);
      return F.mseLoss(ae.forward(x), x);
    },
    modules: { ae },
    seed: o.seed,
    checkpoint: o.checkpoint,
    signal: o.signal,
    onProgress: o.onProgress,
    readLossEvery: o.readLossEvery,
  });
}
