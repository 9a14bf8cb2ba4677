// Noise robustness (the paper: S2SNets help under noise): each classifier on a subset of the
// evaluation originals with seeded Gaussian pixel noise of each sigma, and on its own S2SNet's
// reconstructions of the same noisy images, with paired intervals of the change. Taken chunk by
// chunk: only the subset's images of each chunk are made noisy, and only their predicted classes
// (per image, classifier and sigma, twice) are kept: the figures and their intervals are counted
// from them, and they are what an audit recounts.
import { tensor, tidy, type Tensor } from '../engine/index.js';
import { labelValues, predictClassifier, type EvalOptions, type Forward } from './accuracy.js';
import type { BootstrapOptions, Estimate, Interval } from './bootstrap.js';
import { AnalysisError } from './images.js';
import { PixelNoise } from './noise.js';
import { ChunkCursor } from './stream.js';
import { correctness, pairedChange } from './uncertainty.js';

/** Per classifier, noisy[k], own[k] and gain[k] = own[k] - noisy[k] belong to sigmas[k]. */
export interface NoiseRobustness {
  sigmas: number[];
  /** Images the test ran on. */
  samples: number;
  classifiers: { name: string; noisy: number[]; own: number[]; gain: number[]; ci95: { noisy: Interval[]; own: Interval[]; gain: Interval[] } }[];
}

/** A classifier and its own S2SNet, which maps model inputs to reconstructed model inputs. */
export interface RobustnessClassifier {
  name: string;
  forward: Forward;
  reconstruct: (x: Tensor) => Tensor;
}

export interface NoiseRobustnessOptions extends Omit<EvalOptions, 'transform'> {
  /** Noise standard deviations in pixel units. */
  sigmas: number[];
  /** Seed of the noise (one stream per sigma over the subset's images in order). */
  seed: number;
  /** The images the test runs on: ascending indices into the evaluation set (e.g. a seeded stratified subset). */
  subset: readonly number[];
  /** Pixels in [0, 1] to the classifiers' model input (the dataset's normalization). */
  toModelInput: (pixels: Tensor) => Tensor;
}

/**
 * The noise-robustness test over an evaluation set taken chunk by chunk.
 *
 * @example
 * const noise = new NoiseRobustnessAccumulator(n, classifiers, { sigmas: [0.1], seed, subset, toModelInput, batchSize: 64 });
 * for (const chunk of chunks) await noise.add(chunk.originals, chunk.labels);
 * noise.finish(boot).classifiers[0].gain[0]; // > 0: the S2SNet helps at sigma 0.1
 */
export class NoiseRobustnessAccumulator {
  private readonly cursor: ChunkCursor;
  private readonly noise: PixelNoise[];
  /** predicted[j][s]: per subset image, classifier j's top-1 class on the noisy image (noisy) and on its S2SNet's reconstruction of it (own). */
  private readonly predicted: { noisy: Int32Array; own: Int32Array }[][];
  /** The subset images' labels. */
  private readonly truth: Int32Array;
  /** Subset images seen so far. */
  private done = 0;

  /**
   * @param images Number of images of the evaluation set.
   * @param classifiers Each classifier with its own S2SNet.
   * @param opts Sigmas, seed, subset, normalization, batch size and device.
   * @throws AnalysisError on a bad sigma or a subset that is not ascending and within the set.
   */
  constructor(
    images: number,
    private readonly classifiers: RobustnessClassifier[],
    private readonly opts: NoiseRobustnessOptions,
  ) {
    this.cursor = new ChunkCursor(images, 'noise robustness');
    opts.subset.forEach((i, k) => {
      if (!Number.isInteger(i) || i < 0 || i >= images || (k > 0 && i <= opts.subset[k - 1])) throw new AnalysisError(`noise robustness: the subset must hold ascending indices into the ${images} images, got ${i} at position ${k}`);
    });
    this.noise = opts.sigmas.map((sigma) => new PixelNoise(sigma, opts.seed));
    this.predicted = classifiers.map(() => opts.sigmas.map(() => ({ noisy: new Int32Array(opts.subset.length), own: new Int32Array(opts.subset.length) })));
    this.truth = new Int32Array(opts.subset.length);
  }

  /**
   * Tests every classifier on the subset's images in the next chunk.
   *
   * @param pixels Chunk of originals [B, C, H, W] in [0, 1], on the CPU.
   * @param labels [B] integer classes.
   * @throws AnalysisError when the labels do not match the chunk or it brings more images than announced.
   */
  async add(pixels: Tensor, labels: Tensor): Promise<this> {
    if (labels.ndim !== 1 || labels.shape[0] !== pixels.shape[0]) throw new AnalysisError(`labels: expected [${pixels.shape[0]}] (one per image), got [${labels.shape.join(', ')}]`);
    const offset = this.cursor.next([pixels], ['originals']);
    const { subset } = this.opts;
    const first = this.done;
    while (this.done < subset.length && subset[this.done] < offset + pixels.shape[0]) this.done++;
    if (this.done === first) return this;
    const index = tensor(BigInt64Array.from(subset.slice(first, this.done), (i) => BigInt(i - offset)));
    const [chosen, chosenLabels] = tidy(() => [pixels.indexSelect(0, index), labels.indexSelect(0, index)]);
    index.dispose();
    try {
      this.truth.set(labelValues(chosenLabels), first);
      for (const [s, noise] of this.noise.entries()) {
        const input = tidy(() => this.opts.toModelInput(noise.apply(chosen)));
        try {
          for (const [j, c] of this.classifiers.entries()) {
            const opts = { batchSize: this.opts.batchSize, device: this.opts.device };
            this.predicted[j][s].noisy.set((await predictClassifier(c.forward, input, chosenLabels, opts)).top1, first);
            this.predicted[j][s].own.set((await predictClassifier(c.forward, input, chosenLabels, { ...opts, transform: c.reconstruct })).top1, first);
          }
        } finally {
          input.dispose();
        }
      }
    } finally {
      chosen.dispose();
      chosenLabels.dispose();
    }
    return this;
  }

  /**
   * Each classifier's accuracy on the noisy images and on its S2SNet's reconstructions of them, and the paired gain.
   *
   * @param boot Resamples and seed of the intervals.
   * @throws AnalysisError unless every image was added, or on an empty subset.
   */
  finish(boot: BootstrapOptions = {}): NoiseRobustness {
    this.cursor.end();
    const classifiers = this.classifiers.map((c, j) => {
      // One paired change per sigma: noisy (a), own S2SNet (b) and the gain b - a.
      const right = (top1: Int32Array) => correctness({ top1, top5Hit: null }, this.truth);
      const changes = this.predicted[j].map(({ noisy, own }) => pairedChange(right(noisy), right(own), boot));
      const [a, b, gain] = [changes.map((p) => p.a), changes.map((p) => p.b), changes.map((p) => p.change)];
      const values = (es: Estimate[]) => es.map((e) => e.value);
      const intervals = (es: Estimate[]) => es.map((e) => e.ci95);
      return { name: c.name, noisy: values(a), own: values(b), gain: values(gain), ci95: { noisy: intervals(a), own: intervals(b), gain: intervals(gain) } };
    });
    return { sigmas: this.opts.sigmas, samples: this.opts.subset.length, classifiers };
  }

  /**
   * The per-image predictions the figures are counted from: per classifier, noisy[k][i] its class
   * for subset image i with the noise of sigmas[k], own[k][i] on its S2SNet's reconstruction of it.
   *
   * @example noise.predictions()['lenet5'].own[0][3]; // a class index
   */
  predictions(): Record<string, { noisy: number[][]; own: number[][] }> {
    return Object.fromEntries(this.classifiers.map((c, j) => [c.name, { noisy: this.predicted[j].map((p) => Array.from(p.noisy)), own: this.predicted[j].map((p) => Array.from(p.own)) }]));
  }
}
