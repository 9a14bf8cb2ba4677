// An image index, the plain-data description of a streamed dataset (a folder's or tar shards'):
// what every image is, kept as JSON columns in the run directory so that a run indexes its files
// once and reuses the index while they are unchanged.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic.js';
import { ImageFolderError } from './decode.js';
import type { FolderIndex } from './folder-index.js';
import type { SkippedFile } from './folder-index.js';
import type { ShardIndex } from './tar-shards.js';
import { ioReason } from '../common/errors.js';

export type ImageIndex = FolderIndex | ShardIndex;

/** Layout of a stored index; loadImageIndex refuses others. */
export const IMAGE_INDEX_FORMAT = 1;

/** What every image index (a folder's, tar shards') knows of its images, a column each. */
export interface IndexColumns {
  classNames: string[];
  labels: number[];
  /** Encoded size of each image in bytes. */
  bytes: number[];
  heights: number[];
  widths: number[];
  /** Entries left out (not an image, unreadable, not a regular file, a class with no images), with why. */
  skipped: SkippedFile[];
}

/**
 * Writes an index atomically as JSON.
 * @param path where
 * @param index what
 * @example saveImageIndex(join(dir, 'index.json'), index)
 */
export function saveImageIndex(path: string, index: ImageIndex): void {
  writeFileAtomic(path, JSON.stringify({ format: IMAGE_INDEX_FORMAT, ...index }));
}

/**
 * Reads an index saveImageIndex wrote.
 * @param path the file
 * @throws ImageFolderError when it is not an index of this format or its columns disagree
 * @example const index = loadImageIndex(join(dir, 'index.json'));
 */
export function loadImageIndex(path: string): ImageIndex {
  let index: ImageIndex & { format?: number };
  try {
    index = JSON.parse(readFileSync(path, 'utf8')) as ImageIndex & { format?: number };
  } catch (e) {
    throw new ImageFolderError(path, `cannot read the image index (${ioReason(e)})`);
  }
  const n = index.labels?.length;
  const columns = [index.labels, index.bytes, index.heights, index.widths, index.kind === 'folder' ? index.paths : index.kind === 'shards' ? index.offsets : null];
  if (index.format !== IMAGE_INDEX_FORMAT || !columns.every((c) => Array.isArray(c) && c.length === n)) {
    throw new ImageFolderError(path, `not an image index of format ${IMAGE_INDEX_FORMAT}; delete it and rerun to index the dataset again`);
  }
  return index;
}
