// The encode job kind: A_S's frozen encoder, prepared as the fine-tunes' speed options prepare it,
// encodes the fine-tunes' training and check images once, in position order, into one file
// every fine-tune of that A_S reads. On the demo each fine-tune spent about a quarter of its
// steps' time in the encoder (NOTES.md).
import { join } from 'node:path';
import { noGrad } from '../engine/index.js';
import { readWhole } from '../data/index.js';
import { encodeAll, encodingBytesPerImage, loadEncodings, saveEncodings, type EncodingCache, type EncodingSource } from '../train/encoding-cache.js';
import { frozenEncoder, speedLayout } from '../train/speed.js';
import type { Json } from '../common/json.js';
import type { JobContext, JobSpec } from '../scheduler/job-graph.js';
import { indexFileOf, sliceData, type IndexOutput } from './inputs.js';
import { loadWeightsInto } from './classifier-sources.js';
import { finetuneSplit } from './finetune-split.js';
import { GENERIC_AE } from './names.js';
import type { PretrainJob } from './pretrain-job.js';
import { buildAutoencoder } from './reconstructor.js';
import { hashed, seedTag, type KindJob, type TrainingSlice } from './job-common.js';

export interface EncodingsOutput {
  [k: string]: Json;
  /** The encodings file; null when they would take more than the plan's finetune.encodingCacheMiB (each fine-tune then runs the encoder). */
  file: string | null;
  /** Training plus check images encoded (or that would have been). */
  images: number;
  /** Why there is no file; null when there is one. */
  skipped: string | null;
}

/** What the encodings depend on beyond A_S (whose key the job's holds): the fine-tunes' encoder layout, batch size, check set and memory cap. */
export type EncodeConfig = TrainingSlice & {
  encode: { speed: { foldFrozenBn: boolean; channelsLast: boolean }; batchSize: number; checkSamples: number | null; maxMiB: number };
};

export interface EncodePayload {
  config: EncodeConfig;
}

export type EncodeJob = KindJob<EncodingsOutput, EncodePayload>;

/**
 * The job that encodes the fine-tunes' images with A_S's frozen encoder.
 * @param payload its config (the key)
 * @param index the streamed dataset's index job, null for a built-in dataset
 * @param pretrain the A_S job (its stages come from its key)
 * @example const encode = encodeJob({ config }, null, pretrain);
 */
export function encodeJob(payload: EncodePayload, index: JobSpec<IndexOutput> | null, pretrain: PretrainJob): EncodeJob {
  const { config: cfg } = payload;
  const { speed, batchSize, checkSamples, maxMiB } = cfg.encode;
  const stages = pretrain.payload.config.ae.stages;
  return {
    name: `encode[${GENERIC_AE}]${seedTag(cfg)}`,
    deps: [...(index ? [index] : []), pretrain],
    config: hashed(cfg),
    payload,
    async run(ctx) {
      const data = await sliceData(cfg, indexFileOf(ctx, index));
      const { fixed, check } = finetuneSplit(checkSamples, cfg.dataSeed ?? cfg.seed, data);
      const sets = check ? { train: fixed, check } : { train: fixed };
      const images = Object.values(sets).reduce((n, d) => n + d.length, 0);
      const bytes = images * encodingBytesPerImage({ inChannels: data.channels, stages }, data.size, data.size);
      if (bytes > maxMiB * 2 ** 20) {
        return { file: null, images, skipped: `the encodings of ${images} images would take ${Math.ceil(bytes / 2 ** 20)} MiB, more than the ${maxMiB} MiB allowed for them` };
      }
      const ae = buildAutoencoder(stages, data.channels).to({ device: cfg.device });
      loadWeightsInto(ae, join(ctx.input(pretrain), ctx.output(pretrain).weights), cfg.device);
      ae.encoder.freeze().eval();
      const encoder = frozenEncoder(ae, speed);
      const layout = speedLayout(speed);
      const caches: Record<string, EncodingCache> = {};
      try {
        for (const [name, d] of Object.entries(sets)) {
          // Built-in sets only (the graph adds this job for them alone): their images are in memory already.
          const { x, y } = await readWhole(d);
          caches[name] = encodeAll(x, batchSize, (b) => noGrad(() => encoder.encode(layout(b))), { channelsLast: speed.channelsLast, device: cfg.device });
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

/**
 * A fine-tune's shared encodings (null when the encode job skipped them), on the fine-tune's device.
 * @param ctx the fine-tune's context
 * @param job the encode job it depends on
 * @param o the fine-tune's layout and device
 * @example const shared = readEncodings(ctx, encodings, { channelsLast: false, device: 'cpu' });
 */
export function readEncodings(ctx: Pick<JobContext, 'input' | 'output'>, job: JobSpec<EncodingsOutput>, o: { channelsLast: boolean; device: string }): Record<string, EncodingSource> | null {
  const file = ctx.output(job).file;
  return file ? loadEncodings(join(ctx.input(job), file), o) : null;
}
