// The frozen encoder's outputs kept per image and looked up by position. A decoder fine-tune
// (encoder frozen, no augmentation) gets the same code and pooling indices for an image at every
// step, and so do all the fine-tunes of one A_S: the run encodes its training and check images
// once (the encode job, pipeline/experiment.ts) and every fine-tune reads its batches' encodings
// instead of running the encoder, 18-24 % of the demo's step and more at 224 px (NOTES.md).
// Pooling indices are kept as each maximum's offset in its 2x2 window: one byte instead of eight.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic.js';
import { arange, empty, keep, tensor, tidy, type Tensor } from '../engine/index.js';
import { decodeSafetensors, encodeSafetensors } from '../nn/index.js';
import type { Encoding, SegNetConfig } from '../models/segnet.js';

export class EncodingCacheError extends Error {
  override name = 'EncodingCacheError';
  readonly code = 'S2S_ENCODING_CACHE';
}

/**
 * Bytes the cache takes per image: the float32 code plus one byte per pooled position of every
 * stage.
 * @param config the SegNet's input channels and stages
 * @param height the image height (a multiple of 2^stages)
 * @param width the image width (likewise)
 * @example encodingBytesPerImage({ inChannels: 1, stages: SMALL_STAGES }, 32, 32) // 28,672
 */
export function encodingBytesPerImage(config: SegNetConfig, height: number, width: number): number {
  let bytes = 0;
  let [h, w] = [height, width];
  for (const widths of config.stages) {
    [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
    bytes += widths[widths.length - 1] * h * w;
  }
  return bytes + 4 * config.stages[config.stages.length - 1].at(-1)! * h * w;
}

/** Flat position in the pre-pool H x W plane of each 2x2 window's top-left element: [1, 1, h, w]. */
function windowCorners(h: number, w: number, width: number, device: string): Tensor {
  return tidy(() => {
    const rows = arange(0, h, 1, { dtype: 'float32', device }).mul(2 * width).view([1, 1, h, 1]);
    const cols = arange(0, w, 1, { dtype: 'float32', device }).mul(2).view([1, 1, 1, w]);
    return rows.add(cols);
  });
}

/**
 * Each maximum's offset in its 2x2 window, 2 * row + column, from its flat index in a plane
 * `width` wide. In float32, which is exact below 2^24 (checked at allocation) and vectorizes:
 * int64 division took 3.5x as long.
 */
function windowOffsets(indices: Tensor, width: number): Tensor {
  return tidy(() => {
    const flat = indices.to({ dtype: 'float32' });
    const parity = (t: Tensor) => t.sub(t.mul(0.5).floor().mul(2));
    return parity(flat.div(width).floor()).mul(2).add(parity(flat)).to({ dtype: 'uint8' });
  });
}

const int64 = (positions: ArrayLike<number>) => tensor(BigInt64Array.from(Array.from(positions), BigInt));

/** The storage, allocated at the first store (when the shapes are known). */
interface Storage {
  /** [N, C, h, w] float32. */
  code: Tensor;
  /** Per stage [N, C_s, h_s, w_s] uint8. */
  offsets: Tensor[];
  /** Per stage, the size before pooling (what max-unpooling restores). */
  sizes: [number, number][];
  /** Per stage, windowCorners of its pooled size. */
  corners: Tensor[];
}

export class EncodingCache {
  private storage: Storage | null = null;
  private readonly stored: Uint8Array;
  private count = 0;

  /**
   * An empty cache for `images` images (positions 0 .. images - 1).
   * @param images how many images it can hold
   * @param channelsLast the layout lookups return codes in (that of the encoder's weights)
   * @example const cache = new EncodingCache(train.images.shape[0], true);
   */
  constructor(
    readonly images: number,
    private readonly channelsLast: boolean,
  ) {
    this.stored = new Uint8Array(images);
  }

  /** How many images have their encoding stored. */
  get size(): number {
    return this.count;
  }

  /**
   * Whether every position has its encoding stored.
   * @param positions positions in the image set
   * @example if (!cache.holds(positions)) cache.store(positions, encoder.encode(x));
   */
  holds(positions: ArrayLike<number>): boolean {
    return Array.from(positions).every((p) => this.stored[p] === 1);
  }

  /**
   * Stores the encoding of the images at `positions` (a batch the encoder just encoded).
   * @param positions the batch's positions in the image set, in batch order
   * @param e what the encoder returned for the batch
   * @throws EncodingCacheError when a stage's size is odd, or a plane too large for exact offsets
   * @example cache.store(positions, noGrad(() => encoder.encode(x)));
   */
  store(positions: ArrayLike<number>, e: Encoding): void {
    const s = this.storage ?? (this.storage = this.allocate(e));
    tidy(() => {
      const at = int64(positions).to({ device: s.code.device });
      s.code.indexCopy_(0, at, e.code);
      e.indices.forEach((idx, k) => s.offsets[k].indexCopy_(0, at, windowOffsets(idx, s.sizes[k][1])));
    });
    for (const p of Array.from(positions)) {
      this.count += 1 - this.stored[p];
      this.stored[p] = 1;
    }
  }

  /**
   * The encoding of the images at `positions`, as the encoder returned it (int64 pooling indices).
   * @param positions positions whose encodings are stored
   * @throws EncodingCacheError when one is not stored
   * @example const encoding = cache.lookup(positions);
   */
  lookup(positions: ArrayLike<number>): Encoding {
    const s = this.storage;
    if (!s || !this.holds(positions)) throw new EncodingCacheError('an encoding was looked up before it was stored');
    return tidy(() => {
      const at = int64(positions).to({ device: s.code.device });
      const code = s.code.indexSelect(0, at);
      const indices = s.offsets.map((o, k) => {
        const offset = o.indexSelect(0, at).to({ dtype: 'float32' });
        const row = offset.div(2).floor();
        const col = offset.sub(row.mul(2));
        return s.corners[k].add(row.mul(s.sizes[k][1])).add(col).long();
      });
      return { code: this.channelsLast ? code.contiguous('channels_last') : code, indices, sizes: s.sizes };
    });
  }

  /**
   * The stored encodings as named tensors (`<name>.code`, `<name>.offsets.<stage>`) and the
   * pooling sizes, for saveEncodings.
   * @param name the prefix of the tensors' names
   * @throws EncodingCacheError when an image's encoding is missing
   * @example const { tensors, sizes } = cache.toTensors('train');
   */
  toTensors(name: string): { tensors: Map<string, Tensor>; sizes: [number, number][] } {
    const s = this.storage;
    if (!s || this.count < this.images) throw new EncodingCacheError(`${this.images - this.count} of ${this.images} encodings are missing`);
    const tensors = new Map([[`${name}.code`, s.code], ...s.offsets.map((o, k) => [`${name}.offsets.${k}`, o] as [string, Tensor])]);
    return { tensors, sizes: s.sizes };
  }

  /**
   * A full cache from the tensors toTensors named (taken over, not copied).
   * @param tensors the tensors of a file saveEncodings wrote
   * @param name their prefix
   * @param sizes the pooling sizes toTensors returned
   * @param channelsLast the layout lookups return codes in
   * @throws EncodingCacheError when a tensor is missing or their shapes disagree
   * @example const train = EncodingCache.fromTensors(tensors, 'train', sizes, true);
   */
  static fromTensors(tensors: Map<string, Tensor>, name: string, sizes: [number, number][], channelsLast: boolean): EncodingCache {
    const take = (key: string): Tensor => {
      const t = tensors.get(key);
      if (!t) throw new EncodingCacheError(`the encodings have no tensor '${key}'`);
      return t;
    };
    const code = take(`${name}.code`);
    const offsets = sizes.map((_, k) => take(`${name}.offsets.${k}`));
    const images = code.shape[0];
    offsets.forEach((o, k) => {
      const [h, w] = [sizes[k][0] / 2, sizes[k][1] / 2];
      if (o.dtype !== 'uint8' || o.shape[0] !== images || o.shape[2] !== h || o.shape[3] !== w) {
        throw new EncodingCacheError(`'${name}.offsets.${k}' is ${o.dtype} [${o.shape.join(', ')}], not uint8 [${images}, C, ${h}, ${w}]`);
      }
    });
    const cache = new EncodingCache(images, channelsLast);
    cache.storage = { code, offsets, sizes, corners: offsets.map((o, k) => keep(windowCorners(o.shape[2], o.shape[3], sizes[k][1], code.device))) };
    cache.stored.fill(1);
    cache.count = images;
    return cache;
  }

  dispose(): void {
    if (this.storage) for (const t of [this.storage.code, ...this.storage.offsets, ...this.storage.corners]) t.dispose();
    this.storage = null;
    this.stored.fill(0);
    this.count = 0;
  }

  private allocate(e: Encoding): Storage {
    for (const [h, w] of e.sizes) {
      if (h % 2 || w % 2) throw new EncodingCacheError(`cannot cache encodings: a ${h}x${w} feature map does not split into 2x2 pooling windows`);
      if (h * w >= 2 ** 24) throw new EncodingCacheError(`cannot cache encodings: a ${h}x${w} feature map is too large for exact window offsets`);
    }
    const device = e.code.device;
    return {
      code: keep(empty([this.images, ...e.code.shape.slice(1)], { dtype: 'float32', device })),
      offsets: e.indices.map((idx) => keep(empty([this.images, ...idx.shape.slice(1)], { dtype: 'uint8', device }))),
      sizes: e.sizes,
      corners: e.indices.map((idx, k) => keep(windowCorners(idx.shape[2], idx.shape[3], e.sizes[k][1], device))),
    };
  }
}

/**
 * Encodes every image once, in batches of `batchSize` in position order, as the encode job does
 * for the fine-tunes of an A_S.
 * @param images [N, C, H, W] model inputs (any device; each batch is moved to `device`)
 * @param batchSize images per encoder call
 * @param encode the frozen encoder as the fine-tunes run it (inputs already laid out), under noGrad
 * @param o channelsLast: the layout of the encoder's weights; device: where the encodings live
 * @throws EncodingCacheError when a feature map does not split into 2x2 windows
 * @example const cache = encodeAll(train.images, 32, (x) => noGrad(() => encoder.encode(layout(x))), { channelsLast: true, device: 'cpu' });
 */
export function encodeAll(images: Tensor, batchSize: number, encode: (x: Tensor) => Encoding, o: { channelsLast: boolean; device: string }): EncodingCache {
  const n = images.shape[0];
  const cache = new EncodingCache(n, o.channelsLast);
  for (let start = 0; start < n; start += batchSize) {
    const positions = Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    tidy(() => cache.store(positions, encode(images.slice(0, start, start + positions.length).to({ device: o.device }))));
  }
  return cache;
}

/**
 * Writes named sets of encodings (say, the training and check images) to one safetensors file,
 * atomically.
 * @param path the file
 * @param sets full caches by name
 * @throws EncodingCacheError when a cache is not full
 * @example saveEncodings(join(dir, 'encodings.safetensors'), { train, check });
 */
export function saveEncodings(path: string, sets: Record<string, EncodingCache>): void {
  tidy(() => {
    const tensors = new Map<string, Tensor>();
    const sizes: Record<string, [number, number][]> = {};
    for (const [name, cache] of Object.entries(sets)) {
      const part = cache.toTensors(name);
      for (const [k, t] of part.tensors) tensors.set(k, t.cpu());
      sizes[name] = part.sizes;
    }
    writeFileAtomic(path, encodeSafetensors(tensors, { encodingSizes: JSON.stringify(sizes) }));
  });
}

/**
 * Reads what saveEncodings wrote.
 * @param path the file
 * @param o channelsLast: the layout lookups return codes in; device: where the encodings go
 * @returns full caches by name
 * @throws EncodingCacheError when the file holds no encodings; SafetensorsError when it is damaged
 * @example const { train, check } = loadEncodings(file, { channelsLast: true, device: 'cpu' });
 */
export function loadEncodings(path: string, o: { channelsLast: boolean; device: string }): Record<string, EncodingCache> {
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path, o.device);
  if (!metadata.encodingSizes) throw new EncodingCacheError(`${path}: not a file of encodings (no encodingSizes in its metadata)`);
  const sizes = JSON.parse(metadata.encodingSizes) as Record<string, [number, number][]>;
  return Object.fromEntries(Object.entries(sizes).map(([name, s]) => [name, EncodingCache.fromTensors(tensors, name, s, o.channelsLast)]));
}
