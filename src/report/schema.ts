// results.json: everything a run measured, as plain data with a versioned schema. The report,
// the CSVs and the terminal summary are all rendered from it (and the picture files).
import { z } from 'zod';

export const RESULTS_SCHEMA_VERSION = 1;

const accuracy = z.object({ top1: z.number().min(0).max(1), top5: z.number().min(0).max(1).nullable() });
const curve = z.object({ step: z.array(z.number()), loss: z.array(z.number()) });
const matrix = z.array(z.array(z.number()));

export const ResultsSchema = z.object({
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('s2snets'), version: z.string() }),
  createdAt: z.string(),
  run: z.object({
    dataset: z.string(),
    imageSize: z.number().int().positive(),
    channels: z.number().int().positive(),
    classes: z.array(z.string()).min(2),
    seed: z.number().int(),
    device: z.string(),
    engine: z.object({ torchVersion: z.string(), threads: z.number(), cuda: z.boolean() }),
    evalSamples: z.number().int().positive(),
    skippedInputs: z.number().int().min(0),
    /** Wall time per job, seconds (jobs reused from an earlier invocation keep their first time). */
    durations: z.record(z.string(), z.number()),
    plan: z.unknown(),
  }),
  classifiers: z.array(
    z.object({ name: z.string(), family: z.string(), parameters: z.number().int(), accuracy: z.object({ original: accuracy, generic: accuracy, own: accuracy }) }),
  ),
  autoencoders: z.array(z.object({ name: z.string(), psnr: z.number(), intraNmi: z.number(), interNmi: z.number(), gridEnergy: z.number() })),
  crossEvaluation: z.object({ rows: z.array(z.string()), columns: z.array(z.string()), top1: matrix, original: z.array(z.number()), delta: matrix }),
  order: z.object({
    ranking: z.array(z.string()),
    wins: z.record(z.string(), z.number()),
    isTotal: z.boolean(),
    violations: z.array(z.object({ kind: z.enum(['tie', 'cycle']), description: z.string(), classifiers: z.array(z.string()) })),
    rule: z.string(),
    epsilon: z.number(),
  }),
  nmi: z.object({ bins: z.number().int(), interPairs: z.number().int(), normalization: z.string() }),
  histograms: z.record(z.string(), z.array(z.object({ name: z.string(), range: z.tuple([z.number(), z.number()]), original: z.array(z.number()), reconstruction: z.array(z.number()) }))),
  curves: z.record(z.string(), curve),
  figures: z.array(z.object({ id: z.string(), file: z.string(), caption: z.string() })),
});

export type Results = z.infer<typeof ResultsSchema>;

export class ResultsError extends Error {
  override name = 'ResultsError';
}

/** Checks parsed JSON against the schema; the error names the first wrong field. */
export function validateResults(json: unknown, source = 'results.json'): Results {
  const r = ResultsSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ResultsError(`${source}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return r.data;
}
