// Supervised classifier training (cross-entropy), for the zoo models.
import { F, type Tensor } from '../engine/index.js';
import { Adam, SGD, cosineSchedule, inputLayout, type Module, type Optimizer } from '../nn/index.js';
import { trainLoop, type Batch, type CheckpointStore, type TrainLoopResult, type StepProgress } from './loop.js';

export type OptimizerName = 'adam' | 'sgd';

export interface CommonTrainOptions {
  steps: number;
  lr: number;
  optimizer?: OptimizerName;
  weightDecay?: number;
  seed: number;
  batch(step: number): Batch;
  /** See TrainLoopOptions.ready. */
  ready?(step: number, end: number): Promise<void>;
  checkpoint?: CheckpointStore;
  signal?: AbortSignal;
  onProgress?(p: StepProgress): void;
  /** See TrainLoopOptions.readLossEvery. */
  readLossEvery?: number;
  /**
   * Weights and batches in NHWC layout, which oneDNN trains the zoo and SegNet convolutions faster
   * in (bench/training.ts, bench/finetune.ts); values differ from NCHW only by float rounding.
   */
  channelsLast?: boolean;
}

/** The optimizer a training job asked for, over the given parameters. */
export function makeOptimizer(name: OptimizerName, params: Tensor[], lr: number, weightDecay = 0): Optimizer {
  return name === 'sgd' ? new SGD(params, { lr, momentum: 0.9, weightDecay, nesterov: true }) : new Adam(params, { lr, weightDecay });
}

/**
 * Trains a classifier on (image, label) batches with cross-entropy and a cosine learning-rate decay.
 *
 * @param model The classifier (changed in place; left in NHWC layout with `channelsLast`).
 * @param o Steps, learning rate, batches, checkpoint, layout.
 * @returns The loss curve and final loss.
 * @throws NonFiniteLossError, TrainingInterruptedError (see loop.ts)
 * @example await trainClassifier(model, { steps: 1000, lr: 2e-3, seed: 0, batch: batches.batch, channelsLast: true });
 */
export function trainClassifier(model: Module, o: CommonTrainOptions & { name?: string }): Promise<TrainLoopResult> {
  const input = inputLayout(model, o.channelsLast);
  const optimizer = makeOptimizer(o.optimizer ?? 'adam', model.trainableParameters(), o.lr, o.weightDecay);
  return trainLoop({
    name: o.name ?? 'train classifier',
    steps: o.steps,
    optimizer,
    schedule: cosineSchedule(o.lr, o.steps),
    batch: o.batch,
    ready: o.ready,
    loss: (b) => F.crossEntropy(model.forward(input(b.x)), b.y),
    modules: { model },
    seed: o.seed,
    checkpoint: o.checkpoint,
    signal: o.signal,
    onProgress: o.onProgress,
    readLossEvery: o.readLossEvery,
  });
}
