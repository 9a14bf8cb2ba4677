// Normalized mutual information between images, the paper's measure of how much of the input
// signal a reconstruction keeps (intra) and how much an AE paints the same pattern on every
// input (inter).
//
// Estimator: pixel values in [0, 1] are quantised to `bins` equal-width levels
// (level = min(floor(v * bins), bins - 1)); the joint histogram of co-located pixels of one
// channel of two images gives H(X), H(Y) and I(X;Y) = H(X) + H(Y) - H(X,Y) (natural log);
// NMI = 2 I / (H(X) + H(Y)) (the arithmetic-mean normalisation; 'sqrt' gives I / sqrt(H(X) H(Y))).
// Values outside [0, 1] count in the end levels. Two constant images have NMI 1 (each fully
// determines the other), a constant and a varying one 0 (nothing shared).
// Colour: multi-channel images are compared channel by channel in their own channels (RGB as
// given, no colour conversion) and the per-channel values averaged. Since NMI ignores how levels
// are relabelled, a colour cast that remaps a channel's levels one-to-one keeps its NMI: the
// measure is about structure kept, and colour changes are shown by the CIELAB histograms.
// A set averages over images (intra) or over seeded random pairs of distinct images (inter).
import { Rng } from '../data/random.js';
import { mean } from './bootstrap.js';
import { AnalysisError, toImageSet, type ImageInput, type ImageSet } from './images.js';
import { ChunkCursor, pairedChunk, wholeSet, type Accumulator, type PairedAccumulator } from './stream.js';

/** Quantisation levels per channel when none are given: fine enough for 8-bit images, few enough that 1,000 images fill the joint histogram. */
export const NMI_BINS = 64;
/** Random image pairs of the inter-NMI when none are given. */
export const INTER_NMI_PAIRS = 200;

export type NmiNormalization = 'arithmetic' | 'sqrt';

export interface NmiOptions {
  /** Quantisation levels per channel (default NMI_BINS). */
  bins?: number;
  /** 'arithmetic' (default): 2 I / (H(X) + H(Y)); 'sqrt': I / sqrt(H(X) H(Y)). */
  normalization?: NmiNormalization;
}

function checkedBins(o: NmiOptions): number {
  const bins = o.bins ?? NMI_BINS;
  if (!Number.isInteger(bins) || bins < 2 || bins > 4096) throw new AnalysisError(`NMI bins must be an integer from 2 to 4096, got ${bins}`);
  if (o.normalization !== undefined && o.normalization !== 'arithmetic' && o.normalization !== 'sqrt') throw new AnalysisError(`NMI normalization must be 'arithmetic' or 'sqrt', got '${o.normalization}'`);
  return bins;
}

/** Image i of a set quantised to levels in [0, bins), channel after channel (bins <= 4096 fit 16 bits). */
function imageLevels(set: ImageSet, i: number, bins: number): Uint16Array {
  const size = set.shape[1] * set.shape[2] * set.shape[3];
  const out = new Uint16Array(size);
  for (let k = 0; k < size; k++) {
    const v = set.data[i * size + k];
    const q = Math.floor((v > 1 ? 1 : v < 0 ? 0 : v) * bins);
    out[k] = q >= bins ? bins - 1 : q;
  }
  return out;
}

/** NMI of two quantised images of `channels` channels, averaged over channels. */
function levelsNmi(x: Uint16Array, y: Uint16Array, channels: number, bins: number, normalization?: NmiNormalization): number {
  const plane = x.length / channels;
  let sum = 0;
  for (let ch = 0; ch < channels; ch++) sum += nmiOfLevels(x.subarray(ch * plane, (ch + 1) * plane), y.subarray(ch * plane, (ch + 1) * plane), bins, normalization);
  return sum / channels;
}

function entropy(counts: Float64Array | Int32Array, total: number): number {
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c > 0) {
      const p = c / total;
      h -= p * Math.log(p);
    }
  }
  return h;
}

/** NMI of two equally long signals of quantised levels (integers in [0, bins)). */
export function nmiOfLevels(x: Int32Array | Uint16Array, y: Int32Array | Uint16Array, bins: number, normalization: NmiNormalization = 'arithmetic'): number {
  if (x.length !== y.length || x.length === 0) throw new AnalysisError(`NMI needs two non-empty signals of equal length, got ${x.length} and ${y.length}`);
  const joint = new Int32Array(bins * bins);
  const hx = new Int32Array(bins);
  const hy = new Int32Array(bins);
  for (let i = 0; i < x.length; i++) {
    joint[x[i] * bins + y[i]]++;
    hx[x[i]]++;
    hy[y[i]]++;
  }
  const n = x.length;
  const ex = entropy(hx, n);
  const ey = entropy(hy, n);
  if (ex === 0 && ey === 0) return 1;
  if (ex === 0 || ey === 0) return 0;
  const mutual = Math.max(0, ex + ey - entropy(joint, n));
  const value = normalization === 'sqrt' ? mutual / Math.sqrt(ex * ey) : (2 * mutual) / (ex + ey);
  return Math.min(1, value);
}

/** NMI between image a of set A and image b of set B (same C, H, W), averaged over channels. */
export function imageNmi(A: ImageSet, a: number, B: ImageSet, b: number, o: NmiOptions = {}): number {
  const bins = checkedBins(o);
  const [, c, h, w] = A.shape;
  if (B.shape[1] !== c || B.shape[2] !== h || B.shape[3] !== w) throw new AnalysisError(`NMI: images differ in shape, [${A.shape.slice(1).join(', ')}] vs [${B.shape.slice(1).join(', ')}]`);
  if (!(a >= 0 && a < A.shape[0] && b >= 0 && b < B.shape[0])) throw new AnalysisError(`NMI: image index ${a} or ${b} is out of range`);
  return levelsNmi(imageLevels(A, a, bins), imageLevels(B, b, bins), c, bins, o.normalization);
}

/**
 * intraNmiEach over a set taken chunk by chunk: keeps one number per image.
 *
 * @example
 * const intra = new IntraNmiAccumulator(n, { bins: 64 });
 * for (const chunk of chunks) intra.add(chunk.originals, chunk.reconstructions);
 * meanEstimate(intra.finish(), boot);
 */
export class IntraNmiAccumulator implements PairedAccumulator<Float64Array> {
  private readonly cursor: ChunkCursor;
  private readonly values: Float64Array;

  /**
   * @param images Number of images of the set.
   * @param o Bins and normalization.
   * @throws AnalysisError on an empty set or bad options.
   */
  constructor(
    images: number,
    private readonly o: NmiOptions = {},
  ) {
    this.cursor = new ChunkCursor(images, 'intra-NMI');
    checkedBins(o);
    if (images === 0) throw new AnalysisError('intra-NMI of an empty set is undefined');
    this.values = new Float64Array(images);
  }

  add(originals: ImageInput, reconstructions: ImageInput): this {
    const { orig, recon, offset } = pairedChunk(this.cursor, originals, reconstructions);
    for (let i = 0; i < orig.shape[0]; i++) this.values[offset + i] = imageNmi(orig, i, recon, i, this.o);
    return this;
  }

  finish(): Float64Array {
    this.cursor.end();
    return this.values;
  }
}

/**
 * NMI between each original and its reconstruction (same shapes, values in [0, 1]): one value
 * per image, what the intra-NMI's bootstrap interval resamples.
 *
 * @param originals Images [N, C, H, W] in [0, 1].
 * @param reconstructions The same images as an AE gave them back.
 * @param o Bins and normalization.
 * @throws AnalysisError on differing shapes or an empty set.
 * @example
 * const perImage = intraNmiEach(originals, reconstructions, { bins: 64 }); // Float64Array [N]
 */
export function intraNmiEach(originals: ImageInput, reconstructions: ImageInput, o: NmiOptions = {}): Float64Array {
  return wholeSet((n) => new IntraNmiAccumulator(n, o), originals, reconstructions);
}

/** Mean NMI between each original and its reconstruction (same shapes, values in [0, 1]). */
export function intraNmi(originals: ImageInput, reconstructions: ImageInput, o: NmiOptions = {}): number {
  return mean(intraNmiEach(originals, reconstructions, o));
}

export interface InterNmiOptions extends NmiOptions {
  /** Number of random pairs of distinct images (default 200). */
  pairs?: number;
  /** Seed of the pair sampler (default 0). */
  seed?: number;
}

/**
 * interNmiEach over a set taken chunk by chunk. The pairs are drawn up front from the set's
 * size, exactly as the whole-set function draws them (each uniform over ordered pairs of
 * distinct images, independent of the others), so the estimate is the same unbiased mean over
 * random distinct pairs whatever the chunk boundaries, and the same seed gives the same pairs.
 * An image is kept, as its quantised levels (2 bytes a value), only from its arrival until the
 * later image of each of its pairs has arrived: at most min(pairs, N) images at once (about
 * pairs / 2 at the middle of the stream), never more as N grows.
 *
 * @example
 * const inter = new InterNmiAccumulator(n, { bins: 64, pairs: 200, seed: plan.seed });
 * for (const chunk of chunks) inter.add(chunk.reconstructions);
 * meanEstimate(inter.finish(), boot);
 */
export class InterNmiAccumulator implements Accumulator<[reconstructions: ImageInput], Float64Array> {
  private readonly cursor: ChunkCursor;
  private readonly bins: number;
  private readonly first: Int32Array;
  private readonly second: Int32Array;
  private readonly values: Float64Array;
  /** For each image, the pairs of which it is the later image (so the pair is measured on its arrival). */
  private readonly closes = new Map<number, number[]>();
  /** For each image, how many of its pairs still wait for their later image. */
  private readonly waiting = new Map<number, number>();
  /** Levels of the images that pending pairs still need. */
  private readonly kept = new Map<number, Uint16Array>();

  /**
   * @param images Number of images of the set (at least 2).
   * @param o Bins, normalization, number of pairs (default 200) and their seed (default 0).
   * @throws AnalysisError on fewer than two images, a bad pair count or bad NMI options.
   */
  constructor(
    images: number,
    private readonly o: InterNmiOptions = {},
  ) {
    this.cursor = new ChunkCursor(images, 'inter-NMI');
    this.bins = checkedBins(o);
    if (images < 2) throw new AnalysisError(`inter-NMI needs at least two images, got ${images}`);
    const pairs = o.pairs ?? INTER_NMI_PAIRS;
    if (!Number.isInteger(pairs) || pairs < 1) throw new AnalysisError(`inter-NMI pairs must be a positive integer, got ${pairs}`);
    [this.first, this.second, this.values] = [new Int32Array(pairs), new Int32Array(pairs), new Float64Array(pairs)];
    const rng = new Rng(o.seed ?? 0);
    for (let k = 0; k < pairs; k++) {
      const a = rng.int(images);
      const b = (a + 1 + rng.int(images - 1)) % images;
      [this.first[k], this.second[k]] = [a, b];
      const later = Math.max(a, b);
      const earlier = Math.min(a, b);
      const closing = this.closes.get(later);
      if (closing) closing.push(k);
      else this.closes.set(later, [k]);
      this.waiting.set(earlier, (this.waiting.get(earlier) ?? 0) + 1);
    }
  }

  add(reconstructions: ImageInput): this {
    const set = toImageSet(reconstructions, 'reconstructions');
    const offset = this.cursor.next([set], ['reconstructions']);
    const channels = set.shape[1];
    for (let i = 0; i < set.shape[0]; i++) {
      const image = offset + i;
      const closing = this.closes.get(image) ?? [];
      const waiting = this.waiting.get(image) ?? 0;
      if (closing.length === 0 && waiting === 0) continue;
      const levels = imageLevels(set, i, this.bins);
      for (const k of closing) {
        const partner = this.first[k] === image ? this.second[k] : this.first[k];
        const other = this.kept.get(partner)!;
        // In the order the sampler drew the pair: the joint entropy sums its terms in another order when swapped.
        this.values[k] = this.first[k] === image ? levelsNmi(levels, other, channels, this.bins, this.o.normalization) : levelsNmi(other, levels, channels, this.bins, this.o.normalization);
        const left = this.waiting.get(partner)! - 1;
        this.waiting.set(partner, left);
        if (left === 0) this.kept.delete(partner);
      }
      if (waiting > 0) this.kept.set(image, levels);
    }
    return this;
  }

  /** Images held right now (for the memory bound in the tests). */
  get keptImages(): number {
    return this.kept.size;
  }

  finish(): Float64Array {
    this.cursor.end();
    return this.values;
  }
}

/**
 * NMI between reconstructions of different inputs, one value per seeded random pair of distinct
 * images: what the inter-NMI's bootstrap interval resamples.
 *
 * @param reconstructions Images [N, C, H, W] in [0, 1], N >= 2.
 * @param o Bins, normalization, number of pairs (default 200) and their seed (default 0).
 * @throws AnalysisError on fewer than two images or a bad pair count.
 * @example
 * const perPair = interNmiEach(reconstructions, { pairs: 200, seed: 0 }); // Float64Array [200]
 */
export function interNmiEach(reconstructions: ImageInput, o: InterNmiOptions = {}): Float64Array {
  const set = toImageSet(reconstructions, 'reconstructions');
  return new InterNmiAccumulator(set.shape[0], o).add(set).finish();
}

/** Mean NMI between reconstructions of different inputs, over seeded random pairs of distinct images. */
export function interNmi(reconstructions: ImageInput, o: InterNmiOptions = {}): number {
  return mean(interNmiEach(reconstructions, o));
}
