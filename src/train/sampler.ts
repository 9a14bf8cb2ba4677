// Training batches addressed by step number (the data layer's BatchOrder), moved to the
// training device. Random access by step lets a resumed run see exactly the batches an
// uninterrupted run would have seen.
import { BatchOrder, batchAt, datasetSize, selectBatch, type Batch, type Dataset } from '../data/index.js';
import type { Tensor } from '../engine/index.js';
import { toDeviceAsync } from './speed.js';

export interface StepBatches {
  stepsPerEpoch: number;
  batch(step: number): Batch;
  /** The positions in the dataset of step's batch, in batch order. */
  positions(step: number): Int32Array;
  /** The images at these positions, on the device, as batch() holds them. */
  select(positions: ArrayLike<number>): Tensor;
}

export function stepBatches(d: Dataset, o: { batchSize: number; seed: number; device?: string }): StepBatches {
  const order = new BatchOrder(datasetSize(d), { batchSize: Math.min(o.batchSize, datasetSize(d)), seed: o.seed, dropLast: true });
  return {
    stepsPerEpoch: order.batchesPerEpoch,
    positions: (step) => order.stepIndices(step),
    select(positions) {
      const b = selectBatch(d, positions);
      b.y.dispose();
      if (!o.device || o.device === b.x.device) return b.x;
      const moved = b.x.to({ device: o.device });
      b.x.dispose();
      return moved;
    },
    batch(step: number): Batch {
      const b = batchAt(d, order, step);
      if (!o.device || o.device === b.x.device) return b;
      // Through pinned memory on CUDA, so the copy overlaps the previous step's queued work.
      const moved = toDeviceAsync(b, o.device);
      b.x.dispose();
      b.y.dispose();
      return moved;
    },
  };
}
