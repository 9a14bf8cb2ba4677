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
export async function decodeJpeg(bytes: Uint8Array, s: JpegSampling): Promise<Uint8Array> {
  const out = new Uint8Array(s.window.height * s.window.width * s.channels);
  await native.decodeJpeg(bytes, samplingArray(s), out);
  return out;
}

/** Where a JPEG's bytes lie in a file (a whole file, or a tar member), and its size from an index. */
export interface JpegFileSpan {
  /** The file's name as bytes (names need not be UTF-8). */
  path: Buffer;
  offset: number;
  /** Bytes to read from `offset`; -1: to the end of the file. */
  length: number;
  height: number;
  width: number;
}

/**
 * Reads a span of a file and decodes it through a sampling into `out`, in one trip to the thread
 * pool (no read on the main thread). When the span is not a JPEG that libjpeg converts, of the
 * height and width given, nothing is decoded and its bytes are returned for another decoder.
 * @param file where the image lies and the size the sampling was planned for
 * @param s the sampling
 * @param out receives the window's interleaved bytes (window height x width x channels)
 * @returns undefined once `out` holds the image; the file's bytes otherwise
 * @throws Error with `code` set to the errno name when the file cannot be read; libjpeg's message when the JPEG is damaged
 * @example const rest = await decodeJpegFile({ path: Buffer.from('a.jpg'), offset: 0, length: -1, height: 375, width: 500 }, sampling, out);
 */
export function decodeJpegFile(file: JpegFileSpan, s: JpegSampling, out: Uint8Array): Promise<Buffer | undefined> {
  return native.decodeJpegFile(file.path, file.offset, file.length, [file.height, file.width], samplingArray(s), out);
}

/** The sampling as the addon takes it. */
function samplingArray(s: JpegSampling): number[] {
  const { box, grid, window } = s;
  return [s.channels, box.top, box.left, box.height, box.width, grid[0], grid[1], window.top, window.left, window.height, window.width, s.flip ? 1 : 0];
}
