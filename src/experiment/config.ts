// The experiment configuration file (JSON): a zod schema whose defaults come from defaults.ts, and a
// loader whose errors are one line naming the file and the field, e.g.
//   exp.json: finetune.lr: must be > 0 (got -1)
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { BUILTIN_DATASETS } from '../data/index.js';
import { S2SNetsError, ioReason } from '../common/errors.js';
import { PLAN_DEFAULTS, RUN_DEFAULTS } from './defaults.js';

export class ConfigError extends S2SNetsError {
  override name = 'ConfigError';
  static override readonly codes = ['S2SNETS_CONFIG'] as const;
}

const path = z.string().regex(/\S/, 'must be a non-empty path');
const positiveInt = z.number().int('must be an integer').positive('must be > 0');
const nonNegativeInt = z.number().int('must be an integer').min(0, 'must be >= 0');
const learningRate = z.number().positive('must be > 0').finite('must be finite');

/**
 * What an imported classifier takes, where it differs from the data: `inputSize` (side in px; an
 * ONNX graph with a fixed input size gives it by default), `mean` and `std` (one per channel,
 * together; default the data's) and `resize` ('bilinear', the default, or 'bicubic'; both
 * antialiased when shrinking). The autoencoders work at the data's size and normalization; their
 * reconstructions are mapped to this input wherever the classifier sees them.
 */
const classifierInput = {
  inputSize: positiveInt.optional(),
  mean: z.array(z.number().finite('must be finite')).min(1, 'must list one value per channel').optional(),
  std: z.array(z.number().positive('must be > 0').finite('must be finite')).min(1, 'must list one value per channel').optional(),
  resize: z.enum(['bilinear', 'bicubic']).optional(),
};

const meanWithStd = (c: { mean?: number[]; std?: number[] }, ctx: z.RefinementCtx) => {
  if ((c.mean === undefined) !== (c.std === undefined)) ctx.addIssue({ code: 'custom', message: 'give mean and std together (one value per channel each)', path: [c.mean === undefined ? 'mean' : 'std'] });
  else if (c.mean && c.std && c.mean.length !== c.std.length) ctx.addIssue({ code: 'custom', message: `must have as many values as mean (${c.mean.length})`, path: ['std'] });
};

/** A classifier from the built-in zoo (e.g. 'lenet5', 'vgg-bn'), or an imported model file (with what it takes, see classifierInput). */
export const ClassifierSpec = z.union([
  z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be a zoo name (lowercase letters, digits, - and _)'),
  z.strictObject({ onnx: path, name: z.string().min(1).optional(), ...classifierInput }).superRefine(meanWithStd),
  z.strictObject({ torchscript: path, name: z.string().min(1).optional(), ...classifierInput }).superRefine(meanWithStd),
]);

export const ExperimentConfig = z.strictObject({
  /**
   * A built-in dataset ('mnist', the default, 'fashion-mnist', 'emoji', 'planted-shape',
   * 'planted-colour'), a folder with one subfolder of images per class ({imageFolder}), or
   * WebDataset-style tar shards ({tarShards: 'train-{000000..000146}.tar'}); imageSize: the side
   * images are cropped to (default DEFAULT_IMAGE_SIZE).
   */
  dataset: z
    .union([z.enum(BUILTIN_DATASETS), z.strictObject({ imageFolder: path, imageSize: positiveInt.optional() }), z.strictObject({ tarShards: path, imageSize: positiveInt.optional() })])
    .default(PLAN_DEFAULTS.dataset),
  /** At least one classifier; each gets its own fine-tuned decoder. */
  classifiers: z.array(ClassifierSpec).min(1, 'must list at least one classifier'),
  /** Seeds data order, initialisation and sampling: same seed, same results. */
  seed: z.number().int('must be an integer').min(0).max(2 ** 31 - 1).default(PLAN_DEFAULTS.seed).transform((n) => n || 0), // -0 (valid JSON) becomes 0
  /** 'auto' (cuda when usable), 'cpu', 'cuda' or 'cuda:N'. */
  device: z
    .string()
    .regex(/^(auto|cpu|cuda(:\d+)?)$/, "must be 'auto', 'cpu', 'cuda' or 'cuda:N'")
    .default(RUN_DEFAULTS.device),
  /** Small sizes and few steps, for a smoke run in about a minute (the plan quickPlan makes). */
  quick: z.boolean().default(RUN_DEFAULTS.quick),
  ae: z
    .strictObject({
      /** 'small' (the plan's A_S, for 28-32 px images) or 'vgg16' (the paper's), or explicit widths. */
      stages: z.union([z.enum(['small', 'vgg16']), z.array(z.array(positiveInt).min(1)).min(1)]).default(RUN_DEFAULTS.aeStages),
      /**
       * Starting weights of A_S, e.g. the authors' SegNet release: a PyTorch state dict (.pth/.pt,
       * read without running any pickled code) with the authors' parameter names (encoder.conv11.weight
       * ... decoder.conv_final.bias), or a .safetensors file of ours (an A_S of an earlier run). Names
       * and shapes must match `stages` and the data's channels. Part of the pretrain job's key by
       * content: a changed file recomputes A_S and everything after it.
       */
      weights: path.optional(),
      /**
       * Reconstruction (MSE) pretraining of the generic AE: `epochs` but at least `minSteps` steps
       * (so small folders still get enough), or exactly `images` images (ceil(images / batchSize)
       * steps); Adam with cosine decay. Defaults: the plan's (quick's when quick). With `weights`,
       * pretraining continues from them; epochs 0 takes them unchanged.
       */
      pretrain: z
        .strictObject({ epochs: nonNegativeInt.optional(), minSteps: nonNegativeInt.optional(), images: positiveInt.optional(), lr: learningRate.optional(), batchSize: positiveInt.optional() })
        .prefault({}),
    })
    .prefault({})
    .superRefine((ae, ctx) => {
      if (ae.pretrain.epochs === 0 && ae.weights === undefined) ctx.addIssue({ code: 'custom', message: '0 needs ae.weights (pretrained weights to start from)', path: ['pretrain', 'epochs'] });
      if (ae.pretrain.images !== undefined && (ae.pretrain.epochs !== undefined || ae.pretrain.minSteps !== undefined)) {
        ctx.addIssue({ code: 'custom', message: 'give the length in images, or epochs and minSteps, not both', path: ['pretrain', 'images'] });
      }
    }),
  /**
   * Decoder fine-tuning through each frozen classifier. Give its length as epochs, steps or
   * images (ceil(images / batchSize) steps), at most one of them (default: the plan's steps);
   * with untilConverged that is a budget and a fine-tune stops once its classifier's accuracy on
   * its reconstructions reaches the original's or its loss plateaus.
   */
  finetune: z
    .strictObject({
      epochs: positiveInt.optional(),
      steps: positiveInt.optional(),
      images: positiveInt.optional(),
      lr: learningRate.optional(),
      optimizer: z.enum(['adam', 'sgd']).optional(),
      batchSize: positiveInt.optional(),
      /** Cross-entropy on the true labels (the paper's choice) or on the classifier's own predictions. */
      targets: z.enum(['labels', 'predictions']).default(PLAN_DEFAULTS.finetune.targets),
      /** Also train the encoder (the paper keeps it frozen). */
      trainWholeAe: z.boolean().default(PLAN_DEFAULTS.finetune.trainWholeAe),
      untilConverged: z.boolean().default(PLAN_DEFAULTS.finetune.convergence !== null),
    })
    .prefault({})
    .superRefine((f, ctx) => {
      const lengths = (['epochs', 'steps', 'images'] as const).filter((k) => f[k] !== undefined);
      if (lengths.length > 1) ctx.addIssue({ code: 'custom', message: `give epochs, steps or images, not ${lengths.join(' and ')}`, path: [lengths[1]] });
    }),
  /**
   * Evaluation (defaults: the plan's, quick's when quick): images reconstructed and measured,
   * histogram bins of the NMI estimator, bootstrap resamples behind every 95 % interval, and the
   * order's tolerance: accuracy changes within orderEpsilon (a share; 0.005 = half a percentage
   * point) count as equal (0: the bootstrap decides which relations hold).
   */
  eval: z
    .strictObject({
      samples: positiveInt.optional(),
      nmiBins: z.number().int('must be an integer').min(2, 'must be >= 2').max(4096).optional(),
      bootstrapResamples: z.number().int('must be an integer').min(1000, 'must be >= 1000').max(100_000).optional(),
      orderEpsilon: z.number().min(0, 'must be >= 0').max(1, 'must be <= 1 (a share of images)').optional(),
    })
    .prefault({}),
  /** Replicate seeds: rerun the seed-dependent stages with seeds seed .. seed + repeats - 1 and aggregate. */
  repeats: positiveInt.max(100, 'must be <= 100').default(PLAN_DEFAULTS.repeats),
  /** With repeats: retrain the classifiers and A_S per seed too, not only the fine-tunes. */
  repeatAll: z.boolean().default(PLAN_DEFAULTS.repeatAll),
  /** Where run.db, artifacts and the report go (relative to the config file's folder). */
  runDir: path.default(RUN_DEFAULTS.runDir),
});

export type ExperimentConfig = z.output<typeof ExperimentConfig>;

/** One line: the first problem, with its field path. */
function describe(error: z.ZodError): string {
  let issue = error.issues[0];
  let path = issue.path;
  // A union whose input matched one branch's shape (e.g. an object for `dataset`) failed inside
  // that branch: name that field ("dataset.imageSize: must be an integer"), not the whole union.
  while (issue.code === 'invalid_union') {
    const branch = issue.errors.find((errs) => errs.length > 0 && errs.every((e) => e.path.length > 0));
    if (!branch) break;
    path = [...path, ...branch[0].path];
    issue = branch[0] as typeof issue;
  }
  const field = path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  else if (issue.code === 'invalid_union' && field.startsWith('classifiers')) message = "must be a zoo name, {onnx: path} or {torchscript: path}";
  else if (issue.code === 'invalid_union' && field === 'dataset') message = `must be one of ${BUILTIN_DATASETS.map((d) => `'${d}'`).join(', ')}, {imageFolder: path} or {tarShards: path}`;
  return `${field}: ${message}`.replace(/\s+/g, ' ');
}

/** Makes the config's relative paths relative to the config file's folder. */
function resolvePaths(config: ExperimentConfig, base: string): ExperimentConfig {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const d = config.dataset;
  const dataset = typeof d === 'string' ? d : 'imageFolder' in d ? { ...d, imageFolder: abs(d.imageFolder) } : { ...d, tarShards: abs(d.tarShards) };
  const classifiers = config.classifiers.map((c) =>
    typeof c === 'string' ? c : 'onnx' in c ? { ...c, onnx: abs(c.onnx) } : { ...c, torchscript: abs(c.torchscript) },
  );
  const ae = config.ae.weights === undefined ? config.ae : { ...config.ae, weights: abs(config.ae.weights) };
  return { ...config, dataset, classifiers, ae, runDir: abs(config.runDir) };
}

/** Validates a configuration object (paths stay as given). Throws ConfigError with a one-line message. */
export function loadConfig(pathOrObject: string | unknown): ExperimentConfig {
  if (typeof pathOrObject !== 'string') return validate(pathOrObject, 'config');
  let text: string;
  try {
    text = readFileSync(pathOrObject, 'utf8');
  } catch (e) {
    throw new ConfigError(`${pathOrObject}: cannot read (${ioReason(e)})`);
  }
  return parseConfigJson(text, pathOrObject, dirname(resolve(pathOrObject)));
}

/**
 * Parses the JSON text of a config file; `source` names it in errors and relative paths in it
 * are taken relative to baseDir (the file's folder).
 */
export function parseConfigJson(text: string, source: string, baseDir: string): ExperimentConfig {
  let raw: unknown;
  try {
    // Editors on some systems save UTF-8 with a byte order mark, which JSON.parse refuses.
    raw = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return resolvePaths(validate(raw, source), baseDir);
}

function validate(raw: unknown, source: string): ExperimentConfig {
  const parsed = ExperimentConfig.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source}: ${describe(parsed.error)}`);
  return parsed.data;
}
