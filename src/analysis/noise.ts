// Inputs for the noise-robustness test: images with seeded Gaussian noise added in pixel space.
// The noise comes from the data layer's own generator, not libtorch's, so the same seed gives the
// same noisy images on every machine and device. It is one stream per (seed, sigma) over the
// images in order, so a set taken chunk by chunk gets the same noise as the set taken whole.
import { tensor, tidy, type Tensor } from '../engine/index.js';
import { deriveSeed, Rng } from '../data/random.js';
import { AnalysisError } from './images.js';

/**
 * Seeded Gaussian pixel noise as a stream: each apply() adds the stream's next values, so
 * chunks of a set get what the whole set would get from addPixelNoise.
 *
 * @example
 * const noise = new PixelNoise(0.1, 7);
 * const noisy = chunks.map((c) => noise.apply(c)); // = addPixelNoise(all, 0.1, 7), chunk by chunk
 */
export class PixelNoise {
  private readonly rng: Rng;
  /** Box-Muller gives normals two at a time; the second waits here for the next value. */
  private spare: number | null = null;

  /**
   * @param sigma Noise standard deviation in pixel units (0.1 = a tenth of the range).
   * @param seed Seed of the noise; the same seed gives the same noise.
   * @throws AnalysisError when sigma is not a finite non-negative number.
   */
  constructor(
    readonly sigma: number,
    seed: number,
  ) {
    if (!(sigma >= 0 && Number.isFinite(sigma))) throw new AnalysisError(`noise sigma must be a finite number >= 0, got ${sigma}`);
    this.rng = new Rng(deriveSeed(seed, 'pixel-noise', Math.round(sigma * 1e6)));
  }

  /**
   * `pixels` (values in [0, 1]) plus the stream's next noise values, clipped to [0, 1] (what an
   * image file could hold).
   *
   * @param pixels Images [B, C, H, W] in [0, 1], on the CPU.
   * @returns A new tensor of the same shape, on the CPU.
   * @example
   * const noisy = new PixelNoise(0.1, 7).apply(chunk);
   */
  apply(pixels: Tensor): Tensor {
    const noise = new Float32Array(pixels.numel);
    for (let i = 0; i < noise.length; i++) {
      if (this.spare !== null) {
        noise[i] = this.spare;
        this.spare = null;
        continue;
      }
      const radius = Math.sqrt(-2 * Math.log(1 - this.rng.next()));
      const angle = 2 * Math.PI * this.rng.next();
      noise[i] = this.sigma * radius * Math.cos(angle);
      this.spare = this.sigma * radius * Math.sin(angle);
    }
    return tidy(() => pixels.add(tensor(noise, pixels.shape)).clamp(0, 1));
  }
}

/**
 * `pixels` (values in [0, 1]) plus independent Gaussian noise of standard deviation `sigma`,
 * clipped to [0, 1] (what an image file could hold).
 *
 * @param pixels Images [N, C, H, W] in [0, 1], on the CPU.
 * @param sigma Noise standard deviation in pixel units (0.1 = a tenth of the range).
 * @param seed Seed of the noise; the same seed gives the same noise.
 * @returns A new tensor of the same shape, on the CPU.
 * @throws AnalysisError when sigma is not a finite non-negative number.
 * @example
 * const noisy = addPixelNoise(data.evalOriginal, 0.1, 7);
 */
export function addPixelNoise(pixels: Tensor, sigma: number, seed: number): Tensor {
  return new PixelNoise(sigma, seed).apply(pixels);
}
