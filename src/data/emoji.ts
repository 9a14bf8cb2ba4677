// The colour demo dataset: emoji drawings from two npm packages of the emoji-data project,
// `emoji-datasource-twitter` (Twemoji graphics, CC-BY 4.0) and `emoji-datasource-google` (Noto
// Emoji, Apache 2.0), 64 px RGBA PNGs. Each emoji's class is its category in `emoji.json`
// (Smileys & Emotion, People & Body, Animals & Nature, Food & Drink, Travel & Places,
// Activities, Objects, Symbols, Flags; the five skin-tone swatches of 'Component' are left out,
// and so are skin-tone variants, which would make People & Body dominate).
// - Every emoji contributes both vendors' drawings, resized to `EMOJI_SIDE` px.
// - Transparency is composited over a seeded grey background per image (uniform in
//   [0.3, 1]), so the background carries no class information.
// - The split is by emoji, not by image: per category, a seeded 20 % of the emoji go to the
//   test side with both their drawings, so a test image is always an emoji never seen in
//   training (not merely the other vendor's drawing of a training one).
// Decoding ~3,800 PNGs takes seconds, so the composited bytes are cached as safetensors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { tensor, type Tensor } from '../engine/index.js';
import { DatasetError, stratifiedSplit } from './dataset.js';
import { deriveSeed, Rng } from './random.js';

/** Image side of the emoji dataset: small enough for a 2-core demo, large enough to keep the drawings legible. */
export const EMOJI_SIDE = 32;

/** The packages read, each with the key in emoji.json that says whether it has an image of an emoji. */
export const EMOJI_VENDORS = [
  { packageName: 'emoji-datasource-twitter', folder: 'img/twitter/64', flag: 'has_img_twitter', licence: 'CC-BY-4.0 (Twemoji graphics)' },
  { packageName: 'emoji-datasource-google', folder: 'img/google/64', flag: 'has_img_google', licence: 'Apache-2.0 (Noto Emoji)' },
] as const;

export const EMOJI_CATEGORIES = [
  'Smileys & Emotion',
  'People & Body',
  'Animals & Nature',
  'Food & Drink',
  'Travel & Places',
  'Activities',
  'Objects',
  'Symbols',
  'Flags',
] as const;

const EMOJI_TEST_FRACTION = 0.2;

interface EmojiEntry {
  image: string;
  category: string;
  [flag: string]: unknown;
}

/** The emoji both vendors draw, in emoji.json order, with their category index. */
export function listEmoji(emojiJson: unknown, source: string): { image: string; category: number }[] {
  if (!Array.isArray(emojiJson)) throw new DatasetError(`${source}: expected an array of emoji`);
  const out: { image: string; category: number }[] = [];
  for (const e of emojiJson as EmojiEntry[]) {
    const category = (EMOJI_CATEGORIES as readonly string[]).indexOf(e.category);
    if (category < 0 || typeof e.image !== 'string') continue;
    if (EMOJI_VENDORS.every((v) => e[v.flag] === true)) out.push({ image: e.image, category });
  }
  if (out.length === 0) throw new DatasetError(`${source}: no emoji drawn by every vendor`);
  return out;
}

/**
 * Composites an RGBA image (interleaved bytes, not premultiplied) over a uniform grey and
 * returns channel-major RGB bytes.
 */
export function compositeOverGrey(rgba: Uint8Array, pixels: number, grey: number): Uint8Array {
  if (rgba.length !== 4 * pixels) throw new DatasetError(`expected ${4 * pixels} RGBA bytes, got ${rgba.length}`);
  const out = new Uint8Array(3 * pixels);
  const background = 255 * grey;
  for (let p = 0; p < pixels; p++) {
    const alpha = rgba[4 * p + 3] / 255;
    for (let c = 0; c < 3; c++) out[c * pixels + p] = Math.round(alpha * rgba[4 * p + c] + (1 - alpha) * background);
  }
  return out;
}

async function decodeRgba(file: string, side: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(file).ensureAlpha().resize(side, side, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels`);
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (e) {
    throw new DatasetError(`${file}: cannot decode (${(e as Error).message})`);
  }
}

export interface EmojiArrays {
  /** [N, 3, side, side] uint8, composited. */
  pixels: Tensor;
  /** [N] int64 category indices. */
  labels: Tensor;
  /** Per image, the index of its emoji in listEmoji's order (both drawings of an emoji share it). */
  emoji: number[];
}

/**
 * Decodes every drawing of every listed emoji: image 2k is the first vendor's drawing of emoji
 * k, 2k+1 the second's. `roots` are the vendor packages' folders, in EMOJI_VENDORS order.
 */
export async function decodeEmoji(roots: string[], seed: number, side = EMOJI_SIDE): Promise<EmojiArrays> {
  const listing = join(roots[0], 'emoji.json');
  const emoji = listEmoji(JSON.parse(readFileSync(listing, 'utf8')), listing);
  const plane = side * side;
  const pixels = new Uint8Array(emoji.length * EMOJI_VENDORS.length * 3 * plane);
  const labels: bigint[] = [];
  const owner: number[] = [];
  // sharp decodes on libuv's pool; a bounded batch keeps memory flat and the pool busy.
  const BATCH = 64;
  for (let start = 0; start < emoji.length; start += BATCH) {
    const chunk = emoji.slice(start, start + BATCH);
    const decoded = await Promise.all(chunk.flatMap((e) => EMOJI_VENDORS.map((v, vi) => decodeRgba(join(roots[vi], v.folder, e.image), side))));
    decoded.forEach((rgba, j) => {
      const n = start * EMOJI_VENDORS.length + j;
      const grey = new Rng(deriveSeed(seed, 'emoji-background', n)).uniform(0.3, 1);
      pixels.set(compositeOverGrey(rgba, plane, grey), n * 3 * plane);
    });
    chunk.forEach((e, k) => {
      for (let v = 0; v < EMOJI_VENDORS.length; v++) {
        labels.push(BigInt(e.category));
        owner.push(start + k);
      }
    });
  }
  return { pixels: tensor(pixels, [labels.length, 3, side, side]), labels: tensor(BigInt64Array.from(labels), [labels.length]), emoji: owner };
}

/**
 * Image indices of the train and test sides, split by emoji: per category a seeded
 * EMOJI_TEST_FRACTION of the emoji go to test with all their drawings.
 */
export function splitByEmoji(emojiOfImage: readonly number[], labels: readonly number[], seed: number): { train: number[]; test: number[] } {
  const categoryOf = new Map<number, number>();
  emojiOfImage.forEach((e, i) => categoryOf.set(e, labels[i]));
  const ids = [...categoryOf.keys()].sort((a, b) => a - b);
  const bySide = stratifiedSplit(ids.map((e) => categoryOf.get(e)!), EMOJI_CATEGORIES.length, EMOJI_TEST_FRACTION, seed);
  const testEmoji = new Set(bySide.test.map((k) => ids[k]));
  const train: number[] = [];
  const test: number[] = [];
  emojiOfImage.forEach((e, i) => (testEmoji.has(e) ? test : train).push(i));
  return { train, test };
}
