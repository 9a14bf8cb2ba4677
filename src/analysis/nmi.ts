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
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';

export type NmiNormalization = 'arithmetic' | 'sqrt';

export interface NmiOptions {
  /** Quantisation levels per channel (default 64). */
  bins?: number;
  /** 'arithmetic' (default): 2 I / (H(X) + H(Y)); 'sqrt': I / sqrt(H(X) H(Y)). */
  normalization?: NmiNormalization;
}

function checkedBins(o: NmiOptions): number {
  const bins = o.bins ?? 64;
  if (!Number.isInteger(bins) || bins < 2 || bins > 4096) throw new AnalysisError(`NMI bins must be an integer from 2 to 4096, got ${bins}`);
  if (o.normalization !== undefined && o.normalization !== 'arithmetic' && o.normalization !== 'sqrt') throw new AnalysisError(`NMI normalization must be 'arithmetic' or 'sqrt', got '${o.normalization}'`);
  return bins;
}

function quantise(values: Float32Array, start: number, length: number, bins: number, out: Int32Array): void {
  for (let i = 0; i < length; i++) {
    const v = values[start + i];
    const q = Math.floor((v > 1 ? 1 : v < 0 ? 0 : v) * bins);
    out[i] = q >= bins ? bins - 1 : q;
  }
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
export function nmiOfLevels(x: Int32Array, y: Int32Array, bins: number, normalization: NmiNormalization = 'arithmetic'): number {
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
  const plane = h * w;
  const x = new Int32Array(plane);
  const y = new Int32Array(plane);
  let sum = 0;
  for (let ch = 0; ch < c; ch++) {
    quantise(A.data, (a * c + ch) * plane, plane, bins, x);
    quantise(B.data, (b * c + ch) * plane, plane, bins, y);
    sum += nmiOfLevels(x, y, bins, o.normalization);
  }
  return sum / c;
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
  const orig = toImageSet(originals, 'originals');
  const recon = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(orig, recon, 'originals', 'reconstructions');
  const n = orig.shape[0];
  if (n === 0) throw new AnalysisError('intra-NMI of an empty set is undefined');
  return Float64Array.from({ length: n }, (_, i) => imageNmi(orig, i, recon, i, o));
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
  const n = set.shape[0];
  if (n < 2) throw new AnalysisError(`inter-NMI needs at least two images, got ${n}`);
  const pairs = o.pairs ?? 200;
  if (!Number.isInteger(pairs) || pairs < 1) throw new AnalysisError(`inter-NMI pairs must be a positive integer, got ${pairs}`);
  const rng = new Rng(o.seed ?? 0);
  return Float64Array.from({ length: pairs }, () => {
    const a = rng.int(n);
    const b = (a + 1 + rng.int(n - 1)) % n;
    return imageNmi(set, a, set, b, o);
  });
}

/** Mean NMI between reconstructions of different inputs, over seeded random pairs of distinct images. */
export function interNmi(reconstructions: ImageInput, o: InterNmiOptions = {}): number {
  return mean(interNmiEach(reconstructions, o));
}
