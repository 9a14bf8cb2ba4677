// Peak signal-to-noise ratio of reconstructions, per image, for pixel values in [0, 1].
import { AnalysisError, assertSameShape, toImageSet, type ImageInput } from './images.js';

/** Mean squared errors below this count as this (identical images would give an infinite PSNR). */
const MSE_FLOOR = 1e-10;

/**
 * PSNR of each reconstruction against its original: 10 log10(1 / MSE) in dB, the MSE over the
 * image's pixels and channels (floored at 1e-10, i.e. at most 100 dB).
 *
 * @param originals Images [N, C, H, W] in [0, 1].
 * @param reconstructions The same images as an AE gave them back, same shape.
 * @returns One PSNR per image.
 * @throws AnalysisError on differing shapes or an empty set.
 * @example
 * const db = psnrEach(data.evalOriginal, reconstructionPixels); // Float64Array [N]
 */
export function psnrEach(originals: ImageInput, reconstructions: ImageInput): Float64Array {
  const a = toImageSet(originals, 'originals');
  const b = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(a, b, 'originals', 'reconstructions');
  const [n, c, h, w] = a.shape;
  if (n === 0) throw new AnalysisError('PSNR of an empty set is undefined');
  const size = c * h * w;
  return Float64Array.from({ length: n }, (_, i) => {
    let sum = 0;
    for (let k = i * size; k < (i + 1) * size; k++) sum += (a.data[k] - b.data[k]) ** 2;
    return -10 * Math.log10(Math.max(MSE_FLOOR, sum / size));
  });
}
