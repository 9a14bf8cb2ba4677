// Supervised classifier training (cross-entropy), for the zoo models.
import { F, type Tensor } from '../engine/index.js';
import { Adam, SGD, cosineSchedule, type Module, type Optimizer } from '../nn/index.js';
import { trainLoop, type Batch, type CheckpointStore, type TrainLoopResult, type StepProgress } from './loop.js';

export type OptimizerName = 'adam' | 'sgd';

export interface CommonTrainOptions {
  steps: number;
  lr: number;
  optimizer?: OptimizerName;
  weightDecay?: number;
  seed: number;
  batch(step: number): Batch;
  checkpoint?: CheckpointStore;
  signal?: AbortSignal;
  onProgress?(p: StepProgress): void;
  /** See TrainLoopOptions.readLossEvery. */
  readLossEvery?: number;
}

/** The optimizer a training job asked for, over the given parameters. */
export function makeOptimizer(name: OptimizerName, params: Tensor[], lr: number, weightDecay = 0): Optimizer {
  return name === 'sgd' ? new SGD(params, { lr, momentum: 0.9, weightDecay, nesterov: true }) : new Adam(params, { lr, weightDecay });
}

/** Trains a classifier on (image, label) batches with cross-entropy and a cosine learning-rate decay. */
export function trainClassifier(model: Module, o: CommonTrainOptions & { name?: string }): Promise<TrainLoopResult> {
  const optimizer = makeOptimizer(o.optimizer ?? 'adam', model.trainableParameters(), o.lr, o.weightDecay);
  return trainLoop({
    name: o.name ?? 'train classifier',
    steps: o.steps,
    optimizer,
    schedule: cosineSchedule(o.lr, o.steps),
    batch: o.batch,
    loss: (b) => F.crossEntropy(model.forward(b.x), b.y),
    modules: { model },
    seed: o.seed,
    checkpoint: o.checkpoint,
    signal: o.signal,
    onProgress: o.onProgress,
    readLossEvery: o.readLossEvery,
  });
}
