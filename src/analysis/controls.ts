// Negative controls for the planted-signal check: reconstructions that deliberately lose one
// planted property, made from another AE's reconstructions without any training. A check that
// calls such a control "kept" cannot tell a broken method from a working one.
// - grey: every pixel replaced by its luma in all three channels; the shape stays, the colour goes.
// - blur: a wide box blur (repeated, so close to a Gaussian); the mean colour mostly stays, the
//   outline that tells the shapes apart goes.
import type { ImageSet } from './images.js';

/** Rec. 601 luma weights. */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * The images in grey: each pixel's luma in all three channels.
 * @param set RGB images [N, 3, H, W]
 * @example greyImages(set).data[0] === greyImages(set).data[H * W] // true: R equals G
 */
export function greyImages(set: ImageSet): ImageSet {
  const [n, c, h, w] = set.shape;
  const plane = h * w;
  const data = new Float32Array(set.data.length);
  for (let i = 0; i < n; i++) {
    const base = i * c * plane;
    for (let p = 0; p < plane; p++) {
      let y = 0;
      for (let k = 0; k < 3; k++) y += LUMA[k] * set.data[base + k * plane + p];
      for (let k = 0; k < c; k++) data[base + k * plane + p] = y;
    }
  }
  return { data, shape: set.shape };
}

/** One pass of a box blur of the given radius along x (horizontal) or y, edges clamped. */
function boxPass(src: Float32Array, dst: Float32Array, offset: number, h: number, w: number, radius: number, horizontal: boolean): void {
  const [outer, inner] = horizontal ? [h, w] : [w, h];
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      let sum = 0;
      for (let d = -radius; d <= radius; d++) {
        const t = Math.min(inner - 1, Math.max(0, b + d));
        sum += src[offset + (horizontal ? a * w + t : t * w + a)];
      }
      dst[offset + (horizontal ? a * w + b : b * w + a)] = sum / (2 * radius + 1);
    }
  }
}

/**
 * The images blurred by `passes` separable box blurs of `radius` pixels (edges clamped).
 * @param set images [N, C, H, W]
 * @param radius half-width of the box in pixels (>= 1)
 * @param passes how many times the box runs (3 is close to a Gaussian)
 * @example blurredImages(set, 4, 3) // outlines of 8-pixel shapes smeared away
 */
export function blurredImages(set: ImageSet, radius: number, passes = 3): ImageSet {
  const [n, c, h, w] = set.shape;
  const plane = h * w;
  // Each pass blurs a into b along x, then b back into a along y.
  const a = Float32Array.from(set.data);
  const b = new Float32Array(a.length);
  for (let q = 0; q < n * c; q++) {
    for (let pass = 0; pass < passes; pass++) {
      boxPass(a, b, q * plane, h, w, radius, true);
      boxPass(b, a, q * plane, h, w, radius, false);
    }
  }
  return { data: a, shape: set.shape };
}
