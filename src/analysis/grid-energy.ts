// A grid-artifact measure beyond the paper: how much of the reconstruction error is a
// period-2 pattern (checkerboard or stripes), the signature of strided sampling (AlexNet,
// ResNet's strided 1x1 convolutions).
//
// For each 2x2 block of the error e = reconstruction - original, the polyphase differences
// (e00 - e01 + e10 - e11, e00 + e01 - e10 - e11, e00 - e01 - e10 + e11) are the block's
// components at the horizontal, vertical and diagonal Nyquist frequencies. gridEnergy is their
// energy over the error's total energy: 0.75 for white noise, near 1 for a pure checkerboard,
// near 0 for smooth errors (exactly 0 for a constant offset such as a brightness shift). The
// differences are local, so a checkerboard whose strength varies across the image still counts.
// An odd last row or column is left out. Identical sets (no error at all) give 0.
import { AnalysisError, type ImageInput } from './images.js';
import { ChunkCursor, pairedChunk, wholeSet, type PairedAccumulator } from './stream.js';

/**
 * gridEnergy over a set taken chunk by chunk: keeps two running sums, added in the same order
 * as over the whole set, so the result is the same to the last bit.
 *
 * @example
 * const grid = new GridEnergyAccumulator(n);
 * for (const chunk of chunks) grid.add(chunk.originals, chunk.reconstructions);
 * grid.finish(); // 0.75 for white-noise errors
 */
export class GridEnergyAccumulator implements PairedAccumulator<number> {
  private readonly cursor: ChunkCursor;
  private nyquist = 0;
  private total = 0;

  /** @param images Number of images of the set. */
  constructor(images: number) {
    this.cursor = new ChunkCursor(images, 'grid energy');
  }

  add(originals: ImageInput, reconstructions: ImageInput): this {
    const { orig, recon } = pairedChunk(this.cursor, originals, reconstructions);
    const [n, c, h, w] = orig.shape;
    if (h < 2 || w < 2) throw new AnalysisError(`grid energy needs images of at least 2x2 pixels, got ${h}x${w}`);
    for (let i = 0; i < n * c; i++) {
      const base = i * h * w;
      for (let y = 0; y + 1 < h; y += 2) {
        for (let x = 0; x + 1 < w; x += 2) {
          const e = (dy: number, dx: number) => recon.data[base + (y + dy) * w + x + dx] - orig.data[base + (y + dy) * w + x + dx];
          const [a, b, cc, d] = [e(0, 0), e(0, 1), e(1, 0), e(1, 1)];
          const horizontal = a - b + cc - d;
          const vertical = a + b - cc - d;
          const diagonal = a - b - cc + d;
          // The four orthogonal 2x2 components share the block's energy (Parseval, factor 4).
          this.nyquist += (horizontal * horizontal + vertical * vertical + diagonal * diagonal) / 4;
          this.total += a * a + b * b + cc * cc + d * d;
        }
      }
    }
    return this;
  }

  finish(): number {
    this.cursor.end();
    return this.total === 0 ? 0 : this.nyquist / this.total;
  }
}

/**
 * Share of the energy of (reconstructions - originals) in period-2 patterns, pooled over all images and channels.
 *
 * @param originals Images [N, C, H, W] in [0, 1].
 * @param reconstructions The same shape.
 * @throws AnalysisError on differing shapes or images smaller than 2x2.
 * @example
 * gridEnergy(originals, reconstructions); // near 1: the error is a checkerboard
 */
export function gridEnergy(originals: ImageInput, reconstructions: ImageInput): number {
  return wholeSet((n) => new GridEnergyAccumulator(n), originals, reconstructions);
}
