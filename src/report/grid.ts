// Labelled picture grids (rows: original, A_S, each classifier's AE; or difference maps) as PNG.
// Tiles are enlarged with nearest-neighbour so that 28 px digits and one-pixel patterns stay visible.
import sharp from 'sharp';
import type { PictureRow } from '../analysis/pictures.js';
import { escapeXml } from './escape.js';
import { S2SNetsError } from '../common/errors.js';

export class PictureGridError extends S2SNetsError {
  override name = 'PictureGridError';
  static override readonly codes = ['S2SNETS_PICTURE_GRID'] as const;
}

export const GRID_GAP = 4;
const LABEL_FONT_SIZE = 14;

/** Pixels reserved left of the tiles for the longest row label (DejaVu Sans averages ~0.62 em per character). */
export function labelWidth(rows: PictureRow[]): number {
  const longest = Math.max(0, ...rows.map((r) => [...r.label].length));
  return Math.ceil(longest * 0.62 * LABEL_FONT_SIZE) + 16;
}

/**
 * The grid as PNG: `rows.length` rows of tiles `scale` times the image size, `GRID_GAP` pixels
 * apart, labels on the left. Every image must have the size of the first.
 */
export async function gridPng(rows: PictureRow[], scale = 3): Promise<Buffer> {
  if (rows.length === 0 || rows[0].images.length === 0) throw new PictureGridError('a picture grid needs at least one row with one image');
  if (!Number.isInteger(scale) || scale < 1) throw new PictureGridError(`grid scale must be a positive integer, got ${scale}`);
  const { width: w, height: h } = rows[0].images[0];
  for (const row of rows) {
    for (const img of row.images) {
      if (img.width !== w || img.height !== h) throw new PictureGridError(`row '${row.label}': image is ${img.width}x${img.height}, the grid's tiles are ${w}x${h}`);
      if (img.data.length !== img.channels * img.width * img.height) throw new PictureGridError(`row '${row.label}': image data has ${img.data.length} bytes, expected ${img.channels}x${img.width}x${img.height}`);
    }
  }
  const tileW = w * scale;
  const tileH = h * scale;
  const left = labelWidth(rows);
  const cols = Math.max(...rows.map((r) => r.images.length));
  const width = left + cols * (tileW + GRID_GAP) + GRID_GAP;
  const height = rows.length * (tileH + GRID_GAP) + GRID_GAP;
  const canvas = Buffer.alloc(width * height * 3, 255);
  rows.forEach((row, r) => {
    row.images.forEach((img, c) => {
      const x0 = left + GRID_GAP + c * (tileW + GRID_GAP);
      const y0 = GRID_GAP + r * (tileH + GRID_GAP);
      const plane = img.width * img.height;
      for (let y = 0; y < tileH; y++) {
        const src = Math.floor(y / scale) * img.width;
        for (let x = 0; x < tileW; x++) {
          const o = ((y0 + y) * width + x0 + x) * 3;
          const p = src + Math.floor(x / scale);
          // Images are channel-major; grayscale fills all three output channels.
          for (let k = 0; k < 3; k++) canvas[o + k] = img.data[(img.channels === 3 ? k : 0) * plane + p];
        }
      }
    });
  });
  const labels = rows
    .map((row, r) => `<text x="8" y="${GRID_GAP + r * (tileH + GRID_GAP) + tileH / 2 + 5}" font-family="DejaVu Sans, sans-serif" font-size="${LABEL_FONT_SIZE}">${escapeXml(row.label)}</text>`)
    .join('');
  const overlay = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${labels}</svg>`);
  return sharp(canvas, { raw: { width, height, channels: 3 } }).composite([{ input: overlay, top: 0, left: 0 }]).png().toBuffer();
}
