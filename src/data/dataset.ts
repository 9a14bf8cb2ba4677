// The in-memory dataset every layer above consumes: all images in one float tensor, labels in
// another, so a batch is a single index_select and a subset is one more.
import { tensor, type Tensor } from '../engine/index.js';
import { Rng } from './random.js';
import { S2SNetsError } from '../common/errors.js';

export interface Dataset {
  name: string;
  /** [N, C, H, W] float32, values in [0, 1]. */
  images: Tensor;
  /** [N] int64 class indices into classNames. */
  labels: Tensor;
  classNames: string[];
}

export class DatasetError extends S2SNetsError {
  override name = 'DatasetError';
  static override readonly codes = ['S2SNETS_DATASET'] as const;
}

export function datasetSize(d: Dataset): number {
  return d.labels.shape[0];
}

/** Labels as plain numbers (copied out of the tensor). */
export function labelArray(d: Dataset): number[] {
  return d.labels.toArray();
}

/** Number of examples per class, indexed like classNames. */
export function classCounts(d: Dataset): number[] {
  const counts = new Array<number>(d.classNames.length).fill(0);
  for (const y of labelArray(d)) counts[y]++;
  return counts;
}

/** Frees the dataset's tensors. */
export function disposeDataset(d: Dataset): void {
  d.images.dispose();
  d.labels.dispose();
}

/** Images and labels of the examples at `indices`, in that order, as new tensors on the dataset's device. */
export function selectExamples(d: Dataset, indices: ArrayLike<number>): { images: Tensor; labels: Tensor } {
  const n = datasetSize(d);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!Number.isInteger(k) || k < 0 || k >= n) throw new DatasetError(`${d.name}: index ${k} out of range [0, ${n})`);
  }
  const index = tensor(BigInt64Array.from(Array.from(indices, BigInt)), [indices.length], { device: d.images.device });
  try {
    return { images: d.images.indexSelect(0, index), labels: d.labels.indexSelect(0, index) };
  } finally {
    index.dispose();
  }
}

/** The examples at `indices` as a new dataset (the caller owns its tensors). */
export function subsetDataset(d: Dataset, indices: ArrayLike<number>, name = d.name): Dataset {
  return { name, ...selectExamples(d, indices), classNames: d.classNames };
}

/** Indices of each class, in ascending order. */
function indicesByClass(labels: readonly number[], numClasses: number): number[][] {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((y, i) => byClass[y].push(i));
  return byClass;
}

/**
 * Splits example indices per class: each class is shuffled with a seeded PRNG and its first
 * round(testFraction * classSize) examples go to the test side. Both sides come back sorted,
 * so the split depends only on the labels, the fraction and the seed.
 */
export function stratifiedSplit(labels: readonly number[], numClasses: number, testFraction: number, seed: number): { train: number[]; test: number[] } {
  if (!(testFraction > 0 && testFraction < 1)) throw new DatasetError(`testFraction must be in (0, 1), got ${testFraction}`);
  const rng = new Rng(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const members of indicesByClass(labels, numClasses)) {
    rng.shuffle(members);
    const nTest = Math.round(testFraction * members.length);
    test.push(...members.slice(0, nTest));
    train.push(...members.slice(nTest));
  }
  const ascending = (a: number, b: number) => a - b;
  return { train: train.sort(ascending), test: test.sort(ascending) };
}

/**
 * Picks `count` example indices, stratified: every class gets count * classShare examples
 * (largest remainders round up), chosen with a seeded PRNG; returned sorted.
 */
export function stratifiedSample(labels: readonly number[], numClasses: number, count: number, seed: number): number[] {
  if (!Number.isInteger(count) || count < 0) throw new DatasetError(`sample size must be a non-negative integer, got ${count}`);
  if (count >= labels.length) return labels.map((_, i) => i);
  const byClass = indicesByClass(labels, numClasses);
  const exact = byClass.map((m) => (count * m.length) / labels.length);
  const take = exact.map(Math.floor);
  // Hand out the rounding remainder to the classes with the largest fractional parts.
  const order = exact.map((_, c) => c).sort((a, b) => exact[b] - take[b] - (exact[a] - take[a]) || a - b);
  for (let k = 0, left = count - take.reduce((a, b) => a + b, 0); left > 0; k++, left--) take[order[k]]++;
  const rng = new Rng(seed);
  const chosen = byClass.flatMap((m, c) => rng.shuffle(m).slice(0, take[c]));
  return chosen.sort((a, b) => a - b);
}

/** A seeded, stratified subset of at most `count` examples (for quick modes and tests). */
export function limitDataset(d: Dataset, count: number, seed = 0): Dataset {
  const indices = stratifiedSample(labelArray(d), d.classNames.length, count, seed);
  return subsetDataset(d, indices, `${d.name}[${indices.length}]`);
}
