// The data an experiment runs on, prepared once per process: a built-in dataset padded to a size
// the SegNet can halve per stage, or an image folder resized and cropped, normalized with the dataset's mean and std (the space
// classifiers and autoencoders work in), and a fixed evaluation subset of the test split.
import { createHash } from 'node:crypto';
import { keep, tidy, type Tensor } from '../engine/index.js';
import {
  BUILTIN_INFO,
  IMAGENET_MEAN,
  IMAGENET_STD,
  subsetTruth,
  builtinClassNames,
  denormalize,
  labelArray,
  loadBuiltinDataset,
  loadImageFolder,
  normalize,
  padTo,
  scanImageFolder,
  scanFingerprint,
  stratifiedSample,
  stratifiedSplit,
  subsetDataset,
  type Dataset,
  type PlantedTruth,
} from '../data/index.js';
import { ZOO } from '../models/classifiers.js';
import type { ClassifierInput } from '../models/classifiers.js';
import { canonicalJson, type Json } from './jobs.js';
import type { ExperimentPlan } from './plan.js';

export interface ExperimentData {
  train: Dataset;
  test: Dataset;
  /** The fixed evaluation set, normalized; evalOriginal holds the same images in [0, 1]. */
  eval: Dataset;
  evalOriginal: Tensor;
  classNames: string[];
  channels: number;
  size: number;
  inputSpec: ClassifierInput;
  mean: readonly number[];
  std: readonly number[];
  families: Record<string, string>;
  /** Input files left out as unreadable (image folders in skip mode). */
  skipped: number;
  /** For a planted dataset: what was planted in each evaluation image. */
  evalTruth?: PlantedTruth;
  /** Model space back to displayable [0, 1] pixels. */
  toPixels(x: Tensor): Tensor;
}

/** Input side of a built-in dataset: its side padded to the next multiple of 8 (two SegNet halvings and the classifiers' pools); 28 px digits become 32 px. */
const paddedSize = (side: number) => Math.ceil(side / 8) * 8;

const cache = new Map<string, Promise<ExperimentData>>();

/** What the models of a run see: images of channels x size x size, one of classNames each. */
export interface DataShape {
  channels: number;
  size: number;
  classNames: string[];
}

/**
 * The shape of an experiment's data, known without decoding an image (the folder is only
 * listed), so that models can be checked against it before a run starts. A class whose every
 * image turns out unreadable is dropped later, when the images are decoded.
 */
export function dataShape(plan: ExperimentPlan): DataShape {
  if (typeof plan.dataset === 'string') {
    const info = BUILTIN_INFO[plan.dataset];
    return { channels: info.channels, size: paddedSize(info.side), classNames: builtinClassNames(plan.dataset) };
  }
  const spec = plan.dataset;
  return { channels: spec.channels, size: spec.crop, classNames: scanImageFolder(spec.imageFolder, { onBadImage: spec.onBadImage }).classNames };
}

/**
 * What identifies the data in job keys: the built-in dataset's name, or the folder spec plus a
 * fingerprint of its files, so that changed images invalidate the jobs trained on them.
 */
export function dataIdentity(plan: ExperimentPlan): Json {
  if (typeof plan.dataset === 'string') return plan.dataset;
  const spec = plan.dataset;
  const scan = scanImageFolder(spec.imageFolder, { onBadImage: 'skip' });
  return { ...spec, files: scan.files.length + scan.skipped.length, fingerprint: scanFingerprint(spec.imageFolder, scan) };
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

export function experimentData(plan: ExperimentPlan): Promise<ExperimentData> {
  const k = JSON.stringify([plan.dataset, plan.trainLimit, plan.evalSamples, plan.seed]);
  let p = cache.get(k);
  if (!p) {
    p = prepare(plan);
    cache.set(k, p);
  }
  return p;
}

interface RawSplit {
  train: Dataset;
  test: Dataset;
  mean: readonly number[];
  std: readonly number[];
  /** Side length after padding (built-in sets) or cropping (folders). */
  size: number;
  skipped: number;
  testTruth?: PlantedTruth;
}

/** The space a run's models take their images in: pixels in [0, 1], less mean, over std, per channel; size x size. */
export interface InputSpace {
  mean: readonly number[];
  std: readonly number[];
  size: number;
}

/**
 * The input space of a plan's models, known without reading an image: a built-in set's own
 * statistics and padded side, or for a folder ImageNet's mean and std (their channel average
 * for grey images) and the crop.
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

async function loadSplit(plan: ExperimentPlan): Promise<RawSplit> {
  const space = inputSpace(plan);
  if (typeof plan.dataset === 'string') {
    const { train, test, testTruth } = await loadBuiltinDataset(plan.dataset);
    return { train, test, ...space, skipped: 0, testTruth };
  }
  const spec = plan.dataset;
  const { dataset, skipped } = await loadImageFolder(spec.imageFolder, { channels: spec.channels, resize: spec.resize, crop: spec.crop, onBadImage: spec.onBadImage });
  const split = stratifiedSplit(labelArray(dataset), dataset.classNames.length, 0.2, plan.seed);
  const out = { train: subsetDataset(dataset, split.train), test: subsetDataset(dataset, split.test), ...space, skipped: skipped.length };
  dataset.images.dispose();
  return out;
}

async function prepare(plan: ExperimentPlan): Promise<ExperimentData> {
  const { train: rawTrain, test: rawTest, mean, std, size, skipped, testTruth } = await loadSplit(plan);
  const classes = rawTrain.classNames.length;
  const trainSubset = plan.trainLimit ? subsetDataset(rawTrain, stratifiedSample(labelArray(rawTrain), classes, plan.trainLimit, plan.seed)) : rawTrain;
  const evalIdx = stratifiedSample(labelArray(rawTest), classes, Math.min(plan.evalSamples, rawTest.labels.shape[0]), plan.seed + 7);
  const evalRaw = subsetDataset(rawTest, evalIdx);
  const toModel = (d: Dataset): Dataset => ({ ...d, images: keep(tidy(() => normalize(padTo(d.images, size), mean, std))), labels: keep(d.labels) });
  const channels = rawTrain.images.shape[1];
  const families = Object.fromEntries(Object.entries(ZOO).map(([n, z]) => [n, z.family]));
  const data = {
    train: toModel(trainSubset),
    test: toModel(rawTest),
    eval: toModel(evalRaw),
    evalOriginal: keep(padTo(evalRaw.images, size)),
    classNames: rawTrain.classNames,
    channels,
    size,
    inputSpec: { channels, size, classes },
    mean,
    std,
    families,
    skipped,
    evalTruth: testTruth && subsetTruth(testTruth, evalIdx),
    toPixels: (x: Tensor) => tidy(() => denormalize(x, mean, std).clamp(0, 1)),
  };
  // Only the prepared copies are used from here on.
  for (const raw of new Set([rawTrain.images, trainSubset.images, rawTest.images, evalRaw.images])) raw.dispose();
  return data;
}
