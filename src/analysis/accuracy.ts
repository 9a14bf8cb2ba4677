// Accuracy of classifiers on originals and on reconstructions, and the cross-evaluation matrix:
// the reconstructions of AE i (A_S first, then one AE per classifier) fed to classifier j.
import { noGrad, tidy, type Tensor } from '../engine/index.js';

export type Forward = (x: Tensor) => Tensor;

/** Share of examples whose label is among the k largest logits, batched, without autograd. */
export function topKAccuracy(forward: Forward, images: Tensor, labels: Tensor, o: { k?: number; batchSize?: number; device?: string } = {}): number {
  const k = o.k ?? 1;
  const batchSize = o.batchSize ?? 256;
  const n = labels.shape[0];
  if (n === 0) throw new RangeError('accuracy of an empty set is undefined');
  return noGrad(() => {
    let correct = 0;
    for (let i = 0; i < n; i += batchSize) {
      correct += tidy(() => {
        const x = images.slice(0, i, i + batchSize);
        const logits = forward(o.device ? x.to({ device: o.device }) : x);
        const [, top] = logits.topk(Math.min(k, logits.size(1)), 1);
        return top.cpu().eq(labels.slice(0, i, i + batchSize).unsqueeze(1)).sum().item();
      });
    }
    return correct / n;
  });
}

export interface Accuracy {
  top1: number;
  /** Only where there are more than 5 classes. */
  top5: number | null;
}

export function accuracy(forward: Forward, images: Tensor, labels: Tensor, classes: number, o: { batchSize?: number; device?: string } = {}): Accuracy {
  return { top1: topKAccuracy(forward, images, labels, o), top5: classes > 5 ? topKAccuracy(forward, images, labels, { ...o, k: 5 }) : null };
}

export interface CrossMatrix {
  rows: string[];
  columns: string[];
  /** top1[i][j]: accuracy of classifier j on the reconstructions of AE i. */
  top1: number[][];
  /** Accuracy of each classifier on the original images. */
  original: number[];
  /** top1[i][j] - original[j]. */
  delta: number[][];
}

export function crossMatrix(
  rows: { name: string; images: Tensor }[],
  columns: { name: string; forward: Forward }[],
  original: Tensor,
  labels: Tensor,
  o: { batchSize?: number; device?: string } = {},
): CrossMatrix {
  const base = columns.map((c) => topKAccuracy(c.forward, original, labels, o));
  const top1 = rows.map((r) => columns.map((c) => topKAccuracy(c.forward, r.images, labels, o)));
  return { rows: rows.map((r) => r.name), columns: columns.map((c) => c.name), top1, original: base, delta: deltaMatrix(top1, base) };
}

/** Each cell minus its column's accuracy on the originals. */
export function deltaMatrix(matrix: number[][], original: number[]): number[][] {
  return matrix.map((row) => row.map((v, j) => v - original[j]));
}
