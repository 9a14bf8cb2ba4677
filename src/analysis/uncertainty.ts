// Intervals for the accuracy measures, from per-image predictions: every accuracy, every cell of
// the cross matrix and every change against the originals, all from one set of bootstrap
// resamples of the evaluation images, so that changes are paired (both terms on the same images).
import { accuracyOf, type AccuracyGrid, type ImagePredictions } from './accuracy.js';
import { bootstrapMeans, mean, percentileInterval, type BootstrapOptions, type Estimate, type Interval } from './bootstrap.js';

/** Intervals of one accuracy: top-1, and top-5 where there are more than 5 classes. */
export interface AccuracyInterval {
  top1: Interval;
  top5: Interval | null;
}

export interface GridUncertainty {
  /** original[j]: classifier j on the originals. */
  original: AccuracyInterval[];
  /** cells[i][j]: classifier j on the images of row i. */
  cells: AccuracyInterval[][];
  /** delta[i][j]: paired interval of the top-1 change cells[i][j] - original[j]. */
  delta: Interval[][];
  /** deltaSamples[i][j][b]: the top-1 change in resample b (what the order's confidence counts). */
  deltaSamples: Float64Array[][];
}

/**
 * 1 where the classifier's top-1 prediction is right, per image.
 *
 * @param p Predictions of one classifier on one image set.
 * @param labels The true classes.
 * @example
 * correctness({ top1: Int32Array.of(3, 1), top5Hit: null }, [3, 2]); // Uint8Array [1, 0]
 */
export function correctness(p: ImagePredictions, labels: ArrayLike<number>): Uint8Array {
  accuracyOf(p, labels); // checks the lengths
  return Uint8Array.from(p.top1, (c, i) => (c === labels[i] ? 1 : 0));
}

/**
 * Bootstrap intervals of every accuracy of a grid and of every top-1 change against the originals.
 *
 * @param grid Accuracies with their per-image predictions (accuracyGrid's result).
 * @param opts Resamples and seed; the same options give the same resamples (paired across calls).
 * @example
 * const u = gridUncertainty(accuracyGrid(rows, columns, originals, labels), { resamples: 1000, seed: 0 });
 * u.delta[1][0]; // [low, high] of column 0's change on row 1's reconstructions
 */
export function gridUncertainty(grid: AccuracyGrid, opts: BootstrapOptions = {}): GridUncertainty {
  const sets = [grid.originalPredictions, ...grid.predictions];
  const vectors: ArrayLike<number>[] = [];
  // Per set and column: the index of its top-1 vector and of its top-5 vector (-1: none).
  const slots = sets.map((row) =>
    row.map((p) => {
      const top1 = vectors.push(correctness(p, grid.labels)) - 1;
      const top5 = p.top5Hit ? vectors.push(p.top5Hit) - 1 : -1;
      return { top1, top5 };
    }),
  );
  const samples = bootstrapMeans(vectors, opts);
  const intervals = (row: { top1: number; top5: number }[]): AccuracyInterval[] =>
    row.map((s) => ({ top1: percentileInterval(samples[s.top1]), top5: s.top5 < 0 ? null : percentileInterval(samples[s.top5]) }));
  const deltaSamples = slots.slice(1).map((row) => row.map((s, j) => samples[s.top1].map((v, b) => v - samples[slots[0][j].top1][b])));
  return {
    original: intervals(slots[0]),
    cells: slots.slice(1).map(intervals),
    delta: deltaSamples.map((row) => row.map((d) => percentileInterval(d))),
    deltaSamples,
  };
}

/** Two paired per-image measures and their difference b - a, each with its bootstrap interval. */
export interface PairedChange {
  a: Estimate;
  b: Estimate;
  change: Estimate;
}

/**
 * Means of two per-image measures on the same images and of their difference, with paired
 * bootstrap intervals (the same resampled images for both).
 *
 * @param a Per-image values of the first measure (e.g. correctness on noisy originals).
 * @param b Per-image values of the second, same images in the same order.
 * @param opts Resamples and seed.
 * @throws AnalysisError when the lengths differ or are zero.
 * @example
 * pairedChange(correctOnNoisy, correctOnOwnReconstruction, { seed: 0 }).change.ci95;
 */
export function pairedChange(a: ArrayLike<number>, b: ArrayLike<number>, opts: BootstrapOptions = {}): PairedChange {
  const [sa, sb] = bootstrapMeans([a, b], opts);
  const [ma, mb] = [mean(a), mean(b)];
  return {
    a: { value: ma, ci95: percentileInterval(sa) },
    b: { value: mb, ci95: percentileInterval(sb) },
    change: { value: mb - ma, ci95: percentileInterval(sb.map((v, i) => v - sa[i])) },
  };
}
