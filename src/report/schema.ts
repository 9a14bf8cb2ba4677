// results.json: everything a run measured, as plain data with a versioned schema. The report,
// the CSVs and the terminal summary are all rendered from it (and the picture files).
import { z } from 'zod';

/** 2: run.engine holds the full engine identity (BLAS, oneDNN, CPU vector ISA, build), run.mixedEngines added. */
export const RESULTS_SCHEMA_VERSION = 2;

const share = z.number().min(0).max(1);
const accuracy = z.object({ top1: share, top5: share.nullable() });
const curve = z
  .object({ step: z.array(z.number()), loss: z.array(z.number()) })
  .refine((c) => c.step.length === c.loss.length, { message: 'step and loss must have the same length' });
const matrix = z.array(z.array(z.number()));
/** What computed the numbers: libtorch, its build's BLAS, the BLAS loaded, oneDNN, CPU vector ISA, devices, threads. */
const engine = z.object({
  torchVersion: z.string(),
  buildBlas: z.string(),
  blas: z.string(),
  onednn: z.boolean(),
  cpuCapability: z.string(),
  cuda: z.boolean(),
  cudnn: z.boolean(),
  threads: z.number().int().positive(),
});
const channelHistogram = z
  .object({ name: z.string(), range: z.tuple([z.number(), z.number()]), original: z.array(z.number()), reconstruction: z.array(z.number()) })
  .refine((h) => h.range[0] < h.range[1], { message: 'range must be [low, high] with low < high' })
  .refine((h) => h.original.length > 0 && h.original.length === h.reconstruction.length, { message: 'original and reconstruction need the same, non-zero number of bins' });

export const ResultsSchema = z
  .object({
    schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
    tool: z.object({ name: z.literal('s2snets'), version: z.string() }),
    /** ISO 8601 time the results were assembled. */
    createdAt: z.string(),
    run: z.object({
      dataset: z.string(),
      imageSize: z.number().int().positive(),
      channels: z.number().int().positive(),
      classes: z.array(z.string()).min(2),
      seed: z.number().int(),
      device: z.string(),
      /** The engine that made the evaluation. */
      engine,
      /** Finished jobs made by an engine that differs from `engine` in a way that can change results (kept with --accept-engine-change); null: not recorded. */
      mixedEngines: z.array(z.object({ job: z.string(), engine: engine.nullable() })),
      evalSamples: z.number().int().positive(),
      skippedInputs: z.number().int().min(0),
      /** Wall time per job, seconds (jobs reused from an earlier invocation keep their first time). */
      durations: z.record(z.string(), z.number().min(0)),
      /** The configuration the run was made with, as given to the pipeline. */
      plan: z.unknown(),
    }),
    classifiers: z.array(
      z.object({ name: z.string(), family: z.string(), parameters: z.number().int().min(0), accuracy: z.object({ original: accuracy, generic: accuracy, own: accuracy }) }),
    ),
    /** A_S first, then one `S2S-<classifier>` per classifier; the order of crossEvaluation.rows. */
    autoencoders: z.array(z.object({ name: z.string(), psnr: z.number(), intraNmi: z.number(), interNmi: z.number(), gridEnergy: z.number() })),
    /** top1[i][j]: classifier columns[j] on the reconstructions of AE rows[i]; delta = top1 - original[j]. */
    crossEvaluation: z.object({ rows: z.array(z.string()), columns: z.array(z.string()), top1: matrix, original: z.array(share), delta: matrix }),
    order: z.object({
      ranking: z.array(z.string()),
      wins: z.record(z.string(), z.number()),
      isTotal: z.boolean(),
      violations: z.array(z.object({ kind: z.enum(['tie', 'cycle']), description: z.string(), classifiers: z.array(z.string()) })),
      rule: z.string(),
      epsilon: z.number(),
    }),
    /** How the NMI values were estimated. */
    nmi: z.object({ bins: z.number().int().positive(), interPairs: z.number().int().min(0), normalization: z.string() }),
    /** Per autoencoder, per channel (CIELAB L*, a*, b* or grayscale intensity): shares of pixels per bin. */
    histograms: z.record(z.string(), z.array(channelHistogram)),
    /** Training loss curves per job. */
    curves: z.record(z.string(), curve),
    figures: z.array(z.object({ id: z.string(), file: z.string(), caption: z.string() })),
  })
  .superRefine((r, ctx) => {
    // The cross matrix is read by row and column name everywhere: its shape must match them.
    const { rows, columns, top1, delta, original } = r.crossEvaluation;
    const sized = (m: number[][], key: string) => {
      if (m.length !== rows.length) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', key], message: `has ${m.length} rows, expected ${rows.length} (one per entry of rows)` });
      m.forEach((row, i) => {
        if (row.length !== columns.length) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', key, i], message: `has ${row.length} values, expected ${columns.length} (one per entry of columns)` });
      });
    };
    sized(top1, 'top1');
    sized(delta, 'delta');
    if (original.length !== columns.length) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', 'original'], message: `has ${original.length} values, expected ${columns.length}` });
    const names = r.classifiers.map((c) => c.name);
    if (names.join('\u0000') !== columns.join('\u0000')) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', 'columns'], message: `must list the classifiers in order (${names.join(', ')})` });
    const ranked = new Set(r.order.ranking);
    for (const n of names) if (!ranked.has(n)) ctx.addIssue({ code: 'custom', path: ['order', 'ranking'], message: `does not rank classifier '${n}'` });
  });

export type Results = z.infer<typeof ResultsSchema>;
export type ClassifierResult = Results['classifiers'][number];
export type AutoencoderResult = Results['autoencoders'][number];
export type CrossEvaluation = Results['crossEvaluation'];
export type ChannelHistogram = Results['histograms'][string][number];
export type LossCurve = Results['curves'][string];

export class ResultsError extends Error {
  override name = 'ResultsError';
}

/** Checks parsed JSON against the schema; the error names the wrong fields (the first three). */
export function validateResults(json: unknown, source = 'results.json'): Results {
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (typeof version === 'number' && version < RESULTS_SCHEMA_VERSION) {
    throw new ResultsError(`${source} has results schema v${version}, written by an earlier s2snets; this version reads v${RESULTS_SCHEMA_VERSION}: run \`s2snets report RUN\` to rewrite it`);
  }
  const r = ResultsSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues;
    const listed = issues.slice(0, 3).map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
    throw new ResultsError(`${source} does not match the results schema v${RESULTS_SCHEMA_VERSION}: ${listed.join('; ')}${more}`);
  }
  return r.data;
}
