// The fully resolved settings of one experiment run: every default filled in, every choice the
// paper leaves open made explicit (optimizer, learning rates, step counts), so that results.json
// records exactly what produced the numbers.
import { basename, dirname, extname, sep } from 'node:path';
import { VGG16_STAGES, type SegNetStages } from '../models/segnet.js';
import type { OptimizerName } from '../train/classifier.js';
import type { SpeedOptions } from '../train/speed.js';
import type { ResizeMode } from '../nn/index.js';
import type { ExperimentConfig } from './config.js';

import { BUILTIN_DATASETS, type BuiltinDatasetName } from '../data/index.js';
import { A_S_PSNR_FLOOR, DEFAULT_IMAGE_SIZE, DEFAULT_TRAIN_LIMIT, IMAGE_FOLDER_PSNR_FLOOR, PLAN_DEFAULTS } from './defaults.js';

export { DEMO_CLASSIFIERS } from './defaults.js';

export type DatasetChoice = BuiltinDatasetName;
export const DATASET_CHOICES: readonly DatasetChoice[] = BUILTIN_DATASETS;

/**
 * Images streamed from disk, prepared as torchvision's ImageNet recipe does: training images
 * through a random resized crop to `crop` and a random flip; evaluation images with the shorter
 * side resized to `resize` and a centre crop `crop`; ImageNet mean/std. Split 80/20 per class,
 * seeded. Images that cannot be read are skipped and counted.
 */
export interface StreamedDataSpec {
  resize: number;
  crop: number;
  channels: 1 | 3;
}

/** An image folder, one subfolder per class (ImageNet layout; nested folders count for their class). */
export interface ImageFolderSpec extends StreamedDataSpec {
  imageFolder: string;
}

/** WebDataset-style tar shards: a file or a `{000000..000146}` pattern; samples pair an image with a `.cls` class index. */
export interface TarShardSpec extends StreamedDataSpec {
  tarShards: string;
}

export type DatasetSpec = DatasetChoice | ImageFolderSpec | TarShardSpec;


/**
 * What an imported classifier takes where it differs from the data (config.ts classifierInput):
 * side in px, mean and std per channel, and the interpolation its input is resized with.
 * Absent fields: the ONNX graph's fixed input size, else the data's size; the data's mean and std; bilinear.
 */
export interface ClassifierInputSettings {
  size?: number;
  mean?: number[];
  std?: number[];
  resize?: ResizeMode;
}

/**
 * A classifier of the run: one of the zoo (trained here, at the data's input) or a model file
 * (imported, frozen; `input` says what it takes when that is not the data's).
 */
export type ClassifierEntry = { name: string; zoo: string } | { name: string; onnx: string; input?: ClassifierInputSettings } | { name: string; torchscript: string; input?: ClassifierInputSettings };

export const zooEntries = (names: string[]): ClassifierEntry[] => names.map((name) => ({ name, zoo: name }));

export interface ExperimentPlan {
  dataset: DatasetSpec;
  classifiers: ClassifierEntry[];
  seed: number;
  device: string;
  /** Training examples used (all when null); quick mode uses fewer. */
  trainLimit: number | null;
  /** Size of the fixed evaluation set (a seeded, stratified subset of the test split). */
  evalSamples: number;
  evalBatchSize: number;
  checkpointEvery: number;
  /**
   * epochs: for every model, unless epochsFor names it (zoo name -> epochs).
   * augmentShift: random translation of each training batch by up to this many pixels (0: off).
   * channelsLast: train in NHWC layout (faster with oneDNN; equal up to float rounding).
   */
  classifierTraining: { epochs: number; epochsFor: Record<string, number>; batchSize: number; lr: number; optimizer: OptimizerName; augmentShift: number; channelsLast: boolean };
  /**
   * A_S: a SegNet of `stages`, pretrained (MSE) for `epochs` but at least `minSteps` steps, or
   * for exactly `minSteps` steps when `epochs` is null (a length given in images), starting from
   * `weights` when given (a SegNet state dict: the authors' .pth/.pt, or a .safetensors of ours);
   * 0 epochs takes those weights unchanged. channelsLast: pretrain in NHWC layout (equal up to
   * float rounding).
   */
  ae: { stages: SegNetStages; epochs: number | null; minSteps: number; batchSize: number; lr: number; channelsLast: boolean; weights?: string };
  /**
   * Fine-tuning length: `epochs` over the training set when set, else `steps`; with
   * `convergence`, that is a budget and the fine-tune stops once converged (train/finetune.ts),
   * judged on `samples` training images set aside from the fine-tune's batches.
   */
  finetune: {
    steps: number;
    epochs: number | null;
    batchSize: number;
    lr: number;
    optimizer: OptimizerName;
    targets: 'labels' | 'predictions';
    trainWholeAe: boolean;
    speed: SpeedOptions;
    /** Largest size (MiB) of the frozen encoder's outputs, computed once by the encode job for every fine-tune of an A_S (train/encoding-cache.ts); 0: each fine-tune runs the encoder at every step. */
    encodingCacheMiB: number;
    convergence: { every: number; patience: number; minDelta: number; minSteps: number; samples: number } | null;
    /** A broken method, as a negative control (`validate --broken-method stopped-gradient`): no gradient reaches the decoder (train/finetune.ts). */
    stopGradient?: boolean;
  };
  /**
   * bootstrapResamples: resamples of the evaluation images behind every interval.
   * orderEpsilon: accuracy changes within this share count as equal in the order's rule (0: the
   * bootstrap alone decides; 0.005 was the fixed half-point tolerance of earlier versions).
   * orderLevel: share of resamples that establishes a relation of the order.
   * noiseSigmas: Gaussian pixel-noise levels of the noise-robustness test (empty: skip it);
   * noiseSamples: its images, a seeded stratified subset of the evaluation set (each level
   * reconstructs them once per classifier, so this bounds its time).
   * psnrFloor: below it (dB), A_S is too weak to compare against and the report says so.
   */
  analysis: { nmiBins: number; interPairs: number; gridSamples: number; bootstrapResamples: number; orderEpsilon: number; orderLevel: number; noiseSigmas: number[]; noiseSamples: number; psnrFloor: number };
  /**
   * Replicates: the seed-dependent stages run with seeds seed, seed + 1, ..., seed + repeats - 1
   * (the fine-tunes always; the classifiers and A_S too when repeatAll). The data split and the
   * evaluation set stay those of `seed`.
   */
  repeats: number;
  repeatAll: boolean;
  /**
   * A negative control (set by `validate`): one more fine-tune of this classifier's decoder, to
   * labels shifted to the next class; its AE (permutedLabelsControlName) must lose the carrier.
   */
  permutedLabelsControl?: string;
  /**
   * Lengths given in images, as asked: the steps they became are ae.minSteps and finetune.steps
   * (imageLengthSteps). A record for results.json and the run's log; no job reads it.
   */
  imageLengths?: ImageLengths;
}

/** Lengths in images: A_S's pretraining, and each fine-tune's (its budget, with convergence). */
export interface ImageLengths {
  pretrain?: number;
  finetune?: number;
}

/**
 * The steps a length in images takes: every step takes one batch, the last one may reach past
 * the length, so ceil(images / batchSize).
 * @param images images the stage is to see (a positive integer)
 * @param batchSize images per step
 * @example
 * stepsForImages(19_200, 32); // 600
 * stepsForImages(100, 32); // 4
 */
export function stepsForImages(images: number, batchSize: number): number {
  return Math.ceil(images / batchSize);
}

/**
 * The plan with lengths given in images turned into steps at its batch sizes: pretraining runs
 * exactly ceil(images / ae.batchSize) steps (epochs null), a fine-tune's length (its budget, with
 * convergence) is ceil(images / finetune.batchSize) steps (epochs null). The plan equals one
 * given those steps, so its jobs are the same; `imageLengths` records what was asked.
 * @param plan a plan with its batch sizes set
 * @param lengths the lengths in images (absent: that stage's length stays as the plan has it)
 * @example
 * withImageLengths(defaultPlan(), { finetune: 19_200 }).finetune.steps; // 600 at batch 32
 */
export function withImageLengths(plan: ExperimentPlan, lengths: ImageLengths): ExperimentPlan {
  const { pretrain, finetune } = lengths;
  if (pretrain === undefined && finetune === undefined) return plan;
  return {
    ...plan,
    ae: pretrain === undefined ? plan.ae : { ...plan.ae, epochs: null, minSteps: stepsForImages(pretrain, plan.ae.batchSize) },
    finetune: finetune === undefined ? plan.finetune : { ...plan.finetune, epochs: null, steps: stepsForImages(finetune, plan.finetune.batchSize) },
    imageLengths: { ...plan.imageLengths, ...lengths },
  };
}

/**
 * Lines for the run's log saying what lengths in images became.
 * @param plan a plan made by withImageLengths (or none: no lines)
 * @example
 * imageLengthLines(withImageLengths(defaultPlan(), { finetune: 19_200 }));
 * // ['fine-tune length 19,200 images: 600 steps of 32 (ceil(images / batch)), a budget that convergence may cut short']
 */
export function imageLengthLines(plan: ExperimentPlan): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const line = (what: string, images: number, steps: number, batch: number) => `${what} length ${n(images)} images: ${n(steps)} steps of ${batch} (ceil(images / batch))`;
  const lines: string[] = [];
  const { pretrain, finetune } = plan.imageLengths ?? {};
  if (pretrain !== undefined) lines.push(line('A_S pretraining', pretrain, plan.ae.minSteps, plan.ae.batchSize));
  if (finetune !== undefined) lines.push(`${line('fine-tune', finetune, plan.finetune.steps, plan.finetune.batchSize)}${plan.finetune.convergence ? ', a budget that convergence may cut short' : ''}`);
  return lines;
}

/**
 * The full experiment's plan: PLAN_DEFAULTS (defaults.ts, where each default is explained) with
 * what depends on the dataset (its training examples, the A_S PSNR floor), then `overrides`.
 * @param overrides fields that replace the defaults' (a dataset given here decides the dataset-dependent ones)
 * @example
 * defaultPlan({ dataset: 'fashion-mnist' }).trainLimit; // 15000
 */
export function defaultPlan(overrides: Partial<ExperimentPlan> = {}): ExperimentPlan {
  const dataset = overrides.dataset ?? PLAN_DEFAULTS.dataset;
  // A copy: callers may change a plan's nested fields without changing the defaults.
  const defaults = structuredClone(PLAN_DEFAULTS);
  return {
    ...defaults,
    dataset,
    trainLimit: typeof dataset === 'string' ? DEFAULT_TRAIN_LIMIT[dataset] : null,
    analysis: { ...defaults.analysis, psnrFloor: typeof dataset === 'string' ? A_S_PSNR_FLOOR[dataset] : IMAGE_FOLDER_PSNR_FLOOR },
    ...overrides,
  };
}

/** A few-minute version for tests and smoke runs: little data, few steps, two classifiers. */
export function quickPlan(overrides: Partial<ExperimentPlan> = {}): ExperimentPlan {
  // The dataset decides dataset-specific defaults (the A_S PSNR floor).
  const base = defaultPlan(overrides.dataset === undefined ? {} : { dataset: overrides.dataset });
  return {
    ...base,
    classifiers: zooEntries(['lenet5', 'resnet']),
    trainLimit: 1000,
    evalSamples: 200,
    evalBatchSize: 100,
    checkpointEvery: 10,
    classifierTraining: { ...base.classifierTraining, epochs: 1, epochsFor: {} },
    ae: { ...base.ae, stages: [[8, 8], [16, 16]], epochs: 1, minSteps: 0 },
    finetune: { ...base.finetune, steps: 20, convergence: { ...base.finetune.convergence!, every: 10, minSteps: 10, samples: 64 } },
    analysis: { ...base.analysis, interPairs: 50, gridSamples: 4 },
    ...overrides,
  };
}

/**
 * The plan `s2snets validate` runs on a planted dataset: three families whose input signals
 * differ (AlexNet's large strided kernel, VGG's 3x3 stacks, ResNet's strided 1x1 sampling), a
 * smaller A_S and fewer images than the demo, sized so both planted runs fit in a few minutes
 * on 2 cores (quick: two families and less of everything).
 */
export function validationPlan(dataset: 'planted-shape' | 'planted-colour', quick: boolean): ExperimentPlan {
  const base = defaultPlan({ dataset });
  return {
    ...base,
    classifiers: zooEntries(quick ? ['alexnet', 'vgg-bn'] : ['alexnet', 'vgg-bn', 'resnet']),
    // Shape needs the whole training set and a few epochs: at 2 epochs of 1,200 images AlexNet-like
    // stayed near chance on planted-shape, and a classifier that has not learnt its carrier cannot show it.
    trainLimit: null,
    evalSamples: quick ? 200 : 400,
    evalBatchSize: 200,
    checkpointEvery: 50,
    // Quick, measured against 4 epochs, 250 A_S steps and a 100-step fine-tune floor (same
    // verdict, controls 46-69 points below A_S, A_S keeping 71.5 % of colours and 94.0 % of shapes,
    // 15 % less CPU): colour is learnt in 2 epochs (100 %), shape needs 4 (AlexNet 84.5 %).
    classifierTraining: { ...base.classifierTraining, epochs: quick ? (dataset === 'planted-colour' ? 2 : 4) : 6, epochsFor: {} },
    ae: { ...base.ae, stages: [[16, 16], [32, 32]], epochs: 1, minSteps: quick ? 100 : 400 },
    finetune: { ...base.finetune, steps: quick ? 200 : 300, convergence: { ...base.finetune.convergence!, minSteps: quick ? 50 : 150 } },
    // The verdict needs neither the noise test nor many inter-NMI pairs.
    analysis: { ...base.analysis, interPairs: 50, gridSamples: 4, noiseSigmas: [] },
    permutedLabelsControl: 'alexnet',
  };
}

/**
 * Names for model files without an explicit name: the file name without its extension, or, where
 * two files share it (a/model.onnx, b/model.onnx), the shortest trailing part of their paths that
 * tells them apart (a/model, b/model). Entries given as null get null.
 * @param files a path per classifier, null for classifiers named otherwise
 * @example
 * derivedNames(['/m/a/model.onnx', '/m/b/model.onnx', null]) // ['a/model', 'b/model', null]
 */
export function derivedNames(files: (string | null)[]): (string | null)[] {
  const parts = files.map((f) => (f === null ? null : [...dirname(f).split(sep).filter(Boolean), basename(f, extname(f))]));
  const suffix = (p: string[], n: number) => p.slice(-n).join('/');
  return parts.map((p, i) => {
    if (p === null) return null;
    let n = 1;
    // Longer suffixes until no other file shares this one (identical paths stay equal and are refused later).
    while (n < p.length && parts.some((q, j) => j !== i && q !== null && suffix(q, n) === suffix(p, n) && q.join('/') !== p.join('/'))) n++;
    return suffix(p, n);
  });
}

/** The input settings a config entry gives, or undefined when it gives none (the entry's job keys stay as they were). */
function inputSettings(c: { inputSize?: number; mean?: number[]; std?: number[]; resize?: ResizeMode }): ClassifierInputSettings | undefined {
  const s: ClassifierInputSettings = { size: c.inputSize, mean: c.mean, std: c.std, resize: c.resize };
  for (const k of Object.keys(s) as (keyof ClassifierInputSettings)[]) if (s[k] === undefined) delete s[k];
  return Object.keys(s).length ? s : undefined;
}

/** A config's folder or shards as a plan's spec: evaluation resize in torchvision's 256 : 224 proportion. */
function streamedSpec(d: { imageFolder: string; imageSize?: number } | { tarShards: string; imageSize?: number }): ImageFolderSpec | TarShardSpec {
  const crop = d.imageSize ?? DEFAULT_IMAGE_SIZE;
  const common = { crop, resize: Math.round((crop * 256) / 224), channels: 3 as const };
  return 'imageFolder' in d ? { imageFolder: d.imageFolder, ...common } : { tarShards: d.tarShards, ...common };
}

/**
 * Images per evaluation batch: the plan's (sized for 32 px images) scaled down by the pixels of a
 * streamed dataset's images, at least 8. At 224 px a batch of 100 took 0.7 s an image through
 * a small SegNet (activations of hundreds of MB per layer, freshly faulted in), a batch of 8 a
 * twentieth of that.
 */
function evalBatchFor(dataset: DatasetSpec, base: number): number {
  return typeof dataset === 'string' ? base : Math.max(8, Math.min(base, Math.round(base * (32 / dataset.crop) ** 2)));
}

/**
 * The plan a configuration file describes (see config.ts for its fields). What the file leaves out
 * comes from the plan it starts from, quickPlan when `quick` is set, so quick's sizes stay unless
 * the file sets them.
 *
 * @param cfg A loaded configuration (loadConfig).
 * @param device The device to run on (`auto` already resolved).
 * @example
 * planFromConfig(loadConfig({ quick: true, classifiers: ['lenet5'] }), 'cpu').evalSamples; // 200, quick's
 */
export function planFromConfig(cfg: ExperimentConfig, device: string): ExperimentPlan {
  const dataset: DatasetSpec = typeof cfg.dataset === 'string' ? cfg.dataset : streamedSpec(cfg.dataset);
  // The dataset decides dataset-specific defaults (a folder's A_S PSNR floor is not MNIST's).
  const base = (cfg.quick ? quickPlan : defaultPlan)({ dataset });
  const derived = derivedNames(cfg.classifiers.map((c) => (typeof c === 'string' || c.name !== undefined ? null : 'onnx' in c ? c.onnx : c.torchscript)));
  const classifiers: ClassifierEntry[] = cfg.classifiers.map((c, i) => {
    if (typeof c === 'string') return { name: c, zoo: c };
    const name = c.name ?? derived[i]!;
    const input = inputSettings(c);
    return { name, ...('onnx' in c ? { onnx: c.onnx } : { torchscript: c.torchscript }), ...(input ? { input } : {}) };
  });
  // 'small' (the default) is the base plan's, so quick's smaller A_S stays unless the file names widths.
  const stages = cfg.ae.stages === 'small' ? base.ae.stages : cfg.ae.stages === 'vgg16' ? VGG16_STAGES : cfg.ae.stages;
  const plan: ExperimentPlan = {
    ...base,
    dataset,
    classifiers,
    seed: cfg.seed,
    device,
    evalSamples: cfg.eval.samples ?? base.evalSamples,
    evalBatchSize: evalBatchFor(dataset, base.evalBatchSize),
    ae: {
      ...base.ae,
      stages,
      epochs: cfg.ae.pretrain.epochs ?? base.ae.epochs,
      minSteps: cfg.ae.pretrain.minSteps ?? base.ae.minSteps,
      lr: cfg.ae.pretrain.lr ?? base.ae.lr,
      batchSize: cfg.ae.pretrain.batchSize ?? base.ae.batchSize,
      weights: cfg.ae.weights,
    },
    finetune: {
      steps: cfg.finetune.steps ?? base.finetune.steps,
      epochs: cfg.finetune.epochs ?? null,
      batchSize: cfg.finetune.batchSize ?? base.finetune.batchSize,
      lr: cfg.finetune.lr ?? base.finetune.lr,
      optimizer: cfg.finetune.optimizer ?? base.finetune.optimizer,
      targets: cfg.finetune.targets,
      trainWholeAe: cfg.finetune.trainWholeAe,
      speed: base.finetune.speed,
      encodingCacheMiB: base.finetune.encodingCacheMiB,
      convergence: cfg.finetune.untilConverged ? base.finetune.convergence : null,
    },
    analysis: {
      ...base.analysis,
      nmiBins: cfg.eval.nmiBins ?? base.analysis.nmiBins,
      orderEpsilon: cfg.eval.orderEpsilon ?? base.analysis.orderEpsilon,
      bootstrapResamples: cfg.eval.bootstrapResamples ?? base.analysis.bootstrapResamples,
    },
    repeats: cfg.repeats,
    repeatAll: cfg.repeatAll,
  };
  return withImageLengths(plan, { pretrain: cfg.ae.pretrain.images, finetune: cfg.finetune.images });
}
