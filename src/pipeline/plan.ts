// The fully resolved settings of one experiment run: every default filled in, every choice the
// paper leaves open made explicit (optimizer, learning rates, step counts), so that results.json
// records exactly what produced the numbers.
import { basename, dirname, extname, sep } from 'node:path';
import { SMALL_STAGES, VGG16_STAGES, type SegNetStages } from '../models/segnet.js';
import type { OptimizerName } from '../train/classifier.js';
import type { SpeedOptions } from '../train/speed.js';
import type { ResizeMode } from '../nn/index.js';
import type { ExperimentConfig } from './config.js';

import { BUILTIN_DATASETS, type BuiltinDatasetName } from '../data/index.js';

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
   * A_S: a SegNet of `stages`, pretrained for `epochs` (MSE), starting from `weights` when given
   * (a SegNet state dict: the authors' .pth/.pt, or a .safetensors of ours); 0 epochs takes
   * those weights unchanged. channelsLast: pretrain in NHWC layout (equal up to float rounding).
   */
  ae: { stages: SegNetStages; epochs: number; minSteps: number; batchSize: number; lr: number; channelsLast: boolean; weights?: string };
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
}

/** The demo's five families, one per trait that shapes an input signal. */
export const DEMO_CLASSIFIERS = ['lenet5', 'alexnet', 'vgg-bn', 'resnet', 'inception'];

/**
 * Training examples the built-in datasets use by default. Fashion-MNIST's 60,000 would make the
 * demo seven times longer than MNIST's 8,000; 15,000 keep every zoo family above 88 %.
 */
export const DEFAULT_TRAIN_LIMIT: Record<DatasetChoice, number | null> = { mnist: null, 'fashion-mnist': 15_000, emoji: null, 'planted-shape': null, 'planted-colour': null };

/**
 * A_S PSNR (dB) below which the report calls A_S too weak, per built-in dataset: a few dB under
 * what the default pretraining reaches there (NOTES.md), so only a clearly weak A_S is flagged.
 * Image folders get IMAGE_FOLDER_PSNR_FLOOR.
 */
export const A_S_PSNR_FLOOR: Record<DatasetChoice, number> = { mnist: 26, 'fashion-mnist': 24, emoji: 22, 'planted-shape': 26, 'planted-colour': 26 };
export const IMAGE_FOLDER_PSNR_FLOOR = 22;

export function defaultPlan(overrides: Partial<ExperimentPlan> = {}): ExperimentPlan {
  const dataset = overrides.dataset ?? 'mnist';
  return {
    dataset,
    classifiers: zooEntries(DEMO_CLASSIFIERS),
    seed: 0,
    device: 'cpu',
    trainLimit: typeof dataset === 'string' ? DEFAULT_TRAIN_LIMIT[dataset] : null,
    evalSamples: 1000,
    evalBatchSize: 250,
    checkpointEvery: 100,
    // 8 epochs bring every family to about 97 % or more on MNIST (96.7-98.4 %, NOTES.md); LeNet-5, the smallest, needs 15 and they
    // cost little. Random shifts slowed convergence more than they helped at these lengths.
    // NHWC: 0.48-0.85x the step time of NCHW for inception, resnet, vgg-bn and alexnet on the
    // CPU (bench/training.ts); lenet5's 7 ms step measured 0.72x and 1.16x.
    classifierTraining: { epochs: 8, epochsFor: { lenet5: 15 }, batchSize: 64, lr: 2e-3, optimizer: 'adam', augmentShift: 0, channelsLast: true },
    // 2 epochs, but at least 1,000 steps: a small training set alone would leave A_S weak.
    // NHWC: 0.75-0.86x the NCHW pretraining step on the CPU (NOTES.md, Speed (session 4)).
    ae: { stages: [[32, 32], [64, 64]], epochs: 2, minSteps: 1000, batchSize: 32, lr: 2e-3, channelsLast: true },
    // At least 150 steps (the earlier fixed length), then until converged within a budget of 600,
    // checked every 25 steps on 256 set-aside training images.
    finetune: {
      steps: 600,
      epochs: null,
      batchSize: 32,
      lr: 1e-3,
      optimizer: 'adam',
      targets: 'labels',
      trainWholeAe: false,
      // The BatchNorms of the frozen classifier (2-5 % faster steps on the zoo's BatchNorm
      // families) and of the frozen encoder folded into their convolutions, and NHWC layout (a
      // further 14-24 % on every family) on the CPU (bench/finetune.ts); the same fine-tune up to
      // float rounding.
      speed: { foldFrozenBn: true, channelsLast: true },
      // The encode job computes each training and check image's code and pooling indices once, and
      // every fine-tune of that A_S reads them instead of running the frozen encoder (28 KB per
      // 32 px image at SMALL_STAGES, 1.6 MB at 224 px with VGG16 widths: 2 GiB hold about 1,300
      // of those). Kept on disk in the run directory; each fine-tune reads its batches' rows.
      encodingCacheMiB: 2048,
      convergence: { every: 25, patience: 4, minDelta: 0.02, minSteps: 150, samples: 256 },
    },
    analysis: {
      nmiBins: 64,
      interPairs: 200,
      gridSamples: 8,
      bootstrapResamples: 1000,
      orderEpsilon: 0,
      orderLevel: 0.95,
      noiseSigmas: [0.05, 0.1, 0.2],
      noiseSamples: 500,
      psnrFloor: typeof dataset === 'string' ? A_S_PSNR_FLOOR[dataset] : IMAGE_FOLDER_PSNR_FLOOR,
    },
    repeats: 1,
    repeatAll: false,
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

/** The crop a streamed dataset gets when its config names no imageSize: what ImageNet classifiers take. */
export const DEFAULT_IMAGE_SIZE = 224;

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
  const base = (cfg.quick ? quickPlan : defaultPlan)(typeof cfg.dataset === 'string' ? { dataset: cfg.dataset } : {});
  const dataset: DatasetSpec = typeof cfg.dataset === 'string' ? cfg.dataset : streamedSpec(cfg.dataset);
  const derived = derivedNames(cfg.classifiers.map((c) => (typeof c === 'string' || c.name !== undefined ? null : 'onnx' in c ? c.onnx : c.torchscript)));
  const classifiers: ClassifierEntry[] = cfg.classifiers.map((c, i) => {
    if (typeof c === 'string') return { name: c, zoo: c };
    const name = c.name ?? derived[i]!;
    const input = inputSettings(c);
    return { name, ...('onnx' in c ? { onnx: c.onnx } : { torchscript: c.torchscript }), ...(input ? { input } : {}) };
  });
  const stages = cfg.ae.stages === 'small' ? (cfg.quick ? base.ae.stages : SMALL_STAGES) : cfg.ae.stages === 'vgg16' ? VGG16_STAGES : cfg.ae.stages;
  return {
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
}
