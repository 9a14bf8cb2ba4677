// The S2SNets experiment as a job graph:
//   classifier[name] ───────────────────┐
//   pretrain (A_S) ─> encode (A_S) ─────┴─> finetune[name] ─> reconstruct[ae] ─> evaluate ─> report
// (encode: the frozen encoder's outputs for the fine-tunes' images, computed once for all of them)
// Each job writes its own artifact (weights, reconstructions, metrics); the run store reuses
// finished jobs, so a rerun resumes and a changed setting recomputes only what depends on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, noGrad, tidy, type Tensor } from '../engine/index.js';
import { encodeSafetensors, inferenceForward, openRowWriter, openRows, SafetensorsError, type Module } from '../nn/index.js';
import { writeFileAtomic } from '../common/atomic.js';
import { SegNet } from '../models/segnet.js';
import { buildClassifier } from '../models/classifiers.js';
import { trainClassifier } from '../train/classifier.js';
import { pretrainAutoencoder } from '../train/autoencoder.js';
import { finetuneDecoder, type FinetuneStop, type FinetuneTargets } from '../train/finetune.js';
import { encodeAll, encodingBytesPerImage, loadEncodings, saveEncodings, type EncodingCache, type EncodingSource } from '../train/encoding-cache.js';
import { frozenEncoder, speedLayout } from '../train/speed.js';
import { splitBatches } from '../train/sampler.js';
import { accuracyOf, batchPredictions, mean, psnrEach, type Accuracy, type Forward } from '../analysis/index.js';
import { deriveSeed, inOrder, normalize, randomTranslate, readWhole, Rng, stratifiedSample, type ImageSplit } from '../data/index.js';
import type { CheckpointStore, LossCurve, StepProgress, TrainLoopResult } from '../train/loop.js';
import { loadSegNetWeights } from '../import/segnet-weights.js';
import type { JobContext, JobSpec, Json } from './jobs.js';
import { dataIdentity, indexJob, jobData, type ExperimentData, type IndexOutput } from './inputs.js';
import type { ClassifierEntry, ExperimentPlan } from './plan.js';
import { familyOf, fileDigest, importedFile, loadWeightsInto, openClassifier } from './classifiers.js';

import { GENERIC_AE, aeName } from './names.js';

export { GENERIC_AE, aeName };

/** Bridges the training loop's checkpoints to the run store's atomic checkpoint directory. */
function jobCheckpoint(ctx: JobContext, every: number): CheckpointStore {
  const file = 'train.safetensors';
  return {
    every,
    save: (chunks) => ctx.checkpoint.save(`train`, { [file]: chunks }),
    load: () => {
      const c = ctx.checkpoint.load();
      return c ? readFileSync(join(c.dir, file)) : null;
    },
    describe: `checkpoint of job ${ctx.key.slice(0, 12)}`,
  };
}

/** Training progress as the job's progress line, with its throughput (images a second since this attempt started). */
function progressTo(ctx: JobContext, batchSize: number): (p: StepProgress) => void {
  let first: number | null = null;
  return (p) => {
    first ??= p.step - 1;
    const rate = p.elapsedS > 0 ? Math.round(((p.step - first) * batchSize) / p.elapsedS) : 0;
    void ctx.progress(p.step / p.steps, `step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} ${rate} img/s`, { loss: p.loss });
  };
}

function saveModule(ctx: JobContext, file: string, m: Module, meta: Record<string, string> = {}): void {
  writeFileAtomic(join(ctx.dir, file), encodeSafetensors(m.stateDict(), meta));
}


export interface ClassifierOutput {
  [k: string]: Json;
  weights: string;
  family: string;
  parameters: number;
  top1: number;
  top5: number | null;
  /** Last training loss; null for imported classifiers (not trained here). */
  finalLoss: number | null;
  curve: { step: number[]; loss: number[] };
}

export interface AutoencoderOutput {
  [k: string]: Json;
  weights: string;
  /** Last training loss; null for an A_S taken unchanged from ae.weights (0 pretraining epochs). */
  finalLoss: number | null;
  curve: { step: number[]; loss: number[] };
}

/** How a decoder fine-tune ended. */
export interface FinetuneSummary {
  [k: string]: Json;
  /** The step budget, and the steps run before the convergence criterion stopped it. */
  budget: number;
  stepsRun: number;
  stop: FinetuneStop;
  converged: boolean;
  /** Classifier accuracy on the check set's originals and its reconstructions at the end; null without a criterion. */
  checkAccuracy: { original: number; reconstructed: number } | null;
}

export interface FinetuneOutput extends AutoencoderOutput {
  finetune: FinetuneSummary;
}

export interface EncodingsOutput {
  [k: string]: Json;
  /** The encodings file; null when they would take more than the plan's finetune.encodingCacheMiB (each fine-tune then runs the encoder). */
  file: string | null;
  /** Training plus check images encoded (or that would have been). */
  images: number;
  /** Why there is no file; null when there is one. */
  skipped: string | null;
}

export interface ReconstructionOutput {
  [k: string]: Json;
  file: string;
  autoencoder: string;
  /** Mean PSNR (dB) of the reconstructions against the originals, in [0, 1] pixel space. */
  psnr: number;
}

function curveJson(c: LossCurve): { step: number[]; loss: number[] } {
  return { step: c.step, loss: c.loss };
}

export function buildAutoencoder(plan: ExperimentPlan, data: ExperimentData): SegNet {
  return new SegNet({ inChannels: data.channels, stages: plan.ae.stages });
}

/** A trained autoencoder loaded for reconstructions only, and how to free its weights. */
export interface Reconstructor {
  /** Model inputs [N, C, H, W] -> reconstructions, contiguous; call under noGrad. */
  reconstruct(x: Tensor): Tensor;
  dispose(): void;
}

/**
 * Loads an autoencoder of the run for reconstructions only: eval mode, BatchNorms folded into the
 * convolutions and, on the CPU, NHWC layout (nn/fuse.ts inferenceForward; the SMALL_STAGES
 * forward at batch 250 takes 0.78x the time, the same output up to float rounding).
 * @param plan the run's plan (stages, device)
 * @param data the run's data (channels)
 * @param weights the autoencoder's safetensors file
 * @throws StateDictError when the file does not hold this plan's SegNet
 * @example
 * const ae = loadReconstructor(plan, data, join(ctx.input(job), ctx.output(job).weights));
 * const images = noGrad(() => ae.reconstruct(batch)); ae.dispose();
 */
export function loadReconstructor(plan: ExperimentPlan, data: ExperimentData, weights: string): Reconstructor {
  const ae = buildAutoencoder(plan, data).to({ device: plan.device });
  loadWeightsInto(ae, weights, plan.device);
  const reconstruct = inferenceForward(ae, { channelsLast: plan.device === 'cpu' });
  return { reconstruct, dispose: () => ae.stateDict().forEach((t) => t.dispose()) };
}

/** A plan whose negative control names no classifier of the plan. */
export class ControlPlanError extends Error {
  override name = 'ControlPlanError';
  readonly code = 'S2SNETS_CONTROL_NOT_A_CLASSIFIER';
}

export interface ExperimentJobs {
  /** A streamed dataset's index (null for built-in datasets); every job that reads images depends on it. */
  index: JobSpec<IndexOutput> | null;
  classifiers: Map<string, JobSpec<ClassifierOutput>>;
  pretrain: JobSpec<AutoencoderOutput>;
  /** The fine-tunes' shared encodings; null when the encoder is not frozen, autocast is on or encodingCacheMiB is 0. */
  encodings: JobSpec<EncodingsOutput> | null;
  finetunes: Map<string, JobSpec<FinetuneOutput>>;
  /** The negative-control AEs (permutedLabelsControlName), their reconstructions among `reconstructions`. */
  controls: string[];
  reconstructions: Map<string, JobSpec<ReconstructionOutput>>;
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
  return seed === plan.seed ? '' : ` seed ${seed}`;
}

/**
 * The training and reconstruction jobs of an experiment, for one replicate: replicate 0 is the
 * run itself; replicate r retrains the seed-dependent stages with the seeds of replicateSeeds,
 * sharing every job whose seed does not change (same key).
 */
export function experimentJobs(plan: ExperimentPlan, replicate = 0): ExperimentJobs {
  const seeds = replicateSeeds(plan, replicate);
  const common = commonConfig(plan, seeds.classifiers);
  const index = indexJob(plan, dataIdentityOnce(plan));
  const indexDeps = index ? [index] : [];

  const classifiers = new Map<string, JobSpec<ClassifierOutput>>();
  for (const entry of plan.classifiers) {
    classifiers.set(entry.name, 'zoo' in entry ? trainedClassifierJob(plan, index, entry, common, seeds.classifiers) : importedClassifierJob(plan, index, entry, commonConfig(plan, plan.seed)));
  }

  const initWeights = plan.ae.weights;
  const aeCommon = commonConfig(plan, seeds.ae);
  const pretrain: JobSpec<AutoencoderOutput> = {
    name: `pretrain[${GENERIC_AE}]${replicateTag(plan, seeds.ae)}`,
    deps: indexDeps,
    // The starting weights count by content, as imported classifiers do.
    config: { ...aeCommon, ae: { ...plan.ae, weights: initWeights && { file: initWeights, sha256: fileDigest(initWeights) } } as unknown as Json },
    async run(ctx) {
      const data = await jobData(plan, ctx, index);
      manualSeed(seeds.ae);
      const ae = buildAutoencoder(plan, data).to({ device: plan.device });
      if (initWeights) loadSegNetWeights(ae, initWeights);
      let result: TrainLoopResult | null = null;
      if (plan.ae.epochs > 0) {
        const batches = splitBatches(data.train, { batchSize: plan.ae.batchSize, seed: seeds.ae + 1, device: plan.device });
        result = await pretrainAutoencoder(ae, {
          ready: batches.ready,
          steps: pretrainSteps(plan, batches.stepsPerEpoch),
          lr: plan.ae.lr,
          channelsLast: plan.ae.channelsLast,
          seed: seeds.ae + 1,
          batch: batches.batch,
          checkpoint: jobCheckpoint(ctx, plan.checkpointEvery),
          signal: ctx.signal,
          onProgress: progressTo(ctx, plan.ae.batchSize),
        });
        ctx.setMetrics({ finalLoss: result.finalLoss });
      }
      ae.eval();
      saveModule(ctx, 'autoencoder.safetensors', ae, { stages: JSON.stringify(plan.ae.stages) });
      return { weights: 'autoencoder.safetensors', finalLoss: result?.finalLoss ?? null, curve: result ? curveJson(result.curve) : { step: [], loss: [] } };
    },
  };

  const encodings = sharesEncodings(plan) ? encodingsJob(plan, index, pretrain, aeCommon, replicateTag(plan, seeds.ae)) : null;

  // The fine-tune of one classifier's decoder; with 'permuted-labels' targets, the negative control.
  const finetuneJob = (entry: ClassifierEntry, targets: FinetuneTargets): JobSpec<FinetuneOutput> => {
    const name = entry.name;
    const clsJob = classifiers.get(name)!;
    const cfg = plan.finetune;
    return {
      name: `${targets === 'permuted-labels' ? 'finetune-permuted-labels' : 'finetune'}[${name}]${replicateTag(plan, seeds.finetune)}`,
      deps: [...indexDeps, pretrain, ...(encodings ? [encodings] : []), clsJob],
      config: { ...commonConfig(plan, seeds.finetune), classifier: name, ...(cfg as unknown as Record<string, Json>), targets },
      async run(ctx) {
        const data = await jobData(plan, ctx, index);
        manualSeed(seeds.finetune);
        const ae = buildAutoencoder(plan, data).to({ device: plan.device });
        loadWeightsInto(ae, join(ctx.input(pretrain), ctx.output(pretrain).weights), plan.device);
        const classifier = await openClassifier(entry, data, plan.device, classifierWeights(ctx, clsJob));
        const { train, check } = finetuneSplit(plan, data);
        const batches = splitBatches(train, { batchSize: cfg.batchSize, seed: seeds.finetune + 2, device: plan.device });
        const budget = cfg.epochs ? Math.max(1, Math.round(cfg.epochs * batches.stepsPerEpoch)) : cfg.steps;
        const shared = encodings && readEncodings(ctx, encodings, plan);
        if (encodings && !shared) ctx.log(`the frozen encoder runs at every step: ${ctx.output(encodings).skipped}`);
        const checkSet = check && cfg.convergence ? await readWhole(check, plan.device) : null;
        try {
          const result = await finetuneDecoder(ae, classifier, {
            name: `fine-tune ${name}`,
            steps: budget,
            convergence: checkSet && cfg.convergence ? { ...checkSet, ...cfg.convergence } : undefined,
            lr: cfg.lr,
            optimizer: cfg.optimizer,
            targets,
            classes: data.classNames.length,
            trainWholeAe: cfg.trainWholeAe,
            speed: cfg.speed,
            stopGradient: cfg.stopGradient,
            encodings: shared ? { train: shared.train, check: shared.check ?? null, positions: batches.positions } : undefined,
            seed: seeds.finetune + 2,
            batch: batches.batch,
            ready: batches.ready,
            checkpoint: jobCheckpoint(ctx, plan.checkpointEvery),
            signal: ctx.signal,
            onProgress: progressTo(ctx, cfg.batchSize),
          });
          saveModule(ctx, 'autoencoder.safetensors', ae, { classifier: name });
          ctx.setMetrics({ finalLoss: result.finalLoss, stepsRun: result.stepsRun, converged: result.converged });
          const finetune: FinetuneSummary = { budget, stepsRun: result.stepsRun, stop: result.stop, converged: result.converged, checkAccuracy: result.checkAccuracy };
          return { weights: 'autoencoder.safetensors', finalLoss: result.finalLoss, curve: curveJson(result.curve), finetune };
        } finally {
          for (const cache of Object.values(shared ?? {})) cache.dispose();
          for (const t of checkSet ? [checkSet.x, checkSet.y] : []) t.dispose();
        }
      },
    };
  };
  const finetunes = new Map(plan.classifiers.map((entry) => [entry.name, finetuneJob(entry, plan.finetune.targets)]));
  const controlEntry = plan.permutedLabelsControl === undefined ? undefined : plan.classifiers.find((c) => c.name === plan.permutedLabelsControl);
  if (plan.permutedLabelsControl !== undefined && !controlEntry) throw new ControlPlanError(`permutedLabelsControl names '${plan.permutedLabelsControl}', which is not among the classifiers (${plan.classifiers.map((c) => c.name).join(', ')}); name one of them`);
  const controls = new Map(controlEntry ? [[permutedLabelsControlName(controlEntry.name), finetuneJob(controlEntry, 'permuted-labels')]] : []);

  const reconstructions = new Map<string, JobSpec<ReconstructionOutput>>();
  const aeJobs: [string, JobSpec<AutoencoderOutput>][] = [
    [GENERIC_AE, pretrain],
    ...[...finetunes].map(([n, j]) => [aeName(n), j as JobSpec<AutoencoderOutput>] as [string, JobSpec<AutoencoderOutput>]),
    ...[...controls].map(([n, j]) => [n, j as JobSpec<AutoencoderOutput>] as [string, JobSpec<AutoencoderOutput>]),
  ];
  for (const [name, aeJob] of aeJobs) {
    reconstructions.set(name, {
      name: `reconstruct[${name}]${replicateTag(plan, name === GENERIC_AE ? seeds.ae : seeds.finetune)}`,
      deps: [...indexDeps, aeJob],
      config: { ...commonConfig(plan, name === GENERIC_AE ? seeds.ae : seeds.finetune), autoencoder: name, evalSamples: plan.evalSamples },
      // 2: reconstructions stored as uint8 pixels, written a batch at a time.
      codeVersion: '2',
      async run(ctx) {
        const data = await jobData(plan, ctx, index);
        const ae = loadReconstructor(plan, data, join(ctx.input(aeJob), ctx.output(aeJob).weights));
        try {
          const psnr = await writeReconstructions(ctx, plan, data, ae);
          ctx.setMetrics({ psnr });
          return { file: RECONSTRUCTIONS_FILE, autoencoder: name, psnr };
        } finally {
          ae.dispose();
        }
      },
    });
  }
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

/** Where a reconstruction job keeps its images: uint8 pixels [N, C, H, W] (what a viewer shows; 1/4 of float32). */
export const RECONSTRUCTIONS_FILE = 'reconstructions.safetensors';

/**
 * Model space to stored pixels: [0, 1] rounded to 8 bits, as the paper's released example
 * writes its reconstructions.
 * @param data the run's data (its de-normalization)
 * @param x model-space images
 * @example const u8 = toStoredPixels(data, ae.reconstruct(x));
 */
export function toStoredPixels(data: Pick<ExperimentData, 'toPixels'>, x: Tensor): Tensor {
  return tidy(() => data.toPixels(x).mul(255).round().to({ dtype: 'uint8', device: 'cpu' }));
}

/**
 * Reconstructs the evaluation set a batch at a time, appending each batch's pixels to the
 * artifact as it goes (memory holds a batch, never the set).
 * @returns the mean PSNR (dB) of the stored reconstructions against the originals
 */
async function writeReconstructions(ctx: JobContext, plan: ExperimentPlan, data: ExperimentData, ae: Reconstructor): Promise<number> {
  const n = data.eval.length;
  const writer = openRowWriter(join(ctx.dir, RECONSTRUCTIONS_FILE), 'images', 'uint8', [n, data.channels, data.size, data.size]);
  const psnr: number[] = [];
  const t0 = performance.now();
  try {
    for await (const { start, batch } of inOrder(data.eval, { batchSize: plan.evalBatchSize, device: plan.device })) {
      tidy(() => {
        const stored = toStoredPixels(data, noGrad(() => ae.reconstruct(batch.x)));
        writer.append(stored);
        psnr.push(...psnrEach(data.toPixels(batch.x).cpu(), stored.float().div(255)));
      });
      const done = start + batch.x.shape[0];
      for (const t of [batch.x, batch.y]) t.dispose();
      await ctx.progress(done / n, `${done}/${n} images, ${Math.round(done / ((performance.now() - t0) / 1000))} img/s`);
    }
    writer.commit();
  } catch (e) {
    writer.abort();
    throw e;
  }
  return mean(psnr);
}

/** Pretraining steps: the plan's epochs over the training set, but never fewer than its floor (small folders still get enough steps). */
export function pretrainSteps(plan: ExperimentPlan, stepsPerEpoch: number): number {
  return Math.max(plan.ae.minSteps, Math.max(1, Math.round(plan.ae.epochs * stepsPerEpoch)));
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
 * The encode job: A_S's frozen encoder, prepared as the fine-tunes' speed options prepare it,
 * encodes the fine-tunes' training and check images once, in position order, into one file
 * every fine-tune of that A_S reads. On the demo each fine-tune spent about a quarter of its
 * steps' time in the encoder (NOTES.md).
 */
function encodingsJob(plan: ExperimentPlan, index: JobSpec<IndexOutput> | null, pretrain: JobSpec<AutoencoderOutput>, aeCommon: JsonObject, tag: string): JobSpec<EncodingsOutput> {
  const cfg = plan.finetune;
  const speed = { foldFrozenBn: cfg.speed.foldFrozenBn ?? false, channelsLast: cfg.speed.channelsLast ?? false };
  return {
    name: `encode[${GENERIC_AE}]${tag}`,
    deps: [...(index ? [index] : []), pretrain],
    config: { ...aeCommon, encode: { speed, batchSize: cfg.batchSize, checkSamples: cfg.convergence?.samples ?? null, maxMiB: cfg.encodingCacheMiB } },
    async run(ctx) {
      const data = await jobData(plan, ctx, index);
      const { fixed, check } = finetuneSplit(plan, data);
      const sets = check ? { train: fixed, check } : { train: fixed };
      const images = Object.values(sets).reduce((n, d) => n + d.length, 0);
      const bytes = images * encodingBytesPerImage({ inChannels: data.channels, stages: plan.ae.stages }, data.size, data.size);
      if (bytes > cfg.encodingCacheMiB * 2 ** 20) {
        return { file: null, images, skipped: `the encodings of ${images} images would take ${Math.ceil(bytes / 2 ** 20)} MiB, more than the ${cfg.encodingCacheMiB} MiB allowed for them` };
      }
      const ae = buildAutoencoder(plan, data).to({ device: plan.device });
      loadWeightsInto(ae, join(ctx.input(pretrain), ctx.output(pretrain).weights), plan.device);
      ae.encoder.freeze().eval();
      const encoder = frozenEncoder(ae, speed);
      const layout = speedLayout(speed);
      const caches: Record<string, EncodingCache> = {};
      try {
        for (const [name, d] of Object.entries(sets)) {
          // Built-in sets only (sharesEncodings): their images are in memory already.
          const { x, y } = await readWhole(d);
          caches[name] = encodeAll(x, cfg.batchSize, (b) => noGrad(() => encoder.encode(layout(b))), { channelsLast: speed.channelsLast, device: plan.device });
          for (const t of [x, y]) t.dispose();
        }
        saveEncodings(join(ctx.dir, 'encodings.safetensors'), caches);
        ctx.setMetrics({ images, MiB: Math.ceil(bytes / 2 ** 20) });
      } finally {
        for (const cache of Object.values(caches)) cache.dispose();
        for (const m of new Set([ae, encoder])) m.stateDict().forEach((t) => t.dispose());
      }
      return { file: 'encodings.safetensors', images, skipped: null };
    },
  };
}

/** A fine-tune's shared encodings (null when the encode job skipped them), on the plan's device. */
function readEncodings(ctx: JobContext, job: JobSpec<EncodingsOutput>, plan: ExperimentPlan): Record<string, EncodingSource> | null {
  const file = ctx.output(job).file;
  return file ? loadEncodings(join(ctx.input(job), file), { channelsLast: plan.finetune.speed.channelsLast ?? false, device: plan.device }) : null;
}

/**
 * The fine-tunes' training images and their convergence check set: a seeded, stratified
 * `convergence.samples` of the training split, left out of the fine-tune's batches (check is
 * null when the plan has no convergence criterion; train is then the whole split). `fixed` is
 * `train` prepared as evaluation images are (no random crops), and so is the check set.
 */
function finetuneSplit(plan: ExperimentPlan, data: ExperimentData): { train: ImageSplit; fixed: ImageSplit; check: ImageSplit | null } {
  const c = plan.finetune.convergence;
  if (!c) return { train: data.train, fixed: data.trainFixed, check: null };
  const labels = Array.from(data.train.labels);
  const checkIdx = stratifiedSample(labels, data.classNames.length, Math.min(c.samples, Math.floor(labels.length / 4)), deriveSeed(plan.seed, 'finetune-check'));
  const inCheck = new Set(checkIdx);
  const trainIdx = labels.flatMap((_, i) => (inCheck.has(i) ? [] : [i]));
  return { train: data.train.subset(trainIdx), fixed: data.trainFixed.subset(trainIdx), check: data.trainFixed.subset(checkIdx) };
}

/**
 * Opens a finished reconstruction artifact for reading a block of images at a time.
 * @param dir the reconstruction job's artifact directory
 * @param out its output
 * @param data the run's data (its normalization)
 * @returns read(start, count): model-space images [count, C, H, W] on the CPU; close() when done
 * @throws SafetensorsError when the file is damaged or not a uint8 image tensor
 * @example const r = openReconstructions(dir, out, data); const first = r.read(0, 250); r.close();
 */
export function openReconstructions(dir: string, out: ReconstructionOutput, data: Pick<ExperimentData, 'mean' | 'std'>): { images: number; read(start: number, count: number): Tensor; pixels(start: number, count: number): Tensor; close(): void } {
  const rows = openRows(join(dir, out.file), 'images');
  if (rows.dtype !== 'uint8') {
    rows.close();
    throw new SafetensorsError(`${join(dir, out.file)}: reconstructions of an older s2snets (${rows.dtype}); rerun the run to recompute them`);
  }
  const pixels = (start: number, count: number) => tidy(() => rows.read(start, count).float().div(255));
  return {
    images: rows.rows,
    pixels,
    read: (start, count) => tidy(() => normalize(pixels(start, count), data.mean, data.std)),
    close: () => rows.close(),
  };
}

/**
 * Loads a finished reconstruction artifact whole (model-input space, on the CPU).
 * @param dir the reconstruction job's artifact directory
 * @param out its output
 * @param data the run's data (its normalization)
 * @example const recon = loadReconstructions(dir, out, data);
 */
export function loadReconstructions(dir: string, out: ReconstructionOutput, data: Pick<ExperimentData, 'mean' | 'std'>): Tensor {
  const r = openReconstructions(dir, out, data);
  try {
    return r.read(0, r.images);
  } finally {
    r.close();
  }
}

/** The weights file of a finished classifier job (null for imported models, which keep their own file). */
export function classifierWeights(ctx: Pick<JobContext, 'input' | 'output'>, job: JobSpec<ClassifierOutput>): string | undefined {
  const out = ctx.output(job);
  return out.weights ? join(ctx.input(job), out.weights) : undefined;
}

/**
 * A classifier's accuracy over a split, streamed a batch at a time (top-5 only above 5 classes).
 * @param forward the classifier
 * @param split the images
 * @param o batch size, device
 * @example const { top1 } = await splitAccuracy((x) => model.forward(x), data.test, { batchSize: 250, device: 'cpu' });
 */
export async function splitAccuracy(forward: Forward, split: ImageSplit, o: { batchSize: number; device: string }): Promise<Accuracy> {
  const top1: number[] = [];
  const top5: number[] = [];
  for await (const { batch } of inOrder(split, o)) {
    const logits = await noGrad(() => forward(batch.x));
    const p = batchPredictions(logits, batch.y);
    top1.push(...p.top1);
    if (p.top5Hit) top5.push(...p.top5Hit);
    for (const t of [logits, batch.x, batch.y]) t.dispose();
  }
  return accuracyOf({ top1: Int32Array.from(top1), top5Hit: top5.length ? Uint8Array.from(top5) : null }, split.labels);
}

/** Test-split accuracy of a classifier (top-5 only above 5 classes). */
async function accuracies(model: Module, data: ExperimentData, plan: ExperimentPlan): Promise<{ top1: number; top5: number | null }> {
  const { top1, top5 } = await splitAccuracy((x) => model.forward(x), data.test, { batchSize: plan.evalBatchSize, device: plan.device });
  return { top1, top5 };
}

function trainedClassifierJob(plan: ExperimentPlan, index: JobSpec<IndexOutput> | null, entry: ClassifierEntry & { zoo: string }, common: JsonObject, seed: number): JobSpec<ClassifierOutput> {
  const { epochsFor, ...training } = plan.classifierTraining;
  // Only this model's own epochs enter its key: changing another model's leaves it reusable.
  const cfg = { ...training, epochs: epochsFor[entry.zoo] ?? training.epochs };
  return {
    name: `classifier[${entry.name}]${replicateTag(plan, seed)}`,
    deps: index ? [index] : [],
    config: { ...common, model: entry.zoo, ...cfg },
    async run(ctx) {
      const data = await jobData(plan, ctx, index);
      manualSeed(seed);
      const model = buildClassifier(entry.zoo, data.inputSpec).to({ device: plan.device });
      const batches = splitBatches(data.train, { batchSize: cfg.batchSize, seed, device: plan.device });
      // Each step's shift comes from its own seeded stream, so a resumed run draws the same ones.
      const augmented = (step: number) => {
        const b = batches.batch(step);
        const x = randomTranslate(b.x, cfg.augmentShift, new Rng(deriveSeed(seed, 'augment', step)));
        b.x.dispose();
        return { x, y: b.y };
      };
      const result = await trainClassifier(model, {
        name: `train ${entry.name}`,
        steps: Math.max(1, Math.round(cfg.epochs * batches.stepsPerEpoch)),
        lr: cfg.lr,
        optimizer: cfg.optimizer,
        channelsLast: cfg.channelsLast,
        seed,
        batch: augmented,
        ready: batches.ready,
        checkpoint: jobCheckpoint(ctx, plan.checkpointEvery),
        signal: ctx.signal,
        onProgress: progressTo(ctx, cfg.batchSize),
      });
      model.eval();
      const { top1, top5 } = await accuracies(model, data, plan);
      saveModule(ctx, 'classifier.safetensors', model, { model: entry.zoo });
      ctx.setMetrics({ top1, finalLoss: result.finalLoss });
      return { weights: 'classifier.safetensors', family: familyOf(entry), parameters: model.parameterCount(), top1, top5, finalLoss: result.finalLoss, curve: curveJson(result.curve) };
    },
  };
}

function importedClassifierJob(plan: ExperimentPlan, index: JobSpec<IndexOutput> | null, entry: ClassifierEntry, common: JsonObject): JobSpec<ClassifierOutput> {
  const file = importedFile(entry)!;
  return {
    name: `import[${entry.name}]`,
    deps: index ? [index] : [],
    // What the classifier takes is part of its identity; entries that name nothing keep their keys.
    config: { ...common, file, sha256: fileDigest(file), ...('input' in entry && entry.input ? { input: entry.input as unknown as Json } : {}) },
    async run(ctx) {
      const data = await jobData(plan, ctx, index);
      const model = await openClassifier(entry, data, plan.device, undefined, (line) => ctx.log(line));
      const { top1, top5 } = await accuracies(model, data, plan);
      return { weights: '', family: familyOf(entry), parameters: model.parameterCount(), top1, top5, finalLoss: null, curve: { step: [], loss: [] } };
    },
  };
}

type JsonObject = { [k: string]: Json };

/**
 * Key fields every training job shares: `seed` is the job's training seed; a replicate's jobs
 * also name the seed of the data split and evaluation set (dataSeed) when it differs.
 */
function commonConfig(plan: ExperimentPlan, seed: number): JsonObject {
  return { dataset: dataIdentityOnce(plan), seed, ...(seed === plan.seed ? {} : { dataSeed: plan.seed }), device: plan.device, trainLimit: plan.trainLimit };
}

const identities = new WeakMap<ExperimentPlan, Json>();

/** dataIdentity lists an image folder: once per plan. */
function dataIdentityOnce(plan: ExperimentPlan): Json {
  if (!identities.has(plan)) identities.set(plan, dataIdentity(plan));
  return identities.get(plan)!;
}

