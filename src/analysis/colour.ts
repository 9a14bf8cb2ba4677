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
import { AnalysisError, assertSameShape, toImageSet, type ImageInput } from './images.js';
import { labInto } from './lab.js';

export interface ColourShift {
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

const degrees = (rad: number) => (rad * 180) / Math.PI;

/**
 * The colour shift of RGB reconstructions against their originals (see the top of this file).
 * @param originals [N, 3, H, W] sRGB in [0, 1]
 * @param reconstructions the same shape
 * @throws AnalysisError when the shapes differ or the images are not RGB
 * @example const shift = colourShift(originals, reconstructions); // shift.chromaRatio < 1: washed out
 */
export function colourShift(originals: ImageInput, reconstructions: ImageInput): ColourShift {
  const orig = toImageSet(originals, 'originals');
  const recon = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(orig, recon, 'originals', 'reconstructions');
  const [n, c, h, w] = orig.shape;
  if (c !== 3) throw new AnalysisError(`colour shift needs RGB images (3 channels), got ${c}`);
  const plane = h * w;
  const lo = new Float64Array(3);
  const lr = new Float64Array(3);
  let dL = 0;
  let dA = 0;
  let dB = 0;
  let chromaO = 0;
  let chromaR = 0;
  let re = 0;
  let im = 0;
  let deltaE = 0;
  for (let i = 0; i < n; i++) {
    const base = i * 3 * plane;
    for (let p = 0; p < plane; p++) {
      labInto(orig.data[base + p], orig.data[base + plane + p], orig.data[base + 2 * plane + p], lo);
      labInto(recon.data[base + p], recon.data[base + plane + p], recon.data[base + 2 * plane + p], lr);
      const [l, a, b] = [lr[0] - lo[0], lr[1] - lo[1], lr[2] - lo[2]];
      dL += l;
      dA += a;
      dB += b;
      deltaE += Math.sqrt(l * l + a * a + b * b);
      chromaO += Math.hypot(lo[1], lo[2]);
      chromaR += Math.hypot(lr[1], lr[2]);
      // z_rec * conj(z_orig)
      re += lr[1] * lo[1] + lr[2] * lo[2];
      im += lr[2] * lo[1] - lr[1] * lo[2];
    }
  }
  const count = Math.max(1, n * plane);
  const castA = dA / count;
  const castB = dB / count;
  const castMagnitude = Math.hypot(castA, castB);
  const angle = castMagnitude === 0 ? 0 : degrees(Math.atan2(castB, castA));
  return {
    castA,
    castB,
    castMagnitude,
    castAngle: angle < 0 ? angle + 360 : angle,
    chromaRatio: chromaO === 0 ? 1 : chromaR / chromaO,
    hueRotation: re === 0 && im === 0 ? 0 : degrees(Math.atan2(im, re)),
    lightnessShift: dL / count,
    meanDeltaE: deltaE / count,
  };
}
