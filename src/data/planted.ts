// A generated dataset with a planted signal, to check that S2SNets recovers what a classifier
// really uses. Every image is one filled shape (square, disc, triangle or cross) of one colour
// (red, green, blue or yellow) at a random position and size on a grey, noisy background.
// Shape and colour are drawn independently and `carrier` says which one is the label:
// - carrier 'shape': classes are shapes and colour is random, so colour tells nothing about the
//   class; a classifier that solves the task must look at shape, and the decoder fine-tuned
//   through it should keep shape and may drop colour.
// - carrier 'colour': classes are colours and shape is random: the reverse.
// Both carriers draw images from the same distribution; only the labels differ. Classes are
// exactly balanced. Generation uses the TypeScript PRNG, so a seed gives the same images on any
// machine and regardless of libtorch's random state.
import { tensor, tidy } from '../engine/index.js';
import { DatasetError, type Dataset } from './dataset.js';
import { Rng } from './random.js';
import type { Triple } from './transforms.js';

export const PLANTED_SHAPES = ['square', 'disc', 'triangle', 'cross'] as const;
export const PLANTED_COLOURS = ['red', 'green', 'blue', 'yellow'] as const;
/** The shape colours at full brightness (each image scales its colour by a brightness in [0.7, 1]). */
export const PLANTED_PALETTE: Record<(typeof PLANTED_COLOURS)[number], Triple> = {
  red: [0.9, 0.1, 0.1],
  green: [0.1, 0.8, 0.15],
  blue: [0.15, 0.25, 0.95],
  yellow: [0.9, 0.85, 0.1],
};

export type PlantedCarrier = 'shape' | 'colour';

export interface PlantedOptions {
  carrier: PlantedCarrier;
  count: number;
  seed?: number;
  /** Image side in pixels (default 32). */
  size?: number;
  /** Amplitude of the uniform per-pixel noise (default 0.05). */
  noise?: number;
  /** Range of the shape's radius as a fraction of the side (default [0.2, 0.32]). */
  radius?: readonly [number, number];
  /** Range of the brightness that scales the shape's palette colour (default [0.7, 1]). */
  brightness?: readonly [number, number];
  /** Range of the background's grey level (default [0, 0.25]). */
  background?: readonly [number, number];
  /** How far the shape's colour is from the grey of the same mean towards its palette colour (default 1: the palette colour itself). */
  saturation?: number;
}

/** What was planted in each image: the ground truth the retention measures compare against. */
export interface PlantedTruth {
  carrier: PlantedCarrier;
  /** Per image, the index into PLANTED_SHAPES and PLANTED_COLOURS (one of the two is the label). */
  shapes: number[];
  colours: number[];
  /** [N * size * size] 1 where the shape covers at least half of the pixel, else 0. */
  masks: Uint8Array;
}

export interface PlantedDataset extends Dataset, PlantedTruth {}

/** The truth of the images at `indices`, in that order. */
export function subsetTruth(t: PlantedTruth, indices: readonly number[]): PlantedTruth {
  const plane = t.masks.length / t.shapes.length;
  const masks = new Uint8Array(indices.length * plane);
  indices.forEach((i, k) => masks.set(t.masks.subarray(i * plane, (i + 1) * plane), k * plane));
  return { carrier: t.carrier, shapes: indices.map((i) => t.shapes[i]), colours: indices.map((i) => t.colours[i]), masks };
}

/** Whether the point (dx, dy), relative to the shape centre, lies inside a shape of radius r. */
function inside(shape: number, dx: number, dy: number, r: number): boolean {
  switch (PLANTED_SHAPES[shape]) {
    case 'square':
      return Math.abs(dx) <= 0.85 * r && Math.abs(dy) <= 0.85 * r;
    case 'disc':
      return dx * dx + dy * dy <= r * r;
    case 'triangle':
      // Apex up at dy = -r, base at dy = 0.7r, as wide as 2r.
      return dy >= -r && dy <= 0.7 * r && Math.abs(dx) <= (r * (dy + r)) / (1.7 * r);
    default:
      return (Math.abs(dx) <= r && Math.abs(dy) <= r / 3) || (Math.abs(dy) <= r && Math.abs(dx) <= r / 3);
  }
}

// 3x3 samples per pixel smooth the edges so size and position vary continuously.
const SUBSAMPLES = 3;

/**
 * Share of pixel (x, y) (its top-left corner) covered by a shape of radius r centred at (cx, cy),
 * from SUBSAMPLES x SUBSAMPLES samples: how the generator draws every shape, and how the
 * retention measures (analysis/planted-retention.ts) redraw candidate shapes.
 * @param shape index into PLANTED_SHAPES
 * @example shapeCoverage(1, 16, 16, 8, 16, 16) // 1: the centre of a disc
 */
export function shapeCoverage(shape: number, cx: number, cy: number, r: number, x: number, y: number): number {
  let hits = 0;
  for (let sy = 0; sy < SUBSAMPLES; sy++) {
    for (let sx = 0; sx < SUBSAMPLES; sx++) {
      if (inside(shape, x + (sx + 0.5) / SUBSAMPLES - cx, y + (sy + 0.5) / SUBSAMPLES - cy, r)) hits++;
    }
  }
  return hits / (SUBSAMPLES * SUBSAMPLES);
}

/** Whether a pixel of the given coverage counts as part of the shape in a mask. */
export const inMask = (coverage: number) => coverage >= 0.5;

export function generatePlantedDataset(opts: PlantedOptions): PlantedDataset {
  const { carrier, count } = opts;
  const size = opts.size ?? 32;
  const noise = opts.noise ?? 0.05;
  const [rMin, rMax] = opts.radius ?? [0.2, 0.32];
  const [bMin, bMax] = opts.brightness ?? [0.7, 1];
  const [gMin, gMax] = opts.background ?? [0, 0.25];
  const saturation = opts.saturation ?? 1;
  if (carrier !== 'shape' && carrier !== 'colour') throw new DatasetError(`planted dataset: carrier must be 'shape' or 'colour', got '${carrier}'`);
  if (!Number.isInteger(count) || count < 1) throw new DatasetError(`planted dataset: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(size) || size < 8) throw new DatasetError(`planted dataset: size must be an integer of at least 8, got ${size}`);
  if (!(rMin > 0 && rMin <= rMax && rMax < 0.5)) throw new DatasetError(`planted dataset: radius must be a range within (0, 0.5) of the side, got [${rMin}, ${rMax}]`);
  const rng = new Rng(opts.seed ?? 0);
  const numClasses = carrier === 'shape' ? PLANTED_SHAPES.length : PLANTED_COLOURS.length;
  const labels = rng.shuffle(Array.from({ length: count }, (_, i) => i % numClasses));
  const shapes: number[] = [];
  const colours: number[] = [];
  const plane = size * size;
  const pixels = new Float32Array(count * 3 * plane);
  const masks = new Uint8Array(count * plane);
  for (let n = 0; n < count; n++) {
    const shape = carrier === 'shape' ? labels[n] : rng.int(PLANTED_SHAPES.length);
    const colourIndex = carrier === 'colour' ? labels[n] : rng.int(PLANTED_COLOURS.length);
    shapes.push(shape);
    colours.push(colourIndex);
    const brightness = rng.uniform(bMin, bMax);
    const palette = PLANTED_PALETTE[PLANTED_COLOURS[colourIndex]];
    const grey = (palette[0] + palette[1] + palette[2]) / 3;
    const colour = palette.map((v) => (grey + saturation * (v - grey)) * brightness);
    const background = rng.uniform(gMin, gMax);
    const r = rng.uniform(rMin, rMax) * size;
    const cx = rng.uniform(r + 1, size - r - 1);
    const cy = rng.uniform(r + 1, size - r - 1);
    const base = n * 3 * plane;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const coverage = shapeCoverage(shape, cx, cy, r, x, y);
        masks[n * plane + y * size + x] = inMask(coverage) ? 1 : 0;
        for (let c = 0; c < 3; c++) {
          const v = background * (1 - coverage) + colour[c] * coverage + rng.uniform(-noise, noise);
          pixels[base + c * plane + y * size + x] = Math.min(1, Math.max(0, v));
        }
      }
    }
  }
  return {
    name: `planted-${carrier}`,
    images: tensor(pixels, [count, 3, size, size]),
    labels: tidy(() => tensor(Int32Array.from(labels), [count]).long()),
    classNames: carrier === 'shape' ? [...PLANTED_SHAPES] : [...PLANTED_COLOURS],
    carrier,
    shapes,
    colours,
    masks,
  };
}
