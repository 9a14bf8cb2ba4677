// Training batches addressed by step number (the data layer's BatchOrder), moved to the
// training device. Random access by step lets a resumed run see exactly the batches an
// uninterrupted run would have seen.
import { BatchOrder, batchAt, datasetSize, DatasetError, deriveSeed, quietly, type Batch, type Dataset, type HostBatch, type ImageSplit } from '../data/index.js';
import { toDeviceAsync } from './speed.js';

export interface StepBatches {
  stepsPerEpoch: number;
  batch(step: number): Batch;
  /** The positions in the dataset of step's batch, in batch order. */
  positions(step: number): Int32Array;
  /**
   * Resolves once step's batch is read (see TrainLoopOptions.ready); a split in memory is always
   * ready. Steps after it are read ahead, but none at or past `end` when given (the steps the
   * caller takes): at the end of a short fine-tune, batches read past it would be decoded for nothing.
   */
  ready(step: number, end?: number): Promise<void>;
}

/** Batches read from a streamed split ahead of the step that needs them. */
export const DEFAULT_PREFETCH = 4;

/** Through pinned memory on CUDA, so the copy overlaps the previous step's queued work. */
function onDevice(b: Batch, device: string | undefined): Batch {
  if (!device || device === b.x.device) return b;
  const moved = toDeviceAsync(b, device);
  b.x.dispose();
  b.y.dispose();
  return moved;
}

/**
 * The training batches of an in-memory dataset, a seeded permutation per epoch.
 * @param d the dataset
 * @param o batch size, seed of the order, device
 * @example const b = stepBatches(data, { batchSize: 32, seed: 1 }).batch(0);
 */
export function stepBatches(d: Dataset, o: { batchSize: number; seed: number; device?: string }): StepBatches {
  const order = new BatchOrder(datasetSize(d), { batchSize: Math.min(o.batchSize, datasetSize(d)), seed: o.seed, dropLast: true });
  return {
    stepsPerEpoch: order.batchesPerEpoch,
    positions: (step) => order.stepIndices(step),
    batch: (step) => onDevice(batchAt(d, order, step), o.device),
    ready: async () => {},
  };
}

/**
 * The training batches of a split, a seeded permutation per epoch. A streamed split's batches are
 * read `prefetch` steps ahead (decoded while the steps before them train), and a training split
 * draws each image's crop and flip from the step's epoch, so a resumed run reads the same images
 * the same way.
 * @param split the images
 * @param o batch size, seed of the order, device, prefetch (batches read ahead, default DEFAULT_PREFETCH)
 * @throws DatasetError from batch(step) when a streamed split's step was not awaited with ready(step)
 * @example const b = splitBatches(train, { batchSize: 32, seed: 1 }); await b.ready(0); const batch = b.batch(0);
 */
export function splitBatches(split: ImageSplit, o: { batchSize: number; seed: number; device?: string; prefetch?: number }): StepBatches {
  const order = new BatchOrder(split.length, { batchSize: Math.min(o.batchSize, split.length), seed: o.seed, dropLast: true });
  const epochOf = (step: number) => Math.floor(step / order.batchesPerEpoch);
  const reading = new Map<number, Promise<HostBatch>>();
  const read = new Map<number, HostBatch>();
  const ahead = split.streamed ? Math.max(1, o.prefetch ?? DEFAULT_PREFETCH) : 0;
  return {
    stepsPerEpoch: order.batchesPerEpoch,
    positions: (step) => order.stepIndices(step),
    async ready(step, end = Infinity) {
      if (!split.streamed) return;
      for (let s = step; s < Math.min(step + ahead, Math.max(end, step + 1)); s++) if (!reading.has(s) && !read.has(s)) reading.set(s, quietly(split.read(order.stepIndices(s), deriveSeed(o.seed, 'draws', epochOf(s)))));
      // Batches read ahead for steps that were skipped (a resume) are dropped.
      for (const s of reading.keys()) if (s < step) reading.delete(s);
      const host = await reading.get(step)!;
      reading.delete(step);
      read.set(step, host);
    },
    batch(step) {
      let host = read.get(step);
      read.delete(step);
      if (!host && split.streamed) throw new DatasetError(`${split.name}: batch of step ${step} asked for before ready(${step}) resolved`);
      // A streamed batch goes to the device as bytes and becomes float there; one in memory is already float.
      if (host) return split.toBatch(host, o.device);
      return onDevice(split.toBatch({ positions: order.stepIndices(step), pixels: null }, 'cpu'), o.device);
    },
  };
}
