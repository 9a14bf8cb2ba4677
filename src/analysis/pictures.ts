// Pictures as plain pixel data for the report: a few fixed test images, one row per source
// (original, A_S, each classifier's AE), and amplified difference maps that make faint patterns
// such as a checkerboard visible.
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';
import { ChunkCursor, namedChunk, type Accumulator } from './stream.js';

/** 8-bit pixels, channel-major (C, H, W): one plane per channel. */
export interface PlainImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export interface PictureRow {
  label: string;
  images: PlainImage[];
}

function tile(set: ImageSet, index: number, map: (v: number, i: number) => number): PlainImage {
  const [n, c, h, w] = set.shape;
  if (c !== 1 && c !== 3) throw new AnalysisError(`pictures need grayscale (1 channel) or RGB (3 channels) images, got ${c} channels`);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new AnalysisError(`picture sample index ${index} is outside the set of ${n} images`);
  const size = c * h * w;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.round(Math.min(1, Math.max(0, map(set.data[index * size + i], index * size + i))) * 255);
  return { width: w, height: h, channels: c, data };
}

/** Image `index` of a set in [0, 1] as 8-bit pixels (values beyond [0, 1] clipped). */
export function imageAt(set: ImageInput, index: number): PlainImage {
  return tile(toImageSet(set), index, (v) => v);
}

/** |reconstruction - original| * gain of image `index`, clipped to [0, 1], as 8-bit pixels. */
export function differenceMap(originals: ImageInput, reconstructions: ImageInput, index: number, gain = 4): PlainImage {
  const orig = toImageSet(originals, 'originals');
  const recon = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(orig, recon, 'originals', 'reconstructions');
  return tile(recon, index, (v, i) => Math.abs(v - orig.data[i]) * gain);
}

/** `count` evenly spaced indices into a set of n images (the middle of n/count equal strides). */
export function evenlySpacedIndices(n: number, count: number): number[] {
  const k = Math.min(n, count);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k + n / (2 * k)));
}

/** What reconstructionGrid returns: the picture rows and the amplified difference rows. */
export interface ReconstructionGrid {
  reconstructions: PictureRow[];
  differences: PictureRow[];
}

/**
 * reconstructionGrid over a set taken chunk by chunk: the sample indices are fixed up front
 * from the set's size, and only those images are kept (as 8-bit pictures) as they go by.
 *
 * @example
 * const pictures = new ReconstructionGridAccumulator(n, ['A_S', 'S2S-vgg'], 8);
 * for (const chunk of chunks) pictures.add(chunk.originals, [chunk.generic, chunk.vgg]);
 * pictures.finish().reconstructions[0].label; // 'original'
 */
export class ReconstructionGridAccumulator implements Accumulator<[originals: ImageInput, reconstructions: ImageInput[]], ReconstructionGrid> {
  private readonly cursor: ChunkCursor;
  /** The sample indices, in the order of the grid's columns. */
  readonly indices: number[];
  /** Per sample index: its original, each set's reconstruction, then each set's difference map. */
  private readonly kept = new Map<number, PlainImage[]>();

  /**
   * @param images Number of images of the set.
   * @param names One name per set of reconstructions, in the order add() receives them (A_S, then each classifier's AE).
   * @param samples The sample indices, or how many evenly spaced ones to take.
   * @param diffGain Gain of the difference rows (0: none).
   * @throws AnalysisError when a sample index is outside the set.
   */
  constructor(
    images: number,
    private readonly names: string[],
    samples: number[] | number,
    private readonly diffGain = 4,
  ) {
    this.cursor = new ChunkCursor(images, 'reconstruction grid');
    this.indices = typeof samples === 'number' ? evenlySpacedIndices(images, samples) : samples;
    for (const i of this.indices) if (!Number.isInteger(i) || i < 0 || i >= images) throw new AnalysisError(`picture sample index ${i} is outside the set of ${images} images`);
  }

  add(originals: ImageInput, reconstructions: ImageInput[]): this {
    const { orig, sets, offset } = namedChunk(this.cursor, this.names, originals, reconstructions);
    for (const index of this.indices) {
      const i = index - offset;
      if (i < 0 || i >= orig.shape[0] || this.kept.has(index)) continue;
      const differences = this.diffGain > 0 ? sets.map((set) => differenceMap(orig, set, i, this.diffGain)) : [];
      this.kept.set(index, [imageAt(orig, i), ...sets.map((set) => imageAt(set, i)), ...differences]);
    }
    return this;
  }

  finish(): ReconstructionGrid {
    this.cursor.end();
    const row = (label: string, k: number): PictureRow => ({ label, images: this.indices.map((i) => this.kept.get(i)![k]) });
    const sets = this.names.length;
    return {
      reconstructions: [row('original', 0), ...this.names.map((name, k) => row(name, 1 + k))],
      differences: this.diffGain > 0 ? this.names.map((name, k) => row(`|${name} - original| x${this.diffGain}`, 1 + sets + k)) : [],
    };
  }
}

/**
 * The reconstruction grid for the given sample indices (or that many evenly spaced ones): row
 * 'original', then one row per reconstruction set in the order given (A_S, then each
 * classifier's AE); and, when diffGain > 0, one row per set of |reconstruction - original| *
 * diffGain labelled `|name - original| x<gain>`.
 *
 * @param originals Images [N, C, H, W] in [0, 1].
 * @param sets Named reconstructions of the same shape.
 * @param samples The sample indices, or how many evenly spaced ones to take.
 * @param diffGain Gain of the difference rows (0: none).
 * @throws AnalysisError on differing shapes or a sample index outside the set.
 * @example
 * reconstructionGrid(original, [{ name: 'A_S', images: generic }], 8).reconstructions.length; // 2
 */
export function reconstructionGrid(originals: ImageInput, sets: { name: string; images: ImageInput }[], samples: number[] | number, diffGain = 4): ReconstructionGrid {
  const orig = toImageSet(originals, 'originals');
  const names = sets.map((s) => s.name);
  return new ReconstructionGridAccumulator(orig.shape[0], names, samples, diffGain).add(orig, sets.map((s) => s.images)).finish();
}
