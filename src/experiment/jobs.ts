// The S2SNets experiment as a job graph:
//   classifier[name] ───────────────────┐
//   pretrain (A_S) ─> encode (A_S) ─────┴─> finetune[name] ─> reconstruct[ae] ─> evaluate ─> report
// (encode: the frozen encoder's outputs for the fine-tunes' images, computed once for all of them)
// Each job writes its own artifact (weights, reconstructions, metrics); the run store reuses
// finished jobs, so a rerun resumes and a changed setting recomputes only what depends on it.
// This file is where the plan is read: each job kind (classifier-job.ts, pretrain-job.ts,
// encode-job.ts, finetune-job.ts, reconstruction-job.ts) gets only the slice its key hashes.
import { S2SNetsError } from '../common/errors.js';
import type { Json } from '../common/json.js';
import type { FinetuneTargets } from '../train/finetune.js';
import type { JobSpec } from '../scheduler/job-graph.js';
import { dataIdentity, indexJob, type IndexOutput } from './inputs.js';
import type { ClassifierEntry, ExperimentPlan } from './plan.js';
import { fileDigest, importedFile } from './classifier-sources.js';
import { importedClassifierJob, trainedClassifierJob, type ClassifierJob } from './classifier-job.js';
import { pretrainJob, type AutoencoderOutput, type PretrainJob } from './pretrain-job.js';
import { encodeJob, type EncodeJob } from './encode-job.js';
import { finetuneJob, type FinetuneJob } from './finetune-job.js';
import { reconstructionJob, type ReconstructionJob } from './reconstruction-job.js';
import { seedTag, type JobSettings, type TrainingSlice } from './job-common.js';
import { GENERIC_AE, aeName } from './names.js';

/** A plan whose negative control names no classifier of the plan. */
export class ControlPlanError extends S2SNetsError {
  override name = 'ControlPlanError';
  static override readonly codes = ['S2SNETS_CONTROL_NOT_A_CLASSIFIER'] as const;
}

export interface ExperimentJobs {
  /** A streamed dataset's index (null for built-in datasets); every job that reads images depends on it. */
  index: JobSpec<IndexOutput> | null;
  classifiers: Map<string, ClassifierJob>;
  pretrain: PretrainJob;
  /** The fine-tunes' shared encodings; null when the encoder is not frozen, autocast is on or encodingCacheMiB is 0. */
  encodings: EncodeJob | null;
  finetunes: Map<string, FinetuneJob>;
  /** The negative-control AEs (permutedLabelsControlName), their reconstructions among `reconstructions`. */
  controls: string[];
  reconstructions: Map<string, ReconstructionJob>;
}

/**
 * The training seeds of replicate `replicate` (0 .. plan.repeats - 1): the fine-tunes always take
 * seed + replicate; the classifiers and A_S too when plan.repeatAll, else the base seed.
 *
 * @param plan The run's plan.
 * @param replicate 0 for the run itself.
 * @example
 * replicateSeeds({ ...quickPlan(), seed: 5 }, 2); // { classifiers: 5, ae: 5, finetune: 7 }
 */
export function replicateSeeds(plan: ExperimentPlan, replicate: number): { classifiers: number; ae: number; finetune: number } {
  const shared = plan.repeatAll ? plan.seed + replicate : plan.seed;
  return { classifiers: shared, ae: shared, finetune: plan.seed + replicate };
}

/**
 * ' seed N' for jobs trained with another seed than the plan's, so that replicates are told apart in progress and status.
 *
 * @param plan The run's plan.
 * @param seed The job's training seed.
 * @example
 * `finetune[lenet5]${replicateTag(plan, plan.seed + 1)}`; // 'finetune[lenet5] seed 1' when plan.seed is 0
 */
export function replicateTag(plan: ExperimentPlan, seed: number): string {
  return seedTag(trainingSlice(plan, seed));
}

/**
 * The training and reconstruction jobs of an experiment, for one replicate: replicate 0 is the
 * run itself; replicate r retrains the seed-dependent stages with the seeds of replicateSeeds,
 * sharing every job whose seed does not change (same key).
 * @param plan the experiment
 * @param replicate 0 for the run itself
 * @throws ControlPlanError when plan.permutedLabelsControl names no classifier of the plan
 * @example experimentJobs(quickPlan()).finetunes.get('lenet5')!.name // 'finetune[lenet5]'
 */
export function experimentJobs(plan: ExperimentPlan, replicate = 0): ExperimentJobs {
  const seeds = replicateSeeds(plan, replicate);
  const settings: JobSettings = { checkpointEvery: plan.checkpointEvery, evalBatchSize: plan.evalBatchSize };
  const index = indexJob(plan, dataIdentityOnce(plan));

  const classifiers = new Map(plan.classifiers.map((entry) => [entry.name, classifierJob(plan, entry, seeds.classifiers, settings, index)]));
  const pretrain = pretrainJob({ config: pretrainConfig(plan, seeds.ae), settings }, index);
  const encodings = sharesEncodings(plan) ? encodeJob({ config: encodeConfig(plan, seeds.ae) }, index, pretrain) : null;

  // The fine-tune of one classifier's decoder; with 'permuted-labels' targets, the negative control.
  const finetune = (entry: ClassifierEntry, targets: FinetuneTargets) =>
    finetuneJob({ config: { ...trainingSlice(plan, seeds.finetune), classifier: entry.name, ...plan.finetune, targets }, settings }, { index, pretrain, encodings, classifier: classifiers.get(entry.name)! });
  const finetunes = new Map(plan.classifiers.map((entry) => [entry.name, finetune(entry, plan.finetune.targets)]));
  const controlEntry = plan.permutedLabelsControl === undefined ? undefined : plan.classifiers.find((c) => c.name === plan.permutedLabelsControl);
  if (plan.permutedLabelsControl !== undefined && !controlEntry) throw new ControlPlanError(`permutedLabelsControl names '${plan.permutedLabelsControl}', which is not among the classifiers (${plan.classifiers.map((c) => c.name).join(', ')}); name one of them`);
  const controls = new Map(controlEntry ? [[permutedLabelsControlName(controlEntry.name), finetune(controlEntry, 'permuted-labels')]] : []);

  const aeJobs: [string, JobSpec<AutoencoderOutput>, number][] = [
    [GENERIC_AE, pretrain, seeds.ae],
    ...[...finetunes].map(([n, j]): [string, JobSpec<AutoencoderOutput>, number] => [aeName(n), j, seeds.finetune]),
    ...[...controls].map(([n, j]): [string, JobSpec<AutoencoderOutput>, number] => [n, j, seeds.finetune]),
  ];
  const reconstructions = new Map(
    aeJobs.map(([name, autoencoder, seed]) => [
      name,
      reconstructionJob({ config: { ...trainingSlice(plan, seed), autoencoder: name, evalSamples: plan.evalSamples }, settings }, { index, autoencoder, pretrain }),
    ]),
  );
  return { index, classifiers, pretrain, encodings, finetunes, controls: [...controls.keys()], reconstructions };
}

/**
 * The name of the negative-control AE whose decoder was fine-tuned through `classifier` with
 * permuted labels (plan.permutedLabelsControl).
 * @param classifier the classifier's name
 * @example permutedLabelsControlName('alexnet') // 'control: S2S-alexnet, permuted labels'
 */
export function permutedLabelsControlName(classifier: string): string {
  return `control: ${aeName(classifier)}, permuted labels`;
}

/** A zoo model's training job (only this model's own epochs enter its key: changing another model's leaves it reusable), or an imported model's. */
function classifierJob(plan: ExperimentPlan, entry: ClassifierEntry, seed: number, settings: JobSettings, index: JobSpec<IndexOutput> | null): ClassifierJob {
  if ('zoo' in entry) {
    const { epochsFor, ...training } = plan.classifierTraining;
    const config = { ...trainingSlice(plan, seed), model: entry.zoo, ...training, epochs: epochsFor[entry.zoo] ?? training.epochs };
    return trainedClassifierJob({ config, entry, settings }, index);
  }
  const file = importedFile(entry)!;
  // What the classifier takes is part of its identity; entries that name nothing keep their keys.
  const input = 'input' in entry && entry.input ? { input: entry.input as unknown as Json } : {};
  return importedClassifierJob({ config: { ...trainingSlice(plan, plan.seed), file, sha256: fileDigest(file), ...input, evalSamples: plan.evalSamples }, entry, settings }, index);
}

/** A_S's key: the plan's ae settings, the starting weights counted by content. */
function pretrainConfig(plan: ExperimentPlan, seed: number) {
  const { weights, ...ae } = plan.ae;
  return { ...trainingSlice(plan, seed), ae: { ...ae, weights: weights ? { file: weights, sha256: fileDigest(weights) } : undefined } };
}

/** The encode job's key: what of the fine-tunes' settings shapes their encodings. */
function encodeConfig(plan: ExperimentPlan, seed: number) {
  const cfg = plan.finetune;
  const speed = { foldFrozenBn: cfg.speed.foldFrozenBn ?? false, channelsLast: cfg.speed.channelsLast ?? false };
  return { ...trainingSlice(plan, seed), encode: { speed, batchSize: cfg.batchSize, checkSamples: cfg.convergence?.samples ?? null, maxMiB: cfg.encodingCacheMiB } };
}

/**
 * Whether the fine-tunes read shared encodings: their encoder is frozen, runs in float32, memory
 * for them is allowed, and their images are the same every epoch (a built-in set: a streamed
 * set's training images are cropped anew each epoch, so no encoding can be computed once).
 */
function sharesEncodings(plan: ExperimentPlan): boolean {
  const cfg = plan.finetune;
  return typeof plan.dataset === 'string' && !cfg.trainWholeAe && cfg.speed.autocast === undefined && cfg.encodingCacheMiB > 0;
}

/**
 * Key fields every training job shares: `seed` is the job's training seed; a replicate's jobs
 * also name the seed of the data split and evaluation set (dataSeed) when it differs.
 */
function trainingSlice(plan: ExperimentPlan, seed: number): TrainingSlice {
  return { dataset: dataIdentityOnce(plan), seed, ...(seed === plan.seed ? {} : { dataSeed: plan.seed }), device: plan.device, trainLimit: plan.trainLimit };
}

const identities = new WeakMap<ExperimentPlan, Json>();

/** dataIdentity lists an image folder: once per plan. */
function dataIdentityOnce(plan: ExperimentPlan): Json {
  if (!identities.has(plan)) identities.set(plan, dataIdentity(plan));
  return identities.get(plan)!;
}
