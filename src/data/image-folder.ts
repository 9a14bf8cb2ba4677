// Datasets from a folder laid out like ImageNet: root/<class>/<image> (files in nested folders
// count for their class folder; hidden entries and files directly under root are ignored).
// Classes are the subfolder names in code-point order, as torchvision's ImageFolder sorts them.
import { createHash } from 'node:crypto';
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join, relative } from 'node:path';
import { tensor, tidy } from '../engine/index.js';
import type { Dataset } from './dataset.js';
import { decodeImage, ImageFolderError, type DecodedImage, type DecodeOptions } from './decode.js';

export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp'];

export interface SkippedFile {
  file: string;
  reason: string;
}

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

function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function listDir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.')).sort(byName);
  } catch (e) {
    throw new ImageFolderError(dir, `cannot list folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** What an entry is, following symbolic links: class folders and images may be links (a broken one is 'other'). */
function kindOf(dir: string, e: Dirent): 'dir' | 'file' | 'other' {
  if (e.isDirectory()) return 'dir';
  if (e.isFile()) return 'file';
  if (!e.isSymbolicLink()) return 'other';
  try {
    const st = statSync(join(dir, e.name));
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch {
    return 'other';
  }
}

/** Image files under dir, nested folders included; a linked folder seen before (a link cycle) is not entered again. */
function filesUnder(dir: string, seen = new Set<string>()): string[] {
  const real = realpathSync(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  return listDir(dir).flatMap((e) => {
    const kind = kindOf(dir, e);
    return kind === 'dir' ? filesUnder(join(dir, e.name), seen) : kind === 'file' ? [join(dir, e.name)] : [];
  });
}

function refuseTooFewClasses(root: string, classNames: string[]): void {
  if (classNames.length >= 2) return;
  const found = classNames.length ? `only class '${classNames[0]}'` : 'no class folder with images';
  throw new ImageFolderError(root, `${found}; an image folder needs at least 2 classes, one subfolder of images per class`);
}

/** Lists classes and image files without decoding anything. */
export function scanImageFolder(root: string, opts: Pick<ImageFolderOptions, 'onBadImage' | 'extensions'> = {}): ImageFolderScan {
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch (e) {
    throw new ImageFolderError(root, `cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!isDir) throw new ImageFolderError(root, 'not a folder; expected root/<class>/<image> folders');
  const extensions = (opts.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) => e.toLowerCase());
  const skipped: SkippedFile[] = [];
  const bad = (file: string, reason: string): void => {
    if (opts.onBadImage !== 'skip') throw new ImageFolderError(file, reason);
    skipped.push({ file, reason });
  };
  const classNames: string[] = [];
  const files: ImageFolderScan['files'] = [];
  for (const entry of listDir(root).filter((e) => kindOf(root, e) === 'dir')) {
    const dir = join(root, entry.name);
    const images: string[] = [];
    for (const file of filesUnder(dir)) {
      if (extensions.includes(extname(file).toLowerCase())) images.push(file);
      else bad(file, `not an image file (extension '${extname(file)}'; expected ${extensions.join(', ')})`);
    }
    if (images.length === 0) {
      bad(dir, 'empty class folder (no image files)');
      continue;
    }
    for (const path of images) files.push({ path, label: classNames.length });
    classNames.push(entry.name);
  }
  refuseTooFewClasses(root, classNames);
  return { classNames, files, skipped };
}

/**
 * A digest of what a scan found: every file's path (relative to root), size and modification
 * time. Added, removed, replaced or edited images change it, without reading any image.
 */
export function scanFingerprint(root: string, scan: ImageFolderScan): string {
  const hash = createHash('sha256');
  for (const path of [...scan.files.map((f) => f.path), ...scan.skipped.map((f) => f.file)]) {
    const { size, mtimeMs } = statSync(path);
    hash.update(`${relative(root, path)}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex');
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
