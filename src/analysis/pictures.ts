// Pictures as plain pixel data for the report: a few fixed test images, one row per source
// (original, A_S, each classifier's AE), and amplified difference maps that make faint patterns
// such as a checkerboard visible.
import type { Tensor } from '../engine/index.js';
import type { ImageSet } from './nmi.js';

/** 8-bit pixels, channel-major (C, H, W). */
export interface PlainImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export function toImageSet(t: Tensor): ImageSet {
  const [n, c, h, w] = t.shape;
  if (t.ndim !== 4) throw new RangeError(`expected images [N, C, H, W], got [${t.shape}]`);
  return { data: t.toFloat32Array(), shape: [n, c, h, w] };
}

function tile(set: ImageSet, index: number, map: (v: number, i: number) => number): PlainImage {
  const [, c, h, w] = set.shape;
  const size = c * h * w;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.round(Math.min(1, Math.max(0, map(set.data[index * size + i], index * size + i))) * 255);
  return { width: w, height: h, channels: c as 1 | 3, data };
}

/** Image `index` of a set in [0, 1] as 8-bit pixels. */
export function imageAt(set: ImageSet, index: number): PlainImage {
  return tile(set, index, (v) => v);
}

/** |reconstruction - original| * gain, clipped to [0, 1]. */
export function differenceMap(original: ImageSet, reconstruction: ImageSet, index: number, gain = 4): PlainImage {
  return tile(reconstruction, index, (v, i) => Math.abs(v - original.data[i]) * gain);
}

export interface PictureRow {
  label: string;
  images: PlainImage[];
}

/**
 * Rows of the reconstruction grid for the given sample indices: the originals, then each
 * reconstruction set in order, then (if diffGain > 0) the amplified difference of each set.
 */
export function reconstructionRows(original: ImageSet, sets: { name: string; images: ImageSet }[], samples: number[], diffGain = 4): { reconstructions: PictureRow[]; differences: PictureRow[] } {
  const reconstructions = [{ label: 'original', images: samples.map((i) => imageAt(original, i)) }, ...sets.map((s) => ({ label: s.name, images: samples.map((i) => imageAt(s.images, i)) }))];
  const differences = diffGain > 0 ? sets.map((s) => ({ label: `|${s.name} - original| x${diffGain}`, images: samples.map((i) => differenceMap(original, s.images, i, diffGain)) })) : [];
  return { reconstructions, differences };
}
