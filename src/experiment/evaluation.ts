// The evaluation job: every measure of the paper, computed from the reconstructions of the
// fixed evaluation set. Its artifact (evaluation.json, pictures.json) is plain data from which
// the report is rendered, so a report can be rebuilt from the run store alone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import {
  AccuracyGridAccumulator,
  CI_LEVEL,
  claimsOverRankings,
  crossMatrixOf,
  gridUncertainty,
  NoiseRobustnessAccumulator,
  ReconstructionMeasures,
  totalOrder,
  type AccuracyInterval,
  type Forward,
  type PictureRow,
  type ReconstructionMeasuresResult,
  type TotalOrder,
} from '../analysis/index.js';
import { inOrder, normalize, readWhole, stratifiedSample } from '../data/index.js';
import { withInterval, type AutoencoderResult, type ChannelHistogram, type ClassifierResult, type CrossEvaluation, type Results } from '../report/index.js';
import type { JobContext, JobSpec, Json } from '../scheduler/job-graph.js';
import { jobData, type ExperimentData } from './inputs.js';
import { replicateTag, type ExperimentJobs } from './jobs.js';
import { aeName, GENERIC_AE } from './names.js';
import { classifierWeights } from './classifier-job.js';
import { loadReconstructor } from './reconstructor.js';
import { openReconstructions } from './reconstruction-job.js';
import { imagesPerS } from './job-common.js';
import { openClassifier, seenInput, type SeenInput } from './classifier-sources.js';
import { evaluationForward, type EvaluationForward } from './evaluation-forward.js';
import type { ExperimentPlan } from './plan.js';
import { datasetLabel } from './names.js';
import { EVALUATION_FILES, ORIGINAL_ROW, ReportSourceError, readPredictions, type EvaluationOutput, type StoredNoisePredictions, type StoredPredictions } from './evaluation-files.js';

export { EVALUATION_FILES, ORIGINAL_ROW, ReportSourceError, readPredictions, type EvaluationOutput, type StoredNoisePredictions, type StoredPredictions };
import type { Accuracy, AccuracyGrid, ImagePredictions } from '../analysis/accuracy.js';

import type { FinetuneSummary } from './finetune-job.js';

export interface Evaluation {
  /** Layout of evaluation.json; readEvaluation refuses older ones. */
  format: typeof EVALUATION_FORMAT;
  dataset: string;
  imageSize: number;
  channels: number;
  classes: string[];
  evalSamples: number;
  skippedInputs: number;
  plan: ExperimentPlan;
  classifiers: ClassifierResult[];
  autoencoders: AutoencoderResult[];
  /** On a planted dataset: how each AE keeps the planted colour and shape (`originals`: the measure on the originals themselves). */
  planted: Results['planted'];
  /** How each decoder fine-tune ended (see train/finetune.ts). */
  finetunes: ({ classifier: string } & FinetuneSummary)[];
  crossEvaluation: CrossEvaluation;
  order: TotalOrder;
  bootstrap: Results['bootstrap'];
  claims: Results['claims'];
  noise: Results['noise'];
  nmi: { bins: number; interPairs: number; normalization: string };
  histograms: Record<string, ChannelHistogram[]>;
  curves: Record<string, { step: number[]; loss: number[] }>;
}

/**
 * 2: intervals, order confidence, claims and noise robustness. 3: planted shape agreement, retention intervals, carrier change against A_S.
 * 4: claims over every ranking consistent with the order's established relations (and predictions.json holds the noise test's per-image predictions); each classifier's input.
 */
export const EVALUATION_FORMAT = 4;

/**
 * The per-image predictions of an accuracy grid as stored plain data (predictions.json).
 *
 * @param grid accuracyGrid's result.
 * @param noise The noise test's per-image predictions (null when it did not run).
 * @example
 * writeFileAtomic(join(dir, EVALUATION_FILES.predictions), JSON.stringify(storedPredictions(grid, noise.stored)));
 */
export function storedPredictions(grid: AccuracyGrid, noise: StoredNoisePredictions | null = null): StoredPredictions {
  const plain = (p: ImagePredictions) => ({ top1: Array.from(p.top1), top5Hit: p.top5Hit ? (Array.from(p.top5Hit) as (0 | 1)[]) : null });
  const row = (ps: ImagePredictions[]) => Object.fromEntries(grid.columns.map((c, j) => [c, plain(ps[j])]));
  return {
    labels: Array.from(grid.labels),
    rows: { [ORIGINAL_ROW]: row(grid.originalPredictions), ...Object.fromEntries(grid.rows.map((r, i) => [r, row(grid.predictions[i])])) },
    noise,
  };
}

/** Plain-data picture rows (pixels as base64) for the report. */
export interface StoredPictures {
  grid: PictureRow[];
  differences: PictureRow[];
}

/**
 * Noise robustness (the paper: S2SNets help under noise): each classifier on a seeded,
 * stratified subset of the evaluation originals with seeded Gaussian pixel noise of each sigma,
 * and on its own S2SNet's reconstructions of the same noisy images, with paired intervals of
 * the change; measured as the evaluation streams by (null when the plan has no sigmas).
 */
function noiseAccumulator(plan: ExperimentPlan, jobs: ExperimentJobs, ctx: JobContext, data: ExperimentData, classifiers: { name: string; forward: Forward }[]): { noise: NoiseRobustnessAccumulator; subset: number[]; close(): void } | null {
  const sigmas = plan.analysis.noiseSigmas;
  if (sigmas.length === 0) return null;
  // A seeded, stratified subset keeps the extra reconstructions within the time budget.
  const subset = stratifiedSample(Array.from(data.eval.labels), data.classNames.length, plan.analysis.noiseSamples, plan.seed + 11);
  const own = classifiers.map((c) => {
    const finetune = jobs.finetunes.get(c.name)!;
    return loadReconstructor({ stages: plan.ae.stages, device: plan.device }, data.channels, join(ctx.input(finetune), ctx.output(finetune).weights));
  });
  const noise = new NoiseRobustnessAccumulator(
    data.eval.length,
    classifiers.map((c, j) => ({ ...c, reconstruct: own[j].reconstruct })),
    { sigmas, seed: plan.seed, subset, toModelInput: (pixels) => normalize(pixels, data.mean, data.std), batchSize: plan.evalBatchSize, device: plan.device },
  );
  return { noise, subset, close: () => own.forEach((ae) => ae.dispose()) };
}

/**
 * The paper's claims that the order follows neither accuracy nor network size: Kendall's tau of
 * position in the order against accuracy on the originals and against parameter count, with
 * permutation p-values; over every ranking consistent with the order's established relations
 * when it is not total (analysis/claims.ts), so the answer never rests on a tie-break.
 *
 * @param order The order of the classifiers.
 * @param classifiers Names, parameter counts and accuracies on the originals.
 * @param seed Seed of the Monte Carlo permutations and ranking sample (beyond 8 classifiers).
 * @returns Both tests, or null with fewer than two classifiers.
 * @example
 * orderClaims(order, evaluation.classifiers, plan.seed)?.orderVsAccuracy.conclusion;
 */
export function orderClaims(order: TotalOrder, classifiers: Pick<ClassifierResult, 'name' | 'parameters' | 'accuracy'>[], seed: number): Results['claims'] {
  return claimsOverRankings(order, classifiers.map((c) => ({ name: c.name, accuracy: c.accuracy.original.top1, parameters: c.parameters })), seed);
}

export { datasetLabel };

/**
 * The evaluation job of one replicate's jobs (see experimentJobs).
 *
 * @param plan The run's plan.
 * @param jobs The training and reconstruction jobs it evaluates.
 * @param replicate 0 for the run itself; r for the replicate with training seeds seed + r.
 */
export function evaluationJob(plan: ExperimentPlan, jobs: ExperimentJobs, replicate = 0): JobSpec<EvaluationOutput> {
  return {
    name: `evaluate${replicateTag(plan, plan.seed + replicate)}`,
    deps: [...(jobs.index ? [jobs.index] : []), ...jobs.classifiers.values(), jobs.pretrain, ...jobs.finetunes.values(), ...jobs.reconstructions.values()],
    config: { analysis: plan.analysis as unknown as Json, evalBatchSize: plan.evalBatchSize },
    // 2: the artifact holds per-image predictions; 3: intervals, order confidence, claims, noise;
    // 4: planted shape agreement, retention intervals, carrier change against A_S;
    // 5: claims over the rankings consistent with the order, ties compared as counts, the noise
    // test's per-image predictions in predictions.json; reads uint8 reconstructions; streamed datasets; what each classifier saw;
    // 6: planted negative controls (derived and trained).
    codeVersion: '6',
    async run(ctx) {
      const classifiers: ({ name: string } & EvaluationForward)[] = [];
      try {
        return await evaluate(plan, jobs, ctx, classifiers);
      } finally {
        // ONNX Runtime sessions are freed on every path, a failed evaluation's too.
        for (const c of classifiers) await c.close();
      }
    },
  };
}

/** Images on which an imported ONNX classifier's ONNX Runtime forward must agree with the libtorch import. */
const AGREEMENT_IMAGES = 256;

/** Opens each classifier's evaluation forward into `classifiers` (the caller closes them); returns what each sees. */
async function openForwards(plan: ExperimentPlan, jobs: ExperimentJobs, ctx: JobContext, data: ExperimentData, classifiers: ({ name: string } & EvaluationForward)[]): Promise<SeenInput[]> {
  const first = Array.from({ length: Math.min(AGREEMENT_IMAGES, data.eval.length) }, (_, i) => i);
  const check = await readWhole(data.eval.subset(first));
  const inputs: SeenInput[] = [];
  try {
    for (const entry of plan.classifiers) {
      const model = await openClassifier(entry, data, plan.device, classifierWeights(ctx, jobs.classifiers.get(entry.name)!));
      inputs.push(seenInput(model, data));
      const forward = await evaluationForward(entry, model, { images: check.x, labels: check.y, batchSize: plan.evalBatchSize }, plan.device, (line) => ctx.log(line));
      classifiers.push({ name: entry.name, ...forward });
    }
  } finally {
    for (const t of [check.x, check.y]) t.dispose();
  }
  return inputs;
}

/** What one streaming pass over the evaluation set measures. */
interface StreamedMeasures {
  grid: AccuracyGrid;
  pixels: ReconstructionMeasuresResult;
  noise: { results: Results['noise']; stored: StoredNoisePredictions | null };
}

/**
 * One pass over the evaluation set, a batch at a time: the originals and every autoencoder's
 * stored reconstructions of the same images feed the accuracy grid, the pixel measures and the
 * noise test together; memory holds a batch and per-image values, never the set.
 */
async function measureStream(plan: ExperimentPlan, jobs: ExperimentJobs, ctx: JobContext, data: ExperimentData, classifiers: { name: string; forward: Forward }[], aeNames: string[]): Promise<StreamedMeasures> {
  const n = data.eval.length;
  const boot = { resamples: plan.analysis.bootstrapResamples, seed: plan.seed };
  const grid = new AccuracyGridAccumulator(n, aeNames, classifiers, { batchSize: plan.evalBatchSize, device: plan.device });
  // Negative controls are measured by the planted probes only, so only on a planted dataset.
  const controls = data.evalTruth ? jobs.controls : [];
  const measures = new ReconstructionMeasures(n, { names: aeNames, nmi: { bins: plan.analysis.nmiBins }, interPairs: plan.analysis.interPairs, seed: plan.seed, gridSamples: plan.analysis.gridSamples, truth: data.evalTruth ?? null, controls });
  const noise = noiseAccumulator(plan, jobs, ctx, data, classifiers);
  const open = (name: string) => openReconstructions(ctx.input(jobs.reconstructions.get(name)!), ctx.output(jobs.reconstructions.get(name)!), data);
  const recon = aeNames.map(open);
  const controlRecon = controls.map(open);
  const t0 = performance.now();
  try {
    for await (const { start, batch } of inOrder(data.eval, { batchSize: plan.evalBatchSize })) {
      const count = batch.x.shape[0];
      const originals = data.toPixels(batch.x);
      const rows = recon.map((r) => r.read(start, count));
      const rowPixels = recon.map((r) => r.pixels(start, count));
      const controlPixels = controlRecon.map((r) => r.pixels(start, count));
      await grid.add(batch.x, rows, batch.y);
      await noise?.noise.add(originals, batch.y);
      measures.add(originals, rowPixels, controlPixels);
      for (const t of [batch.x, batch.y, originals, ...rows, ...rowPixels, ...controlPixels]) t.dispose();
      const rate = Math.round((start + count) / ((performance.now() - t0) / 1000));
      await ctx.progress(0.05 + (0.85 * (start + count)) / n, `${start + count}/${n} images measured, ${rate} img/s`);
    }
  } finally {
    for (const r of [...recon, ...controlRecon]) r.close();
    noise?.close();
  }
  const stored = noise && { sigmas: plan.analysis.noiseSigmas, images: noise.subset, classifiers: noise.noise.predictions() };
  return { grid: grid.finish(), pixels: measures.finish(boot), noise: { results: noise?.noise.finish(boot) ?? null, stored } };
}

/** The evaluation job's work; `classifiers` receives each forward as it opens (the caller closes them). */
async function evaluate(plan: ExperimentPlan, jobs: ExperimentJobs, ctx: JobContext, classifiers: ({ name: string } & EvaluationForward)[]): Promise<EvaluationOutput> {
  const started = performance.now();
  const data = await jobData(plan, ctx, jobs.index);
  const inputs = await openForwards(plan, jobs, ctx, data, classifiers);
  const aeNames = [GENERIC_AE, ...plan.classifiers.map((c) => aeName(c.name))];
  await ctx.progress(0.05, 'cross-evaluation, noise robustness, NMI, histograms, colour shift, periodic artifacts');
  const { grid, pixels, noise } = await measureStream(plan, jobs, ctx, data, classifiers, aeNames);
  for (const c of classifiers) await c.close();
  const evaluation = assembleEvaluation(plan, jobFacts(plan, jobs, ctx), data, { grid, pixels, noise: noise.results, inputs });
  writeEvaluation(ctx.dir, evaluation, pixels.pictures, storedPredictions(grid, noise.stored));
  // Every measure of an image (all forwards, noise included) counts it once.
  ctx.setMetrics({ orderIsTotal: evaluation.order.isTotal, imagesPerS: imagesPerS(data.eval.length, (performance.now() - started) / 1000) });
  return { ...EVALUATION_FILES };
}

/** The one writer of an evaluation artifact: evaluation.json, the pictures and every prediction, each atomically (EVALUATION_FILES). */
function writeEvaluation(dir: string, evaluation: Evaluation, pictures: ReconstructionMeasuresResult['pictures'], predictions: StoredPredictions): void {
  const encodeRows = (rs: PictureRow[]) => rs.map((r) => ({ label: r.label, images: r.images.map((im) => ({ ...im, data: Buffer.from(im.data).toString('base64') })) }));
  writeFileAtomic(join(dir, EVALUATION_FILES.evaluation), JSON.stringify(evaluation));
  writeFileAtomic(join(dir, EVALUATION_FILES.pictures), JSON.stringify({ grid: encodeRows(pictures.reconstructions), differences: encodeRows(pictures.differences) }));
  writeFileAtomic(join(dir, EVALUATION_FILES.predictions), JSON.stringify(predictions));
}

/** What the evaluation uses of the earlier jobs' outputs, read once so the measures below stay pure. */
interface JobFacts {
  /** Per plan classifier, in plan order. */
  classifiers: { family: string; parameters: number }[];
  finetunes: Evaluation['finetunes'];
  curves: Evaluation['curves'];
}

/** The outputs of the classifier, pretrain and fine-tune jobs that the evaluation document shows. */
function jobFacts(plan: ExperimentPlan, jobs: ExperimentJobs, ctx: JobContext): JobFacts {
  const classifiers = plan.classifiers.map((entry) => {
    const out = ctx.output(jobs.classifiers.get(entry.name)!);
    return { family: out.family, parameters: out.parameters };
  });
  const curves: Record<string, { step: number[]; loss: number[] }> = {};
  for (const [name, job] of jobs.classifiers) if (ctx.output(job).curve.step.length) curves[`train ${name}`] = ctx.output(job).curve;
  if (ctx.output(jobs.pretrain).curve.step.length) curves['pretrain A_S'] = ctx.output(jobs.pretrain).curve;
  for (const [name, job] of jobs.finetunes) curves[`fine-tune ${name}`] = ctx.output(job).curve;
  const finetunes = plan.classifiers.map((c) => ({ classifier: c.name, ...ctx.output(jobs.finetunes.get(c.name)!).finetune }));
  return { classifiers, finetunes, curves };
}

/** The classifiers whose accuracy interval reaches 1 / classes: not shown to beat guessing. */
function atChanceOf(classifiers: Evaluation['classifiers'], classes: number): { name: string; reason: string }[] {
  const chance = 1 / classes;
  return classifiers
    .filter((c) => c.accuracy.original.ci95.top1[0] <= chance)
    .map((c) => ({ name: c.name, reason: `top-1 ${withInterval(c.accuracy.original.top1, c.accuracy.original.ci95.top1, 100)} % reaches ${(100 * chance).toFixed(1)} % = 1/${classes}` }));
}

/** The cross-evaluation, the order and the accuracy table with their intervals, from the accuracy grid. */
function crossAndOrder(plan: ExperimentPlan, facts: JobFacts, classes: number, grid: AccuracyGrid, inputs: SeenInput[]): Pick<Evaluation, 'classifiers' | 'crossEvaluation' | 'order'> {
  const cross = crossMatrixOf(grid);
  const ci = gridUncertainty(grid, { resamples: plan.analysis.bootstrapResamples, seed: plan.seed });
  const withCi = (a: Accuracy, c: AccuracyInterval) => ({ top1: a.top1, top5: a.top5, ci95: c });
  const classifiers = plan.classifiers.map((entry, j) => ({
    name: entry.name,
    family: facts.classifiers[j].family,
    parameters: facts.classifiers[j].parameters,
    input: inputs[j],
    // Row 0 is A_S, row j + 1 the classifier's own S2SNet.
    accuracy: { original: withCi(grid.original[j], ci.original[j]), generic: withCi(grid.cells[0][j], ci.cells[0][j]), own: withCi(grid.cells[j + 1][j], ci.cells[j + 1][j]) },
  }));
  // The square part: row S2S-i, column j.
  const order = totalOrder(classifiers.map((c) => c.name), cross.delta.slice(1), { epsilon: plan.analysis.orderEpsilon, level: plan.analysis.orderLevel, resampled: ci.deltaSamples.slice(1), atChance: atChanceOf(classifiers, classes) });
  const crossEvaluation = { ...cross, ci95: { top1: ci.cells.map((row) => row.map((c) => c.top1)), original: ci.original.map((c) => c.top1), delta: ci.delta } };
  return { classifiers, crossEvaluation, order };
}

/** The autoencoder rows of the document: each pixel measure with its interval. */
function autoencoderRows(pixels: ReconstructionMeasuresResult): Evaluation['autoencoders'] {
  return pixels.autoencoders.map((a) => ({
    name: a.name,
    psnr: a.psnr.value,
    intraNmi: a.intraNmi.value,
    interNmi: a.interNmi.value,
    gridEnergy: a.gridEnergy,
    colourShift: a.colourShift,
    periodic: a.periodic,
    ci95: { psnr: a.psnr.ci95, intraNmi: a.intraNmi.ci95, interNmi: a.interNmi.ci95 },
  }));
}

/** The evaluation.json document of a finished pass (`inputs`: what each classifier saw); pure. */
function assembleEvaluation(plan: ExperimentPlan, facts: JobFacts, data: ExperimentData, m: { grid: AccuracyGrid; pixels: ReconstructionMeasuresResult; noise: Results['noise']; inputs: SeenInput[] }): Evaluation {
  const { classifiers, crossEvaluation, order } = crossAndOrder(plan, facts, data.classNames.length, m.grid, m.inputs);
  return {
    format: EVALUATION_FORMAT,
    dataset: datasetLabel(plan),
    imageSize: data.size,
    channels: data.channels,
    classes: data.classNames,
    evalSamples: data.eval.length,
    skippedInputs: data.skipped + data.eval.failures().length,
    plan,
    classifiers,
    autoencoders: autoencoderRows(m.pixels),
    planted: m.pixels.planted,
    finetunes: facts.finetunes,
    crossEvaluation,
    order,
    bootstrap: { resamples: plan.analysis.bootstrapResamples, seed: plan.seed, level: CI_LEVEL, method: 'percentile' },
    claims: orderClaims(order, classifiers, plan.seed),
    noise: m.noise,
    nmi: { bins: plan.analysis.nmiBins, interPairs: plan.analysis.interPairs, normalization: '2 I(X;Y) / (H(X) + H(Y))' },
    histograms: m.pixels.histograms,
    curves: facts.curves,
  };
}

/**
 * The evaluation and pictures of a finished evaluation artifact.
 *
 * @param dir The evaluation job's artifact directory.
 * @param out The job's output (its file names); EVALUATION_FILES for the current layout.
 * @throws ReportSourceError when the artifact was written by an older s2snets (rerun the evaluation).
 */
export function readEvaluation(dir: string, out: EvaluationOutput): { evaluation: Evaluation; pictures: StoredPictures } {
  const evaluation = JSON.parse(readFileSync(join(dir, out.evaluation), 'utf8')) as Evaluation;
  if (evaluation.format !== EVALUATION_FORMAT) {
    throw new ReportSourceError(`${dir}: this evaluation was written in format ${evaluation.format} by another s2snets version (this one reads format ${EVALUATION_FORMAT}); rerun the evaluation (s2snets evaluate or demo with the same options) to recompute it`);
  }
  type Encoded = { label: string; images: (Omit<PictureRow['images'][number], 'data'> & { data: string })[] }[];
  const raw = JSON.parse(readFileSync(join(dir, out.pictures), 'utf8')) as { grid: Encoded; differences: Encoded };
  const decode = (rs: Encoded): PictureRow[] => rs.map((r) => ({ label: r.label, images: r.images.map((im) => ({ ...im, data: new Uint8Array(Buffer.from(im.data, 'base64')) })) }));
  return { evaluation, pictures: { grid: decode(raw.grid), differences: decode(raw.differences) } };
}
