// The frozen encoder's outputs kept per image and looked up by position. A decoder fine-tune
// (encoder frozen, no augmentation) gets the same code and pooling indices for an image at every
// step, and so do all the fine-tunes of one A_S: the run encodes its training and check images
// once (the encode job, experiment/encode-job.ts) and every fine-tune reads its batches' encodings
// instead of running the encoder, 18-24 % of the demo's step and more at 224 px (NOTES.md).
// Pooling indices are kept as each maximum's offset in its 2x2 window: one byte instead of eight.
import { closeSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic.js';
import { arange, empty, keep, tensor, tidy, type Tensor } from '../engine/index.js';
import { encodeSafetensors, readSafetensorsIndex, type SafetensorsIndex } from '../nn/index.js';
import type { Encoding, SegNetConfig } from '../models/segnet.js';
import { S2SNetsError } from '../common/errors.js';

export class EncodingCacheError extends S2SNetsError {
  override name = 'EncodingCacheError';
  static override readonly codes = ['S2SNETS_ENCODING_CACHE'] as const;
  static override readonly legacyCodes = { S2S_ENCODING_CACHE: 'S2SNETS_ENCODING_CACHE' };
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

/** The encoding as the encoder returned it, from stored codes and window offsets (see windowOffsets). */
function expand(code: Tensor, offsets: Tensor[], sizes: [number, number][], corners: Tensor[], channelsLast: boolean): Encoding {
  const indices = offsets.map((o, k) => {
    const offset = o.to({ dtype: 'float32' });
    const row = offset.div(2).floor();
    const col = offset.sub(row.mul(2));
    return corners[k].add(row.mul(sizes[k][1])).add(col).long();
  });
  return { code: channelsLast ? code.contiguous('channels_last') : code, indices, sizes };
}

/** What a fine-tune reads encodings from: a cache in memory, or the encode job's file. */
export interface EncodingSource {
  /** How many images it holds (positions 0 .. images - 1). */
  readonly images: number;
  /** The encoding of the images at `positions`, as the encoder returned it. */
  lookup(positions: ArrayLike<number>): Encoding;
  dispose(): void;
}

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

export class EncodingCache implements EncodingSource {
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
      return expand(s.code.indexSelect(0, at), s.offsets.map((o) => o.indexSelect(0, at)), s.sizes, s.corners, this.channelsLast);
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
 * One named set of a file saveEncodings wrote, read a batch at a time: a lookup reads only its
 * images' rows, so a fine-tune holds a batch of encodings, not the whole file (up to
 * finetune.encodingCacheMiB, and whole files were copied twice on loading).
 */
export class EncodingFile implements EncodingSource {
  readonly images: number;
  private fd: number | null;
  private readonly rows: { begin: number; bytes: number; shape: number[]; dtype: 'float32' | 'uint8' }[];
  private readonly corners: Tensor[];

  /**
   * @param path the file
   * @param index its header (readSafetensorsIndex)
   * @param name the set's prefix ('train', 'check')
   * @param sizes the set's pooling sizes (the file's encodingSizes metadata)
   * @param o channelsLast: the layout lookups return codes in; device: where they go
   * @throws EncodingCacheError when a tensor is missing or their shapes disagree
   */
  constructor(
    readonly path: string,
    index: SafetensorsIndex,
    name: string,
    private readonly sizes: [number, number][],
    private readonly o: { channelsLast: boolean; device: string },
  ) {
    const take = (key: string, dtype: 'float32' | 'uint8') => {
      const e = index.entries.find((x) => x.name === key);
      if (!e) throw new EncodingCacheError(`${path}: the encodings have no tensor '${key}'`);
      if (e.dtype !== dtype) throw new EncodingCacheError(`${path}: '${key}' is ${e.dtype}, not ${dtype}`);
      return e;
    };
    const code = take(`${name}.code`, 'float32');
    const offsets = sizes.map((_, k) => take(`${name}.offsets.${k}`, 'uint8'));
    this.images = code.shape[0];
    offsets.forEach((e, k) => {
      const [h, w] = [sizes[k][0] / 2, sizes[k][1] / 2];
      if (e.shape[0] !== this.images || e.shape[2] !== h || e.shape[3] !== w) throw new EncodingCacheError(`${path}: '${e.name}' is [${e.shape.join(', ')}], not [${this.images}, C, ${h}, ${w}]`);
    });
    this.rows = [code, ...offsets].map((e) => ({ begin: index.dataStart + e.begin, bytes: (e.end - e.begin) / Math.max(1, this.images), shape: e.shape.slice(1), dtype: e.dtype as 'float32' | 'uint8' }));
    this.corners = offsets.map((e, k) => keep(windowCorners(e.shape[2], e.shape[3], sizes[k][1], o.device)));
    this.fd = openSync(path, 'r');
  }

  /**
   * The encoding of the images at `positions`, read from the file.
   * @throws EncodingCacheError for a position outside the set, after dispose, or on a short read
   * @example const encoding = file.lookup(positions);
   */
  lookup(positions: ArrayLike<number>): Encoding {
    const at = Array.from(positions);
    const bad = at.find((p) => !(Number.isInteger(p) && p >= 0 && p < this.images));
    if (bad !== undefined) throw new EncodingCacheError(`position ${bad} is outside the ${this.images} encoded images`);
    if (this.fd === null) throw new EncodingCacheError(`${this.path}: read after dispose`);
    const fd = this.fd;
    return tidy(() => {
      const [code, ...offsets] = this.rows.map((r) => {
        const bytes = new Uint8Array(r.bytes * at.length);
        at.forEach((p, i) => {
          if (readSync(fd, bytes, i * r.bytes, r.bytes, r.begin + p * r.bytes) !== r.bytes) throw new EncodingCacheError(`${this.path}: the file is shorter than its header says`);
        });
        const values = r.dtype === 'float32' ? new Float32Array(bytes.buffer) : bytes;
        return tensor(values, [at.length, ...r.shape]).to({ device: this.o.device });
      });
      return expand(code, offsets, this.sizes, this.corners, this.o.channelsLast);
    });
  }

  dispose(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    for (const t of this.corners) t.dispose();
    this.corners.length = 0;
  }
}

/**
 * Opens what saveEncodings wrote: each named set reads its batches from the file on lookup.
 * @param path the file
 * @param o channelsLast: the layout lookups return codes in; device: where the encodings go
 * @returns the sets by name; dispose each (it closes its file)
 * @throws EncodingCacheError when the file holds no encodings; SafetensorsError when its header is damaged
 * @example const { train, check } = loadEncodings(file, { channelsLast: true, device: 'cpu' });
 */
export function loadEncodings(path: string, o: { channelsLast: boolean; device: string }): Record<string, EncodingFile> {
  const fd = openSync(path, 'r');
  let index: SafetensorsIndex;
  try {
    index = readSafetensorsIndex(fd, path);
  } finally {
    closeSync(fd);
  }
  if (!index.metadata.encodingSizes) throw new EncodingCacheError(`${path}: not a file of encodings (no encodingSizes in its metadata)`);
  const sizes = JSON.parse(index.metadata.encodingSizes) as Record<string, [number, number][]>;
  const sets: Record<string, EncodingFile> = {};
  try {
    for (const [name, s] of Object.entries(sizes)) sets[name] = new EncodingFile(path, index, name, s, o);
  } catch (e) {
    for (const set of Object.values(sets)) set.dispose();
    throw e;
  }
  return sets;
}
