// The fine-tune job kind: the decoder of a copy of A_S trained through one frozen classifier,
// which makes that classifier's S2SNet; with permuted labels, the negative control.
import { join } from 'node:path';
import { manualSeed } from '../engine/index.js';
import { readWhole } from '../data/index.js';
import { finetuneDecoder, type FinetuneStop, type FinetuneTargets } from '../train/finetune.js';
import { splitBatches } from '../train/sampler.js';
import type { Json } from '../common/json.js';
import type { JobSpec } from '../scheduler/job-graph.js';
import type { IndexOutput } from './inputs.js';
import type { ExperimentPlan } from './plan.js';
import { loadWeightsInto, openClassifier } from './classifier-sources.js';
import { classifierWeights, type ClassifierJob } from './classifier-job.js';
import { readEncodings, type EncodeJob } from './encode-job.js';
import { finetuneSplit } from './finetune-split.js';
import type { AutoencoderOutput, PretrainJob } from './pretrain-job.js';
import { buildAutoencoder } from './reconstructor.js';
import { curveJson, jobCheckpoint, progressTo, saveModule, seedTag, trainingJob, trainingRate, type JobSettings, type KindJob, type TrainingSlice } from './job-common.js';

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

/** The plan's fine-tune settings, the classifier's name and the targets (labels, predictions or permuted labels). */
export type FinetuneConfig = TrainingSlice & { classifier: string } & Omit<ExperimentPlan['finetune'], 'targets'> & { targets: FinetuneTargets };

export interface FinetunePayload {
  config: FinetuneConfig;
  settings: JobSettings;
}

export type FinetuneJob = KindJob<FinetuneOutput, FinetunePayload>;

/** What a fine-tune starts from: A_S, the classifier it trains through, and A_S's shared encodings when there are any. */
export interface FinetuneDeps {
  index: JobSpec<IndexOutput> | null;
  pretrain: PretrainJob;
  encodings: EncodeJob | null;
  classifier: ClassifierJob;
}

/**
 * The job that fine-tunes a copy of A_S's decoder through one classifier.
 * @param payload its config (the key) and settings
 * @param deps the jobs it starts from (the SegNet's stages and the classifier's entry come from their keys)
 * @example const finetune = finetuneJob({ config, settings }, { index: null, pretrain, encodings: null, classifier });
 */
export function finetuneJob(payload: FinetunePayload, deps: FinetuneDeps): FinetuneJob {
  const { config: cfg, settings } = payload;
  const { index, pretrain, encodings, classifier: clsJob } = deps;
  const stages = pretrain.payload.config.ae.stages;
  const entry = clsJob.payload.entry;
  const name = cfg.classifier;
  const jobName = `${cfg.targets === 'permuted-labels' ? 'finetune-permuted-labels' : 'finetune'}[${name}]${seedTag(cfg)}`;
  return trainingJob(jobName, payload, index, [pretrain, ...(encodings ? [encodings] : []), clsJob], async (ctx, data) => {
    manualSeed(cfg.seed);
    const ae = buildAutoencoder(stages, data.channels).to({ device: cfg.device });
    loadWeightsInto(ae, join(ctx.input(pretrain), ctx.output(pretrain).weights), cfg.device);
    const classifier = await openClassifier(entry, data, cfg.device, classifierWeights(ctx, clsJob));
    const { train, check } = finetuneSplit(cfg.convergence?.samples ?? null, cfg.dataSeed ?? cfg.seed, data);
    const batches = splitBatches(train, { batchSize: cfg.batchSize, seed: cfg.seed + 2, device: cfg.device });
    const budget = cfg.epochs ? Math.max(1, Math.round(cfg.epochs * batches.stepsPerEpoch)) : cfg.steps;
    const shared = encodings && readEncodings(ctx, encodings, { channelsLast: cfg.speed.channelsLast ?? false, device: cfg.device });
    if (encodings && !shared) ctx.log(`the frozen encoder runs at every step: ${ctx.output(encodings).skipped}`);
    const checkSet = check && cfg.convergence ? await readWhole(check, cfg.device) : null;
    try {
      const result = await finetuneDecoder(ae, classifier, {
        name: `fine-tune ${name}`,
        steps: budget,
        convergence: checkSet && cfg.convergence ? { ...checkSet, ...cfg.convergence } : undefined,
        lr: cfg.lr,
        optimizer: cfg.optimizer,
        targets: cfg.targets,
        classes: data.classNames.length,
        trainWholeAe: cfg.trainWholeAe,
        speed: cfg.speed,
        stopGradient: cfg.stopGradient,
        encodings: shared ? { train: shared.train, check: shared.check ?? null, positions: batches.positions } : undefined,
        seed: cfg.seed + 2,
        batch: batches.batch,
        ready: batches.ready,
        checkpoint: jobCheckpoint(ctx, settings.checkpointEvery),
        signal: ctx.signal,
        onProgress: progressTo(ctx, cfg.batchSize),
      });
      saveModule(ctx, 'autoencoder.safetensors', ae, { classifier: name });
      ctx.setMetrics({ finalLoss: result.finalLoss, stepsRun: result.stepsRun, converged: result.converged, imagesPerS: trainingRate(result, cfg.batchSize) });
      const finetune: FinetuneSummary = { budget, stepsRun: result.stepsRun, stop: result.stop, converged: result.converged, checkAccuracy: result.checkAccuracy };
      return { weights: 'autoencoder.safetensors', finalLoss: result.finalLoss, curve: curveJson(result.curve), finetune };
    } finally {
      for (const cache of Object.values(shared ?? {})) cache.dispose();
      for (const t of checkSet ? [checkSet.x, checkSet.y] : []) t.dispose();
    }
  });
}
