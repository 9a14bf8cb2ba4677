// JPEG decoding in the native addon (native/jpeg.cc): libjpeg-turbo decodes the rows and columns
// a crop reaches, an antialiased bilinear resampler maps a box of the image to the output.
import { native, type JpegHeader } from './native.js';

export type { JpegHeader } from './native.js';

/** Where the output's pixels come from: a box of the source sampled onto a virtual grid, of which a window is kept. */
export interface JpegSampling {
  channels: 1 | 3;
  /** The box of the source image (pixels, fractions allowed) that the virtual grid covers. */
  box: { top: number; left: number; height: number; width: number };
  /** The grid the box is resampled onto: [height, width]. */
  grid: readonly [number, number];
  /** The part of the grid returned. */
  window: { top: number; left: number; height: number; width: number };
  /** Mirror the output left-right. */
  flip: boolean;
}

/** True when bytes start with a JPEG's start-of-image marker. */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Reads a JPEG's header.
 * @param bytes the encoded image
 * @throws Error with libjpeg's message when the header is damaged
 * @example const { height, width } = jpegHeader(bytes);
 */
export function jpegHeader(bytes: Uint8Array): JpegHeader {
  return native.jpegInfo(bytes);
}

/**
 * Decodes a JPEG through a sampling, off the main thread: interleaved (H, W, C) bytes of the window.
 * Every row of the file is entropy-decoded, so a damaged file is refused wherever the window lies.
 * @param bytes the encoded image
 * @param s the sampling
 * @throws Error with libjpeg's message (a truncated or corrupt file, including its warnings)
 * @example const pixels = await decodeJpeg(bytes, { channels: 3, box: { top: 0, left: 0, height: h, width: w }, grid: [224, 224], window: { top: 0, left: 0, height: 224, width: 224 }, flip: false });
 */
export function decodeJpeg(bytes: Uint8Array, s: JpegSampling): Promise<Uint8Array> {
  const { box, grid, window } = s;
  return native.decodeJpeg(bytes, [s.channels, box.top, box.left, box.height, box.width, grid[0], grid[1], window.top, window.left, window.height, window.width, s.flip ? 1 : 0]);
}
