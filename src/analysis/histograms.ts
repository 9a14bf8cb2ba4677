// Per-channel histograms of originals vs reconstructions: CIELAB L*, a*, b* for RGB images (the
// paper's colour analysis: hue shifts and colour casts show up in a* and b*), intensity for
// grayscale. sRGB (D65) -> linear RGB -> XYZ -> L*a*b*. Bins span fixed ranges (L* 0..100,
// a* and b* -128..127, intensity 0..1) so histograms of different runs line up; values beyond a
// range count in its end bin. The conversion lives in lab.ts.
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';
import { labInto } from './lab.js';

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
