// Evaluation images as cut-outs of the server's PNG tiles: a CSS background for the gallery,
// and pixel data (through a canvas) for the comparison and the difference map.
import type { RunInfo } from '../serve/api.js';
import { tileUrl } from './api.js';

/** Where image `index` sits: its tile and its offset (in images) inside the tile. */
function place(run: RunInfo, index: number): { tile: number; col: number; row: number } {
  const { perTile, columns } = run.tiles;
  const k = index % perTile;
  return { tile: Math.floor(index / perTile), col: k % columns, row: Math.floor(k / columns) };
}

/** A block showing image `index` of `source`, `side` CSS pixels wide (nearest-neighbour scaling). */
export function tileElement(run: RunInfo, source: string, index: number, side: number): HTMLElement {
  const el = document.createElement('span');
  el.className = 'tile';
  el.style.width = el.style.height = `${side}px`;
  const ready = run.sources.find((s) => s.name === source)?.ready;
  if (!ready) {
    el.classList.add('pending');
    el.title = `${source}: not reconstructed yet`;
    return el;
  }
  const { tile, col, row } = place(run, index);
  el.style.backgroundImage = `url("${tileUrl(source, tile)}")`;
  el.style.backgroundSize = `${run.tiles.columns * side}px auto`;
  el.style.backgroundPosition = `${-col * side}px ${-row * side}px`;
  el.dataset.source = source;
  el.dataset.index = String(index);
  return el;
}

const images = new Map<string, Promise<HTMLImageElement>>();

function loadImage(url: string): Promise<HTMLImageElement> {
  let p = images.get(url);
  if (!p) {
    p = new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error(`could not load ${url}`));
      img.src = url;
    });
    images.set(url, p);
    p.catch(() => images.delete(url));
  }
  return p;
}

/** Forgets loaded tiles (a source finished or was recomputed). */
export function forgetTiles(): void {
  images.clear();
}

/** RGBA pixels of image `index` of `source` at its own size. */
export async function imagePixels(run: RunInfo, source: string, index: number): Promise<ImageData> {
  const { tile, col, row } = place(run, index);
  const img = await loadImage(tileUrl(source, tile));
  const s = run.imageSize;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = s;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(img, col * s, row * s, s, s, 0, 0, s, s);
  return ctx.getImageData(0, 0, s, s);
}

/** A canvas holding `pixels`, shown `zoom` times larger without smoothing. */
export function pixelCanvas(pixels: ImageData, zoom: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = pixels.width;
  c.height = pixels.height;
  c.getContext('2d')!.putImageData(pixels, 0, 0);
  c.className = 'px';
  c.style.width = `${pixels.width * zoom}px`;
  c.style.height = `${pixels.height * zoom}px`;
  return c;
}
