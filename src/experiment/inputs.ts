// The data an experiment runs on, prepared once per process, as splits the jobs read a batch at a
// time (data/split.ts): a built-in dataset padded to a size the SegNet can halve per stage and held
// in memory, or an image folder / tar shards streamed from disk through their index (the index
// job's artifact), every image decoded when a batch needs it. Both are normalized with the
// dataset's mean and std (the space classifiers and autoencoders work in), with a fixed
// evaluation subset of the test split.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { keep, tidy, type Tensor } from '../engine/index.js';
import {
  BUILTIN_INFO,
  IMAGENET_MEAN,
  IMAGENET_STD,
  subsetTruth,
  builtinClassNames,
  denormalize,
  expandShardPattern,
  indexImageFolder,
  indexTarShards,
  labelArray,
  listImageFolder,
  loadBuiltinDataset,
  loadImageIndex,
  memorySplit,
  normalize,
  padTo,
  saveImageIndex,
  shardClassNames,
  stratifiedSample,
  stratifiedSplit,
  streamedSplit,
  subsetDataset,
  type Dataset,
  type ImageIndex,
  type ImageSplit,
  type PlantedTruth,
  type StreamView,
} from '../data/index.js';
import { ZOO } from '../models/classifiers.js';
import type { ClassifierInput } from '../models/classifiers.js';
import { canonicalJson, type JobContext, type JobSpec, type Json } from '../scheduler/job-graph.js';
import { datasetLocation } from './names.js';
import type { DatasetSpec, ExperimentPlan, ImageFolderSpec, TarShardSpec } from './plan.js';

export interface ExperimentData {
  /** Training images as training jobs read them (streamed sets: random crops and flips per epoch). */
  train: ImageSplit;
  /** The same training images, prepared as evaluation images are (fine-tune check sets, shared encodings). */
  trainFixed: ImageSplit;
  test: ImageSplit;
  /** The fixed evaluation set. */
  eval: ImageSplit;
  classNames: string[];
  channels: number;
  size: number;
  inputSpec: ClassifierInput;
  mean: readonly number[];
  std: readonly number[];
  families: Record<string, string>;
  /** Input files left out when the dataset was indexed (unreadable, not images, empty classes). */
  skipped: number;
  /** For a planted dataset: what was planted in each evaluation image. */
  evalTruth?: PlantedTruth;
  /** Model space back to displayable [0, 1] pixels. */
  toPixels(x: Tensor): Tensor;
}

/** Input side of a built-in dataset: its side padded to the next multiple of 8 (two SegNet halvings and the classifiers' pools); 28 px digits become 32 px. */
const paddedSize = (side: number) => Math.ceil(side / 8) * 8;

/** The data of a job that never reads the evaluation set (training jobs): it does not depend on the evaluation set's size. */
export type TrainingData = Omit<ExperimentData, 'eval' | 'evalTruth'>;

/**
 * What selects the data a job reads, as its key holds it: the data's identity (dataIdentity),
 * the job's seed and, when the data split's seed differs from it (a replicate), that seed.
 */
export interface DataSlice {
  dataset: Json;
  seed: number;
  dataSeed?: number;
  trainLimit: number | null;
}

/** A dataset prepared once per process; its evaluation subsets are drawn from the test split on demand. */
interface PreparedData {
  training: TrainingData;
  withEvaluation(samples: number): ExperimentData;
}

const cache = new Map<string, Promise<PreparedData>>();

/** What the models of a run see: images of channels x size x size, one of classNames each. */
export interface DataShape {
  channels: number;
  size: number;
  classNames: string[];
  /** Files a folder's listing found (absent for built-in datasets and tar shards). */
  files?: number;
}

/** A streamed dataset's spec, or null for a built-in one. */
function streamed(plan: Pick<ExperimentPlan, 'dataset'>): ImageFolderSpec | TarShardSpec | null {
  return typeof plan.dataset === 'string' ? null : plan.dataset;
}

/** What a run needs of a folder's listing before its index job: classes, counts and fingerprint. */
interface ListingSummary {
  classNames: string[];
  /** Image files found. */
  files: number;
  /** Image files and entries left out. */
  entries: number;
  fingerprint: string;
}

const listings = new Map<string, ListingSummary>();

/**
 * An image folder's listing summary, made once per process (the listing's columns are not kept:
 * the index job lists again and keeps them). Listing a large folder takes a while before any job
 * starts: past the first second it says how far it got on stderr, every 2 seconds.
 */
function listingOnce(root: string): ListingSummary {
  if (!listings.has(root)) {
    const start = Date.now();
    let said = start;
    const listed = (files: number) => {
      if (Date.now() - said < (said === start ? 1000 : 2000)) return;
      said = Date.now();
      process.stderr.write(`s2snets: listing ${root}: ${files.toLocaleString('en-US')} image files so far\n`);
    };
    const listing = listImageFolder(root, { listed });
    listings.set(root, { classNames: listing.classNames, files: listing.paths.length, entries: listing.paths.length + listing.skipped.length, fingerprint: listing.fingerprint });
  }
  return listings.get(root)!;
}

/**
 * The shape of an experiment's data, known without decoding an image (a folder is only
 * listed; shards are read once for their classes), so that models can be checked against it
 * before a run starts. A class whose every image turns out unreadable is dropped later, when
 * the dataset is indexed.
 * @param plan the experiment plan
 * @example dataShape(quickPlan()) // { channels: 1, size: 32, classNames: ['0', ..., '9'] }
 */
export function dataShape(plan: ExperimentPlan): DataShape {
  const spec = streamed(plan);
  if (!spec) {
    const info = BUILTIN_INFO[plan.dataset as string as keyof typeof BUILTIN_INFO];
    return { channels: info.channels, size: paddedSize(info.side), classNames: builtinClassNames(plan.dataset as keyof typeof BUILTIN_INFO) };
  }
  if (!('imageFolder' in spec)) return { channels: spec.channels, size: spec.crop, classNames: shardClassNames(spec.tarShards) };
  const listing = listingOnce(spec.imageFolder);
  return { channels: spec.channels, size: spec.crop, classNames: listing.classNames, files: listing.files };
}

/**
 * What identifies the data in job keys: the built-in dataset's name, or the streamed spec plus
 * a fingerprint of its files (names, sizes, modification times), so that changed images
 * invalidate the jobs trained on them.
 * @param plan the experiment plan
 * @example dataIdentity(quickPlan()) // 'mnist'
 */
export function dataIdentity(plan: ExperimentPlan): Json {
  const spec = streamed(plan);
  if (!spec) return plan.dataset as string;
  if ('imageFolder' in spec) {
    const listing = listingOnce(spec.imageFolder);
    return { ...spec, files: listing.entries, fingerprint: listing.fingerprint };
  }
  const shards = expandShardPattern(spec.tarShards);
  const stamps = shards.map((s) => {
    const { size, mtimeMs } = statSync(s);
    return `${s}\0${size}\0${mtimeMs}`;
  });
  return { ...spec, shards: shards.length, fingerprint: createHash('sha256').update(stamps.join('\n')).digest('hex') };
}

/**
 * A digest of what selects the evaluation images (data identity, sample count, seed): two plans
 * with the same key evaluate the same images in the same order, so caches of them can be shared.
 * @param plan the experiment plan
 * @example evaluationSetKey(quickPlan()) // 64 hex digits
 */
export function evaluationSetKey(plan: ExperimentPlan): string {
  return createHash('sha256').update(canonicalJson({ dataset: dataIdentity(plan), evalSamples: plan.evalSamples, seed: plan.seed })).digest('hex');
}

export interface IndexOutput {
  [k: string]: Json;
  file: string;
  images: number;
  classes: number;
  skipped: number;
  /** Smallest, median and largest image side (the shorter one), in pixels. */
  shorterSide: { min: number; median: number; max: number };
}

/**
 * The index job of a streamed dataset (null for a built-in one): lists the folder (or reads the
 * shards' headers), reads every image's size, and keeps the index as its artifact, so that it is
 * made once and reused while the files are unchanged (its key holds their fingerprint).
 * @param plan the experiment plan
 * @param identity the plan's dataIdentity (computed once by the caller)
 * @example const index = indexJob(plan, dataIdentity(plan));
 */
export function indexJob(plan: ExperimentPlan, identity: Json): JobSpec<IndexOutput> | null {
  const spec = streamed(plan);
  if (!spec) return null;
  return {
    name: `index[${basename(datasetLocation(spec))}]`,
    deps: [],
    config: { index: identity },
    async run(ctx) {
      const progress = (phase: string, done: number, total: number) => void ctx.progress(total ? done / total : 0, `${phase} ${done}/${total || '?'}`);
      const index: ImageIndex =
        'imageFolder' in spec
          ? await indexImageFolder(spec.imageFolder, { onProgress: progress })
          : await indexTarShards(spec.tarShards, { onProgress: (done, total) => progress('shards', done, total) });
      saveImageIndex(join(ctx.dir, 'index.json'), index);
      const sides = index.heights.map((h, i) => Math.min(h, index.widths[i])).sort((a, b) => a - b);
      const shorterSide = { min: sides[0], median: sides[Math.floor(sides.length / 2)], max: sides[sides.length - 1] };
      ctx.log(`${datasetLocation(spec)}: ${index.labels.length} images in ${index.classNames.length} classes (${index.skipped.length} left out); ${sizeNote(shorterSide, spec)}`);
      for (const s of index.skipped.slice(0, 20)) ctx.log(`left out ${s.file}: ${s.reason}`);
      if (index.skipped.length > 20) ctx.log(`... and ${index.skipped.length - 20} more left out (listed in the index)`);
      ctx.setMetrics({ images: index.labels.length, skipped: index.skipped.length });
      return { file: 'index.json', images: index.labels.length, classes: index.classNames.length, skipped: index.skipped.length, shorterSide };
    },
  };
}

/** What the run does with images of these sizes: one line. */
export function sizeNote(side: { min: number; median: number; max: number }, spec: Pick<ImageFolderSpec, 'resize' | 'crop'>): string {
  const factor = spec.resize / side.median;
  const how = factor > 1.05 ? `upsampled about ${factor.toFixed(1)}x` : factor < 0.95 ? `downsampled about ${(1 / factor).toFixed(1)}x` : 'kept at about their size';
  return `shorter sides ${side.min}-${side.max} px (median ${side.median}); evaluation images are resized to ${spec.resize} px and centre-cropped to ${spec.crop} (${how}), training images randomly cropped and resized to ${spec.crop}`;
}

/**
 * The data of a job: the built-in dataset, or the streamed one through its index job's artifact.
 * @param plan the experiment plan
 * @param ctx the job's context
 * @param index the plan's index job (a dependency of the job), null for built-in datasets
 * @example const data = await jobData(plan, ctx, jobs.index);
 */
export function jobData(plan: ExperimentPlan, ctx: Pick<JobContext, 'input' | 'output'>, index: JobSpec<IndexOutput> | null): Promise<ExperimentData> {
  return experimentData(plan, indexFileOf(ctx, index));
}

/** A streamed dataset's index file (the index job's artifact); undefined for a built-in dataset. */
export function indexFileOf(ctx: Pick<JobContext, 'input' | 'output'>, index: JobSpec<IndexOutput> | null): string | undefined {
  return index ? join(ctx.input(index), ctx.output(index).file) : undefined;
}

/**
 * The data of an experiment, prepared once per process.
 * @param plan the experiment plan
 * @param indexFile a streamed dataset's index (the index job's artifact); without it the dataset is indexed here
 * @example const data = await experimentData(quickPlan());
 */
export async function experimentData(plan: Pick<ExperimentPlan, 'dataset' | 'trainLimit' | 'evalSamples' | 'seed'>, indexFile?: string): Promise<ExperimentData> {
  return (await preparedData(plan.dataset, plan.trainLimit, plan.seed, indexFile)).withEvaluation(plan.evalSamples);
}

/**
 * The data of a job read from the fields of its key alone (jobs get what they hash), without the
 * evaluation set.
 * @param slice the data fields of the job's key
 * @param indexFile the index job's artifact for a streamed dataset (indexFileOf)
 * @example const data = await sliceData(slice, indexFileOf(ctx, index));
 */
export async function sliceData(slice: DataSlice, indexFile: string | undefined): Promise<TrainingData> {
  return (await preparedData(datasetSpecOf(slice.dataset), slice.trainLimit, slice.dataSeed ?? slice.seed, indexFile)).training;
}

/**
 * As sliceData, with the evaluation set of `evalSamples` images.
 * @param slice the data fields of the job's key
 * @param evalSamples the size of the evaluation set (a field of the job's key)
 * @param indexFile the index job's artifact for a streamed dataset (indexFileOf)
 * @example const data = await sliceEvaluationData(slice, slice.evalSamples, indexFileOf(ctx, index));
 */
export async function sliceEvaluationData(slice: DataSlice, evalSamples: number, indexFile: string | undefined): Promise<ExperimentData> {
  return (await preparedData(datasetSpecOf(slice.dataset), slice.trainLimit, slice.dataSeed ?? slice.seed, indexFile)).withEvaluation(evalSamples);
}

/**
 * The dataset spec inside a data identity (dataIdentity adds a streamed set's file count and
 * fingerprint to its spec).
 * @param identity a dataIdentity
 * @example datasetSpecOf(dataIdentity(plan)) // deep-equal to plan.dataset
 */
export function datasetSpecOf(identity: Json): DatasetSpec {
  if (typeof identity === 'string') return identity as DatasetSpec;
  const { files: _files, shards: _shards, fingerprint: _fingerprint, ...spec } = identity as Record<string, Json>;
  return spec as unknown as DatasetSpec;
}

function preparedData(dataset: DatasetSpec, trainLimit: number | null, seed: number, indexFile: string | undefined): Promise<PreparedData> {
  const k = JSON.stringify([dataset, trainLimit, seed, indexFile ?? null]);
  let p = cache.get(k);
  if (!p) {
    p = prepare({ dataset, trainLimit, seed }, indexFile);
    cache.set(k, p);
    p.catch(() => cache.delete(k));
  }
  return p;
}

/** What data preparation reads of a plan. */
type DataRequest = Pick<ExperimentPlan, 'dataset' | 'trainLimit' | 'seed'>;

/** The evaluation subset's positions within the test split: seeded, stratified. */
function evaluationPositions(testLabels: ArrayLike<number>, classes: number, samples: number, seed: number): number[] {
  return stratifiedSample(Array.from(testLabels), classes, Math.min(samples, testLabels.length), seed + 7);
}

/** Adds evaluation subsets of the test split to prepared training data, each made once. */
function withEvaluations(training: TrainingData, seed: number, testTruth: PlantedTruth | undefined, evalName: string): PreparedData {
  const made = new Map<number, ExperimentData>();
  return {
    training,
    withEvaluation(samples) {
      if (!made.has(samples)) {
        const at = evaluationPositions(training.test.labels, training.classNames.length, samples, seed);
        made.set(samples, { ...training, eval: training.test.subset(at, evalName), evalTruth: testTruth && subsetTruth(testTruth, at) });
      }
      return made.get(samples)!;
    },
  };
}

/** Positions of the training subset and the test split of a labelled set. */
function splitPositions(plan: DataRequest, labels: readonly number[], classes: number): { train: number[]; test: number[] } {
  const split = stratifiedSplit(labels, classes, 0.2, plan.seed);
  const train = plan.trainLimit ? pick(split.train, stratifiedSample(split.train.map((i) => labels[i]), classes, plan.trainLimit, plan.seed)) : split.train;
  return { train, test: split.test };
}

const pick = (from: readonly number[], at: readonly number[]) => at.map((i) => from[i]);

/** The space a run's models take their images in: pixels in [0, 1], less mean, over std, per channel; size x size. */
export interface InputSpace {
  mean: readonly number[];
  std: readonly number[];
  size: number;
}

/**
 * The input space of a plan's models, known without reading an image: a built-in set's own
 * statistics and padded side, or for a streamed dataset ImageNet's mean and std (their channel
 * average for grey images) and the crop.
 * @param plan the experiment plan (only its dataset is read)
 * @example inputSpace(quickPlan()) // { mean: [0.1307], std: [0.3081], size: 32 }
 */
export function inputSpace(plan: Pick<ExperimentPlan, 'dataset'>): InputSpace {
  if (typeof plan.dataset === 'string') {
    const info = BUILTIN_INFO[plan.dataset];
    return { mean: info.mean, std: info.std, size: paddedSize(info.side) };
  }
  const spec = plan.dataset;
  return spec.channels === 3 ? { mean: IMAGENET_MEAN, std: IMAGENET_STD, size: spec.crop } : { mean: [0.449], std: [0.226], size: spec.crop };
}


async function prepare(plan: DataRequest, indexFile: string | undefined): Promise<PreparedData> {
  const spec = streamed(plan);
  return spec ? prepareStreamed(plan, spec, indexFile) : prepareBuiltin(plan);
}

const families = () => Object.fromEntries(Object.entries(ZOO).map(([n, z]) => [n, z.family]));

async function prepareStreamed(plan: DataRequest, spec: ImageFolderSpec | TarShardSpec, indexFile: string | undefined): Promise<PreparedData> {
  const index: ImageIndex = indexFile
    ? loadImageIndex(indexFile)
    : 'imageFolder' in spec
      ? await indexImageFolder(spec.imageFolder)
      : await indexTarShards(spec.tarShards);
  const classes = index.classNames.length;
  const at = splitPositions(plan, index.labels, classes);
  const { mean, std } = inputSpace(plan);
  const view = (kind: StreamView['kind']): StreamView => ({ kind, size: spec.crop, resize: spec.resize, channels: spec.channels, mean, std });
  const name = datasetLocation(spec);
  const training: TrainingData = {
    train: streamedSplit(index, at.train, view('train'), `${name} (train)`),
    trainFixed: streamedSplit(index, at.train, view('eval'), `${name} (train)`),
    test: streamedSplit(index, at.test, view('eval'), `${name} (test)`),
    classNames: index.classNames,
    channels: spec.channels,
    size: spec.crop,
    inputSpec: { channels: spec.channels, size: spec.crop, classes },
    mean,
    std,
    families: families(),
    skipped: index.skipped.length,
    toPixels: (x: Tensor) => tidy(() => denormalize(x, mean, std).clamp(0, 1)),
  };
  return withEvaluations(training, plan.seed, undefined, `${name} (evaluation)`);
}

async function prepareBuiltin(plan: DataRequest): Promise<PreparedData> {
  const name = plan.dataset as keyof typeof BUILTIN_INFO;
  const { train: rawTrain, test: rawTest, testTruth } = await loadBuiltinDataset(name);
  const info = BUILTIN_INFO[name];
  const { mean, std, size } = inputSpace(plan);
  const classes = rawTrain.classNames.length;
  const trainSubset = plan.trainLimit ? subsetDataset(rawTrain, stratifiedSample(labelArray(rawTrain), classes, plan.trainLimit, plan.seed)) : rawTrain;
  const toModel = (d: Dataset): Dataset => ({ ...d, images: keep(tidy(() => normalize(padTo(d.images, size), mean, std))), labels: keep(d.labels) });
  const train = memorySplit(toModel(trainSubset));
  const test = memorySplit(toModel(rawTest));
  const training: TrainingData = {
    train,
    trainFixed: train,
    test,
    classNames: rawTrain.classNames,
    channels: info.channels,
    size,
    inputSpec: { channels: info.channels, size, classes },
    mean,
    std,
    families: families(),
    skipped: 0,
    toPixels: (x: Tensor) => tidy(() => denormalize(x, mean, std).clamp(0, 1)),
  };
  // Only the prepared copies are used from here on.
  for (const raw of new Set([rawTrain.images, trainSubset.images, rawTest.images])) raw.dispose();
  return withEvaluations(training, plan.seed, testTruth, test.name);
}
