// Pictures as plain pixel data for the report: a few fixed test images, one row per source
// (original, A_S, each classifier's AE), and amplified difference maps that make faint patterns
// such as a checkerboard visible.
import { AnalysisError, assertSameShape, toImageSet, type ImageInput, type ImageSet } from './images.js';

/** 8-bit pixels, channel-major (C, H, W): one plane per channel. */
export interface PlainImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export interface PictureRow {
  label: string;
  images: PlainImage[];
}

function tile(set: ImageSet, index: number, map: (v: number, i: number) => number): PlainImage {
  const [n, c, h, w] = set.shape;
  if (c !== 1 && c !== 3) throw new AnalysisError(`pictures need grayscale (1 channel) or RGB (3 channels) images, got ${c} channels`);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new AnalysisError(`picture sample index ${index} is outside the set of ${n} images`);
  const size = c * h * w;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.round(Math.min(1, Math.max(0, map(set.data[index * size + i], index * size + i))) * 255);
  return { width: w, height: h, channels: c, data };
}

/** Image `index` of a set in [0, 1] as 8-bit pixels (values beyond [0, 1] clipped). */
export function imageAt(set: ImageInput, index: number): PlainImage {
  return tile(toImageSet(set), index, (v) => v);
}

/** |reconstruction - original| * gain of image `index`, clipped to [0, 1], as 8-bit pixels. */
export function differenceMap(originals: ImageInput, reconstructions: ImageInput, index: number, gain = 4): PlainImage {
  const orig = toImageSet(originals, 'originals');
  const recon = toImageSet(reconstructions, 'reconstructions');
  assertSameShape(orig, recon, 'originals', 'reconstructions');
  return tile(recon, index, (v, i) => Math.abs(v - orig.data[i]) * gain);
}

/** `count` evenly spaced indices into a set of n images (the middle of n/count equal strides). */
export function evenlySpacedIndices(n: number, count: number): number[] {
  const k = Math.min(n, count);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k + n / (2 * k)));
}

/**
 * The reconstruction grid for the given sample indices (or that many evenly spaced ones): row
 * 'original', then one row per reconstruction set in the order given (A_S, then each
 * classifier's AE); and, when diffGain > 0, one row per set of |reconstruction - original| *
 * diffGain labelled `|name - original| x<gain>`.
 */
export function reconstructionGrid(
  originals: ImageInput,
  sets: { name: string; images: ImageInput }[],
  samples: number[] | number,
  diffGain = 4,
): { reconstructions: PictureRow[]; differences: PictureRow[] } {
  const orig = toImageSet(originals, 'originals');
  const plain = sets.map((s) => ({ name: s.name, images: toImageSet(s.images, `reconstructions of ${s.name}`) }));
  for (const s of plain) assertSameShape(orig, s.images, 'originals', `reconstructions of ${s.name}`);
  const indices = typeof samples === 'number' ? evenlySpacedIndices(orig.shape[0], samples) : samples;
  const row = (label: string, image: (i: number) => PlainImage): PictureRow => ({ label, images: indices.map(image) });
  const reconstructions = [row('original', (i) => imageAt(orig, i)), ...plain.map((s) => row(s.name, (i) => imageAt(s.images, i)))];
  const differences = diffGain > 0 ? plain.map((s) => row(`|${s.name} - original| x${diffGain}`, (i) => differenceMap(orig, s.images, i, diffGain))) : [];
  return { reconstructions, differences };
}
