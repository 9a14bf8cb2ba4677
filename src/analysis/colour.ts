// Colour shift of reconstructions against their originals, in CIELAB: the paper's colour
// findings as numbers (AlexNet's AE paints a colour cast, ResNet-50's washes colours out,
// Inception's rotates hue). Every pixel is compared with the same pixel of its original:
// - cast: the mean (Δa*, Δb*) over all pixels, as a vector, its length and its angle
//   (degrees, counter-clockwise from +a*: 0 red/magenta, 90 yellow, 180 green, 270 blue);
// - chroma ratio: Σ C*(reconstruction) / Σ C*(original); below 1 the colours are washed out;
// - hue rotation: the chroma-weighted circular mean of the hue-angle change. With z = a* + i b*,
//   Σ z_rec conj(z_orig) = Σ C_orig C_rec e^{iΔh}: its angle is the mean rotation, each pixel
//   weighted by the product of its chromas, so near-grey pixels (whose hue is noise) count
//   little. Degrees, positive counter-clockwise in the a*b* plane;
// - lightness shift: mean ΔL*.
// Defined for RGB images only (values in [0, 1], sRGB).
// Every figure is a function of per-image sums, so its 95 % interval comes from resampling images
// (bootstrap.ts); the two angles are unwrapped around their estimate before taking percentiles.
import { bootstrapMeans, mean, percentileInterval, type BootstrapOptions, type Interval } from './bootstrap.js';
import { AnalysisError, type ImageInput } from './images.js';
import { ChunkCursor, pairedChunk, wholeSet, type PairedAccumulator } from './stream.js';
import { labInto } from './lab.js';

export interface ColourShiftValues {
  /** Mean Δa* and Δb* over all pixels (reconstruction - original). */
  castA: number;
  castB: number;
  /** Length of the cast vector (ΔE units). */
  castMagnitude: number;
  /** Angle of the cast vector in the a*b* plane, degrees in [0, 360); 0 when there is no cast. */
  castAngle: number;
  /** Σ chroma of the reconstructions over Σ chroma of the originals (1: unchanged, below 1: washed out). */
  chromaRatio: number;
  /** Chroma-weighted circular mean of the hue change, degrees in (-180, 180]. */
  hueRotation: number;
  /** Mean ΔL*. */
  lightnessShift: number;
  /** Mean CIE76 ΔE (Euclidean distance in L*a*b*) per pixel. */
  meanDeltaE: number;
}

export interface ColourShift extends ColourShiftValues {
  /** 95 % bootstrap interval of each figure (angles may leave their range: they are unwrapped around the estimate). */
  ci95: Record<keyof ColourShiftValues, Interval>;
}

const degrees = (rad: number) => (rad * 180) / Math.PI;

/** Per-image sums, in this order, from which every figure follows (see shiftFromMeans). */
const SUMS = ['dL', 'dA', 'dB', 'deltaE', 'chromaO', 'chromaR', 're', 'im'] as const;

/** The figures from the per-pixel means of the SUMS (sums divided by the pixels of an image). */
function shiftFromMeans([dL, dA, dB, deltaE, chromaO, chromaR, re, im]: number[]): ColourShiftValues {
  const castMagnitude = Math.hypot(dA, dB);
  const angle = castMagnitude === 0 ? 0 : degrees(Math.atan2(dB, dA));
  return {
    castA: dA,
    castB: dB,
    castMagnitude,
    castAngle: angle < 0 ? angle + 360 : angle,
    chromaRatio: chromaO === 0 ? 1 : chromaR / chromaO,
    hueRotation: re === 0 && im === 0 ? 0 : degrees(Math.atan2(im, re)),
    lightnessShift: dL,
    meanDeltaE: deltaE,
  };
}

/** `angle` moved by whole turns to lie within 180 degrees of `around`. */
const unwrap = (angle: number, around: number) => around + ((((angle - around + 180) % 360) + 360) % 360) - 180;

/**
 * colourShift over a set taken chunk by chunk: keeps the eight per-image sums it is computed from.
 *
 * @example
 * const colour = new ColourShiftAccumulator(n);
 * for (const chunk of chunks) colour.add(chunk.originals, chunk.reconstructions);
 * colour.finish({ resamples: 1000, seed: 0 }).chromaRatio;
 */
export class ColourShiftAccumulator implements PairedAccumulator<ColourShift> {
  private readonly cursor: ChunkCursor;
  private readonly sums: Float64Array[];

  /** @param images Number of images of the set. */
  constructor(images: number) {
    this.cursor = new ChunkCursor(images, 'colour shift');
    this.sums = SUMS.map(() => new Float64Array(images));
  }

  add(originals: ImageInput, reconstructions: ImageInput): this {
    const { orig, recon, offset } = pairedChunk(this.cursor, originals, reconstructions);
    const [n, c, h, w] = orig.shape;
    if (c !== 3) throw new AnalysisError(`colour shift needs RGB images (3 channels), got ${c}`);
    const plane = h * w;
    const lo = new Float64Array(3);
    const lr = new Float64Array(3);
    const [dL, dA, dB, deltaE, chromaO, chromaR, re, im] = this.sums.map((s) => s.subarray(offset, offset + n));
    for (let i = 0; i < n; i++) {
      const base = i * 3 * plane;
      for (let p = 0; p < plane; p++) {
        labInto(orig.data[base + p], orig.data[base + plane + p], orig.data[base + 2 * plane + p], lo);
        labInto(recon.data[base + p], recon.data[base + plane + p], recon.data[base + 2 * plane + p], lr);
        const [l, a, b] = [lr[0] - lo[0], lr[1] - lo[1], lr[2] - lo[2]];
        dL[i] += l / plane;
        dA[i] += a / plane;
        dB[i] += b / plane;
        deltaE[i] += Math.sqrt(l * l + a * a + b * b) / plane;
        chromaO[i] += Math.hypot(lo[1], lo[2]) / plane;
        chromaR[i] += Math.hypot(lr[1], lr[2]) / plane;
        // z_rec * conj(z_orig)
        re[i] += (lr[1] * lo[1] + lr[2] * lo[2]) / plane;
        im[i] += (lr[2] * lo[1] - lr[1] * lo[2]) / plane;
      }
    }
    return this;
  }

  finish(boot: BootstrapOptions = {}): ColourShift {
    this.cursor.end();
    const value = shiftFromMeans(this.sums.map(mean));
    const resampled = bootstrapMeans(this.sums, boot);
    const figures = Array.from(resampled[0], (_, b) => shiftFromMeans(resampled.map((r) => r[b])));
    const keys = Object.keys(value) as (keyof ColourShiftValues)[];
    const ci95 = Object.fromEntries(
      keys.map((k) => {
        const angle = k === 'castAngle' || k === 'hueRotation';
        return [k, percentileInterval(figures.map((f) => (angle ? unwrap(f[k], value[k]) : f[k])))];
      }),
    ) as ColourShift['ci95'];
    return { ...value, ci95 };
  }
}

/**
 * The colour shift of RGB reconstructions against their originals (see the top of this file).
 * @param originals [N, 3, H, W] sRGB in [0, 1]
 * @param reconstructions the same shape
 * @param boot resamples and seed of the intervals
 * @throws AnalysisError when the shapes differ or the images are not RGB
 * @example const shift = colourShift(originals, reconstructions); // shift.chromaRatio < 1: washed out
 */
export function colourShift(originals: ImageInput, reconstructions: ImageInput, boot: BootstrapOptions = {}): ColourShift {
  return wholeSet((n) => new ColourShiftAccumulator(n), originals, reconstructions, boot);
}
