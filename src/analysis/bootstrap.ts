// Bootstrap intervals over the evaluation images. Every measure here is a mean of per-item values
// (an image's correctness, PSNR or NMI; a pair's inter-NMI), so a resample is a reweighting of
// those values: resampling is counting, never rerunning a model. Resample b draws n items with
// replacement from its own seeded stream, so the same (n, seed) always gives the same resamples:
// two measures resampled with the same options are paired (the same images in every resample),
// which is what differences between them need.
import { deriveSeed, Rng } from '../data/random.js';
import { AnalysisError } from './images.js';

/** A [low, high] interval. */
export type Interval = [number, number];

export interface BootstrapOptions {
  /** Resamples drawn (default 1000). */
  resamples?: number;
  /** Seed of the resampling streams (default 0). */
  seed?: number;
}

/** The interval level every report shows: 95 %. */
export const CI_LEVEL = 0.95;
/** Bootstrap resamples when none are given: enough for stable 95 % percentile limits. */
export const DEFAULT_RESAMPLES = 1000;

function checkedResamples(o: BootstrapOptions): number {
  const b = o.resamples ?? DEFAULT_RESAMPLES;
  if (!Number.isInteger(b) || b < 1) throw new AnalysisError(`bootstrap resamples must be a positive integer, got ${b}`);
  return b;
}

/**
 * Means of each vector over bootstrap resamples of its items: out[v][b] is the mean of
 * vectors[v] over the items drawn in resample b. All vectors are resampled alike (paired).
 *
 * @param vectors Per-item values, all of the same length n (one entry per image or pair).
 * @param opts Number of resamples and seed.
 * @returns One Float64Array of resampled means per vector.
 * @throws AnalysisError when the vectors are empty or differ in length.
 * @example
 * const [acc] = bootstrapMeans([Uint8Array.of(1, 0, 1, 1)], { resamples: 1000, seed: 0 });
 * percentileInterval(acc); // e.g. [0.25, 1]
 */
export function bootstrapMeans(vectors: ArrayLike<number>[], opts: BootstrapOptions = {}): Float64Array[] {
  const resamples = checkedResamples(opts);
  const n = vectors[0]?.length ?? 0;
  if (n === 0) throw new AnalysisError('bootstrap: needs at least one vector of at least one item');
  vectors.forEach((v, k) => {
    if (v.length !== n) throw new AnalysisError(`bootstrap: vector ${k} has ${v.length} items, expected ${n} (paired vectors share their items)`);
  });
  // One item-major copy keeps the inner loop monomorphic and cache-friendly.
  const width = vectors.length;
  const items = new Float64Array(n * width);
  vectors.forEach((v, k) => {
    for (let i = 0; i < n; i++) items[i * width + k] = v[i];
  });
  const out = vectors.map(() => new Float64Array(resamples));
  const sums = new Float64Array(width);
  for (let b = 0; b < resamples; b++) {
    const rng = new Rng(deriveSeed(opts.seed ?? 0, 'bootstrap', b));
    sums.fill(0);
    for (let k = 0; k < n; k++) {
      const row = rng.int(n) * width;
      for (let v = 0; v < width; v++) sums[v] += items[row + v];
    }
    for (let v = 0; v < width; v++) out[v][b] = sums[v] / n;
  }
  return out;
}

/**
 * The percentile interval of bootstrap samples: the (1 - level) / 2 and (1 + level) / 2
 * quantiles, linearly interpolated between order statistics.
 *
 * @param samples Resampled values of one measure.
 * @param level Coverage, default 0.95.
 * @throws AnalysisError on no samples, a level outside (0, 1) or a non-finite sample.
 * @example
 * percentileInterval(Float64Array.from({ length: 101 }, (_, i) => i)); // [2.5, 97.5]
 */
export function percentileInterval(samples: ArrayLike<number>, level = CI_LEVEL): Interval {
  if (samples.length === 0) throw new AnalysisError('percentileInterval: no samples');
  if (!(level > 0 && level < 1)) throw new AnalysisError(`percentileInterval: level must be in (0, 1), got ${level}`);
  const sorted = Float64Array.from(samples).sort();
  if (!Number.isFinite(sorted[0]) || !Number.isFinite(sorted[sorted.length - 1])) throw new AnalysisError('percentileInterval: a sample is not finite');
  const quantile = (q: number) => {
    const pos = q * (sorted.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  };
  return [quantile((1 - level) / 2), quantile((1 + level) / 2)];
}

/** A mean with its bootstrap interval. */
export interface Estimate {
  value: number;
  ci95: Interval;
}

/**
 * The mean of per-item values with its 95 % percentile bootstrap interval.
 *
 * @param values One value per item (image or pair).
 * @param opts Number of resamples and seed.
 * @throws AnalysisError on an empty vector.
 * @example
 * meanEstimate([20.1, 22.3, 19.8], { seed: 1 }).ci95; // PSNR interval in dB
 */
export function meanEstimate(values: ArrayLike<number>, opts: BootstrapOptions = {}): Estimate {
  const [samples] = bootstrapMeans([values], opts);
  return { value: mean(values), ci95: percentileInterval(samples) };
}

/** The arithmetic mean (in double precision). */
export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) throw new AnalysisError('mean of no values');
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}
