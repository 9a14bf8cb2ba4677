// WebDataset-style tar shards (`train-{000000..000146}.tar`): each sample is the tar members that
// share a key (the member name up to the first dot of its base name), here an image (`.jpg`,
// `.jpeg`, `.png` or `.webp`) and its class index (`.cls`, decimal text). A pass over the shards'
// headers finds every image's offset, so an image is then read by one positioned read, in any
// order: a run from shards sees exactly the batches a run from the same images in a folder sees.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { ImageFolderError } from './decode.js';
import type { IndexColumns } from './image-index.js';
import type { SkippedFile } from './folder-index.js';

export interface ShardIndex extends IndexColumns {
  kind: 'shards';
  /** The shard files, in the order their samples are numbered. */
  shards: string[];
  /** Per image: its shard (index into shards), the byte offset of its data and its member name. */
  shardOf: number[];
  offsets: number[];
  members: string[];
  /** Digest-free identity: each shard's size and modification time (equal while the shards are unchanged). */
  fingerprint: string;
}

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'webp']);
const BLOCK = 512;

/**
 * Expands `{a..b}` ranges (zero-padded to the width of `a`) in a shard pattern.
 * @param pattern e.g. 'data/train-{000000..000002}.tar'
 * @returns the file names, in order
 * @throws ImageFolderError for a range that runs backwards or is too long
 * @example expandShardPattern('s-{00..02}.tar') // ['s-00.tar', 's-01.tar', 's-02.tar']
 */
export function expandShardPattern(pattern: string): string[] {
  const m = /\{(\d+)\.\.(\d+)\}/.exec(pattern);
  if (!m) return [pattern];
  const [from, to] = [Number(m[1]), Number(m[2])];
  if (to < from || to - from > 1_000_000) throw new ImageFolderError(pattern, `shard range {${m[1]}..${m[2]}} must run upwards and name at most 1,000,000 shards`);
  const names: string[] = [];
  for (let k = from; k <= to; k++) names.push(...expandShardPattern(pattern.slice(0, m.index) + String(k).padStart(m[1].length, '0') + pattern.slice(m.index + m[0].length)));
  return names;
}

/** A member's header fields: name, size and type; null at the end-of-archive blocks. */
function parseHeader(block: Buffer, shard: string, offset: number): { name: string; size: number; type: string } | null {
  if (block.every((b) => b === 0)) return null;
  const text = (from: number, length: number) => block.subarray(from, from + length).toString('utf8').replace(/\0[\s\S]*$/, '');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  if (parseInt(text(148, 8).trim(), 8) !== sum) throw new ImageFolderError(shard, `not a tar archive (bad header checksum at byte ${offset})`);
  const prefix = text(257, 6).startsWith('ustar') ? text(345, 155) : '';
  const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
  return { name, size: parseInt(text(124, 12).trim() || '0', 8), type: text(156, 1) || '0' };
}

/** Reads exactly length bytes at position, or says the shard is truncated. */
function readAt(fd: number, shard: string, length: number, position: number): Buffer {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got);
    if (n === 0) throw new ImageFolderError(shard, `truncated tar archive (ends inside the member at byte ${position})`);
    got += n;
  }
  return out;
}

interface Member {
  name: string;
  offset: number;
  size: number;
}

/** The regular-file members of one shard; GNU long names and pax `path` records are honoured. */
function shardMembers(shard: string): Member[] {
  const fd = openSync(shard, 'r');
  const members: Member[] = [];
  try {
    let offset = 0;
    let longName: string | null = null;
    for (;;) {
      const header = parseHeader(readAt(fd, shard, BLOCK, offset), shard, offset);
      if (!header) break;
      const data = offset + BLOCK;
      if (header.type === 'L') longName = readAt(fd, shard, header.size, data).toString('utf8').replace(/\0+$/, '');
      else if (header.type === 'x') longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(readAt(fd, shard, header.size, data).toString('utf8'))?.[1] ?? longName;
      else {
        if (header.type === '0' || header.type === '\0') members.push({ name: longName ?? header.name, offset: data, size: header.size });
        longName = null;
      }
      offset = data + Math.ceil(header.size / BLOCK) * BLOCK;
    }
  } finally {
    closeSync(fd);
  }
  return members;
}

/** Splits a member name into its sample key and extension (WebDataset: the first dot of the base name). */
function keyAndExtension(name: string): [string, string] {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  return dot < 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot + 1).toLowerCase()];
}

/**
 * Indexes tar shards: every sample's image (offset, byte size, pixel size from its header) and
 * class (its `.cls` member). Samples without an image or a class, or whose image header cannot
 * be read, are skipped with the reason. Class names come from a `classes.txt` beside the first
 * shard (one per line, in class-index order) when there is one, else they are the indices.
 * @param pattern a shard file or a `{a..b}` pattern
 * @param o onProgress: called after each shard
 * @returns the index
 * @throws ImageFolderError for a missing or malformed shard, or fewer than 2 classes
 * @example const index = await indexTarShards('/data/train-{000000..000146}.tar');
 */
export async function indexTarShards(pattern: string, o: { onProgress?: (shardsDone: number, shards: number) => void } = {}): Promise<ShardIndex> {
  const shards = expandShardPattern(pattern);
  const columns = { shardOf: [] as number[], offsets: [] as number[], members: [] as string[], labels: [] as number[], bytes: [] as number[], heights: [] as number[], widths: [] as number[] };
  const skipped: SkippedFile[] = [];
  const stamps: string[] = [];
  for (const [s, shard] of shards.entries()) {
    if (!existsSync(shard)) throw new ImageFolderError(shard, 'no such shard');
    const { size, mtimeMs } = statSync(shard);
    stamps.push(`${shard}\0${size}\0${mtimeMs}`);
    await indexShard(shard, s, columns, skipped);
    o.onProgress?.(s + 1, shards.length);
  }
  if (new Set(columns.labels).size < 2) throw new ImageFolderError(pattern, 'the shards hold fewer than 2 classes with images');
  const classNames = classNamesOf(shards, 1 + columns.labels.reduce((a, b) => Math.max(a, b), -1));
  return { kind: 'shards', shards, ...columns, classNames, skipped, fingerprint: stamps.join('\n') };
}

/** The names of `classes` classes: from a classes.txt beside the first shard (one per line), else the indices. */
function classNamesOf(shards: string[], classes: number): string[] {
  const namesFile = join(dirname(shards[0]), 'classes.txt');
  const named = existsSync(namesFile) ? readFileSync(namesFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : null;
  if (named && named.length < classes) throw new ImageFolderError(namesFile, `names ${named.length} classes, but the shards use class indices up to ${classes - 1}`);
  return named ? named.slice(0, classes) : Array.from({ length: classes }, (_, c) => String(c));
}

/**
 * The classes of tar shards without reading an image: classes.txt when there is one, else the
 * class indices the `.cls` members use (a pass over the shards' headers).
 * @param pattern a shard file or a `{a..b}` pattern
 * @throws ImageFolderError for a missing or malformed shard
 * @example shardClassNames('/data/train-{000..146}.tar') // ['n01440764', ...] with a classes.txt
 */
export function shardClassNames(pattern: string): string[] {
  const shards = expandShardPattern(pattern);
  if (existsSync(join(dirname(shards[0]), 'classes.txt'))) return classNamesOf(shards, 0);
  let top = -1;
  for (const shard of shards) {
    const fd = openSync(shard, 'r');
    try {
      for (const m of shardMembers(shard)) if (keyAndExtension(m.name)[1] === 'cls') top = Math.max(top, Number(readAt(fd, shard, m.size, m.offset).toString('utf8').trim()) || 0);
    } finally {
      closeSync(fd);
    }
  }
  return classNamesOf(shards, top + 1);
}

/** Adds one shard's samples to the columns. */
async function indexShard(shard: string, s: number, columns: { shardOf: number[]; offsets: number[]; members: string[]; labels: number[]; bytes: number[]; heights: number[]; widths: number[] }, skipped: SkippedFile[]): Promise<void> {
  const samples = new Map<string, { image?: Member; cls?: Member }>();
  for (const m of shardMembers(shard)) {
    const [key, ext] = keyAndExtension(m.name);
    const sample = samples.get(key) ?? {};
    if (IMAGE_EXTENSIONS.has(ext)) sample.image = m;
    else if (ext === 'cls') sample.cls = m;
    samples.set(key, sample);
  }
  const fd = openSync(shard, 'r');
  try {
    for (const [key, { image, cls }] of samples) {
      const where = `${shard}:${key}`;
      if (!image || !cls) {
        skipped.push({ file: where, reason: image ? 'sample has no .cls member' : 'sample has no image member' });
        continue;
      }
      const label = Number(readAt(fd, shard, cls.size, cls.offset).toString('utf8').trim());
      if (!Number.isInteger(label) || label < 0) {
        skipped.push({ file: where, reason: 'its .cls member is not a class index' });
        continue;
      }
      try {
        const meta = await sharp(readAt(fd, shard, image.size, image.offset)).metadata();
        if (!meta.height || !meta.width) throw new Error('image has no dimensions');
        columns.heights.push(meta.height);
        columns.widths.push(meta.width);
      } catch (e) {
        skipped.push({ file: `${shard}:${image.name}`, reason: `cannot read the image header: ${(e as Error).message.split('\n')[0]}` });
        continue;
      }
      columns.shardOf.push(s);
      columns.offsets.push(image.offset);
      columns.members.push(image.name);
      columns.labels.push(label);
      columns.bytes.push(image.size);
    }
  } finally {
    closeSync(fd);
  }
}
