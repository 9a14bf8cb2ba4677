// results.json: everything a run measured, as plain data with a versioned schema. The report,
// the CSVs and the terminal summary are all rendered from it (and the picture files).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { S2SNetsError, ioReason } from '../common/errors.js';

/**
 * 3: claims over every ranking consistent with the order's established relations (a range of tau when the order is not total);
 * noise with per-image correctness stored beside the predictions.
 * 2: run.engine holds the full engine identity (BLAS, oneDNN, CPU vector ISA, build), run.mixedEngines added;
 * every estimate carries its 95 % interval (ci95), the order its pair shares, plus bootstrap, claims, noise and replicates;
 * per autoencoder colourShift and periodic, and planted and finetunes.
 */
export const RESULTS_SCHEMA_VERSION = 3;

// Uncertainty: an object holding estimated values has a sibling `ci95` object that maps each
// such value's key to its 95 % bootstrap interval [low, high], in the value's own shape (a
// matrix of intervals for a matrix, null where the value is null).
const share = z.number().min(0).max(1);
const interval = z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo <= hi, { message: 'an interval must be [low, high] with low <= high' });
const accuracy = z.object({ top1: share, top5: share.nullable(), ci95: z.object({ top1: interval, top5: interval.nullable() }) });
const kendall = z.object({
  tau: z.number().min(-1).max(1).nullable(),
  p: share.nullable(),
  method: z.enum(['exact', 'monte-carlo']),
  permutations: z.number().int().min(0),
  n: z.number().int().min(2),
});
/** One ranking of the classifiers (first = highest) and its test against a criterion. */
const rankedTest = z.object({ ranking: z.array(z.string()).min(2), test: kendall });
/** A claim over the rankings tested: the lowest and highest tau and what holds for every ranking (analysis/claims.ts). */
const claimTest = z
  .object({ conclusion: z.enum(['follows', 'runs-against', 'no-evidence', 'undecided', 'not-comparable']), low: rankedTest, high: rankedTest })
  .refine((c) => c.low.test.tau === null || c.high.test.tau === null || c.low.test.tau <= c.high.test.tau, { message: 'low must hold the lowest tau, high the highest' });
/** Mean and standard deviation of one figure across replicate seeds. */
const spread = z.object({ measure: z.string(), subject: z.string(), values: z.array(z.number()), mean: z.number(), sd: z.number().min(0) });
const curve = z
  .object({ step: z.array(z.number()), loss: z.array(z.number()) })
  .refine((c) => c.step.length === c.loss.length, { message: 'step and loss must have the same length' });
const matrix = z.array(z.array(z.number()));
/** What computed the numbers: libtorch, its build's BLAS, the BLAS loaded, oneDNN (and Winograd convolutions), CPU vector ISA, devices, threads. */
const engine = z.object({
  torchVersion: z.string(),
  buildBlas: z.string(),
  blas: z.string(),
  onednn: z.boolean(),
  cpuCapability: z.string(),
  cuda: z.boolean(),
  cudnn: z.boolean(),
  cudnnVersion: z.number().int().positive().nullable().optional(),
  tf32: z.object({ convolutions: z.boolean(), matmul: z.boolean() }).nullable().optional(),
  winograd: z.boolean().optional(),
  threads: z.number().int().positive(),
});
const channelHistogram = z
  .object({ name: z.string(), range: z.tuple([z.number(), z.number()]), original: z.array(z.number()), reconstruction: z.array(z.number()) })
  .refine((h) => h.range[0] < h.range[1], { message: 'range must be [low, high] with low < high' })
  .refine((h) => h.original.length > 0 && h.original.length === h.reconstruction.length, { message: 'original and reconstruction need the same, non-zero number of bins' });

const colourShift = z.object({
  castA: z.number(),
  castB: z.number(),
  castMagnitude: z.number().min(0),
  castAngle: z.number().min(0).max(360),
  chromaRatio: z.number().min(0),
  hueRotation: z.number().min(-180).max(180),
  lightnessShift: z.number(),
  meanDeltaE: z.number().min(0),
  /** Angles' intervals are unwrapped around the estimate and may leave [0, 360) or (-180, 180]. */
  ci95: z.object({
    castA: interval,
    castB: interval,
    castMagnitude: interval,
    castAngle: interval,
    chromaRatio: interval,
    hueRotation: interval,
    lightnessShift: interval,
    meanDeltaE: interval,
  }),
});
const periodic = z.object({
  period: z.number().int().min(2),
  db: z.number(),
  amplitude: z.number().min(0),
  byDirection: z.object({ horizontal: z.number(), vertical: z.number(), diagonal: z.number() }),
  ci95: z.object({ db: interval, amplitude: interval }),
});
const retention = z.object({
  paletteAgreement: share,
  shapeAgreement: share,
  meanDeltaE: z.number().min(0),
  maskIou: share,
  ci95: z.object({ paletteAgreement: interval, shapeAgreement: interval, meanDeltaE: interval, maskIou: interval }),
});
/** The carrier kept minus A_S's, paired over the same images (null for A_S itself). */
const carrierChange = z.object({ value: z.number().min(-1).max(1), ci95: interval }).nullable();

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
      z.object({
        name: z.string(),
        family: z.string(),
        parameters: z.number().int().min(0),
        /** What the classifier saw: images of height x width normalized with mean and std, resized from the data's size with `resize` (null: not resized; antialias: low-pass filtered, when shrinking). */
        input: z.object({
          height: z.number().int().positive(),
          width: z.number().int().positive(),
          mean: z.array(z.number()),
          std: z.array(z.number()),
          resize: z.enum(['bilinear', 'bicubic']).nullable(),
          antialias: z.boolean(),
        }),
        accuracy: z.object({ original: accuracy, generic: accuracy, own: accuracy }),
      }),
    ),
    /** A_S first, then one `S2S-<classifier>` per classifier; the order of crossEvaluation.rows. */
    autoencoders: z.array(
      z.object({
        name: z.string(),
        psnr: z.number(),
        intraNmi: z.number(),
        interNmi: z.number(),
        gridEnergy: z.number(),
        /** CIELAB colour shift against the originals (analysis/colour.ts); null for grayscale data. */
        colourShift: colourShift.nullable(),
        /** Power added at periods 2, 4, 8 (analysis/periodic.ts). */
        periodic: z.array(periodic),
        ci95: z.object({ psnr: interval, intraNmi: interval, interNmi: interval }),
      }),
    ),
    /** On a planted dataset, how each AE keeps the planted colour and shape (analysis/planted-retention.ts); null otherwise. */
    planted: z
      .object({
        carrier: z.enum(['shape', 'colour']),
        originals: retention,
        autoencoders: z.array(retention.extend({ name: z.string(), carrierChange })),
        /** Negative controls made from A_S's reconstructions (analysis/planted-retention.ts PLANTED_CONTROLS). */
        controls: z.array(retention.extend({ name: z.string(), drops: z.enum(['shape', 'colour']), carrierChange: carrierChange.unwrap() })),
      })
      .nullable(),
    /** How each decoder fine-tune ended: within its step budget by the convergence criterion, or not. */
    finetunes: z.array(
      z.object({
        classifier: z.string(),
        budget: z.number().int().positive(),
        stepsRun: z.number().int().positive(),
        stop: z.enum(['reached-original-accuracy', 'loss-plateau', 'step-budget', 'fixed-steps']),
        converged: z.boolean(),
        checkAccuracy: z.object({ original: share, reconstructed: share }).nullable(),
      }),
    ),
    /** top1[i][j]: classifier columns[j] on the reconstructions of AE rows[i]; delta = top1 - original[j] (paired intervals). */
    crossEvaluation: z.object({
      rows: z.array(z.string()),
      columns: z.array(z.string()),
      top1: matrix,
      original: z.array(share),
      delta: matrix,
      ci95: z.object({ top1: z.array(z.array(interval)), original: z.array(interval), delta: z.array(z.array(interval)) }),
    }),
    order: z.object({
      ranking: z.array(z.string()),
      wins: z.record(z.string(), z.number()),
      isTotal: z.boolean(),
      violations: z.array(z.object({ kind: z.enum(['uncertain', 'tie', 'cycle', 'chance']), description: z.string(), classifiers: z.array(z.string()) })),
      /** Per pair: the shares of bootstrap resamples with a above b, b above a and tied, and the relation established (>= level), if any. */
      pairs: z.array(z.object({ a: z.string(), b: z.string(), aAbove: share, bAbove: share, tie: share, established: z.enum(['a', 'b', 'tie']).nullable() })),
      rule: z.string(),
      epsilon: z.number().min(0),
      level: share,
      resamples: z.number().int().min(0),
    }),
    /** How the intervals were made: percentile bootstrap over the evaluation images (inter-NMI: over its pairs). */
    bootstrap: z.object({ resamples: z.number().int().positive(), seed: z.number().int(), level: share, method: z.literal('percentile') }),
    /**
     * The paper's claims that the order follows neither accuracy nor size, tested: Kendall's tau of
     * order position against each, over every ranking consistent with the order's established
     * relations (one ranking, one tau, when the order is total; a range otherwise). Null with one classifier.
     */
    claims: z
      .object({
        basis: z.enum(['total', 'partial']),
        /** Distinct rankings tested; enumerated: all consistent rankings (up to 8 classifiers), else a seeded sample. */
        rankings: z.number().int().positive(),
        enumerated: z.boolean(),
        /** Established relations (a above b) every ranking keeps. */
        relations: z.number().int().min(0),
        orderVsAccuracy: claimTest,
        orderVsSize: claimTest,
      })
      .refine((c) => c.basis === 'partial' || c.rankings === 1, { message: 'a total order is one ranking with one tau' })
      .nullable(),
    /**
     * Noise robustness: each classifier on the originals with Gaussian pixel noise of each sigma
     * (clipped to [0, 1]) and on its own S2SNet's reconstructions of the same noisy images.
     * Per classifier, noisy[k], own[k] and gain[k] = own[k] - noisy[k] belong to sigmas[k].
     */
    noise: z
      .object({
        sigmas: z.array(z.number().positive()),
        /** Images the test ran on: a seeded, stratified subset of the evaluation set. */
        samples: z.number().int().positive(),
        classifiers: z.array(
          z.object({
            name: z.string(),
            noisy: z.array(share),
            own: z.array(share),
            gain: z.array(z.number()),
            ci95: z.object({ noisy: z.array(interval), own: z.array(interval), gain: z.array(interval) }),
          }),
        ),
      })
      .nullable(),
    /** Replicate seeds (null for a single seed): every figure's mean and sd across seeds and how often the order's relations recur. */
    replicates: z
      .object({
        seeds: z.array(z.number().int()).min(2),
        /** true: classifiers and A_S were retrained per seed too; false: only the fine-tunes were. */
        repeatAll: z.boolean(),
        figures: z.array(spread),
        /** Per pair: in how many seeds a was established above b, b above a, or neither. */
        relations: z.array(z.object({ a: z.string(), b: z.string(), aAbove: z.number().int().min(0), bAbove: z.number().int().min(0), neither: z.number().int().min(0) })),
        /** Each distinct ranking with the number of seeds that gave it, and the number of seeds whose order was total. */
        rankings: z.array(z.object({ ranking: z.array(z.string()), seeds: z.number().int().positive(), total: z.number().int().min(0) })),
        /** Kendall's W of the rankings across seeds (1: identical). */
        kendallW: z.number().min(0).max(1).nullable(),
        /** Per measure: do its subjects differ beyond the seeds' spread? (analysis/replicates.ts Separation). Absent from older records. */
        separations: z
          .array(z.object({ measure: z.string(), subjects: z.number().int().min(2), betweenSd: z.number().min(0), seedSd: z.number().min(0), f: z.number().min(0), p: z.number().gt(0).max(1) }))
          .optional(),
      })
      .nullable(),
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
    const sized = (m: unknown[][], ...key: string[]) => {
      if (m.length !== rows.length) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', ...key], message: `has ${m.length} rows, expected ${rows.length} (one per entry of rows)` });
      m.forEach((row, i) => {
        if (row.length !== columns.length) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', ...key, i], message: `has ${row.length} values, expected ${columns.length} (one per entry of columns)` });
      });
    };
    sized(top1, 'top1');
    sized(delta, 'delta');
    sized(r.crossEvaluation.ci95.top1, 'ci95', 'top1');
    sized(r.crossEvaluation.ci95.delta, 'ci95', 'delta');
    if (original.length !== columns.length) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', 'original'], message: `has ${original.length} values, expected ${columns.length}` });
    const names = r.classifiers.map((c) => c.name);
    if (names.join('\u0000') !== columns.join('\u0000')) ctx.addIssue({ code: 'custom', path: ['crossEvaluation', 'columns'], message: `must list the classifiers in order (${names.join(', ')})` });
    const ranked = new Set(r.order.ranking);
    for (const n of names) if (!ranked.has(n)) ctx.addIssue({ code: 'custom', path: ['order', 'ranking'], message: `does not rank classifier '${n}'` });
  });

export type Results = z.infer<typeof ResultsSchema>;
export type ClassifierResult = Results['classifiers'][number];
export type AutoencoderResult = Results['autoencoders'][number];
export type FinetuneResultSummary = Results['finetunes'][number];
export type CrossEvaluation = Results['crossEvaluation'];
export type ChannelHistogram = Results['histograms'][string][number];
export type LossCurve = Results['curves'][string];
export type Interval = [number, number];
export type KendallResult = NonNullable<Results['claims']>['orderVsAccuracy']['low']['test'];
export type ClaimResults = NonNullable<Results['claims']>;
export type NoiseResults = NonNullable<Results['noise']>;
export type ReplicateResults = NonNullable<Results['replicates']>;

export class ResultsError extends S2SNetsError {
  override name = 'ResultsError';
  static override readonly codes = ['S2SNETS_RESULTS'] as const;
  static override readonly legacyCodes = { S2S_RESULTS: 'S2SNETS_RESULTS' };
}

/**
 * Checks parsed JSON against the schema; the error names the wrong fields (the first three).
 *
 * @param json Parsed results.json.
 * @param source Names the file in errors.
 * @throws ResultsError on a mismatch, and on results of an older schema version (with what to run).
 */
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

/**
 * Reads, parses and checks a results.json file; every error names the file.
 * @param path the file
 * @param source how errors name it (default: its path)
 * @throws ResultsError when it cannot be read, is not JSON, or does not match the schema
 * @example readResultsFile('runs/mnist/report/results.json').order.ranking
 */
export function readResultsFile(path: string, source = path): Results {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = e instanceof SyntaxError ? `not valid JSON (${e.message})` : `cannot read (${ioReason(e)})`;
    throw new ResultsError(`${source}: ${why}; rebuild it with \`s2snets report RUN\``);
  }
  return validateResults(json, source);
}
