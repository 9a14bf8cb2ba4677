// Per-channel histograms of originals vs reconstructions: CIELAB L*, a*, b* for RGB images (the
// paper's colour analysis: hue shifts and colour casts show up in a* and b*), intensity for
// grayscale. sRGB (D65) -> linear RGB -> XYZ -> L*a*b*. Bins span fixed ranges (L* 0..100,
// a* and b* -128..127, intensity 0..1) so histograms of different runs line up; values beyond a
// range count in its end bin.
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';

const exactToLinear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
// The power function dominates the per-pixel cost, so values in [0.05, 1) interpolate a table
// (error below 1e-5 in L*, a*, b*, far below a histogram bin); the rest, including the kink of
// the sRGB curve at 0.04045, use the formula.
const LINEAR_STEPS = 16384;
const LINEAR_TABLE = Float64Array.from({ length: LINEAR_STEPS + 1 }, (_, i) => exactToLinear(i / LINEAR_STEPS));
function toLinear(c: number): number {
  if (!(c >= 0.05 && c < 1)) return exactToLinear(c);
  const t = c * LINEAR_STEPS;
  const i = Math.floor(t);
  return LINEAR_TABLE[i] + (t - i) * (LINEAR_TABLE[i + 1] - LINEAR_TABLE[i]);
}
const labF = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
// D65 reference white.
const XN = 0.95047;
const YN = 1.0;
const ZN = 1.08883;

/** Writes CIELAB of an sRGB colour (components in [0, 1]) into out[0..2]; allocation-free for per-pixel use. */
function labInto(r: number, g: number, b: number, out: Float64Array): void {
  const lr = toLinear(r);
  const lg = toLinear(g);
  const lb = toLinear(b);
  const fx = labF((0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / XN);
  const fy = labF((0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb) / YN);
  const fz = labF((0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / ZN);
  out[0] = 116 * fy - 16;
  out[1] = 500 * (fx - fy);
  out[2] = 200 * (fy - fz);
}

/** CIELAB [L*, a*, b*] of an sRGB colour with components in [0, 1]. */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const lab = new Float64Array(3);
  labInto(r, g, b, lab);
  return [lab[0], lab[1], lab[2]];
}

export interface ChannelHistogram {
  name: string;
  range: [number, number];
  /** Share of pixels in each of the equal-width bins spanning `range` (each histogram sums to 1). */
  original: number[];
  reconstruction: number[];
}

const CHANNELS: Record<1 | 3, { name: string; range: [number, number] }[]> = {
  1: [{ name: 'intensity', range: [0, 1] }],
  3: [
    { name: 'L*', range: [0, 100] },
    { name: 'a*', range: [-128, 127] },
    { name: 'b*', range: [-128, 127] },
  ],
};

/** Share of a set's pixels in each bin, per channel: L*, a*, b* for RGB, intensity for grayscale. */
function channelShares(set: ImageSet, bins: number): number[][] {
  const [n, c, h, w] = set.shape;
  if (c !== 1 && c !== 3) throw new AnalysisError(`histograms need grayscale (1 channel) or RGB (3 channels) images, got ${c} channels`);
  const channels = CHANNELS[c];
  const counts = channels.map(() => new Float64Array(bins));
  const count = (k: number, v: number) => {
    const [lo, hi] = channels[k].range;
    const q = Math.floor(((v - lo) / (hi - lo)) * bins);
    counts[k][q < 0 ? 0 : q >= bins ? bins - 1 : q]++;
  };
  const plane = h * w;
  const lab = new Float64Array(3);
  for (let i = 0; i < n; i++) {
    const base = i * c * plane;
    for (let p = 0; p < plane; p++) {
      if (c === 1) {
        count(0, set.data[base + p]);
        continue;
      }
      labInto(set.data[base + p], set.data[base + plane + p], set.data[base + 2 * plane + p], lab);
      for (let k = 0; k < 3; k++) count(k, lab[k]);
    }
  }
  return counts.map((ch) => Array.from(ch, (v) => v / Math.max(1, n * plane)));
}

/** Per-channel histograms of originals and reconstructions (same shapes, values in [0, 1]). */
export function channelHistograms(originals: ImageInput, reconstructions: ImageInput, bins = 64): ChannelHistogram[] {
  return channelHistogramsEach(originals, { reconstructions }, bins).reconstructions;
}

/**
 * channelHistograms for several named sets of reconstructions of the same originals, which
 * are counted once (their CIELAB conversion dominates the cost for RGB images).
 */
export function channelHistogramsEach(originals: ImageInput, reconstructions: Record<string, ImageInput>, bins = 64): Record<string, ChannelHistogram[]> {
  if (!Number.isInteger(bins) || bins < 1) throw new AnalysisError(`histogram bins must be a positive integer, got ${bins}`);
  const origSet = toImageSet(originals, 'originals');
  const orig = channelShares(origSet, bins);
  const channels = CHANNELS[origSet.shape[1] as 1 | 3];
  return Object.fromEntries(
    Object.entries(reconstructions).map(([name, images]) => {
      const reconSet = toImageSet(images, 'reconstructions');
      assertSameShape(origSet, reconSet, 'originals', 'reconstructions');
      const recon = channelShares(reconSet, bins);
      return [name, channels.map((ch, k) => ({ name: ch.name, range: ch.range, original: orig[k], reconstruction: recon[k] }))];
    }),
  );
}
