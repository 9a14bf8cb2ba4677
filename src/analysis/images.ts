// Image sets as the pixel-level measures (NMI, histograms, grid energy, pictures) read them:
// float32 values in [0, 1] (already de-normalized and clamped by the caller), laid out
// [N, C, H, W]. Callers may pass an engine Tensor or the plain data; measures work on the plain
// data, so a Tensor is copied out once.
import type { Tensor } from '../engine/index.js';
import { S2SNetsError } from '../common/errors.js';

/** Bad input to an analysis function: the message names the argument and the reason. */
export class AnalysisError extends S2SNetsError {
  override name = 'AnalysisError';
  static override readonly codes = ['S2SNETS_ANALYSIS'] as const;
}

/** Images as flat [N, C, H, W] values in [0, 1]. */
export interface ImageSet {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** Either form the measures accept. */
export type ImageInput = Tensor | ImageSet;

function isImageSet(x: ImageInput): x is ImageSet {
  return (x as ImageSet).data instanceof Float32Array;
}

/** `input` as plain [N, C, H, W] data; `what` names the argument in error messages. */
export function toImageSet(input: ImageInput, what = 'images'): ImageSet {
  const shape = input.shape;
  if (shape.length !== 4 || shape.some((s) => !Number.isInteger(s) || s < 0)) throw new AnalysisError(`${what}: expected a shape [N, C, H, W], got [${shape.join(', ')}]`);
  const [n, c, h, w] = shape;
  if (isImageSet(input)) {
    if (input.data.length !== n * c * h * w) throw new AnalysisError(`${what}: ${input.data.length} values do not fill the shape [${shape.join(', ')}]`);
    return input;
  }
  return { data: input.toFloat32Array(), shape: [n, c, h, w] };
}

/** Throws unless both sets hold the same number of images of the same size. */
export function assertSameShape(a: { shape: readonly number[] }, b: { shape: readonly number[] }, whatA: string, whatB: string): void {
  if (a.shape.some((s, i) => s !== b.shape[i])) throw new AnalysisError(`${whatA} [${a.shape.join(', ')}] and ${whatB} [${b.shape.join(', ')}] differ in shape`);
}
