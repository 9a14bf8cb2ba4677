// Training batches addressed by step number (the data layer's BatchOrder), moved to the
// training device. Random access by step lets a resumed run see exactly the batches an
// uninterrupted run would have seen.
import { BatchOrder, batchAt, datasetSize, type Batch, type Dataset } from '../data/index.js';

export interface StepBatches {
  stepsPerEpoch: number;
  batch(step: number): Batch;
}

export function stepBatches(d: Dataset, o: { batchSize: number; seed: number; device?: string }): StepBatches {
  const order = new BatchOrder(datasetSize(d), { batchSize: Math.min(o.batchSize, datasetSize(d)), seed: o.seed, dropLast: true });
  return {
    stepsPerEpoch: order.batchesPerEpoch,
    batch(step: number): Batch {
      const b = batchAt(d, order, step);
      if (!o.device || o.device === b.x.device) return b;
      const moved = { x: b.x.to({ device: o.device, nonBlocking: true }), y: b.y.to({ device: o.device, nonBlocking: true }) };
      b.x.dispose();
      b.y.dispose();
      return moved;
    },
  };
}
