// Normalized mutual information between images, the paper's measure of how much of the input
// signal a reconstruction keeps (intra) and how much an AE paints the same pattern on every
// input (inter).
//
// Estimator: pixel values in [0, 1] are quantised to `bins` equal-width levels
// (level = min(floor(v * bins), bins - 1)); the joint histogram of co-located pixels of one
// channel of two images gives H(X), H(Y) and I(X;Y) = H(X) + H(Y) - H(X,Y) (natural log);
// NMI = 2 I / (H(X) + H(Y)) (the arithmetic-mean normalisation; 'sqrt' gives I / sqrt(H(X) H(Y))).
// Two constant images have NMI 1, a constant and a varying one 0. Multi-channel images average
// the per-channel values; a set averages over images (intra) or over seeded random pairs (inter).
import { Rng } from '../data/random.js';

export type NmiNormalization = 'arithmetic' | 'sqrt';

export interface NmiOptions {
  bins?: number;
  normalization?: NmiNormalization;
}

/** Images as flat [N, C, H, W] values in [0, 1]. */
export interface ImageSet {
  data: Float32Array;
  shape: [number, number, number, number];
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

/** NMI of two equally long quantised signals. */
export function nmiOfLevels(x: Int32Array, y: Int32Array, bins: number, normalization: NmiNormalization = 'arithmetic'): number {
  if (x.length !== y.length || x.length === 0) throw new RangeError(`NMI needs two non-empty signals of equal length (got ${x.length} and ${y.length})`);
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
  const [, c, h, w] = A.shape;
  if (B.shape[1] !== c || B.shape[2] !== h || B.shape[3] !== w) throw new RangeError(`images differ in shape: [${A.shape.slice(1)}] vs [${B.shape.slice(1)}]`);
  const bins = o.bins ?? 64;
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

/** Mean NMI between each original and its reconstruction. */
export function intraNmi(originals: ImageSet, reconstructions: ImageSet, o: NmiOptions = {}): number {
  const n = originals.shape[0];
  if (reconstructions.shape[0] !== n) throw new RangeError(`${n} originals but ${reconstructions.shape[0]} reconstructions`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += imageNmi(originals, i, reconstructions, i, o);
  return sum / n;
}

/** Mean NMI between reconstructions of different inputs, over `pairs` seeded random pairs. */
export function interNmi(reconstructions: ImageSet, o: NmiOptions & { pairs?: number; seed?: number } = {}): number {
  const n = reconstructions.shape[0];
  if (n < 2) throw new RangeError('inter-NMI needs at least two images');
  const rng = new Rng(o.seed ?? 0);
  const pairs = o.pairs ?? 200;
  let sum = 0;
  for (let p = 0; p < pairs; p++) {
    const a = rng.int(n);
    const b = (a + 1 + rng.int(n - 1)) % n;
    sum += imageNmi(reconstructions, a, reconstructions, b, o);
  }
  return sum / pairs;
}
