// Inputs for the noise-robustness test: images with seeded Gaussian noise added in pixel space.
// The noise comes from the data layer's own generator, not libtorch's, so the same seed gives the
// same noisy images on every machine and device.
import { tensor, tidy, type Tensor } from '../engine/index.js';
import { deriveSeed, Rng } from '../data/random.js';
import { AnalysisError } from './images.js';

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
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new AnalysisError(`noise sigma must be a finite number >= 0, got ${sigma}`);
  const rng = new Rng(deriveSeed(seed, 'pixel-noise', Math.round(sigma * 1e6)));
  const noise = new Float32Array(pixels.numel);
  // Box-Muller: two uniform draws give two independent standard normals.
  for (let i = 0; i < noise.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const angle = 2 * Math.PI * rng.next();
    noise[i] = sigma * radius * Math.cos(angle);
    if (i + 1 < noise.length) noise[i + 1] = sigma * radius * Math.sin(angle);
  }
  return tidy(() => pixels.add(tensor(noise, pixels.shape)).clamp(0, 1));
}
