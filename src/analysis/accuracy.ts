// Accuracy of classifiers on originals and on reconstructions, and the cross-evaluation matrix:
// the reconstructions of AE i (A_S first, then one AE per classifier) fed to classifier j.
import { noGrad, tidy, type Tensor } from '../engine/index.js';
import { AnalysisError } from './images.js';
import { ChunkCursor } from './stream.js';

/**
 * A classifier as a function from a batch of model inputs [B, C, H, W] to logits [B, classes]
 * (a module already in eval mode). A synchronous forward (a libtorch module) runs inside a tidy
 * scope that frees its intermediates per batch. An asynchronous one (ONNX Runtime) returns a
 * fresh tensor the caller owns; what it creates before its first await is freed when it returns.
 */
export type Forward = (x: Tensor) => Tensor | Promise<Tensor>;

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
 * What a classifier said about each image of a set: the basis of every accuracy and of its
 * bootstrap interval (resampling images is counting these, not rerunning the model).
 */
export interface ImagePredictions {
  /** Predicted class (largest logit, ties as torch.topk breaks them) per image. */
  top1: Int32Array;
  /** 1 where the label is among the 5 largest logits, per image; null with 5 classes or fewer (always 1). */
  top5Hit: Uint8Array | null;
}

/**
 * Per-image predictions of `forward` on `images` [N, C, H, W] (model-input space) against
 * `labels` [N], in batches, without autograd, freeing each batch's tensors as it goes.
 *
 * @param forward The classifier (already in eval mode), synchronous or asynchronous.
 * @param images Model inputs, on any device; batches move to `opts.device`.
 * @param labels One integer class per image.
 * @param opts Batch size, device and an optional per-batch transform.
 * @returns The predicted class of every image and, above 5 classes, its top-5 hits.
 * @throws AnalysisError on an empty set, a bad batch size or labels that do not match the images.
 * @example
 * const p = await predictClassifier((x) => model.forward(x), data.eval.images, data.eval.labels);
 * const acc = accuracyOf(p, Int32Array.from(data.eval.labels.toArray()));
 */
export async function predictClassifier(forward: Forward, images: Tensor, labels: Tensor, opts: EvalOptions = {}): Promise<ImagePredictions> {
  const batchSize = opts.batchSize ?? 256;
  const n = images.shape[0];
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new AnalysisError(`batchSize must be a positive integer, got ${batchSize}`);
  if (n === 0) throw new AnalysisError('images: accuracy of an empty set is undefined');
  if (labels.ndim !== 1 || labels.size(0) !== n) throw new AnalysisError(`labels: expected [${n}] (one per image), got [${labels.shape.join(', ')}]`);
  const top1 = new Int32Array(n);
  let top5Hit: Uint8Array | null = null;
  for (let start = 0; start < n; start += batchSize) {
    const x = noGrad(() =>
      tidy(() => {
        let x = images.slice(0, start, start + batchSize);
        if (opts.device) x = x.to({ device: opts.device });
        return opts.transform ? opts.transform(x) : x;
      }),
    );
    try {
      const logits = await batchLogits(forward, x);
      try {
        const p = tidy(() => batchPredictions(logits, labels.slice(0, start, start + batchSize)));
        top1.set(p.top1, start);
        if (p.top5Hit) (top5Hit ??= new Uint8Array(n)).set(p.top5Hit, start);
      } finally {
        // A forward may return its input as the logits.
        if (logits !== x) logits.dispose();
      }
    } finally {
      x.dispose();
    }
  }
  return { top1, top5Hit };
}

/** The logits of one batch: a synchronous forward inside tidy and noGrad, an asynchronous one awaited. */
async function batchLogits(forward: Forward, x: Tensor): Promise<Tensor> {
  let pending: Promise<Tensor> | null = null;
  const logits = noGrad(() =>
    tidy(() => {
      const out = forward(x);
      if (out instanceof Promise) {
        pending = out;
        return null;
      }
      return out;
    }),
  );
  return logits ?? (await pending!);
}

/**
 * The predictions of one batch's logits: the class of the largest logit (ties broken as
 * torch.topk breaks them) and, above 5 classes, whether the label is among the 5 largest.
 *
 * @param logits [B, K] on any device.
 * @param labels [B] integer classes.
 * @returns Plain per-image predictions (on the host).
 * @throws AnalysisError when the logits are not [B, K] for the B labels.
 * @example
 * const { top1 } = batchPredictions(model.forward(x), y);
 */
export function batchPredictions(logits: Tensor, labels: Tensor): ImagePredictions {
  const rows = labels.size(0);
  if (logits.ndim !== 2 || logits.size(0) !== rows) throw new AnalysisError(`logits: expected [${rows}, classes], got [${logits.shape.join(', ')}]`);
  return tidy(() => {
    const classes = logits.size(1);
    const [, top] = logits.topk(Math.min(5, classes), 1);
    const top1 = (top.select(1, 0).to({ dtype: 'int32', device: 'cpu' }).data() as Int32Array).slice();
    if (classes <= 5) return { top1, top5Hit: null };
    const hits = top.eq(labels.to({ device: logits.device }).unsqueeze(1)).sum(1);
    return { top1, top5Hit: (hits.to({ dtype: 'uint8', device: 'cpu' }).data() as Uint8Array).slice() };
  });
}

/**
 * Top-1 and top-5 accuracy of per-image predictions against `labels`.
 *
 * @param p Predictions of one classifier on one image set.
 * @param labels The true class of each image, in the same order.
 * @returns Shares of correct images (top5 null where the predictions carry no top-5 hits).
 * @throws AnalysisError when the lengths differ or the set is empty.
 * @example
 * accuracyOf({ top1: Int32Array.of(1, 2), top5Hit: null }, Int32Array.of(1, 0)); // { top1: 0.5, top5: null, n: 2 }
 */
export function accuracyOf(p: ImagePredictions, labels: ArrayLike<number>): Accuracy {
  const n = p.top1.length;
  if (n === 0 || labels.length !== n) throw new AnalysisError(`accuracyOf: needs one label per prediction (non-empty), got ${labels.length} labels for ${n} predictions`);
  let hits1 = 0;
  for (let i = 0; i < n; i++) if (p.top1[i] === labels[i]) hits1++;
  let hits5 = 0;
  if (p.top5Hit) for (let i = 0; i < n; i++) hits5 += p.top5Hit[i];
  return { top1: hits1 / n, top5: p.top5Hit ? hits5 / n : null, n };
}

/**
 * Top-1 (and top-5 where there are more than 5 classes) accuracy of `forward` on `images`
 * [N, C, H, W] (model-input space) against `labels` [N], in batches, without autograd.
 */
export async function evaluateClassifier(forward: Forward, images: Tensor, labels: Tensor, opts: EvalOptions = {}): Promise<Accuracy> {
  return accuracyOf(await predictClassifier(forward, images, labels, opts), labelValues(labels));
}

/** The labels tensor [N] as plain integers. */
export function labelValues(labels: Tensor): Int32Array {
  return tidy(() => labels.to({ dtype: 'int32', device: 'cpu' }).data() as Int32Array).slice();
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
  /** Per-image predictions behind cells (predictions[i][j]) and original (originalPredictions[j]). */
  predictions: ImagePredictions[][];
  originalPredictions: ImagePredictions[];
  /** The labels the accuracies were counted against. */
  labels: Int32Array;
}

/**
 * accuracyGrid over a set taken chunk by chunk: every column's classifier on each chunk of the
 * originals and of every row's images; keeps the per-image predictions (a class and a top-5 bit
 * per image and cell), never the images.
 *
 * @example
 * const grid = new AccuracyGridAccumulator(n, ['A_S', 'S2S-vgg'], [{ name: 'vgg', forward }], { batchSize: 64 });
 * for (const chunk of chunks) await grid.add(chunk.originals, [chunk.generic, chunk.vgg], chunk.labels);
 * crossMatrixOf(grid.finish());
 */
export class AccuracyGridAccumulator {
  private readonly cursor: ChunkCursor;
  private readonly labels: Int32Array;
  /** [originals, ...rows] x columns. */
  private readonly predictions: ImagePredictions[][];

  /**
   * @param images Number of images of the set.
   * @param rows Names of the sets of images judged (A_S first, then one AE per classifier), in the order add() receives them.
   * @param columns The classifiers.
   * @param opts Batch size, device and per-batch transform of every forward.
   * @throws AnalysisError without a row or a column.
   */
  constructor(
    images: number,
    private readonly rows: string[],
    private readonly columns: { name: string; forward: Forward }[],
    private readonly opts: EvalOptions = {},
  ) {
    if (rows.length === 0 || columns.length === 0) throw new AnalysisError(`crossMatrix needs at least one row and one column, got ${rows.length} and ${columns.length}`);
    this.cursor = new ChunkCursor(images, 'accuracy grid');
    this.labels = new Int32Array(images);
    this.predictions = [null, ...rows].map(() => columns.map(() => ({ top1: new Int32Array(images), top5Hit: null })));
  }

  /**
   * Runs every classifier on the next chunk.
   *
   * @param originals Chunk of originals [B, C, H, W] in model-input space.
   * @param rows One chunk of the same images per row, in the order of the row names.
   * @param labels [B] integer classes.
   * @throws AnalysisError when the chunk's tensors disagree in shape or number, or bring more images than announced.
   */
  async add(originals: Tensor, rows: Tensor[], labels: Tensor): Promise<this> {
    if (rows.length !== this.rows.length) throw new AnalysisError(`accuracy grid: ${rows.length} sets of images for the ${this.rows.length} rows (${this.rows.join(', ')})`);
    if (labels.ndim !== 1 || labels.shape[0] !== originals.shape[0]) throw new AnalysisError(`labels: expected [${originals.shape[0]}] (one per image), got [${labels.shape.join(', ')}]`);
    const offset = this.cursor.next([originals, ...rows], ['originals', ...this.rows]);
    if (originals.shape[0] === 0) return this;
    this.labels.set(labelValues(labels), offset);
    for (const [i, images] of [originals, ...rows].entries()) {
      for (const [j, c] of this.columns.entries()) {
        const p = await predictClassifier(c.forward, images, labels, this.opts);
        const kept = this.predictions[i][j];
        kept.top1.set(p.top1, offset);
        if (p.top5Hit) (kept.top5Hit ??= new Uint8Array(this.cursor.total)).set(p.top5Hit, offset);
      }
    }
    return this;
  }

  /** The grid of accuracies and the per-image predictions behind them. @throws AnalysisError unless every image was added. */
  finish(): AccuracyGrid {
    this.cursor.end();
    if (this.cursor.total === 0) throw new AnalysisError('images: accuracy of an empty set is undefined');
    const [originalPredictions, ...predictions] = this.predictions;
    return {
      rows: this.rows,
      columns: this.columns.map((c) => c.name),
      cells: predictions.map((row) => row.map((p) => accuracyOf(p, this.labels))),
      original: originalPredictions.map((p) => accuracyOf(p, this.labels)),
      predictions,
      originalPredictions,
      labels: this.labels,
    };
  }
}

/**
 * Full accuracy of every column's classifier on every row's images and on the originals, with
 * the per-image predictions behind it.
 *
 * @param rows Named sets of images [N, C, H, W] in model-input space (A_S first, then one AE per classifier).
 * @param columns The classifiers.
 * @param originals The original images, same shape.
 * @param labels [N] integer classes.
 * @param opts Batch size, device and per-batch transform.
 * @throws AnalysisError without a row or a column, on an empty set or on labels that do not match.
 * @example
 * const grid = await accuracyGrid([{ name: 'A_S', images: generic }], [{ name: 'vgg', forward }], originals, labels);
 */
export async function accuracyGrid(
  rows: { name: string; images: Tensor }[],
  columns: { name: string; forward: Forward }[],
  originals: Tensor,
  labels: Tensor,
  opts: EvalOptions = {},
): Promise<AccuracyGrid> {
  const grid = new AccuracyGridAccumulator(originals.shape[0], rows.map((r) => r.name), columns, opts);
  await grid.add(originals, rows.map((r) => r.images), labels);
  return grid.finish();
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
export async function crossMatrix(
  rows: { name: string; images: Tensor }[],
  columns: { name: string; forward: Forward }[],
  originals: Tensor,
  labels: Tensor,
  opts: EvalOptions = {},
): Promise<CrossMatrix> {
  return crossMatrixOf(await accuracyGrid(rows, columns, originals, labels, opts));
}

/** Each cell minus its column's accuracy on the originals (`baselineRow[j]`). */
export function deltaMatrix(matrix: number[][], baselineRow: number[]): number[][] {
  return matrix.map((row, i) => {
    if (row.length !== baselineRow.length) throw new AnalysisError(`deltaMatrix: row ${i} has ${row.length} values but the baseline has ${baselineRow.length}`);
    return row.map((v, j) => v - baselineRow[j]);
  });
}
