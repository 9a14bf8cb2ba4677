// The reconstruction job kind: one autoencoder of the run (A_S, an S2SNet or a control)
// reconstructs the fixed evaluation set, stored as uint8 pixels for the evaluation and the viewer.
import { join } from 'node:path';
import { noGrad, tidy, type Tensor } from '../engine/index.js';
import { openRowWriter, openRows, SafetensorsError } from '../nn/index.js';
import { mean, psnrEach } from '../analysis/index.js';
import { inOrder, normalize } from '../data/index.js';
import type { Json } from '../common/json.js';
import type { JobContext, JobSpec } from '../scheduler/job-graph.js';
import { indexFileOf, sliceEvaluationData, type ExperimentData, type IndexOutput } from './inputs.js';
import type { AutoencoderOutput, PretrainJob } from './pretrain-job.js';
import { loadReconstructor, type Reconstructor } from './reconstructor.js';
import { hashed, imagesPerS, seedTag, type JobSettings, type KindJob, type TrainingSlice } from './job-common.js';

export interface ReconstructionOutput {
  [k: string]: Json;
  file: string;
  autoencoder: string;
  /** Mean PSNR (dB) of the reconstructions against the originals, in [0, 1] pixel space. */
  psnr: number;
}

/** Which autoencoder reconstructs how many evaluation images. */
export type ReconstructionConfig = TrainingSlice & { autoencoder: string; evalSamples: number };

export interface ReconstructionPayload {
  config: ReconstructionConfig;
  settings: JobSettings;
}

export type ReconstructionJob = KindJob<ReconstructionOutput, ReconstructionPayload>;

/** Where a reconstruction job keeps its images: uint8 pixels [N, C, H, W] (what a viewer shows; 1/4 of float32). */
export const RECONSTRUCTIONS_FILE = 'reconstructions.safetensors';

/**
 * The job that reconstructs the evaluation set with one autoencoder.
 * @param payload its config (the key) and settings
 * @param deps the index job, the autoencoder's job, and A_S's job (whose key, part of the autoencoder's, holds the SegNet's stages)
 * @example reconstructionJob({ config, settings }, { index: null, autoencoder: finetune, pretrain })
 */
export function reconstructionJob(payload: ReconstructionPayload, deps: { index: JobSpec<IndexOutput> | null; autoencoder: JobSpec<AutoencoderOutput>; pretrain: PretrainJob }): ReconstructionJob {
  const { config: cfg, settings } = payload;
  const { index, autoencoder } = deps;
  const arch = { stages: deps.pretrain.payload.config.ae.stages, device: cfg.device };
  return {
    name: `reconstruct[${cfg.autoencoder}]${seedTag(cfg)}`,
    deps: [...(index ? [index] : []), autoencoder],
    config: hashed(cfg),
    // 2: reconstructions stored as uint8 pixels, written a batch at a time.
    codeVersion: '2',
    payload,
    async run(ctx) {
      const data = await sliceEvaluationData(cfg, cfg.evalSamples, indexFileOf(ctx, index));
      const ae = loadReconstructor(arch, data.channels, join(ctx.input(autoencoder), ctx.output(autoencoder).weights));
      try {
        const started = performance.now();
        const psnr = await writeReconstructions(ctx, { batchSize: settings.evalBatchSize, device: cfg.device }, data, ae);
        ctx.setMetrics({ psnr, imagesPerS: imagesPerS(data.eval.length, (performance.now() - started) / 1000) });
        return { file: RECONSTRUCTIONS_FILE, autoencoder: cfg.autoencoder, psnr };
      } finally {
        ae.dispose();
      }
    },
  };
}

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
async function writeReconstructions(ctx: JobContext, o: { batchSize: number; device: string }, data: ExperimentData, ae: Reconstructor): Promise<number> {
  const n = data.eval.length;
  const writer = openRowWriter(join(ctx.dir, RECONSTRUCTIONS_FILE), 'images', 'uint8', [n, data.channels, data.size, data.size]);
  const psnr: number[] = [];
  const t0 = performance.now();
  try {
    for await (const { start, batch } of inOrder(data.eval, o)) {
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
