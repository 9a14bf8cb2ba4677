// The pretraining job kind: A_S, the generic autoencoder, trained to reconstruct pixels (or
// taken from the plan's starting weights), the start of every fine-tune.
import { manualSeed } from '../engine/index.js';
import { loadSegNetWeights } from '../import/segnet-weights.js';
import { pretrainAutoencoder } from '../train/autoencoder.js';
import type { TrainLoopResult } from '../train/loop.js';
import { splitBatches } from '../train/sampler.js';
import type { Json } from '../common/json.js';
import type { JobSpec } from '../scheduler/job-graph.js';
import type { IndexOutput } from './inputs.js';
import { GENERIC_AE } from './names.js';
import type { ExperimentPlan } from './plan.js';
import { buildAutoencoder } from './reconstructor.js';
import { curveJson, jobCheckpoint, progressTo, saveModule, seedTag, trainingJob, trainingRate, type JobSettings, type KindJob, type TrainingSlice } from './job-common.js';

export interface AutoencoderOutput {
  [k: string]: Json;
  weights: string;
  /** Last training loss; null for an A_S taken unchanged from ae.weights (0 pretraining epochs). */
  finalLoss: number | null;
  curve: { step: number[]; loss: number[] };
}

/** The plan's A_S settings, its starting weights counted by content (as imported classifiers are). */
export type PretrainConfig = TrainingSlice & { ae: Omit<ExperimentPlan['ae'], 'weights'> & { weights?: { file: string; sha256: string } } };

export interface PretrainPayload {
  config: PretrainConfig;
  settings: JobSettings;
}

export type PretrainJob = KindJob<AutoencoderOutput, PretrainPayload>;

/**
 * The job that pretrains A_S.
 * @param payload its config (the key) and settings
 * @param index the streamed dataset's index job, null for a built-in dataset
 * @example const pretrain = pretrainJob({ config, settings }, null);
 */
export function pretrainJob(payload: PretrainPayload, index: JobSpec<IndexOutput> | null): PretrainJob {
  const { config: cfg, settings } = payload;
  const { ae: spec } = cfg;
  return trainingJob(`pretrain[${GENERIC_AE}]${seedTag(cfg)}`, payload, index, [], async (ctx, data) => {
    manualSeed(cfg.seed);
    const ae = buildAutoencoder(spec.stages, data.channels).to({ device: cfg.device });
    if (spec.weights) loadSegNetWeights(ae, spec.weights.file);
    let result: TrainLoopResult | null = null;
    // 0 epochs: the starting weights unchanged.
    if (spec.epochs !== 0) {
      const batches = splitBatches(data.train, { batchSize: spec.batchSize, seed: cfg.seed + 1, device: cfg.device });
      result = await pretrainAutoencoder(ae, {
        ready: batches.ready,
        steps: pretrainSteps(spec, batches.stepsPerEpoch),
        lr: spec.lr,
        channelsLast: spec.channelsLast,
        seed: cfg.seed + 1,
        batch: batches.batch,
        checkpoint: jobCheckpoint(ctx, settings.checkpointEvery),
        signal: ctx.signal,
        onProgress: progressTo(ctx, spec.batchSize),
      });
      ctx.setMetrics({ finalLoss: result.finalLoss, imagesPerS: trainingRate(result, spec.batchSize) });
    }
    ae.eval();
    saveModule(ctx, 'autoencoder.safetensors', ae, { stages: JSON.stringify(spec.stages) });
    return { weights: 'autoencoder.safetensors', finalLoss: result?.finalLoss ?? null, curve: result ? curveJson(result.curve) : { step: [], loss: [] } };
  });
}

/**
 * Pretraining steps: the plan's epochs over the training set, but never fewer than its floor
 * (small folders still get enough steps); without epochs (a length in images), the floor alone.
 * @param ae the plan's ae settings (epochs, minSteps)
 * @param stepsPerEpoch steps of one epoch over the training set
 * @example pretrainSteps({ epochs: 2, minSteps: 500 }, 100) // 500
 */
export function pretrainSteps(ae: Pick<ExperimentPlan['ae'], 'epochs' | 'minSteps'>, stepsPerEpoch: number): number {
  if (ae.epochs === null) return ae.minSteps;
  return Math.max(ae.minSteps, Math.max(1, Math.round(ae.epochs * stepsPerEpoch)));
}
