// Checks of a run before any job starts: classifier names, zoo names, every input path readable
// and the run directory writable, image sizes that fit in memory, a SegNet that fits the images
// (depth, size after pooling, memory of one training batch), the data can be listed, every
// imported classifier fits it, and the starting weights of A_S fit the SegNet. Otherwise such a
// mistake would surface only when its job's turn comes, after other jobs have trained for hours,
// and often as a raw libtorch or file system message.
import { accessSync, constants, existsSync, mkdirSync, rmdirSync, statfsSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { SegNet, segnetTrainingBytes } from '../models/segnet.js';
import { ZOO_NAMES } from '../models/classifiers.js';
import { loadSegNetWeights } from '../import/segnet-weights.js';
import { checkImportedClassifiers, importedFile } from './classifier-sources.js';
import { dataShape, type DataShape } from './inputs.js';
import { DECODES_IN_FLIGHT, expandShardPattern } from '../data/index.js';
import { DEFAULT_PREFETCH } from '../train/sampler.js';
import type { ClassifierEntry, ExperimentPlan } from './plan.js';
import { ResultsSchema } from '../report/schema.js';
import { S2SNetsError, ioReason } from '../common/errors.js';

/** A run that cannot work, refused before any job; the message names the setting and the cause. */
export class PreflightError extends S2SNetsError {
  override name = 'PreflightError';
  static override readonly codes = ['S2SNETS_PREFLIGHT'] as const;
  static override readonly legacyCodes = { S2S_PREFLIGHT: 'S2SNETS_PREFLIGHT' };
}

const GB = 1024 ** 3;
const gb = (bytes: number) => (bytes >= 10 * GB ? `${(bytes / GB).toFixed(0)} GB` : `${(bytes / GB).toFixed(1)} GB`);

/** Why a file system call failed, in words (EROFS is "read-only file system", ...). */
function fsCause(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'not found',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOTDIR: 'a path component is a file, not a directory',
    ELOOP: 'too many symbolic links',
  };
  return code && words[code] ? words[code] : ioReason(e);
}

/** How a classifier entry is named in messages: its file or its zoo name. */
const source = (c: ClassifierEntry) => importedFile(c) ?? `zoo model '${(c as { zoo: string }).zoo}'`;

/** Names must be unique: they key the jobs, the cross matrix and the report. */
function checkNames(classifiers: ClassifierEntry[]): void {
  const seen = new Map<string, ClassifierEntry>();
  for (const c of classifiers) {
    const first = seen.get(c.name);
    if (first) throw new PreflightError(`classifiers: two classifiers are named '${c.name}' (${source(first)} and ${source(c)}); give them distinct names ("name" in the config)`);
    seen.set(c.name, c);
    if ('zoo' in c && !(ZOO_NAMES as string[]).includes(c.zoo)) throw new PreflightError(`classifiers: unknown zoo model '${c.zoo}'; the zoo has: ${ZOO_NAMES.join(', ')}`);
  }
}

function checkReadable(path: string, what: string, kind: 'file' | 'folder'): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
    accessSync(path, constants.R_OK | (isDir ? constants.X_OK : 0));
  } catch (e) {
    throw new PreflightError(`${what} ${path}: cannot read (${fsCause(e)})`);
  }
  if (isDir !== (kind === 'folder')) throw new PreflightError(`${what} ${path}: ${kind === 'folder' ? 'a file, not a folder' : 'a folder, not a file'}`);
}

/**
 * Creates the missing folders of path one level at a time, then removes them again: a pseudo
 * file system such as /proc answers ENOENT to mkdir, which a recursive mkdir retries forever.
 */
function probeCreatable(path: string, existing: string): void {
  const missing: string[] = [];
  for (let p = path; p !== existing; p = dirname(p)) missing.unshift(p);
  const made: string[] = [];
  try {
    for (const p of missing) {
      mkdirSync(p);
      made.push(p);
    }
  } catch (e) {
    throw new PreflightError(`run directory ${path}: cannot create it in ${existing} (${fsCause(e)}); choose a folder on a disk`);
  } finally {
    for (const p of made.reverse()) rmdirSync(p);
  }
}

/**
 * The run directory must be a directory we can write in, or creatable: checked on the nearest
 * existing ancestor (its missing folders made and removed again), leaving nothing behind.
 */
function checkWritable(runDir: string): void {
  let existing = runDir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const st = statSync(existing);
  if (!st.isDirectory()) throw new PreflightError(`run directory ${runDir}: ${existing === runDir ? 'is a file' : `${existing} is a file`}, not a directory`);
  for (const path of [existing, join(runDir, 'run.db')]) {
    if (path !== existing && !existsSync(path)) continue;
    try {
      accessSync(path, constants.W_OK);
    } catch (e) {
      throw new PreflightError(`run directory ${runDir}: cannot write in ${path} (${fsCause(e)})`);
    }
  }
  if (existing !== runDir) probeCreatable(runDir, existing);
}

/**
 * What a streamed run holds at once, per job process: the batches read ahead (uint8), a float
 * batch, and the images being decoded; the evaluation holds the evaluation set and every
 * autoencoder's reconstructions of it (float32), since its measures take whole sets.
 */
export function streamedMemoryBytes(plan: ExperimentPlan): { training: number; evaluation: number } {
  if (typeof plan.dataset === 'string') return { training: 0, evaluation: 0 };
  const { resize, crop, channels } = plan.dataset;
  const image = channels * crop * crop;
  const batch = Math.max(plan.ae.batchSize, plan.finetune.batchSize, plan.classifierTraining.batchSize, plan.evalBatchSize);
  const training = DEFAULT_PREFETCH * batch * image + 4 * batch * image + DECODES_IN_FLIGHT * 4 * channels * resize * resize;
  const evaluation = 4 * image * plan.evalSamples * (plan.classifiers.length + 3);
  return { training, evaluation };
}

/** A streamed run's batches, and its evaluation set, must fit in memory: each job process holds its own. */
function checkStreamedMemory(plan: ExperimentPlan, memory: number): void {
  if (typeof plan.dataset === 'string') return;
  const { training, evaluation } = streamedMemoryBytes(plan);
  const { crop } = plan.dataset;
  if (training > memory / 4) {
    throw new PreflightError(`dataset.imageSize: image size ${crop} needs ~${gb(training)} for the batches a job reads ahead and decodes, more than a quarter of this machine's ${gb(memory)} of memory; use a smaller imageSize or smaller batches`);
  }
  if (evaluation > memory / 2) {
    throw new PreflightError(`eval.samples: the evaluation holds its ${plan.evalSamples} images and ${plan.classifiers.length + 1} autoencoders' reconstructions of them at ${crop} px (~${gb(evaluation)}), more than half of this machine's ${gb(memory)} of memory; use fewer eval.samples`);
  }
}

/**
 * The disk a run's artifacts take, roughly: every autoencoder's weights (float32) and uint8
 * reconstructions, the shared encodings (built-in datasets, at most their cap), and a streamed
 * dataset's index (about 200 bytes an image). Zoo classifiers' weights are small beside these;
 * imported ones are not copied.
 * @param plan the experiment
 * @param channels the data's channels
 * @param size its side
 * @param files the dataset's files (streamed datasets; 0 for built-in ones)
 * @example runDiskBytes(plan, 3, 224, 50_000)
 */
export function runDiskBytes(plan: ExperimentPlan, channels: number, size: number, files: number): number {
  const autoencoders = (plan.classifiers.length + 1) * plan.repeats;
  const { parameters } = segnetTrainingBytes({ inChannels: channels, stages: plan.ae.stages }, size, 1);
  const reconstructions = autoencoders * plan.evalSamples * channels * size * size;
  const encodings = typeof plan.dataset === 'string' ? plan.finetune.encodingCacheMiB * 2 ** 20 : 0;
  return autoencoders * 4 * parameters + reconstructions + encodings + 200 * files;
}

/** The artifacts must fit on the run directory's file system (refused in one line when short). */
function checkDiskSpace(plan: ExperimentPlan, runDir: string, shape: DataShape): void {
  let existing = runDir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const fs = statfsSync(existing);
  const free = fs.bavail * fs.bsize;
  const need = runDiskBytes(plan, shape.channels, shape.size, shape.files ?? 0);
  if (need > free) {
    throw new PreflightError(`run directory ${runDir}: the run's artifacts need ~${gb(need)} (weights, ${plan.evalSamples} evaluation images reconstructed by each autoencoder, the dataset's index), but only ${gb(free)} are free there; free space, or use fewer eval.samples`);
  }
}

/** Classifiers of the zoo take sizes that are multiples of 8, at least 16 (their pooling). */
function checkZooSizes(plan: ExperimentPlan, size: number): void {
  const zoo = plan.classifiers.find((c) => 'zoo' in c);
  if (zoo && (size % 8 !== 0 || size < 16)) {
    throw new PreflightError(`dataset.imageSize: zoo model '${(zoo as { zoo: string }).zoo}' needs an image size that is a multiple of 8 and at least 16, not ${size}`);
  }
}

/** Every SegNet stage halves the images; each must keep at least 1 px, and one batch must fit in memory. */
function checkSegNet(plan: ExperimentPlan, channels: number, size: number, memory: number): void {
  const stages = plan.ae.stages;
  const fits = Math.floor(Math.log2(size));
  if (stages.length > fits) {
    throw new PreflightError(`ae.stages: ${stages.length} stages halve ${size} px images below 1 px (stage ${fits + 1} would pool a 1 px map); at most ${fits} stages fit ${size} px images`);
  }
  const batch = Math.max(plan.ae.batchSize, plan.finetune.batchSize);
  const { parameters, bytes } = segnetTrainingBytes({ inChannels: channels, stages }, size, batch);
  if (plan.device === 'cpu' && bytes > memory) {
    throw new PreflightError(
      `ae.stages: training a SegNet of ${stages.map((s) => `[${s.join(',')}]`).join(' ')} (${parameters.toExponential(2)} parameters) on batches of ${batch} ${size} px images needs ~${gb(bytes)}, more than this machine's ${gb(memory)} of memory; use narrower stages, smaller batches or smaller images`,
    );
  }
}

/**
 * A setting of the plan that results.json records: where it lands in the results schema, and
 * its value(s) in a plan (empty where this plan does not record it, e.g. the noise test's
 * samples when it has no noise levels). The schema's bounds on those fields are the setting's
 * bounds, checked before any job: otherwise a run could compute for hours and then fail to
 * write its results.
 */
export interface RecordedSetting {
  /** The setting as messages name it (the plan's field). */
  setting: string;
  /** Its field in results.json; '*' is every element of an array. */
  field: string[];
  values: (plan: ExperimentPlan) => unknown[];
}

const noiseTested = (plan: ExperimentPlan) => plan.analysis.noiseSigmas.length > 0;

export const RECORDED_SETTINGS: RecordedSetting[] = [
  { setting: 'seed', field: ['run', 'seed'], values: (p) => [p.seed] },
  { setting: 'seed', field: ['bootstrap', 'seed'], values: (p) => [p.seed] },
  // Replicate r runs with seed + r.
  { setting: 'seed + repeats - 1', field: ['replicates', 'seeds', '*'], values: (p) => (p.repeats > 1 ? [p.seed + p.repeats - 1] : []) },
  { setting: 'evalSamples', field: ['run', 'evalSamples'], values: (p) => [p.evalSamples] },
  { setting: 'finetune.steps', field: ['finetunes', '*', 'budget'], values: (p) => (p.finetune.epochs === null ? [p.finetune.steps] : []) },
  { setting: 'finetune.epochs', field: ['finetunes', '*', 'budget'], values: (p) => (p.finetune.epochs === null ? [] : [p.finetune.epochs]) },
  { setting: 'analysis.bootstrapResamples', field: ['bootstrap', 'resamples'], values: (p) => [p.analysis.bootstrapResamples] },
  { setting: 'analysis.bootstrapResamples', field: ['order', 'resamples'], values: (p) => [p.analysis.bootstrapResamples] },
  { setting: 'analysis.orderEpsilon', field: ['order', 'epsilon'], values: (p) => [p.analysis.orderEpsilon] },
  { setting: 'analysis.orderLevel', field: ['order', 'level'], values: (p) => [p.analysis.orderLevel] },
  { setting: 'analysis.nmiBins', field: ['nmi', 'bins'], values: (p) => [p.analysis.nmiBins] },
  { setting: 'analysis.interPairs', field: ['nmi', 'interPairs'], values: (p) => [p.analysis.interPairs] },
  { setting: 'analysis.noiseSigmas', field: ['noise', 'sigmas', '*'], values: (p) => p.analysis.noiseSigmas },
  { setting: 'analysis.noiseSamples', field: ['noise', 'samples'], values: (p) => (noiseTested(p) ? [p.analysis.noiseSamples] : []) },
];

type Schema = { safeParse(v: unknown): { success: true } | { success: false; error: { issues: { message: string }[] } } };

/**
 * The part of the results schema at `field` ('*': an array's elements), through nullable and
 * optional wrappers.
 * @param field a path in results.json
 * @throws Error when the schema has no such field (RECORDED_SETTINGS out of step with it)
 * @example resultsFieldSchema(['finetunes', '*', 'budget']).safeParse(1e20).success // false
 */
export function resultsFieldSchema(field: string[]): Schema {
  let node = ResultsSchema as unknown as { def: Record<string, unknown> & { type: string } };
  const unwrap = () => {
    while (node.def.type === 'nullable' || node.def.type === 'optional') node = node.def.innerType as typeof node;
  };
  for (const part of field) {
    unwrap();
    const next = part === '*' ? (node.def.type === 'array' ? node.def.element : undefined) : node.def.type === 'object' ? (node.def.shape as Record<string, unknown>)[part] : undefined;
    if (!next) throw new Error(`the results schema has no field ${field.join('.')}`);
    node = next as typeof node;
  }
  unwrap();
  return node as unknown as Schema;
}

/** Every recorded setting must fit its results field (see RECORDED_SETTINGS). */
function checkRecordedSettings(plan: ExperimentPlan): void {
  for (const { setting, field, values } of RECORDED_SETTINGS) {
    const schema = resultsFieldSchema(field);
    for (const value of values(plan)) {
      const r = schema.safeParse(value);
      if (!r.success) throw new PreflightError(`${setting}: ${String(value)} is out of range for results.json's ${field.join('.')} (${r.error.issues[0].message})`);
    }
  }
}

/**
 * Throws the first problem of a plan as a typed error with a one-line message, before any job
 * runs and without writing anything.
 * @param plan the experiment
 * @param runDir where the run will write
 * @param memory bytes of memory to plan against (default: this machine's)
 * @throws PreflightError, ImageFolderError, ClassifierMismatchError, SegNetWeightsError
 * @example
 * await checkInputs(planFromConfig(loadConfig('exp.json'), 'cpu'), 'runs/exp');
 */
export async function checkInputs(plan: ExperimentPlan, runDir: string, memory = totalmem()): Promise<void> {
  checkRecordedSettings(plan);
  checkNames(plan.classifiers);
  plan.classifiers.forEach((c, i) => {
    const file = importedFile(c);
    if (file) checkReadable(file, `classifiers[${i}]`, 'file');
  });
  if (plan.ae.weights) checkReadable(plan.ae.weights, 'ae.weights', 'file');
  const d = plan.dataset;
  if (typeof d !== 'string') {
    if ('imageFolder' in d) checkReadable(d.imageFolder, 'dataset.imageFolder', 'folder');
    else for (const shard of expandShardPattern(d.tarShards)) checkReadable(shard, 'dataset.tarShards', 'file');
  }
  checkWritable(runDir);
  checkStreamedMemory(plan, memory);
  const shape = dataShape(plan);
  checkZooSizes(plan, shape.size);
  checkSegNet(plan, shape.channels, shape.size, memory);
  checkDiskSpace(plan, runDir, shape);
  await checkImportedClassifiers(plan.classifiers, shape);
  if (plan.ae.weights) {
    const ae = new SegNet({ inChannels: shape.channels, stages: plan.ae.stages });
    try {
      loadSegNetWeights(ae, plan.ae.weights);
    } finally {
      for (const t of ae.stateDict().values()) t.dispose();
    }
  }
}
