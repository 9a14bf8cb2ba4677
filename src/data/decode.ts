// Image decoding with sharp (libvips). sharp runs each pipeline on libuv's thread pool, so
// decoding never blocks the main thread; callers bound how many run at once.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { centerCropBox, resizedSize, type Size } from './transforms.js';

/** A file or folder that cannot be used as (part of) an image dataset; `file` names it. */
export class ImageFolderError extends Error {
  override name = 'ImageFolderError';
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
  /** Channel-major bytes (C, H, W), 0..255. */
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

/**
 * Decodes an image file (or its bytes; `source` then names it in errors) to channel-major
 * bytes, converting colour space, bit depth, palette and alpha to `channels` 8-bit channels,
 * then resizing and centre cropping as asked. Throws ImageFolderError naming the file.
 */
export async function decodeImage(input: string | Uint8Array, opts: DecodeOptions = {}, source = typeof input === 'string' ? input : 'image data'): Promise<DecodedImage> {
  const channels = opts.channels ?? 3;
  let bytes: Uint8Array;
  try {
    bytes = typeof input === 'string' ? await readFile(input) : input;
  } catch (e) {
    throw new ImageFolderError(source, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    // failOn 'warning': a truncated or damaged image is an error, not a partly grey picture.
    const image = sharp(bytes, { failOn: 'warning', limitInputPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS });
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new ImageFolderError(source, 'image has no dimensions');
    let [height, width] = [meta.height, meta.width];
    if (opts.resize) {
      [height, width] = resizedSize(height, width, opts.resize);
      image.resize({ width, height, fit: 'fill' });
    }
    if (opts.crop !== undefined) {
      const [ch, cw] = typeof opts.crop === 'number' ? [opts.crop, opts.crop] : opts.crop;
      if (height < ch || width < cw) {
        const size = opts.resize ? `${height}x${width} after resizing` : `${height}x${width}`;
        throw new ImageFolderError(source, `image is ${size} (HxW), smaller than the ${ch}x${cw} crop`);
      }
      const { top, left } = centerCropBox(height, width, ch, cw);
      // Called after resize(), so sharp crops the resized image.
      image.extract({ top, left, width: cw, height: ch });
      [height, width] = [ch, cw];
    }
    if ((opts.alpha ?? 'flatten') === 'flatten') image.flatten({ background: '#000000' });
    else image.removeAlpha();
    image.toColourspace(channels === 1 ? 'b-w' : 'srgb');
    const { data, info } = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== width || info.height !== height) {
      throw new ImageFolderError(source, `decoded to ${info.channels} channels of ${info.height}x${info.width}, expected ${channels} of ${height}x${width}`);
    }
    return { pixels: toChannelMajor(data, channels, height * width), channels, height, width };
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
