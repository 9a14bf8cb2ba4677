// Accuracy of classifiers on originals and on reconstructions, and the cross-evaluation matrix:
// the reconstructions of AE i (A_S first, then one AE per classifier) fed to classifier j.
import { noGrad, tidy, type Tensor } from '../engine/index.js';
import { AnalysisError } from './images.js';

/** A classifier as a function from a batch of model inputs [B, C, H, W] to logits [B, classes] (a module already in eval mode). */
export type Forward = (x: Tensor) => Tensor;

export interface EvalOptions {
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /**
   * Applied to each batch after it has moved to `device` and before `forward`, e.g. a resize
   * to the classifier's input size or a change of normalization.
   */
  transform?: (x: Tensor) => Tensor;
  /** Device the batches move to (default: where the images are). */
  device?: string;
}

export interface Accuracy {
  top1: number;
  /** Top-5 accuracy, or null where there are 5 classes or fewer (it would always be 1). */
  top5: number | null;
  /** Number of images evaluated. */
  n: number;
}

/** For each k, how many rows of `logits` [B, K] have their label among the k largest logits. */
function topKCorrect(logits: Tensor, labels: Tensor, ks: number[]): number[] {
  if (logits.ndim !== 2) throw new AnalysisError(`logits: expected [batch, classes], got [${logits.shape.join(', ')}]`);
  if (labels.ndim !== 1 || labels.size(0) !== logits.size(0)) throw new AnalysisError(`labels: expected [${logits.size(0)}] to match the logits, got [${labels.shape.join(', ')}]`);
  for (const k of ks) if (!Number.isInteger(k) || k < 1) throw new AnalysisError(`ks: each k must be a positive integer, got ${k}`);
  const classes = logits.size(1);
  return tidy(() => {
    // A k beyond the number of classes counts every row as correct.
    const widest = Math.min(classes, Math.max(...ks));
    const [, top] = logits.topk(widest, 1);
    const hits = top.eq(labels.to({ device: logits.device }).unsqueeze(1));
    return ks.map((k) => hits.slice(1, 0, Math.min(k, classes)).sum().item());
  });
}

/**
 * Share of rows of `logits` [N, K] whose label (`labels` [N], integer) is among the k largest
 * logits, for each k of `ks` (in that order). Equal logits are ranked as torch.topk ranks them.
 */
export function topKAccuracy(logits: Tensor, labels: Tensor, ks: number[]): number[] {
  const n = logits.shape[0];
  if (n === 0) throw new AnalysisError('logits: accuracy of an empty set is undefined');
  return topKCorrect(logits, labels, ks).map((c) => c / n);
}

/**
 * Top-1 (and top-5 where there are more than 5 classes) accuracy of `forward` on `images`
 * [N, C, H, W] (model-input space) against `labels` [N], in batches, without autograd, freeing
 * each batch's tensors as it goes.
 */
export function evaluateClassifier(forward: Forward, images: Tensor, labels: Tensor, opts: EvalOptions = {}): Accuracy {
  const batchSize = opts.batchSize ?? 256;
  const n = images.shape[0];
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new AnalysisError(`batchSize must be a positive integer, got ${batchSize}`);
  if (n === 0) throw new AnalysisError('images: accuracy of an empty set is undefined');
  if (labels.ndim !== 1 || labels.size(0) !== n) throw new AnalysisError(`labels: expected [${n}] (one per image), got [${labels.shape.join(', ')}]`);
  let top1 = 0;
  let top5 = 0;
  let classes = 0;
  noGrad(() => {
    for (let start = 0; start < n; start += batchSize) {
      const [c1, c5, k] = tidy(() => {
        let x = images.slice(0, start, start + batchSize);
        if (opts.device) x = x.to({ device: opts.device });
        if (opts.transform) x = opts.transform(x);
        const logits = forward(x);
        return [...topKCorrect(logits, labels.slice(0, start, start + batchSize), [1, 5]), logits.shape[1]];
      });
      top1 += c1;
      top5 += c5;
      classes = k;
    }
  });
  return { top1: top1 / n, top5: classes > 5 ? top5 / n : null, n };
}

export interface CrossMatrix {
  /** Autoencoder names, in the order given (A_S first, then one per classifier). */
  rows: string[];
  /** Classifier names. */
  columns: string[];
  /** top1[i][j]: top-1 accuracy of classifier j on the reconstructions of AE i. */
  top1: number[][];
  /** Top-1 accuracy of each classifier on the original images. */
  original: number[];
  /** top1[i][j] - original[j]: the change against the originals. */
  delta: number[][];
}

/** Full accuracy (top-1, top-5) of every column's classifier on every row's images, and on the originals. */
export interface AccuracyGrid {
  rows: string[];
  columns: string[];
  /** cells[i][j]: classifier j on the images of row i. */
  cells: Accuracy[][];
  /** original[j]: classifier j on the original images. */
  original: Accuracy[];
}

export function accuracyGrid(
  rows: { name: string; images: Tensor }[],
  columns: { name: string; forward: Forward }[],
  originals: Tensor,
  labels: Tensor,
  opts: EvalOptions = {},
): AccuracyGrid {
  if (rows.length === 0 || columns.length === 0) throw new AnalysisError(`crossMatrix needs at least one row and one column, got ${rows.length} and ${columns.length}`);
  const original = columns.map((c) => evaluateClassifier(c.forward, originals, labels, opts));
  const cells = rows.map((r) => columns.map((c) => evaluateClassifier(c.forward, r.images, labels, opts)));
  return { rows: rows.map((r) => r.name), columns: columns.map((c) => c.name), cells, original };
}

/** The top-1 cross matrix (and its changes against the originals) of an accuracy grid. */
export function crossMatrixOf(g: AccuracyGrid): CrossMatrix {
  const top1 = g.cells.map((row) => row.map((a) => a.top1));
  const original = g.original.map((a) => a.top1);
  return { rows: g.rows, columns: g.columns, top1, original, delta: deltaMatrix(top1, original) };
}

/**
 * Cross-evaluation: every classifier (column) on every AE's reconstructions (row) and on the
 * originals. All image tensors are [N, C, H, W] in normalized model-input space and share
 * `labels`. With A_S first and then one AE per classifier this is the (N+1) x N matrix.
 */
export function crossMatrix(
  rows: { name: string; images: Tensor }[],
  columns: { name: string; forward: Forward }[],
  originals: Tensor,
  labels: Tensor,
  opts: EvalOptions = {},
): CrossMatrix {
  return crossMatrixOf(accuracyGrid(rows, columns, originals, labels, opts));
}

/** Each cell minus its column's accuracy on the originals (`baselineRow[j]`). */
export function deltaMatrix(matrix: number[][], baselineRow: number[]): number[][] {
  return matrix.map((row, i) => {
    if (row.length !== baselineRow.length) throw new AnalysisError(`deltaMatrix: row ${i} has ${row.length} values but the baseline has ${baselineRow.length}`);
    return row.map((v, j) => v - baselineRow[j]);
  });
}
