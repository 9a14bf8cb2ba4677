// Batches addressed by step number: step s is batch (s mod stepsPerEpoch) of epoch
// floor(s / stepsPerEpoch), whose order is a seeded permutation. Random access by step is what
// lets a resumed run see exactly the batches an uninterrupted run would have seen.
import { tensor } from '../engine/index.js';
import type { Dataset } from '../data/dataset.js';
import { deriveSeed, permutation } from '../data/random.js';
import type { Batch } from './loop.js';

export interface StepBatches {
  stepsPerEpoch: number;
  batch(step: number): Batch;
}

export function stepBatches(d: Dataset, o: { batchSize: number; seed: number; device?: string }): StepBatches {
  const n = d.labels.shape[0];
  const batchSize = Math.min(o.batchSize, n);
  if (!(batchSize > 0)) throw new RangeError(`batch size must be > 0 and the dataset non-empty (got ${o.batchSize}, ${n} examples)`);
  const stepsPerEpoch = Math.floor(n / batchSize);
  let epochCached = -1;
  let order: Int32Array = new Int32Array(0);
  return {
    stepsPerEpoch,
    batch(step: number): Batch {
      const epoch = Math.floor(step / stepsPerEpoch);
      if (epoch !== epochCached) {
        order = permutation(n, deriveSeed(o.seed, 'epoch', epoch));
        epochCached = epoch;
      }
      const start = (step % stepsPerEpoch) * batchSize;
      const index = tensor(BigInt64Array.from(order.subarray(start, start + batchSize), (i) => BigInt(i)), [batchSize], { device: d.images.device });
      const x = d.images.indexSelect(0, index);
      const y = d.labels.indexSelect(0, index);
      index.dispose();
      if (!o.device || o.device === x.device) return { x, y };
      const moved = { x: x.to({ device: o.device, nonBlocking: true }), y: y.to({ device: o.device, nonBlocking: true }) };
      x.dispose();
      y.dispose();
      return moved;
    },
  };
}
