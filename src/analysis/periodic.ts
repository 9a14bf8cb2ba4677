// Periodic artifacts: how much power a reconstruction adds over its original at the frequencies
// of a period-p pattern (checkerboards and stripes from strided sampling: the paper's AlexNet
// and ResNet-50 grids). Unlike gridEnergy (a share of the error, which a colour cast or blur
// dilutes), this compares the two images' spectra at fixed frequencies, so other errors do not
// hide a grid and a grid does not need other errors to be seen.
//
// The frequencies of period p are k/p cycles per pixel with 1 <= k <= p/2 and gcd(k, p) = 1 (the
// harmonics whose exact period is p: 1/2 for p = 2; 1/4 for p = 4; 1/8 and 3/8 for p = 8),
// horizontally (f, 0), vertically (0, f) and diagonally (f, f) and (f, -f). Each is evaluated as
// an exact DFT sum over the image, so any image size works, after multiplying the image by a 2D
// Hann window: without it, the jump between opposite edges of a non-periodic image leaks its
// low-frequency power into every frequency and swamps what a grid or a blur does there (the
// periodic Hann window has exact zeros at every integer DFT bin beyond the first, so a constant
// offset leaks nothing). Per period:
// - db: 10 log10(P_rec / P_orig), where P is the power at those frequencies averaged over
//   channels and images (power is averaged before the ratio, so an image whose
//   original has almost no power there cannot dominate). 0 dB: nothing added; above 0: the
//   reconstruction adds a pattern of that period; below 0: it removes power (blur).
// - amplitude: RMS of the added pattern in pixel units (0..1 scale),
//   sqrt(max(0, P_rec - P_orig)) with P normalized by Parseval (using the window's sum in place
//   of the pixel count) and averaged over channels, so a +-A checkerboard added to images gives amplitude ~A at p = 2. 0
//   when nothing is added.
// The cross term between image and pattern averages out over images whose content does not
// line up with the grid, which is why amplitude is estimated from power averaged over images.
// Both figures are functions of per-image powers, so their 95 % intervals come from resampling
// images (bootstrap.ts).
import { bootstrapMeans, mean, percentileInterval, type BootstrapOptions, type Interval } from './bootstrap.js';
import { AnalysisError, type ImageInput, type ImageSet } from './images.js';
import { ChunkCursor, pairedChunk, wholeSet, type PairedAccumulator } from './stream.js';

export const ARTIFACT_PERIODS = [2, 4, 8] as const;
export type ArtifactDirection = 'horizontal' | 'vertical' | 'diagonal';

export interface PeriodicArtifact {
  period: number;
  /** Power of the reconstructions over the originals' at this period's frequencies, dB. */
  db: number;
  /** RMS amplitude (pixel units, 0..1) of the pattern the reconstructions add; 0 when they add none. */
  amplitude: number;
  /** db per direction. */
  byDirection: Record<ArtifactDirection, number>;
  ci95: { db: Interval; amplitude: Interval };
}

interface Frequency {
  fx: number;
  fy: number;
  direction: ArtifactDirection;
  /** 1 when the frequency is its own mirror image (-f = f mod 1), else 2: counts the mirror for Parseval. */
  multiplicity: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const selfMirror = (f: number) => Math.abs(2 * f - Math.round(2 * f)) < 1e-12;

/** The frequencies of period p (see the top of this file). */
export function periodFrequencies(p: number): Frequency[] {
  if (!Number.isInteger(p) || p < 2) throw new AnalysisError(`period must be an integer of at least 2, got ${p}`);
  const out: Frequency[] = [];
  for (let k = 1; k <= p / 2; k++) {
    if (gcd(k, p) !== 1) continue;
    const f = k / p;
    const m = selfMirror(f) ? 1 : 2;
    out.push({ fx: f, fy: 0, direction: 'horizontal', multiplicity: m });
    out.push({ fx: 0, fy: f, direction: 'vertical', multiplicity: m });
    out.push({ fx: f, fy: f, direction: 'diagonal', multiplicity: m });
    // (f, -f) is (f, f) again when f is 1/2.
    if (!selfMirror(f)) out.push({ fx: f, fy: -f, direction: 'diagonal', multiplicity: m });
  }
  return out;
}

/** The periodic Hann window of length n. */
const hann = (n: number) => Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));

/** A frequency's periodic-Hann-windowed cosine and sine over an image's pixels, computed once per image size. */
interface FrequencyTable {
  cos: Float64Array;
  sin: Float64Array;
}

/** The tables of `freqs` for h x w images and the window's sum (see imagePower). */
function frequencyTables(freqs: Frequency[], h: number, w: number): { tables: FrequencyTable[]; windowSum: number } {
  const plane = h * w;
  const [wy, wx] = [hann(h), hann(w)];
  const windowSum = wy.reduce((a, b) => a + b, 0) * wx.reduce((a, b) => a + b, 0);
  const tables = freqs.map(({ fx, fy }) => {
    const cos = new Float64Array(plane);
    const sin = new Float64Array(plane);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const phase = 2 * Math.PI * (fx * x + fy * y);
        cos[y * w + x] = wy[y] * wx[x] * Math.cos(phase);
        sin[y * w + x] = wy[y] * wx[x] * Math.sin(phase);
      }
    }
    return { cos, sin };
  });
  return { tables, windowSum };
}

/**
 * Per frequency and image, Parseval-normalized power of the windowed image, averaged over
 * channels: power[k][i] is the mean over channels of m |X(f_k)|² / (Σ window)² of image i.
 */
function imagePower(set: ImageSet, freqs: Frequency[], { tables, windowSum }: { tables: FrequencyTable[]; windowSum: number }): Float64Array[] {
  const [n, c, h, w] = set.shape;
  const plane = h * w;
  const power = freqs.map(() => new Float64Array(n));
  for (let i = 0; i < n * c; i++) {
    const base = i * plane;
    freqs.forEach((f, k) => {
      const { cos, sin } = tables[k];
      let re = 0;
      let im = 0;
      for (let p = 0; p < plane; p++) {
        const v = set.data[base + p];
        re += v * cos[p];
        im -= v * sin[p];
      }
      power[k][Math.floor(i / c)] += (f.multiplicity * (re * re + im * im)) / (windowSum * windowSum * c);
    });
  }
  return power;
}

const DIRECTIONS = ['horizontal', 'vertical', 'diagonal'] as const;

const toDb = (rec: number, orig: number) => (rec === orig ? 0 : 10 * Math.log10(Math.max(rec, 1e-30) / Math.max(orig, 1e-30)));

/** One period's frequencies, its tables once the image size is known, and per image the power of originals and reconstructions per direction. */
interface PeriodState {
  period: number;
  freqs: Frequency[];
  tables: { tables: FrequencyTable[]; windowSum: number } | null;
  /** [orig horizontal, rec horizontal, orig vertical, rec vertical, orig diagonal, rec diagonal], one value per image each. */
  vectors: Float64Array[];
}

/** One period's figures from its per-image powers (see the top of this file). */
function periodFigures(state: PeriodState, boot: BootstrapOptions): PeriodicArtifact {
  // From the mean powers [orig, rec] per direction: db and amplitude over all directions.
  const figures = (m: number[]) => {
    const [so, sr] = [m[0] + m[2] + m[4], m[1] + m[3] + m[5]];
    return { db: toDb(sr, so), amplitude: Math.sqrt(Math.max(0, sr - so)) };
  };
  const means = state.vectors.map(mean);
  const resampled = bootstrapMeans(state.vectors, boot);
  const samples = Array.from(resampled[0], (_, b) => figures(resampled.map((r) => r[b])));
  const byDirection = Object.fromEntries(DIRECTIONS.map((d, j) => [d, toDb(means[2 * j + 1], means[2 * j])])) as Record<ArtifactDirection, number>;
  return {
    period: state.period,
    ...figures(means),
    byDirection,
    ci95: { db: percentileInterval(samples.map((f) => f.db)), amplitude: percentileInterval(samples.map((f) => f.amplitude)) },
  };
}

/**
 * periodicArtifacts over a set taken chunk by chunk: keeps six powers per image and period.
 *
 * @example
 * const periodic = new PeriodicAccumulator(n);
 * for (const chunk of chunks) periodic.add(chunk.originals, chunk.reconstructions);
 * periodic.finish({ seed: 0 })[0].db; // > 0: a checkerboard was added
 */
export class PeriodicAccumulator implements PairedAccumulator<PeriodicArtifact[]> {
  private readonly cursor: ChunkCursor;
  private readonly states: PeriodState[];

  /**
   * @param images Number of images of the set.
   * @param periods The periods to measure (default 2, 4, 8).
   * @throws AnalysisError when a period is not an integer >= 2.
   */
  constructor(images: number, periods: readonly number[] = ARTIFACT_PERIODS) {
    this.cursor = new ChunkCursor(images, 'periodic artifacts');
    this.states = periods.map((period) => ({ period, freqs: periodFrequencies(period), tables: null, vectors: Array.from({ length: 2 * DIRECTIONS.length }, () => new Float64Array(images)) }));
  }

  add(originals: ImageInput, reconstructions: ImageInput): this {
    const { orig, recon, offset } = pairedChunk(this.cursor, originals, reconstructions);
    const [n, , h, w] = orig.shape;
    for (const state of this.states) {
      const { period: p, freqs, vectors } = state;
      if (h < p || w < p) throw new AnalysisError(`period ${p} needs images of at least ${p}x${p} pixels, got ${h}x${w}`);
      state.tables ??= frequencyTables(freqs, h, w);
      const [po, pr] = [imagePower(orig, freqs, state.tables), imagePower(recon, freqs, state.tables)];
      DIRECTIONS.forEach((d, j) => {
        // Per image, the power in direction d: a sum over its frequencies in their order.
        for (let i = 0; i < n; i++) {
          vectors[2 * j][offset + i] = freqs.reduce((s, f, k) => s + (f.direction === d ? po[k][i] : 0), 0);
          vectors[2 * j + 1][offset + i] = freqs.reduce((s, f, k) => s + (f.direction === d ? pr[k][i] : 0), 0);
        }
      });
    }
    return this;
  }

  finish(boot: BootstrapOptions = {}): PeriodicArtifact[] {
    this.cursor.end();
    return this.states.map((state) => periodFigures(state, boot));
  }
}

/**
 * The periodic-artifact measure for each period (see the top of this file).
 * @param originals [N, C, H, W] in [0, 1]
 * @param reconstructions the same shape
 * @param periods the periods to measure (default 2, 4, 8)
 * @param boot resamples and seed of the intervals
 * @throws AnalysisError when the shapes differ, the images are smaller than a period, or a period is not an integer >= 2
 * @example periodicArtifacts(orig, recon)[0].db // > 0: a checkerboard was added
 */
export function periodicArtifacts(originals: ImageInput, reconstructions: ImageInput, periods: readonly number[] = ARTIFACT_PERIODS, boot: BootstrapOptions = {}): PeriodicArtifact[] {
  return wholeSet((n) => new PeriodicAccumulator(n, periods), originals, reconstructions, boot);
}
