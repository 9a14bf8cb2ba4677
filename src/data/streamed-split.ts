// A split read from disk through an image index (a folder's or tar shards'): a batch is decoded
// when read, each image through its view, as torchvision's reference recipe prepares ImageNet:
//   train: RandomResizedCrop(size) and a random left-right flip, drawn per image and epoch;
//   eval:  shorter side resized to `resize`, centre crop `size`.
// Decoding runs on libuv's thread pool, a bounded number of images at a time, each straight into
// its place in the batch: a JPEG is read and decoded in one trip (native/jpeg.cc), other formats
// through sharp. The pixels stay uint8 on the host and become float, and normalized, on the device.
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { tensor, tidy, type JpegFileSpan } from '../engine/index.js';
import { decodeStoredInto, ImageFolderError, type CropPlan } from './decode.js';
import { imagePath } from './folder-index.js';
import type { ImageIndex } from './image-index.js';
import type { SkippedFile } from './folder-index.js';
import { deriveSeed, Rng } from './random.js';
import { checkPositions, labelTensor, remapped, type HostBatch, type ImageSplit } from './split.js';
import { centerCropBox, normalizedFromBytes, randomResizedCropBox, resizedSize } from './transforms.js';
import { ioReason } from '../common/errors.js';

/** How a streamed split prepares each image. */
export interface StreamView {
  /** 'train': random resized crop and flip per image and epoch; 'eval': resize, centre crop. */
  kind: 'train' | 'eval';
  /** Side of the square output. */
  size: number;
  /** Eval: the shorter side before the centre crop (torchvision's recipe: 256 for 224). */
  resize: number;
  channels: 1 | 3;
  mean: readonly number[];
  std: readonly number[];
}

/** Images decoded at once: enough to keep the thread pool busy, few enough to bound memory. */
export const DECODES_IN_FLIGHT = Math.max(4, 2 * availableParallelism());

/**
 * The crop plan of one image under a view.
 * @param view the view
 * @param height the image's height (from the index)
 * @param width its width
 * @param rng the image's draws (training views)
 * @example viewPlan({ kind: 'eval', size: 224, resize: 256, ... }, 375, 500, null)
 */
export function viewPlan(view: Pick<StreamView, 'kind' | 'size' | 'resize'>, height: number, width: number, rng: Rng | null): CropPlan {
  if (view.kind === 'train') {
    const box = randomResizedCropBox(height, width, rng!);
    return { extract: box, output: [view.size, view.size], flip: rng!.next() < 0.5 };
  }
  const [h, w] = resizedSize(height, width, Math.max(view.resize, view.size));
  return { resize: [h, w], extract: { ...centerCropBox(h, w, view.size, view.size), height: view.size, width: view.size } };
}

/** Where image i of an index lies: a file of a folder, or a member of a tar shard; and its name for errors. */
function storage(index: ImageIndex): { span(i: number): JpegFileSpan; describe(i: number): string } {
  const size = (i: number) => ({ height: index.heights[i], width: index.widths[i] });
  if (index.kind === 'folder') return { span: (i) => ({ path: imagePath(index, i), offset: 0, length: -1, ...size(i) }), describe: (i) => imagePath(index, i).toString('utf8') };
  const shardPaths = index.shards.map((p) => Buffer.from(p));
  return {
    span: (i) => ({ path: shardPaths[index.shardOf[i]], offset: index.offsets[i], length: index.bytes[i], ...size(i) }),
    describe: (i) => `${index.shards[index.shardOf[i]]}:${index.members[i]}`,
  };
}

/**
 * A split of an index's images at `positions`, decoded through `view` when read.
 * @param index the folder or shard index
 * @param positions the index's images the split holds, in split order
 * @param view how each image is prepared
 * @param name the split's name
 * @example const train = streamedSplit(index, trainIdx, { kind: 'train', size: 224, resize: 256, channels: 3, mean, std }, 'train');
 */
export function streamedSplit(index: ImageIndex, positions: ArrayLike<number>, view: StreamView, name: string): ImageSplit {
  return remapped(indexSplit(index, view, name), checkPositions(name, index.labels.length, positions), name);
}

/** The whole index as a split (position = image number). */
function indexSplit(index: ImageIndex, view: StreamView, name: string): ImageSplit {
  // libvips' operation cache only costs time and memory when every image is new.
  sharp.cache(false);
  const n = index.labels.length;
  const labels = Int32Array.from(index.labels);
  const stored = storage(index);
  const failures: SkippedFile[] = [];
  const failed = new Set<number>();
  const pixelsPer = view.size * view.size * view.channels;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const slot = async (): Promise<void> => {
    if (inFlight < DECODES_IN_FLIGHT) return void inFlight++;
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => (waiting.length ? waiting.shift()!() : void inFlight--);
  // One image through the view into `out`; one that cannot be decoded is replaced by the next readable image (said once, in failures()).
  const decodeOne = async (i: number, draws: number, out: Uint8Array): Promise<void> => {
    for (let k = 0, j = i; k < n; k++, j = (j + 1) % n) {
      if (failed.has(j)) continue;
      // A fresh generator per call: the same image and epoch always draw the same crop.
      const planFor = (h: number, w: number) => viewPlan(view, h, w, view.kind === 'train' ? new Rng(deriveSeed(draws, j)) : null);
      await slot();
      try {
        return await decodeStoredInto(stored.span(j), stored.describe(j), { channels: view.channels }, planFor, out);
      } catch (e) {
        if (!(e instanceof ImageFolderError) && (e as NodeJS.ErrnoException).code === undefined) throw e;
        failed.add(j);
        failures.push({ file: stored.describe(j), reason: e instanceof ImageFolderError ? e.reason : `cannot read (${ioReason(e)})` });
      } finally {
        release();
      }
    }
    throw new ImageFolderError(name, 'no image of the split can be decoded');
  };
  const split: ImageSplit = {
    name,
    classNames: index.classNames,
    length: n,
    labels,
    channels: view.channels,
    size: view.size,
    streamed: true,
    async read(positions, draws = 0) {
      const at = checkPositions(name, n, positions);
      const pixels = new Uint8Array(at.length * pixelsPer);
      await Promise.all(Array.from(at, (i, k) => decodeOne(i, draws, pixels.subarray(k * pixelsPer, (k + 1) * pixelsPer))));
      return { positions: at, pixels };
    },
    toBatch(host: HostBatch, device = 'cpu') {
      const b = host.positions.length;
      // [B, H, W, C] bytes are a channels-last [B, C, H, W] batch: they travel as bytes (pinned
      // for CUDA) and become float, and normalized, on the device.
      const x = tidy(() => normalizedFromBytes(tensor(host.pixels!, [b, view.size, view.size, view.channels]).transferTo(device), view.mean, view.std));
      return { x, y: labelTensor({ labels }, host.positions, device) };
    },
    // A subset shares this split's open shards and its list of failures.
    subset: (positions, subName = name) => remapped(split, checkPositions(subName, n, positions), subName),
    failures: () => [...failures],
  };
  return split;
}
