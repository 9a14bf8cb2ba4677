// The index of an image folder (ImageNet layout: root/<class>/<image>, nested folders counting
// for their class): every image's path, label, byte size and pixel size, read once from the
// files' headers and kept as plain data, so a run of any size decodes images only when it uses
// them. Names are handled as bytes: a file name that is not UTF-8 is kept (as base64) and read
// back by its exact bytes. Every entry that is not a usable image is counted with its reason.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { ImageFolderError } from './decode.js';
import type { IndexColumns } from './image-index.js';
import { ioReason } from '../common/errors.js';

/** What a folder index holds, column by column (index i of each column is image i). */
export interface FolderIndex extends IndexColumns {
  kind: 'folder';
  root: string;
  /** Paths relative to root; those listed in base64Paths are the base64 of the raw name bytes. */
  paths: string[];
  base64Paths: number[];
  /** Digest of the listing (relative names, sizes, modification times): equal while the folder is unchanged. */
  fingerprint: string;
}

/** Progress of a long listing or header pass: `done` of `total` (total 0 while still listing). */
export type IndexProgress = (phase: 'listing' | 'reading headers', done: number, total: number) => void;

export interface FolderIndexOptions {
  /** File extensions taken as images, lower case with the dot (default .png .jpg .jpeg .webp). */
  extensions?: readonly string[];
  /** Headers read at once (default: 4 per CPU; reading a header is mostly waiting on the disk). */
  concurrency?: number;
  onProgress?: IndexProgress;
}

/** File extensions taken as images by default. */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp'];

/** An entry left out of a dataset, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

/**
 * Refuses a folder with fewer than 2 classes (nothing to tell apart).
 * @param root the folder, for the message
 * @param classNames the classes that have images
 * @throws ImageFolderError
 */
export function refuseTooFewClasses(root: string, classNames: string[]): void {
  if (classNames.length >= 2) return;
  const found = classNames.length ? `only class '${classNames[0]}'` : 'no class folder with images';
  throw new ImageFolderError(root, `${found}; an image folder needs at least 2 classes, one subfolder of images per class`);
}
const SLASH = Buffer.from('/');

/** A listed file: its path as bytes, relative path bytes, label and stat. */
interface Listed {
  path: Buffer;
  relative: Buffer;
  label: number;
  size: number;
  mtimeMs: number;
}

const display = (b: Buffer): string => b.toString('utf8');
const isUtf8 = (b: Buffer): boolean => Buffer.from(b.toString('utf8'), 'utf8').equals(b);

/** Sorted directory entries as bytes (hidden ones left out), or a reason it could not be listed. */
function entries(dir: Buffer): Buffer[] | string {
  try {
    return (readdirSync(dir, { encoding: 'buffer' }) as Buffer[]).filter((n) => n[0] !== 0x2e).sort(Buffer.compare);
  } catch (e) {
    return `cannot list folder (${ioReason(e)})`;
  }
}

/** stat() following links; a broken link, a loop or a permission error is a reason. */
function statOf(path: Buffer): Stats | string {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ELOOP' ? 'symbolic link loop' : code === 'ENOENT' ? 'broken symbolic link' : `cannot read (${ioReason(e)})`;
  }
}

/** Walks one class folder; a linked folder seen before (a link cycle) is skipped and said. */
function walkClass(dir: Buffer, rootLength: number, label: number, o: { extensions: readonly string[]; out: Listed[]; skipped: SkippedFile[]; seen: Set<string>; listed?: (files: number) => void }): void {
  const real = realpathSync(dir);
  if (o.seen.has(real)) return void o.skipped.push({ file: display(dir), reason: 'folder already listed (a symbolic link cycle)' });
  o.seen.add(real);
  const names = entries(dir);
  if (typeof names === 'string') return void o.skipped.push({ file: display(dir), reason: names });
  for (const name of names) {
    const path = Buffer.concat([dir, SLASH, name]);
    const stat = statOf(path);
    if (typeof stat === 'string') o.skipped.push({ file: display(path), reason: stat });
    else if (stat.isDirectory()) walkClass(path, rootLength, label, o);
    else if (!stat.isFile()) o.skipped.push({ file: display(path), reason: 'not a regular file (a FIFO, socket or device)' });
    else if (!o.extensions.includes(extensionOf(name))) o.skipped.push({ file: display(path), reason: `not an image file (extension '${extensionOf(name)}'; expected ${o.extensions.join(', ')})` });
    else if (stat.size === 0) o.skipped.push({ file: display(path), reason: 'empty file' });
    else o.out.push({ path, relative: path.subarray(rootLength + 1), label, size: stat.size, mtimeMs: stat.mtimeMs });
  }
  o.listed?.(o.out.length);
}

function extensionOf(name: Buffer): string {
  const s = name.toString('latin1');
  const dot = s.lastIndexOf('.');
  return dot <= 0 ? '' : s.slice(dot).toLowerCase();
}

/**
 * Lists an image folder without reading any image: classes (subfolder names in byte order, as
 * torchvision's ImageFolder sorts them), image files and what was left out.
 * @param root the folder
 * @param o extensions; listed: called after each folder with the image files found so far (in its class)
 * @returns classes, files (labels index classNames) and skipped entries
 * @throws ImageFolderError when root is not a readable folder or has fewer than 2 classes with images
 * @example const { classNames, files } = listImageFolder('/data/imagenet/val');
 */
export function listImageFolder(root: string, o: Pick<FolderIndexOptions, 'extensions'> & { listed?: (files: number) => void } = {}): { classNames: string[]; files: Listed[]; skipped: SkippedFile[] } {
  let rootStat: Stats;
  try {
    rootStat = statSync(root);
  } catch (e) {
    throw new ImageFolderError(root, `cannot open (${ioReason(e)})`);
  }
  if (!rootStat.isDirectory()) throw new ImageFolderError(root, 'not a folder; expected root/<class>/<image> folders');
  const rootBytes = Buffer.from(root.replace(/\/+$/, '') || '/');
  const top = entries(rootBytes);
  if (typeof top === 'string') throw new ImageFolderError(root, top);
  const extensions = (o.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) => e.toLowerCase());
  const classNames: string[] = [];
  const files: Listed[] = [];
  const skipped: SkippedFile[] = [];
  const seen = new Set<string>();
  for (const name of top) {
    const dir = Buffer.concat([rootBytes, SLASH, name]);
    const stat = statOf(dir);
    if (typeof stat === 'string' || !stat.isDirectory()) continue;
    const found: Listed[] = [];
    walkClass(dir, rootBytes.length, classNames.length, { extensions, out: found, skipped, seen, listed: o.listed && ((k) => o.listed!(files.length + k)) });
    if (found.length === 0) {
      skipped.push({ file: display(dir), reason: 'empty class folder (no image files)' });
      continue;
    }
    files.push(...found);
    classNames.push(display(name));
  }
  refuseTooFewClasses(root, classNames);
  return { classNames, files, skipped };
}

/**
 * A digest of a listing: each file's relative name bytes, size and modification time. Added,
 * removed, replaced or edited images change it, without reading any image.
 * @param listing listImageFolder's result
 * @example listingFingerprint(listImageFolder(root)) // 64 hex digits
 */
export function listingFingerprint(listing: { files: Listed[]; skipped: SkippedFile[] }): string {
  const hash = createHash('sha256');
  for (const f of listing.files) hash.update(f.relative).update(`\0${f.label}\0${f.size}\0${f.mtimeMs}\n`);
  for (const s of listing.skipped) hash.update(`${s.file}\0${s.reason}\n`);
  return hash.digest('hex');
}

/**
 * Indexes an image folder: lists it, then reads every image's header (its pixel size) with a
 * bounded number of reads in flight, reporting progress from the first second. A file whose
 * header cannot be read is skipped with the decoder's reason; a class left with no image is
 * dropped, said in `skipped`, and the labels stay dense.
 * @param root the folder
 * @param o extensions, concurrency, onProgress
 * @returns the index (save it with saveFolderIndex)
 * @throws ImageFolderError as listImageFolder, or when fewer than 2 classes keep an image
 * @example const index = await indexImageFolder('/data/val', { onProgress: (p, d, t) => console.log(p, d, t) });
 */
export async function indexImageFolder(root: string, o: FolderIndexOptions = {}): Promise<FolderIndex> {
  o.onProgress?.('listing', 0, 0);
  const listing = listImageFolder(root, o);
  const { files } = listing;
  const skipped = [...listing.skipped];
  const sizes: ({ height: number; width: number } | null)[] = new Array(files.length).fill(null);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      try {
        // sharp opens a path itself; a name that is not UTF-8 is read here by its bytes.
        const meta = await sharp(isUtf8(files[i].path) ? display(files[i].path) : readFileSync(files[i].path)).metadata();
        if (meta.height && meta.width) sizes[i] = { height: meta.height, width: meta.width };
        else skipped.push({ file: display(files[i].path), reason: 'image has no dimensions' });
      } catch (e) {
        skipped.push({ file: display(files[i].path), reason: `cannot read the image header: ${(e as Error).message.split('\n')[0]}` });
      }
      if (++done % 256 === 0 || done === files.length) o.onProgress?.('reading headers', done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4 * availableParallelism()) }, worker));
  return assembleIndex(root, listing.classNames, files, sizes, skipped, listingFingerprint(listing));
}

/** The index columns of the files whose header was read; classes left empty are dropped and said. */
function assembleIndex(root: string, allClasses: string[], files: Listed[], sizes: ({ height: number; width: number } | null)[], skipped: SkippedFile[], fingerprint: string): FolderIndex {
  const kept = files.flatMap((f, i) => (sizes[i] ? [{ ...f, ...sizes[i]! }] : []));
  const present = [...new Set(kept.map((k) => k.label))].sort((a, b) => a - b);
  allClasses.forEach((name, c) => {
    if (!present.includes(c)) skipped.push({ file: `${root}/${name}`, reason: 'class folder has no readable images; the class is left out' });
  });
  const classNames = present.map((c) => allClasses[c]);
  refuseTooFewClasses(root, classNames);
  const dense = new Map(present.map((c, k) => [c, k]));
  const base64Paths: number[] = [];
  const paths = kept.map((k, i) => {
    if (isUtf8(k.relative)) return display(k.relative);
    base64Paths.push(i);
    return k.relative.toString('base64');
  });
  return {
    kind: 'folder',
    root,
    classNames,
    paths,
    base64Paths,
    labels: kept.map((k) => dense.get(k.label)!),
    bytes: kept.map((k) => k.size),
    heights: kept.map((k) => k.height),
    widths: kept.map((k) => k.width),
    skipped,
    fingerprint,
  };
}

/**
 * The path of image i as bytes (file names that are not UTF-8 included).
 * @param index the folder index
 * @param i the image
 * @example readFileSync(imagePath(index, 0))
 */
export function imagePath(index: FolderIndex, i: number): Buffer {
  const relative = index.base64Paths.includes(i) ? Buffer.from(index.paths[i], 'base64') : Buffer.from(index.paths[i], 'utf8');
  return Buffer.concat([Buffer.from(index.root.replace(/\/+$/, '')), SLASH, relative]);
}
