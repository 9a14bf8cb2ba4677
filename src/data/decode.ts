// Image decoding: JPEGs through the native decoder (native/jpeg.cc), every other format (and CMYK
// JPEGs) through sharp (libvips). Both run on libuv's thread pool, so decoding never blocks the
// main thread; callers bound how many run at once.
import { open, readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeJpeg, decodeJpegFile, isJpeg, jpegHeader, type JpegFileSpan, type JpegSampling } from '../engine/index.js';
import { centerCropBox, resizedSize, type Size } from './transforms.js';
import { S2SNetsError, ioReason } from '../common/errors.js';

/** A file or folder that cannot be used as (part of) an image dataset; `file` names it. */
export class ImageFolderError extends S2SNetsError {
  override name = 'ImageFolderError';
  static override readonly codes = ['S2SNETS_IMAGE_FOLDER'] as const;
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

export interface DecodeOptions {
  /** 1: grayscale, 3: RGB (default). Any input colour space is converted. */
  channels?: 1 | 3;
  /** Transparent images: composite over black ('flatten', default) or discard the alpha channel ('drop'). */
  alpha?: 'flatten' | 'drop';
  /** Scale the shorter side to this many pixels (aspect ratio kept) before cropping. */
  resize?: number;
  /** Centre crop to this size (a number means square); images smaller than it are refused. */
  crop?: Size;
  /** Refuse images with more pixels than this before decoding them (default 100 million). */
  maxPixels?: number;
}

export interface DecodedImage {
  /** Bytes 0..255: channel-major (C, H, W) from decodeImage, interleaved (H, W, C) from decodePlanned. */
  pixels: Uint8Array;
  channels: 1 | 3;
  height: number;
  width: number;
}

const DEFAULT_MAX_PIXELS = 100_000_000;

/** libvips reports several lines, often repeated; keep each once, on one line. */
function oneLine(message: string): string {
  const lines = [...new Set(message.split('\n').map((l) => l.trim()).filter(Boolean))];
  const text = lines.join('; ');
  if (/unsupported image format/i.test(text)) return 'not a supported image (no PNG, JPEG, WebP, GIF, TIFF or AVIF signature)';
  if (/buffer is empty/i.test(text)) return 'empty file';
  return `cannot decode: ${text}`;
}

/** What a view does to one decoded image: resize, then crop (eval), or crop, then resize (train); then maybe mirror. */
export interface CropPlan {
  /** Resize the whole image to [height, width] first. */
  resize?: readonly [number, number];
  /** The window to keep (after `resize` when both are given). */
  extract?: { top: number; left: number; height: number; width: number };
  /** Resize the kept window to [height, width] last. */
  output?: readonly [number, number];
  /** Mirror left-right. */
  flip?: boolean;
}

/**
 * Decodes an image file (or its bytes; `source` then names it in errors) to channel-major
 * bytes, converting colour space, bit depth, palette and alpha to `channels` 8-bit channels,
 * then resizing and centre cropping as asked. Throws ImageFolderError naming the file.
 */
export async function decodeImage(input: string | Uint8Array, opts: DecodeOptions = {}, source = typeof input === 'string' ? input : 'image data'): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = typeof input === 'string' ? await readFile(input) : input;
  } catch (e) {
    throw new ImageFolderError(source, `cannot read (${ioReason(e)})`);
  }
  const decoded = await decodePlanned(bytes, source, opts, (height, width) => centredPlan(height, width, opts, source));
  return { ...decoded, pixels: toChannelMajor(decoded.pixels, decoded.channels, decoded.height * decoded.width) };
}

/** The CropPlan of decodeImage's resize and centre crop options. */
function centredPlan(height: number, width: number, opts: DecodeOptions, source: string): CropPlan {
  const plan: CropPlan = {};
  if (opts.resize) {
    [height, width] = resizedSize(height, width, opts.resize);
    plan.resize = [height, width];
  }
  if (opts.crop !== undefined) {
    const [ch, cw] = typeof opts.crop === 'number' ? [opts.crop, opts.crop] : opts.crop;
    if (height < ch || width < cw) {
      const size = opts.resize ? `${height}x${width} after resizing` : `${height}x${width}`;
      throw new ImageFolderError(source, `image is ${size} (HxW), smaller than the ${ch}x${cw} crop`);
    }
    plan.extract = { ...centerCropBox(height, width, ch, cw), height: ch, width: cw };
  }
  return plan;
}

/**
 * Decodes encoded image bytes through a crop plan chosen from the image's size, to interleaved
 * (H, W, C) bytes: the layout a channels-last batch takes without a copy.
 * @param bytes the encoded image
 * @param source names the image in errors
 * @param opts channels, alpha, maxPixels
 * @param planFor the plan for an image of height x width
 * @throws ImageFolderError naming the image when it cannot be decoded
 * @example const { pixels } = await decodePlanned(bytes, 'a.jpg', { channels: 3 }, () => ({ output: [224, 224] }));
 */
export async function decodePlanned(bytes: Uint8Array, source: string, opts: DecodeOptions, planFor: (height: number, width: number) => CropPlan): Promise<DecodedImage> {
  const channels = opts.channels ?? 3;
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  // JPEGs (most photographs) through libjpeg-turbo, reading only the rows a crop needs; other
  // formats, and JPEGs in CMYK, through sharp.
  const jpeg = isJpeg(bytes) ? await decodeJpegPlanned(bytes, source, channels, maxPixels, planFor) : null;
  return jpeg ?? (await decodeWithSharp(bytes, source, channels, opts.alpha ?? 'flatten', maxPixels, planFor));
}

/**
 * Decodes an image stored in a file (or a span of one, as a tar member) through a crop plan into
 * `out`, as interleaved (H, W, C) bytes. The plan is made from the size an index recorded: a JPEG
 * of that size is read and decoded on the thread pool in one trip; any other image (another
 * format, CMYK, a size that changed) goes through decodePlanned.
 * @param file where the image lies, and its height and width from the index
 * @param source names the image in errors
 * @param opts channels, alpha, maxPixels
 * @param planFor the plan for an image of height x width (called again with the same size must give the same plan)
 * @param out receives the image: the plan's output height x width x channels bytes
 * @throws ImageFolderError naming the image when it cannot be decoded; the read's own error (with its errno `code`) when it cannot be read
 * @example await decodeStoredInto({ path: Buffer.from('a.jpg'), offset: 0, length: -1, height: 375, width: 500 }, 'a.jpg', { channels: 3 }, plan, out);
 */
export async function decodeStoredInto(file: JpegFileSpan, source: string, opts: DecodeOptions, planFor: (height: number, width: number) => CropPlan, out: Uint8Array): Promise<void> {
  const channels = opts.channels ?? 3;
  const fits = file.height * file.width <= (opts.maxPixels ?? DEFAULT_MAX_PIXELS);
  const sampling = fits ? samplingOf(planFor(file.height, file.width), file.height, file.width, channels, source) : null;
  let bytes: Uint8Array | undefined;
  if (sampling && out.length === sampling.window.height * sampling.window.width * channels) {
    try {
      bytes = await decodeJpegFile(file, sampling, out);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== undefined) throw e;
      const message = (e as Error).message;
      throw new ImageFolderError(source, message.startsWith('the file is shorter') ? message : oneLine(message));
    }
    if (bytes === undefined) return;
  }
  const decoded = await decodePlanned(bytes ?? (await readSpan(file)), source, opts, planFor);
  if (decoded.pixels.length !== out.length) throw new ImageFolderError(source, `decoded to ${decoded.height}x${decoded.width}x${decoded.channels} bytes, expected ${out.length}`);
  out.set(decoded.pixels);
}

/** The bytes of a file's span. */
async function readSpan(file: JpegFileSpan): Promise<Uint8Array> {
  if (file.offset === 0 && file.length < 0) return readFile(file.path);
  const handle = await open(file.path, 'r');
  try {
    const out = Buffer.alloc(file.length);
    const { bytesRead } = await handle.read(out, 0, file.length, file.offset);
    if (bytesRead !== file.length) throw new ImageFolderError(file.path.toString('utf8'), `the file is shorter than its index says (${bytesRead} of ${file.length} bytes)`);
    return out;
  } finally {
    await handle.close();
  }
}

/** A JPEG through the native decoder; null for one it cannot convert (CMYK, YCCK) or a plan it does not take. */
async function decodeJpegPlanned(bytes: Uint8Array, source: string, channels: 1 | 3, maxPixels: number, planFor: (height: number, width: number) => CropPlan): Promise<DecodedImage | null> {
  const failed = (e: unknown) => new ImageFolderError(source, oneLine((e as Error).message));
  let header;
  try {
    header = jpegHeader(bytes);
  } catch (e) {
    throw failed(e);
  }
  if (!header.convertible) return null;
  if (header.height * header.width > maxPixels) throw new ImageFolderError(source, `cannot decode: Input image exceeds pixel limit (${header.height}x${header.width})`);
  const sampling = samplingOf(planFor(header.height, header.width), header.height, header.width, channels, source);
  if (!sampling) return null;
  try {
    const pixels = await decodeJpeg(bytes, sampling);
    return { pixels, channels, height: sampling.window.height, width: sampling.window.width };
  } catch (e) {
    throw failed(e);
  }
}

/** A crop plan as a sampling of the whole image: resize then crop (a window of the grid) or crop then resize (a box). */
function samplingOf(plan: CropPlan, height: number, width: number, channels: 1 | 3, source: string): JpegSampling | null {
  if (plan.resize && plan.output) return null;
  const whole = { top: 0, left: 0, height, width };
  const box = plan.resize ? whole : (plan.extract ?? whole);
  const grid = plan.resize ?? plan.output ?? [box.height, box.width];
  const window = plan.resize && plan.extract ? plan.extract : { top: 0, left: 0, height: grid[0], width: grid[1] };
  const inside = (r: typeof box, h: number, w: number) => r.top >= 0 && r.left >= 0 && r.height > 0 && r.width > 0 && r.top + r.height <= h && r.left + r.width <= w;
  if (!inside(box, height, width) || !inside(window, grid[0], grid[1])) throw new ImageFolderError(source, `the crop does not lie inside the ${height}x${width} (HxW) image`);
  return { channels, box, grid, window, flip: plan.flip ?? false };
}

/** Any format sharp reads, through libvips. */
async function decodeWithSharp(bytes: Uint8Array, source: string, channels: 1 | 3, alpha: 'flatten' | 'drop', maxPixels: number, planFor: (height: number, width: number) => CropPlan): Promise<DecodedImage> {
  try {
    // failOn 'warning': a truncated or damaged image is an error, not a partly grey picture.
    const image = sharp(bytes, { failOn: 'warning', limitInputPixels: maxPixels });
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new ImageFolderError(source, 'image has no dimensions');
    const plan = planFor(meta.height, meta.width);
    let [height, width] = [meta.height, meta.width];
    // sharp applies extract() before resize() when called in that order, after it otherwise.
    if (plan.resize) {
      [height, width] = plan.resize;
      image.resize({ width, height, fit: 'fill' });
    }
    if (plan.extract) {
      image.extract(plan.extract);
      [height, width] = [plan.extract.height, plan.extract.width];
    }
    if (plan.output) {
      [height, width] = plan.output;
      image.resize({ width, height, fit: 'fill' });
    }
    if (plan.flip) image.flop();
    if (alpha === 'flatten') image.flatten({ background: '#000000' });
    else image.removeAlpha();
    image.toColourspace(channels === 1 ? 'b-w' : 'srgb');
    const { data, info } = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== width || info.height !== height) {
      throw new ImageFolderError(source, `decoded to ${info.channels} channels of ${info.height}x${info.width}, expected ${channels} of ${height}x${width}`);
    }
    return { pixels: data, channels, height, width };
  } catch (e) {
    if (e instanceof ImageFolderError) throw e;
    throw new ImageFolderError(source, oneLine((e as Error).message));
  }
}

function toChannelMajor(interleaved: Uint8Array, channels: number, pixels: number): Uint8Array {
  if (channels === 1) return new Uint8Array(interleaved);
  const out = new Uint8Array(channels * pixels);
  for (let c = 0; c < channels; c++) {
    const plane = c * pixels;
    for (let p = 0; p < pixels; p++) out[plane + p] = interleaved[p * channels + c];
  }
  return out;
}
