// Training batches addressed by step number (the data layer's BatchOrder), moved to the
// training device. Random access by step lets a resumed run see exactly the batches an
// uninterrupted run would have seen.
import { BatchOrder, batchAt, datasetSize, type Batch, type Dataset } from '../data/index.js';
import { toDeviceAsync } from './speed.js';

export interface StepBatches {
  stepsPerEpoch: number;
  batch(step: number): Batch;
  /** The positions in the dataset of step's batch, in batch order. */
  positions(step: number): Int32Array;
}

export function stepBatches(d: Dataset, o: { batchSize: number; seed: number; device?: string }): StepBatches {
  const order = new BatchOrder(datasetSize(d), { batchSize: Math.min(o.batchSize, datasetSize(d)), seed: o.seed, dropLast: true });
  // Through pinned memory on CUDA, so the copy overlaps the previous step's queued work.
  const onDevice = (b: Batch): Batch => {
    if (!o.device || o.device === b.x.device) return b;
    const moved = toDeviceAsync(b, o.device);
    b.x.dispose();
    b.y.dispose();
    return moved;
  };
  return {
    stepsPerEpoch: order.batchesPerEpoch,
    positions: (step) => order.stepIndices(step),
    batch: (step) => onDevice(batchAt(d, order, step)),
  };
}
