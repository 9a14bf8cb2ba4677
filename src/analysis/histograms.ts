// Per-channel histograms of originals vs reconstructions: CIELAB L*, a*, b* for RGB images (the
// paper's colour analysis: hue shifts and colour casts show up in a* and b*), intensity for
// grayscale. sRGB (D65) -> linear RGB -> XYZ -> L*a*b*. Bins span fixed ranges (L* 0..100,
// a* and b* -128..127, intensity 0..1) so histograms of different runs line up; values beyond a
// range count in its end bin. The conversion lives in lab.ts.
import { AnalysisError, toImageSet, type ImageInput, type ImageSet } from './images.js';
import { ChunkCursor, namedChunk, type Accumulator } from './stream.js';
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

/** Pixel counts per bin and channel of one image set, counted chunk by chunk. */
class ChannelCounts {
  private counts: Float64Array[] | null = null;
  private pixels = 0;

  constructor(private readonly bins: number) {}

  add(set: ImageSet): void {
    const [n, c, h, w] = set.shape;
    if (c !== 1 && c !== 3) throw new AnalysisError(`histograms need grayscale (1 channel) or RGB (3 channels) images, got ${c} channels`);
    const channels = CHANNELS[c];
    const counts = (this.counts ??= channels.map(() => new Float64Array(this.bins)));
    const count = (k: number, v: number) => {
      const [lo, hi] = channels[k].range;
      const q = Math.floor(((v - lo) / (hi - lo)) * this.bins);
      counts[k][q < 0 ? 0 : q >= this.bins ? this.bins - 1 : q]++;
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
    this.pixels += n * plane;
  }

  /** Share of the pixels in each bin, per channel. */
  shares(): number[][] {
    return (this.counts ?? []).map((ch) => Array.from(ch, (v) => v / Math.max(1, this.pixels)));
  }
}

/**
 * channelHistogramsEach over a set taken chunk by chunk: keeps bin counts only.
 *
 * @example
 * const histograms = new ChannelHistogramsAccumulator(n, ['A_S', 'S2S-vgg']);
 * for (const chunk of chunks) histograms.add(chunk.originals, [chunk.generic, chunk.vgg]);
 * histograms.finish()['S2S-vgg'][1].reconstruction; // shares of the a* bins
 */
export class ChannelHistogramsAccumulator implements Accumulator<[originals: ImageInput, reconstructions: ImageInput[]], Record<string, ChannelHistogram[]>> {
  private readonly cursor: ChunkCursor;
  private readonly original: ChannelCounts;
  private readonly reconstructions: ChannelCounts[];
  private channels: 1 | 3 = 1;

  /**
   * @param images Number of images of the set.
   * @param names One name per set of reconstructions, in the order add() receives them.
   * @param bins Bins per channel (default 64).
   * @throws AnalysisError when bins is not a positive integer.
   */
  constructor(
    images: number,
    private readonly names: string[],
    bins = 64,
  ) {
    if (!Number.isInteger(bins) || bins < 1) throw new AnalysisError(`histogram bins must be a positive integer, got ${bins}`);
    this.cursor = new ChunkCursor(images, 'histograms');
    this.original = new ChannelCounts(bins);
    this.reconstructions = names.map(() => new ChannelCounts(bins));
  }

  add(originals: ImageInput, reconstructions: ImageInput[]): this {
    const { orig, sets } = namedChunk(this.cursor, this.names, originals, reconstructions);
    this.original.add(orig);
    sets.forEach((set, k) => this.reconstructions[k].add(set));
    this.channels = orig.shape[1] as 1 | 3;
    return this;
  }

  finish(): Record<string, ChannelHistogram[]> {
    this.cursor.end();
    const orig = this.original.shares();
    return Object.fromEntries(
      this.names.map((name, k) => {
        const recon = this.reconstructions[k].shares();
        return [name, CHANNELS[this.channels].map((ch, j) => ({ name: ch.name, range: ch.range, original: orig[j], reconstruction: recon[j] }))];
      }),
    );
  }
}

/** Per-channel histograms of originals and reconstructions (same shapes, values in [0, 1]). */
export function channelHistograms(originals: ImageInput, reconstructions: ImageInput, bins = 64): ChannelHistogram[] {
  return channelHistogramsEach(originals, { reconstructions }, bins).reconstructions;
}

/**
 * channelHistograms for several named sets of reconstructions of the same originals, which
 * are counted once (their CIELAB conversion dominates the cost for RGB images).
 *
 * @param originals Images [N, C, H, W] in [0, 1], C = 1 or 3.
 * @param reconstructions Named sets of the same shape.
 * @param bins Bins per channel (default 64).
 * @throws AnalysisError on differing shapes, other channel counts or bad bins.
 * @example
 * channelHistogramsEach(original, { A_S: generic, 'S2S-vgg': vgg })['A_S'][0].name; // 'L*'
 */
export function channelHistogramsEach(originals: ImageInput, reconstructions: Record<string, ImageInput>, bins = 64): Record<string, ChannelHistogram[]> {
  const orig = toImageSet(originals, 'originals');
  const names = Object.keys(reconstructions);
  return new ChannelHistogramsAccumulator(orig.shape[0], names, bins).add(orig, Object.values(reconstructions)).finish();
}
