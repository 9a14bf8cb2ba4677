// Mini-batches drawn from an in-memory dataset. The order of each epoch is a seeded permutation
// (data/random.ts), so a batch is a pure function of (seed, epoch, position): a training run
// resumed at step k sees exactly the batches an uninterrupted run would.
import type { Tensor } from '../engine/index.js';
import { DatasetError, datasetSize, selectExamples, type Dataset } from './dataset.js';
import { deriveSeed, permutation } from './random.js';

export interface Batch {
  /** [B, C, H, W] images. */
  x: Tensor;
  /** [B] int64 labels. */
  y: Tensor;
}

export interface BatchOptions {
  batchSize: number;
  /** Visit examples in a seeded random order each epoch (default true). */
  shuffle?: boolean;
  seed?: number;
  /** Leave out the last, smaller batch of each epoch (default false). */
  dropLast?: boolean;
}

/** Which examples make up each batch of each epoch. */
export class BatchOrder {
  readonly size: number;
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly dropLast: boolean;
  private cached: { epoch: number; order: Int32Array } | null = null;

  constructor(size: number, opts: BatchOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new DatasetError(`batchSize must be a positive integer, got ${opts.batchSize}`);
    this.size = size;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
    this.batchesPerEpoch = this.dropLast ? Math.floor(size / opts.batchSize) : Math.ceil(size / opts.batchSize);
    if (this.batchesPerEpoch === 0) throw new DatasetError(`${size} examples make no batch of ${opts.batchSize} with dropLast`);
  }

  /** The visiting order of one epoch (the last one is cached). */
  epochOrder(epoch: number): Int32Array {
    if (this.cached?.epoch !== epoch) {
      const order = this.shuffle ? permutation(this.size, deriveSeed(this.seed, 'epoch', epoch)) : Int32Array.from({ length: this.size }, (_, i) => i);
      this.cached = { epoch, order };
    }
    return this.cached.order;
  }

  /** Example indices of batch `index` (0-based) within `epoch`. */
  batchIndices(epoch: number, index: number): Int32Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) throw new DatasetError(`batch ${index} out of range [0, ${this.batchesPerEpoch})`);
    return this.epochOrder(epoch).subarray(index * this.batchSize, Math.min(this.size, (index + 1) * this.batchSize));
  }

  /** Example indices of global step `step`, counting batches across epochs from 0. */
  stepIndices(step: number): Int32Array {
    return this.batchIndices(Math.floor(step / this.batchesPerEpoch), step % this.batchesPerEpoch);
  }
}

/** The examples at `indices` as a batch (new tensors on the dataset's device; the caller disposes them). */
export function selectBatch(dataset: Dataset, indices: ArrayLike<number>): Batch {
  const { images, labels } = selectExamples(dataset, indices);
  return { x: images, y: labels };
}

/**
 * The batches of one epoch, in order. Each batch is new tensors the caller owns: they are made
 * outside any tidy() opened in the loop body, so dispose(batch) when done with it. The dataset
 * itself is never disposed.
 */
export function* batches(dataset: Dataset, opts: BatchOptions & { epoch?: number }): Generator<Batch> {
  const order = new BatchOrder(datasetSize(dataset), opts);
  for (let b = 0; b < order.batchesPerEpoch; b++) yield selectBatch(dataset, order.batchIndices(opts.epoch ?? 0, b));
}

/** The batch of global training step `step` (see BatchOrder.stepIndices). */
export function batchAt(dataset: Dataset, order: BatchOrder, step: number): Batch {
  if (order.size !== datasetSize(dataset)) throw new DatasetError(`batch order made for ${order.size} examples, dataset ${dataset.name} has ${datasetSize(dataset)}`);
  return selectBatch(dataset, order.stepIndices(step));
}
