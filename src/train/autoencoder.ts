// Pretraining of the generic autoencoder A_S: pixel-wise MSE reconstruction, no labels.
import { F } from '../engine/index.js';
import { cosineSchedule } from '../nn/index.js';
import type { SegNet } from '../models/segnet.js';
import { trainLoop, type TrainLoopResult } from './loop.js';
import { makeOptimizer, type CommonTrainOptions } from './classifier.js';

export function pretrainAutoencoder(ae: SegNet, o: CommonTrainOptions): Promise<TrainLoopResult> {
  const optimizer = makeOptimizer(o.optimizer ?? 'adam', ae.trainableParameters(), o.lr, o.weightDecay);
  return trainLoop({
    name: 'pretrain A_S',
    steps: o.steps,
    optimizer,
    schedule: cosineSchedule(o.lr, o.steps),
    batch: o.batch,
    loss: (b) => F.mseLoss(ae.forward(b.x), b.x),
    modules: { ae },
    seed: o.seed,
    checkpoint: o.checkpoint,
    signal: o.signal,
    onProgress: o.onProgress,
    readLossEvery: o.readLossEvery,
  });
}
