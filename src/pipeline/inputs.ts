// The data an experiment runs on, prepared once per process: the built-in dataset, padded to a
// size the SegNet can halve per stage, normalized with the dataset's mean and std (the space
// classifiers and autoencoders work in), and a fixed evaluation subset of the test split.
import { keep, tidy, type Tensor } from '../engine/index.js';
import { loadBuiltinDataset } from '../data/builtin.js';
import { stratifiedSample, subsetDataset, labelArray, type Dataset } from '../data/dataset.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD, denormalize, normalize, padTo } from '../data/transforms.js';
import { ZOO } from '../models/classifiers.js';
import type { ClassifierInput } from '../models/classifiers.js';
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
  /** Model space back to displayable [0, 1] pixels. */
  toPixels(x: Tensor): Tensor;
}

const STATS = {
  mnist: { mean: MNIST_MEAN, std: MNIST_STD },
  'fashion-mnist': { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD },
};

/** Input side used for 28 px digits: the next multiple of 8 (two SegNet halvings and the classifiers' pools). */
const PADDED_SIZE = 32;

const cache = new Map<string, Promise<ExperimentData>>();

function key(plan: ExperimentPlan): string {
  return JSON.stringify([plan.dataset, plan.trainLimit, plan.evalSamples, plan.seed]);
}

export function experimentData(plan: ExperimentPlan): Promise<ExperimentData> {
  const k = key(plan);
  let p = cache.get(k);
  if (!p) {
    p = prepare(plan);
    cache.set(k, p);
  }
  return p;
}

async function prepare(plan: ExperimentPlan): Promise<ExperimentData> {
  const { train: rawTrain, test: rawTest } = await loadBuiltinDataset(plan.dataset);
  const classes = rawTrain.classNames.length;
  const trainSubset = plan.trainLimit ? subsetDataset(rawTrain, stratifiedSample(labelArray(rawTrain), classes, plan.trainLimit, plan.seed)) : rawTrain;
  const evalIdx = stratifiedSample(labelArray(rawTest), classes, Math.min(plan.evalSamples, rawTest.labels.shape[0]), plan.seed + 7);
  const evalRaw = subsetDataset(rawTest, evalIdx);
  const { mean, std } = STATS[plan.dataset];
  const toModel = (d: Dataset): Dataset => ({ ...d, images: keep(tidy(() => normalize(padTo(d.images, PADDED_SIZE), mean, std))), labels: keep(d.labels) });
  const channels = rawTrain.images.shape[1];
  const families = Object.fromEntries(Object.entries(ZOO).map(([n, z]) => [n, z.family]));
  const data = {
    train: toModel(trainSubset),
    test: toModel(rawTest),
    eval: toModel(evalRaw),
    evalOriginal: keep(padTo(evalRaw.images, PADDED_SIZE)),
    classNames: rawTrain.classNames,
    channels,
    size: PADDED_SIZE,
    inputSpec: { channels, size: PADDED_SIZE, classes },
    mean,
    std,
    families,
    toPixels: (x: Tensor) => tidy(() => denormalize(x, mean, std).clamp(0, 1)),
  };
  // Only the prepared copies are used from here on.
  for (const raw of new Set([rawTrain.images, trainSubset.images, rawTest.images, evalRaw.images])) raw.dispose();
  return data;
}
