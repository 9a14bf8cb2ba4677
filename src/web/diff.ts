// The signed difference map: (B - A) per pixel, averaged over colour channels, times a gain,
// drawn on a diverging scale (blue: B darker, white: equal, red: B brighter). A difference of
// 1/gain of the full pixel range or more saturates.

/** Diverging colour of t in [-1, 1]: -1 blue (33, 102, 172), 0 white, +1 red (178, 24, 43). */
export function divergingColour(t: number): [number, number, number] {
  const v = Math.max(-1, Math.min(1, t));
  const end = v < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(v);
  return [0, 1, 2].map((k) => Math.round(255 + (end[k] - 255) * a)) as [number, number, number];
}

/** Signed differences B - A in [-1, 1] per pixel (mean over R, G, B). */
export function signedDifference(a: ImageData, b: ImageData): Float32Array {
  const n = a.width * a.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < 3; k++) s += b.data[4 * i + k] - a.data[4 * i + k];
    out[i] = s / (3 * 255);
  }
  return out;
}

/** The difference map as pixels for a canvas. */
export function differencePixels(d: Float32Array, width: number, height: number, gain: number): ImageData {
  const img = new ImageData(width, height);
  for (let i = 0; i < d.length; i++) {
    const [r, g, b] = divergingColour(d[i] * gain);
    img.data.set([r, g, b, 255], 4 * i);
  }
  return img;
}

/** A horizontal colour bar for the legend, `width` px wide. */
export function colourBar(width: number, height: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d')!;
  for (let x = 0; x < width; x++) {
    const [r, g, b] = divergingColour((2 * x) / (width - 1) - 1);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, height);
  }
  return c;
}
