// A labelled set of images the layers above read by position, a batch at a time, whatever holds
// them: a tensor in memory (the built-in sets: a batch is one index_select) or an image index on
// disk (folders, tar shards: a batch is decoded when asked for; see streamed-split.ts). Reading is
// split in two: read() gathers a batch's bytes on the host (asynchronous, so it can run ahead of
// the training step that needs it; plain JS memory, so a batch read ahead and never used costs
// nothing to drop), toBatch() makes tensors of it in the model's space on a device.
import { tensor, type Tensor } from '../engine/index.js';
import type { Batch } from './batching.js';
import { datasetSize, DatasetError, selectExamples, type Dataset } from './dataset.js';
import type { SkippedFile } from './folder-index.js';

/** A batch's host side: its positions, labels and, for streamed splits, its pixels. */
export interface HostBatch {
  positions: Int32Array;
  /** Interleaved uint8 pixels [B, H, W, C]; null for a split held in memory. */
  pixels: Uint8Array | null;
}

export interface ImageSplit {
  readonly name: string;
  readonly classNames: string[];
  /** Images in the split. */
  readonly length: number;
  /** Class of each position. */
  readonly labels: Int32Array;
  readonly channels: number;
  /** Side of the square images a batch holds. */
  readonly size: number;
  /** Whether a read decodes images (worth starting ahead of the step that needs it). */
  readonly streamed: boolean;
  /**
   * Gathers the images at `positions`. `draws` seeds a training split's random crops and flips
   * (each image's from draws and the image), so a batch is a pure function of its positions and
   * draws (a sampler derives draws from its seed and the epoch); an evaluation split ignores it.
   */
  read(positions: ArrayLike<number>, draws?: number): Promise<HostBatch>;
  /** The batch as tensors: images [B, C, H, W] float32 normalized (the models' space), labels [B] int64, on `device` (default cpu). */
  toBatch(host: HostBatch, device?: string): Batch;
  /** The images at `positions` as a split of their own (positions renumbered from 0). */
  subset(positions: ArrayLike<number>, name?: string): ImageSplit;
  /** Images that failed to decode while streaming and were replaced by the next readable one. */
  failures(): SkippedFile[];
}

/**
 * Checks positions against a split's length.
 * @throws DatasetError naming the split and the first bad position
 */
export function checkPositions(name: string, length: number, positions: ArrayLike<number>): Int32Array {
  const out = Int32Array.from(positions as ArrayLike<number>);
  const bad = out.findIndex((p, i) => p !== (positions as ArrayLike<number>)[i] || p < 0 || p >= length);
  if (bad >= 0) throw new DatasetError(`${name}: index ${(positions as ArrayLike<number>)[bad]} out of range [0, ${length})`);
  return out;
}

/**
 * A split over a dataset held in memory (its images already in the models' space).
 * @param d the dataset; the split reads it and never disposes it
 * @example const train = memorySplit(data.train); const b = train.toBatch(await train.read([0, 1]));
 */
export function memorySplit(d: Dataset): ImageSplit {
  const labels = Int32Array.from(d.labels.toArray());
  const [, channels, size] = d.images.shape;
  return {
    name: d.name,
    classNames: d.classNames,
    length: datasetSize(d),
    labels,
    channels,
    size,
    streamed: false,
    read: async (positions) => ({ positions: checkPositions(d.name, datasetSize(d), positions), pixels: null }),
    toBatch(host, device = 'cpu') {
      const { images, labels: y } = selectExamples(d, host.positions);
      if (images.device === device) return { x: images, y };
      const moved = { x: images.to({ device }), y: y.to({ device }) };
      images.dispose();
      y.dispose();
      return moved;
    },
    subset(positions, name = d.name) {
      const kept = checkPositions(d.name, datasetSize(d), positions);
      const inner = memorySplit({ ...d, name });
      return remapped(inner, kept, name);
    },
    failures: () => [],
  };
}

/**
 * A view of `inner` whose position p is inner's position map[p].
 * @param inner the split
 * @param map inner positions, one per position of the view
 * @param name the view's name
 * @example remapped(split, Int32Array.of(5, 2), 'two images')
 */
export function remapped(inner: ImageSplit, map: Int32Array, name: string): ImageSplit {
  const outer = (positions: ArrayLike<number>) => Int32Array.from(checkPositions(name, map.length, positions), (p) => map[p]);
  return {
    ...inner,
    name,
    length: map.length,
    labels: Int32Array.from(map, (p) => inner.labels[p]),
    read: async (positions, draws) => {
      const host = await inner.read(outer(positions), draws);
      return { ...host, positions: Int32Array.from(positions as ArrayLike<number>) };
    },
    toBatch: (host, device) => inner.toBatch({ ...host, positions: outer(host.positions) }, device),
    subset: (positions, subName = name) => remapped(inner, outer(positions), subName),
    failures: () => inner.failures(),
  };
}

/**
 * Labels of positions as an int64 tensor (for toBatch implementations).
 * @param split the split
 * @param positions its positions
 * @param device where the tensor goes
 * @example labelTensor(split, host.positions, 'cpu')
 */
export function labelTensor(split: Pick<ImageSplit, 'labels'>, positions: Int32Array, device = 'cpu'): Tensor {
  return tensor(BigInt64Array.from(positions, (p) => BigInt(split.labels[p])), [positions.length], { device });
}

/**
 * Marks a read-ahead promise as handled, so that one whose batch is never awaited (the reader
 * stopped early) cannot end the process as an unhandled rejection; an awaited one still throws.
 * @param p the promise
 * @example pending.push(quietly(split.read(positions)));
 */
export function quietly<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/**
 * A split's batches in position order, each read while the ones before it are used (a streamed
 * split decodes `prefetch` batches ahead). The caller owns each batch's tensors.
 * @param split the images
 * @param o batchSize; device (default cpu); prefetch (batches read ahead, default 2)
 * @example for await (const { start, batch } of inOrder(data.eval, { batchSize: 250 })) { use(batch); batch.x.dispose(); batch.y.dispose(); }
 */
export async function* inOrder(split: ImageSplit, o: { batchSize: number; device?: string; prefetch?: number }): AsyncGenerator<{ start: number; batch: Batch }> {
  const starts = Array.from({ length: Math.ceil(split.length / o.batchSize) }, (_, k) => k * o.batchSize);
  const readAt = (start: number) => quietly(split.read(Int32Array.from({ length: Math.min(o.batchSize, split.length - start) }, (_, i) => start + i)));
  const ahead = split.streamed ? Math.max(1, o.prefetch ?? 2) : 1;
  const pending = starts.slice(0, ahead).map(readAt);
  for (const [k, start] of starts.entries()) {
    const host = await pending.shift()!;
    if (k + ahead < starts.length) pending.push(readAt(starts[k + ahead]));
    yield { start, batch: split.toBatch(host, o.device) };
  }
}

/**
 * Every image of a (small) split as one batch: a fine-tune's check set, a built-in set's images.
 * @param split the images
 * @param device where the tensors go (default cpu)
 * @example const { x, y } = await readWhole(check, 'cpu');
 */
export async function readWhole(split: ImageSplit, device?: string): Promise<Batch> {
  return split.toBatch(await split.read(Int32Array.from({ length: split.length }, (_, i) => i)), device);
}
