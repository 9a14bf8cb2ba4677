// Labelled picture grids (rows: original, A_S, each classifier's AE; or difference maps) as PNG.
// Tiles are enlarged with nearest-neighbour so that 28 px digits and one-pixel patterns stay visible.
import sharp from 'sharp';
import type { PictureRow } from '../analysis/pictures.js';
import { escapeXml } from './escape.js';

const LABEL_WIDTH = 240;
const GAP = 4;

export async function gridPng(rows: PictureRow[], scale = 3): Promise<Buffer> {
  if (rows.length === 0 || rows[0].images.length === 0) throw new RangeError('a picture grid needs at least one row with one image');
  const { width: w, height: h } = rows[0].images[0];
  const tileW = w * scale;
  const tileH = h * scale;
  const cols = Math.max(...rows.map((r) => r.images.length));
  const width = LABEL_WIDTH + cols * (tileW + GAP) + GAP;
  const height = rows.length * (tileH + GAP) + GAP;
  const canvas = Buffer.alloc(width * height * 3, 255);
  rows.forEach((row, r) => {
    row.images.forEach((img, c) => {
      const x0 = LABEL_WIDTH + GAP + c * (tileW + GAP);
      const y0 = GAP + r * (tileH + GAP);
      for (let y = 0; y < tileH; y++) {
        for (let x = 0; x < tileW; x++) {
          const sx = Math.floor(x / scale);
          const sy = Math.floor(y / scale);
          const o = ((y0 + y) * width + x0 + x) * 3;
          for (let k = 0; k < 3; k++) canvas[o + k] = img.data[(img.channels === 3 ? k : 0) * img.width * img.height + sy * img.width + sx];
        }
      }
    });
  });
  const labels = rows
    .map((row, r) => `<text x="8" y="${GAP + r * (tileH + GAP) + tileH / 2 + 5}" font-family="DejaVu Sans" font-size="14">${escapeXml(row.label)}</text>`)
    .join('');
  const overlay = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${labels}</svg>`);
  return sharp(canvas, { raw: { width, height, channels: 3 } }).composite([{ input: overlay, top: 0, left: 0 }]).png().toBuffer();
}
