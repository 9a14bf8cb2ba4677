// Peak signal-to-noise ratio of reconstructions, per image, for pixel values in [0, 1].
import { AnalysisError, type ImageInput } from './images.js';
import { ChunkCursor, pairedChunk, wholeSet, type PairedAccumulator } from './stream.js';

/** Mean squared errors below this count as this (identical images would give an infinite PSNR). */
const MSE_FLOOR = 1e-10;

/**
 * psnrEach over a set taken chunk by chunk: keeps one number per image.
 *
 * @example
 * const psnr = new PsnrAccumulator(n);
 * for (const chunk of chunks) psnr.add(chunk.originals, chunk.reconstructions);
 * meanEstimate(psnr.finish(), boot);
 */
export class PsnrAccumulator implements PairedAccumulator<Float64Array> {
  private readonly cursor: ChunkCursor;
  private readonly values: Float64Array;

  /**
   * @param images Number of images of the set.
   * @throws AnalysisError on an empty set.
   */
  constructor(images: number) {
    this.cursor = new ChunkCursor(images, 'PSNR');
    if (images === 0) throw new AnalysisError('PSNR of an empty set is undefined');
    this.values = new Float64Array(images);
  }

  add(originals: ImageInput, reconstructions: ImageInput): this {
    const { orig, recon, offset } = pairedChunk(this.cursor, originals, reconstructions);
    const [n, c, h, w] = orig.shape;
    const size = c * h * w;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let k = i * size; k < (i + 1) * size; k++) sum += (orig.data[k] - recon.data[k]) ** 2;
      this.values[offset + i] = -10 * Math.log10(Math.max(MSE_FLOOR, sum / size));
    }
    return this;
  }

  finish(): Float64Array {
    this.cursor.end();
    return this.values;
  }
}

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
  return wholeSet((n) => new PsnrAccumulator(n), originals, reconstructions);
}
