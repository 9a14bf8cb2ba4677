// What the job kinds of an experiment share. A job kind is a function of its payload: the slice
// of the plan its key hashes (`config`, exactly the job's config), what it inherits from its
// dependencies' keys, and the settings that say how it runs but never what it computes. The
// plan itself never reaches a job, so a job cannot read a field its key does not hold
// (test/pipeline/job-payloads.test.ts checks that changing any other field leaves payloads and keys alone).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import type { Json } from '../common/json.js';
import { encodeSafetensors, type Module } from '../nn/index.js';
import type { CheckpointStore, LossCurve, StepProgress, TrainLoopResult } from '../train/loop.js';
import type { JobContext, JobSpec } from '../scheduler/job-graph.js';
import { indexFileOf, sliceData, type DataSlice, type IndexOutput, type TrainingData } from './inputs.js';

/**
 * How a job runs, not what it computes: left out of job keys, so a run may change them and keep
 * its artifacts. checkpointEvery: steps between training checkpoints (a resumed job continues
 * exactly where it stopped); evalBatchSize: images per forward-only batch (accuracies and
 * reconstructions; kernels may round differently at another batch size).
 */
export interface JobSettings {
  checkpointEvery: number;
  evalBatchSize: number;
}

/** A job built by a job kind, with the payload it was built from. */
export interface KindJob<TOut, P> extends JobSpec<TOut> {
  readonly payload: P;
}

/** Key fields every training job shares (the job's config holds them): the data and the device it trains on. */
export interface TrainingSlice extends DataSlice {
  device: string;
}

/**
 * A payload's config as the JSON a job key hashes.
 * @param config a job kind's config (plain data)
 * @example config: hashed(payload.config)
 */
export function hashed(config: object): Json {
  return config as Json;
}

/** The job's name with its seed when that is not the data's (replicates told apart in progress and status). */
export function seedTag(slice: Pick<DataSlice, 'seed' | 'dataSeed'>): string {
  return slice.dataSeed === undefined ? '' : ` seed ${slice.seed}`;
}

/**
 * Bridges the training loop's checkpoints to the run store's atomic checkpoint directory.
 * @param ctx the job's context
 * @param every steps between checkpoints
 * @example checkpoint: jobCheckpoint(ctx, settings.checkpointEvery)
 */
export function jobCheckpoint(ctx: JobContext, every: number): CheckpointStore {
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

/**
 * Training progress as the job's progress line; its throughput (images a second over this attempt's steps) goes along as imagesPerS.
 * @param ctx the job's context
 * @param batchSize images per step
 * @example onProgress: progressTo(ctx, cfg.batchSize)
 */
export function progressTo(ctx: JobContext, batchSize: number): (p: StepProgress) => void {
  return (p) => {
    const imagesPerS = p.elapsedS > 0 ? (p.stepsRun * batchSize) / p.elapsedS : 0;
    void ctx.progress(p.step / p.steps, `step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)}`, { loss: p.loss, imagesPerS });
  };
}

/**
 * A job's throughput for its metrics (`status` lists them): images per second, 3 significant digits.
 * @param images images the job processed (a training job: steps run in this process times the batch)
 * @param seconds the time they took
 * @example ctx.setMetrics({ imagesPerS: imagesPerS((r.stepsRun - r.resumedFrom) * batchSize, r.elapsedS) })
 */
export function imagesPerS(images: number, seconds: number): number {
  return seconds > 0 ? Number((images / seconds).toPrecision(3)) : 0;
}

/**
 * Images per second of a training loop's steps in this process (a resumed job counts from its checkpoint).
 * @param r the loop's result
 * @param batchSize images per step
 * @example ctx.setMetrics({ finalLoss: r.finalLoss, imagesPerS: trainingRate(r, 64) })
 */
export function trainingRate(r: Pick<TrainLoopResult, 'stepsRun' | 'resumedFrom' | 'elapsedS'>, batchSize: number): number {
  return imagesPerS((r.stepsRun - r.resumedFrom) * batchSize, r.elapsedS);
}

/**
 * Writes a module's weights into the job's output directory, atomically.
 * @param ctx the job's context
 * @param file the file name inside ctx.dir
 * @param m the module
 * @param meta safetensors metadata
 * @example saveModule(ctx, 'classifier.safetensors', model, { model: 'lenet5' })
 */
export function saveModule(ctx: JobContext, file: string, m: Module, meta: Record<string, string> = {}): void {
  writeFileAtomic(join(ctx.dir, file), encodeSafetensors(m.stateDict(), meta));
}

/**
 * A loss curve as JSON.
 * @param c the curve
 * @example curve: curveJson(result.curve)
 */
export function curveJson(c: LossCurve): { step: number[]; loss: number[] } {
  return { step: c.step, loss: c.loss };
}

/**
 * A job of a job kind that reads the run's training data: its key holds the payload's config, its
 * dependencies are the index job (streamed datasets) and `deps`, and `run` gets the data its
 * config names (sliceData).
 * @param name the job's name
 * @param payload what the job kind was given
 * @param index the streamed dataset's index job, null for a built-in dataset
 * @param deps the other jobs it needs
 * @param run the work, given the job's context and its data
 * @example return trainingJob(`pretrain[A_S]`, payload, index, [], async (ctx, data) => ({ ... }));
 */
export function trainingJob<TOut, P extends { config: TrainingSlice }>(
  name: string,
  payload: P,
  index: JobSpec<IndexOutput> | null,
  deps: JobSpec<any>[],
  run: (ctx: JobContext, data: TrainingData) => Promise<TOut>,
): KindJob<TOut, P> {
  return {
    name,
    deps: [...(index ? [index] : []), ...deps],
    config: hashed(payload.config),
    payload,
    run: async (ctx) => run(ctx, await sliceData(payload.config, indexFileOf(ctx, index))),
  };
}
