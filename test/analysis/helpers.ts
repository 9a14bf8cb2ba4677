// Synthetic image sets for the analysis tests.
import { Rng } from '../../src/data/random.js';
import type { ImageSet } from '../../src/analysis/index.js';

/** Uniform random values in [0, 1); with `levels`, values sit at the centres of that many equal bins. */
export function randomSet(n: number, c: number, h: number, w: number, seed: number, levels?: number): ImageSet {
  const rng = new Rng(seed);
  const data = Float32Array.from({ length: n * c * h * w }, () => (levels ? (rng.int(levels) + 0.5) / levels : rng.next()));
  return { data, shape: [n, c, h, w] };
}

/** A set whose value at (image, channel, y, x) is f(...). */
export function setOf(n: number, c: number, h: number, w: number, f: (i: number, ch: number, y: number, x: number) => number): ImageSet {
  const data = new Float32Array(n * c * h * w);
  let p = 0;
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[p++] = f(i, ch, y, x);
  return { data, shape: [n, c, h, w] };
}

export function mapSet(set: ImageSet, f: (v: number, i: number) => number): ImageSet {
  return { data: set.data.map(f), shape: set.shape };
}
