// Per-channel histograms of originals vs reconstructions: CIELAB L*, a*, b* for RGB images (the
// paper's colour analysis: hue shifts and colour casts show up in a* and b*), intensity for
// grayscale. sRGB (D65) -> linear RGB -> XYZ -> L*a*b*. Bins span fixed ranges (L* 0..100,
// a* and b* -128..127, intensity 0..1) so histograms of different runs line up; values beyond a
// range count in its end bin.
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';

const toLinear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const labF = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
// D65 reference white.
const XN = 0.95047;
const YN = 1.0;
const ZN = 1.08883;

/** CIELAB of an sRGB colour with components in [0, 1]. */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const [lr, lg, lb] = [toLinear(r), toLinear(g), toLinear(b)];
  const x = 0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb;
  const y = 0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb;
  const z = 0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb;
  const [fx, fy, fz] = [labF(x / XN), labF(y / YN), labF(z / ZN)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

export interface ChannelHistogram {
  name: string;
  range: [number, number];
  /** Share of pixels in each of the equal-width bins spanning `range` (each histogram sums to 1). */
  original: number[];
  reconstruction: number[];
}

function histogram(values: Float64Array | Float32Array, lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    const q = Math.floor(((v - lo) / (hi - lo)) * bins);
    counts[q < 0 ? 0 : q >= bins ? bins - 1 : q]++;
  }
  return counts.map((c) => c / Math.max(1, values.length));
}

/** Every pixel of a set as L*, a*, b* planes (RGB) or intensity (grayscale). */
function channelValues(set: ImageSet): { name: string; range: [number, number]; values: Float64Array | Float32Array }[] {
  const [n, c, h, w] = set.shape;
  const plane = h * w;
  if (c === 1) return [{ name: 'intensity', range: [0, 1], values: set.data }];
  if (c !== 3) throw new AnalysisError(`histograms need grayscale (1 channel) or RGB (3 channels) images, got ${c} channels`);
  const L = new Float64Array(n * plane);
  const A = new Float64Array(n * plane);
  const B = new Float64Array(n * plane);
  for (let i = 0; i < n; i++) {
    const base = i * 3 * plane;
    for (let p = 0; p < plane; p++) {
      const [l, a, b] = srgbToLab(set.data[base + p], set.data[base + plane + p], set.data[base + 2 * plane + p]);
      L[i * plane + p] = l;
      A[i * plane + p] = a;
      B[i * plane + p] = b;
    }
  }
  return [
    { name: 'L*', range: [0, 100], values: L },
    { name: 'a*', range: [-128, 127], values: A },
    { name: 'b*', range: [-128, 127], values: B },
  ];
}

/** Per-channel histograms of originals and reconstructions (same shapes, values in [0, 1]). */
export function channelHistograms(originals: ImageInput, reconstructions: ImageInput, bins = 64): ChannelHistogram[] {
  if (!Number.isInteger(bins) || bins < 1) throw new AnalysisError(`histogram bins must be a positive integer, got ${bins}`);
  const origSet = toImageSet(originals, 'originals');
  const reconSet = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(origSet, reconSet, 'originals', 'reconstructions');
  const orig = channelValues(origSet);
  const recon = channelValues(reconSet);
  return orig.map((ch, k) => ({ name: ch.name, range: ch.range, original: histogram(ch.values, ch.range[0], ch.range[1], bins), reconstruction: histogram(recon[k].values, ch.range[0], ch.range[1], bins) }));
}
