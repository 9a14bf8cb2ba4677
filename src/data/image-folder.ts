// Datasets from a folder laid out like ImageNet: root/<class>/<image> (files in nested folders
// count for their class folder; hidden entries and files directly under root are ignored).
// Classes are the subfolder names in code-point order, as torchvision's ImageFolder sorts them.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { tensor, tidy } from '../engine/index.js';
import type { Dataset } from './dataset.js';
import { decodeImage, ImageFolderError, type DecodedImage, type DecodeOptions } from './decode.js';
import { imagePath, listImageFolder, refuseTooFewClasses, type SkippedFile } from './folder-index.js';

export { DEFAULT_IMAGE_EXTENSIONS, type SkippedFile } from './folder-index.js';

export interface ImageFolderOptions extends DecodeOptions {
  /** 'error' (default): the first bad file or empty class stops loading; 'skip': leave it out and list it in `skipped`. */
  onBadImage?: 'error' | 'skip';
  /** Images decoded at once (default: the number of CPUs). */
  concurrency?: number;
  /** File extensions taken as images, lower case with the dot (default .png .jpg .jpeg .webp). */
  extensions?: readonly string[];
  /** Dataset name (default: the root path). */
  name?: string;
}

export interface ImageFolderScan {
  classNames: string[];
  /** Image files in class order, then path order; labels index classNames. */
  files: { path: string; label: number }[];
  skipped: SkippedFile[];
}

export interface ImageFolderResult {
  dataset: Dataset;
  /** The file behind each example of the dataset, in the same order. */
  files: string[];
  skipped: SkippedFile[];
}

/**
 * Lists classes and image files without decoding anything (folder-index.ts's listing, with paths
 * as strings); in 'error' mode the first entry that is not a usable image file stops it.
 * @param root the folder
 * @param opts onBadImage, extensions
 * @throws ImageFolderError naming the file and the reason
 * @example scanImageFolder('/data/val').classNames
 */
export function scanImageFolder(root: string, opts: Pick<ImageFolderOptions, 'onBadImage' | 'extensions'> = {}): ImageFolderScan {
  const listing = listImageFolder(root, opts);
  const first = listing.skipped[0];
  if (first && opts.onBadImage !== 'skip') throw new ImageFolderError(first.file, first.reason);
  return { classNames: listing.classNames, files: listing.paths.map((_, i) => ({ path: imagePath(listing, i).toString('utf8'), label: listing.labels[i] })), skipped: listing.skipped };
}

/**
 * Runs fn over items with at most `limit` calls in flight; results keep the item order. The
 * first failure rejects and stops the workers from starting more calls.
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Decodes every image of an ImageNet-style folder into one dataset: images [N, C, H, W] float32
 * in [0, 1] (C = opts.channels, default 3), labels [N] int64. All images must end up the same
 * size: give `crop` (and usually `resize`) unless they already are. Memory is N*C*H*W*4 bytes.
 */
export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolderResult> {
  const [cropH, cropW] = opts.crop === undefined ? [0, 0] : typeof opts.crop === 'number' ? [opts.crop, opts.crop] : opts.crop;
  if (opts.resize !== undefined && !(Number.isInteger(opts.resize) && opts.resize > 0)) throw new ImageFolderError(root, `option resize must be a positive integer, got ${opts.resize}`);
  if (opts.crop !== undefined && !(Number.isInteger(cropH) && Number.isInteger(cropW) && cropH > 0 && cropW > 0)) throw new ImageFolderError(root, `option crop must be positive integers, got ${JSON.stringify(opts.crop)}`);
  if (opts.resize && Math.max(cropH, cropW) > opts.resize) throw new ImageFolderError(root, `option crop ${cropH}x${cropW} is larger than resize ${opts.resize}: every image would be too small`);
  const skip = opts.onBadImage === 'skip';
  const scan = scanImageFolder(root, opts);
  const skipped = [...scan.skipped];

  // In error mode the first failure rejects; in skip mode a failure becomes null and is listed.
  const decoded = await mapLimit(scan.files, opts.concurrency ?? availableParallelism(), async ({ path }): Promise<DecodedImage | null> => {
    try {
      return await decodeImage(path, opts);
    } catch (e) {
      if (!skip || !(e instanceof ImageFolderError)) throw e;
      skipped.push({ file: e.file, reason: e.reason });
      return null;
    }
  });

  // The first good image fixes the size; later ones of another size are bad input.
  const reference = decoded.find((d) => d !== null);
  const kept: { image: DecodedImage; path: string; label: number }[] = [];
  decoded.forEach((image, i) => {
    if (!image) return;
    const { path, label } = scan.files[i];
    if (image.height !== reference!.height || image.width !== reference!.width) {
      const reason = `image is ${image.height}x${image.width} (HxW) but earlier images are ${reference!.height}x${reference!.width}; set crop (and resize) to give all images one size`;
      if (!skip) throw new ImageFolderError(path, reason);
      skipped.push({ file: path, reason });
      return;
    }
    kept.push({ image, path, label });
  });

  // Classes whose every image was skipped are dropped; labels are renumbered to stay dense.
  const present = [...new Set(kept.map((k) => k.label))].sort((a, b) => a - b);
  for (const [c, name] of scan.classNames.entries()) {
    if (!present.includes(c)) skipped.push({ file: join(root, name), reason: 'class folder has no usable images' });
  }
  const classNames = present.map((c) => scan.classNames[c]);
  refuseTooFewClasses(root, classNames);

  const { channels, height, width } = reference!;
  const size = channels * height * width;
  const pixels = new Uint8Array(kept.length * size);
  kept.forEach((k, i) => pixels.set(k.image.pixels, i * size));
  const labels = BigInt64Array.from(kept, (k) => BigInt(present.indexOf(k.label)));
  const dataset: Dataset = {
    name: opts.name ?? root,
    images: tidy(() => tensor(pixels, [kept.length, channels, height, width]).float().div(255)),
    labels: tensor(labels, [kept.length]),
    classNames,
  };
  return { dataset, files: kept.map((k) => k.path), skipped };
}
