// The index of an image folder (ImageNet layout: root/<class>/<image>, nested folders counting
// for their class): every image's path, label, byte size and pixel size, read once from the
// files' headers and kept as plain data, so a run of any size decodes images only when it uses
// them. Names are handled as bytes: a file name that is not UTF-8 is kept (as base64) and read
// back by its exact bytes. Every entry that is not a usable image is counted with its reason.
import { createHash, type Hash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { ImageFolderError } from './decode.js';
import type { IndexColumns } from './image-index.js';
import { ioReason } from '../common/errors.js';

/**
 * An image folder listed without reading any image, as columns (index i of each column is file
 * i): a few numbers and one short string per file, so a listing of a million files stays small.
 */
export interface FolderListing {
  root: string;
  /** Classes with image files (subfolder names in byte order, as torchvision's ImageFolder sorts them). */
  classNames: string[];
  /** Paths relative to root; those listed in base64Paths are the base64 of the raw name bytes. */
  paths: string[];
  base64Paths: number[];
  labels: number[];
  /** Size of each file in bytes. */
  bytes: number[];
  /** Entries left out (not an image, unreadable, not a regular file, an empty class), with why. */
  skipped: SkippedFile[];
  /** Digest of the listing (relative names, sizes, modification times): equal while the folder is unchanged. */
  fingerprint: string;
}

/** What a folder index holds: the listing's columns and every image's pixel size. */
export interface FolderIndex extends FolderListing, IndexColumns {
  kind: 'folder';
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

/** A listing being built: its columns, and the digest of every file listed so far. */
interface ListingDraft {
  columns: Pick<FolderListing, 'paths' | 'base64Paths' | 'labels' | 'bytes' | 'skipped'>;
  hash: Hash;
  extensions: readonly string[];
  /** Folders listed, by real path (a linked folder seen twice is a link cycle). */
  seen: Set<string>;
  /** Called after each folder with the image files listed so far. */
  listed?: (files: number) => void;
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

/** Walks one class folder into the draft; a linked folder seen before (a link cycle) is skipped and said. */
function walkClass(dir: Buffer, rootLength: number, label: number, draft: ListingDraft): void {
  const { columns } = draft;
  const { skipped } = columns;
  const real = realpathSync(dir);
  if (draft.seen.has(real)) return void skipped.push({ file: display(dir), reason: 'folder already listed (a symbolic link cycle)' });
  draft.seen.add(real);
  const names = entries(dir);
  if (typeof names === 'string') return void skipped.push({ file: display(dir), reason: names });
  for (const name of names) {
    const path = Buffer.concat([dir, SLASH, name]);
    const stat = statOf(path);
    if (typeof stat === 'string') skipped.push({ file: display(path), reason: stat });
    else if (stat.isDirectory()) walkClass(path, rootLength, label, draft);
    else if (!stat.isFile()) skipped.push({ file: display(path), reason: 'not a regular file (a FIFO, socket or device)' });
    else if (!draft.extensions.includes(extensionOf(name))) skipped.push({ file: display(path), reason: `not an image file (extension '${extensionOf(name)}'; expected ${draft.extensions.join(', ')})` });
    else if (stat.size === 0) skipped.push({ file: display(path), reason: 'empty file' });
    else {
      const relative = path.subarray(rootLength + 1);
      draft.hash.update(relative).update(`\0${label}\0${stat.size}\0${stat.mtimeMs}\n`);
      if (!isUtf8(relative)) columns.base64Paths.push(columns.paths.length);
      columns.paths.push(isUtf8(relative) ? display(relative) : relative.toString('base64'));
      columns.labels.push(label);
      columns.bytes.push(stat.size);
    }
  }
  draft.listed?.(columns.paths.length);
}

function extensionOf(name: Buffer): string {
  const s = name.toString('latin1');
  const dot = s.lastIndexOf('.');
  return dot <= 0 ? '' : s.slice(dot).toLowerCase();
}

/**
 * Lists an image folder without reading any image: classes (subfolder names in byte order, as
 * torchvision's ImageFolder sorts them), image files as columns, what was left out, and the
 * listing's fingerprint.
 * @param root the folder
 * @param o extensions; listed: called after each folder with the image files listed so far
 * @returns the listing
 * @throws ImageFolderError when root is not a readable folder or has fewer than 2 classes with images
 * @example const { classNames, paths, fingerprint } = listImageFolder('/data/imagenet/val');
 */
export function listImageFolder(root: string, o: Pick<FolderIndexOptions, 'extensions'> & { listed?: (files: number) => void } = {}): FolderListing {
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
  const columns: ListingDraft['columns'] = { paths: [], base64Paths: [], labels: [], bytes: [], skipped: [] };
  const draft: ListingDraft = { columns, hash: createHash('sha256'), extensions: (o.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) => e.toLowerCase()), seen: new Set(), listed: o.listed };
  const classNames: string[] = [];
  for (const name of top) {
    const dir = Buffer.concat([rootBytes, SLASH, name]);
    const stat = statOf(dir);
    if (typeof stat === 'string' || !stat.isDirectory()) continue;
    const before = columns.paths.length;
    walkClass(dir, rootBytes.length, classNames.length, draft);
    if (columns.paths.length === before) columns.skipped.push({ file: display(dir), reason: 'empty class folder (no image files)' });
    else classNames.push(display(name));
  }
  refuseTooFewClasses(root, classNames);
  // Added, removed, replaced or edited images change the digest, without reading any image.
  for (const s of columns.skipped) draft.hash.update(`${s.file}\0${s.reason}\n`);
  return { root, classNames, ...columns, fingerprint: draft.hash.digest('hex') };
}

/**
 * Indexes an image folder: lists it, then reads every image's header (its pixel size) with a
 * bounded number of reads in flight, reporting progress from the first second. A file whose
 * header cannot be read is skipped with the decoder's reason; a class left with no image is
 * dropped, said in `skipped`, and the labels stay dense.
 * @param root the folder
 * @param o extensions, concurrency, onProgress
 * @returns the index (save it with saveImageIndex)
 * @throws ImageFolderError as listImageFolder, or when fewer than 2 classes keep an image
 * @example const index = await indexImageFolder('/data/val', { onProgress: (p, d, t) => console.log(p, d, t) });
 */
export async function indexImageFolder(root: string, o: FolderIndexOptions = {}): Promise<FolderIndex> {
  o.onProgress?.('listing', 0, 0);
  const listing = listImageFolder(root, o);
  const n = listing.paths.length;
  const raw = new Set(listing.base64Paths);
  // 0 marks a file whose header could not be read.
  const [heights, widths] = [new Array<number>(n).fill(0), new Array<number>(n).fill(0)];
  const skipped = [...listing.skipped];
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const path = imagePath(listing, i);
      try {
        // sharp opens a path itself; a name that is not UTF-8 is read here by its bytes.
        const meta = await sharp(raw.has(i) ? readFileSync(path) : display(path)).metadata();
        if (meta.height && meta.width) [heights[i], widths[i]] = [meta.height, meta.width];
        else skipped.push({ file: display(path), reason: 'image has no dimensions' });
      } catch (e) {
        skipped.push({ file: display(path), reason: `cannot read the image header: ${(e as Error).message.split('\n')[0]}` });
      }
      if (++done % 256 === 0 || done === n) o.onProgress?.('reading headers', done, n);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4 * availableParallelism()) }, worker));
  return assembleIndex({ ...listing, skipped }, heights, widths);
}

/** The index of the files whose header was read (height > 0); classes left empty are dropped and said. */
function assembleIndex(listing: FolderListing, heights: number[], widths: number[]): FolderIndex {
  const kept = listing.paths.flatMap((_, i) => (heights[i] > 0 ? [i] : []));
  const present = [...new Set(kept.map((i) => listing.labels[i]))].sort((a, b) => a - b);
  const skipped = [...listing.skipped];
  listing.classNames.forEach((name, c) => {
    if (!present.includes(c)) skipped.push({ file: `${listing.root}/${name}`, reason: 'class folder has no readable images; the class is left out' });
  });
  const classNames = present.map((c) => listing.classNames[c]);
  refuseTooFewClasses(listing.root, classNames);
  const dense = new Map(present.map((c, k) => [c, k]));
  const raw = new Set(listing.base64Paths);
  const column = (values: number[]) => kept.map((i) => values[i]);
  return {
    kind: 'folder',
    root: listing.root,
    classNames,
    paths: kept.map((i) => listing.paths[i]),
    base64Paths: kept.flatMap((i, k) => (raw.has(i) ? [k] : [])),
    labels: kept.map((i) => dense.get(listing.labels[i])!),
    bytes: column(listing.bytes),
    heights: column(heights),
    widths: column(widths),
    skipped,
    fingerprint: listing.fingerprint,
  };
}

/**
 * The path of image i as bytes (file names that are not UTF-8 included).
 * @param index the folder's index or listing
 * @param i the image
 * @example readFileSync(imagePath(index, 0))
 */
export function imagePath(index: Pick<FolderListing, 'root' | 'paths' | 'base64Paths'>, i: number): Buffer {
  const relative = index.base64Paths.includes(i) ? Buffer.from(index.paths[i], 'base64') : Buffer.from(index.paths[i], 'utf8');
  return Buffer.concat([Buffer.from(index.root.replace(/\/+$/, '')), SLASH, relative]);
}
