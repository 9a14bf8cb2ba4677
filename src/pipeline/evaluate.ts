// The evaluation job: every measure of the paper, computed from the reconstructions of the
// fixed evaluation set. Its artifact (evaluation.json, pictures.json) is plain data from which
// the report is rendered, so a report can be rebuilt from the run store alone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keep, tensor, tidy, type Tensor } from '../engine/index.js';
import { writeFileAtomic } from '../common/atomic.js';
import {
  addPixelNoise,
  CI_LEVEL,
  correctness,
  gridUncertainty,
  interNmiEach,
  intraNmiEach,
  kendallTest,
  labelValues,
  meanEstimate,
  pairedChange,
  predictClassifier,
  psnrEach,
  type AccuracyInterval,
  type BootstrapOptions,
  type Forward,
  type Interval,
  channelHistogramsEach,
  colourShift,
  periodicArtifacts,
  ARTIFACT_PERIODS,
  plantedSignal,
  accuracyGrid,
  crossMatrixOf,
  gridEnergy,
  reconstructionGrid,
  toImageSet,
  totalOrder,
  type PictureRow,
  type TotalOrder,
} from '../analysis/index.js';
import { labelArray, normalize, stratifiedSample } from '../data/index.js';
import { withInterval, type AutoencoderResult, type ChannelHistogram, type ClassifierResult, type CrossEvaluation, type Results } from '../report/index.js';
import type { JobContext, JobSpec, Json } from './jobs.js';
import { experimentData, type ExperimentData } from './inputs.js';
import { aeName, classifierWeights, GENERIC_AE, loadReconstructions, loadReconstructor, replicateTag, type ExperimentJobs } from './experiment.js';
import { openClassifier, seenInput, type SeenInput } from './classifiers.js';
import { evaluationForward, type EvaluationForward } from './evaluation-forward.js';
import type { ExperimentPlan } from './plan.js';
import { datasetLabel } from './names.js';
import { EVALUATION_FILES, ORIGINAL_ROW, ReportSourceError, readPredictions, type EvaluationOutput, type StoredPredictions } from './evaluation-files.js';

export { EVALUATION_FILES, ORIGINAL_ROW, ReportSourceError, readPredictions, type EvaluationOutput, type StoredPredictions };
import type { Accuracy, AccuracyGrid, ImagePredictions } from '../analysis/accuracy.js';

import type { FinetuneSummary } from './experiment.js';

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

/** 2: intervals, order confidence, claims and noise robustness. 3: planted shape agreement, retention intervals, carrier change against A_S. 4: each classifier's input. */
export const EVALUATION_FORMAT = 4;

/**
 * The per-image predictions of an accuracy grid as stored plain data (predictions.json).
 *
 * @param grid accuracyGrid's result.
 * @example
 * writeFileAtomic(join(dir, EVALUATION_FILES.predictions), JSON.stringify(storedPredictions(grid)));
 */
export function storedPredictions(grid: AccuracyGrid): StoredPredictions {
  const plain = (p: ImagePredictions) => ({ top1: Array.from(p.top1), top5Hit: p.top5Hit ? (Array.from(p.top5Hit) as (0 | 1)[]) : null });
  const row = (ps: ImagePredictions[]) => Object.fromEntries(grid.columns.map((c, j) => [c, plain(ps[j])]));
  return {
    labels: Array.from(grid.labels),
    rows: { [ORIGINAL_ROW]: row(grid.originalPredictions), ...Object.fromEntries(grid.rows.map((r, i) => [r, row(grid.predictions[i])])) },
  };
}

/** Plain-data picture rows (pixels as base64) for the report. */
export interface StoredPictures {
  grid: PictureRow[];
  differences: PictureRow[];
}

/**
 * Noise robustness (the paper: S2SNets help under noise): each classifier on the evaluation
 * originals with seeded Gaussian pixel noise of each sigma, and on its own S2SNet's
 * reconstructions of the same noisy images, with paired intervals of the change.
 */
async function noiseRobustness(
  plan: ExperimentPlan,
  jobs: ExperimentJobs,
  ctx: JobContext,
  data: ExperimentData,
  classifiers: { name: string; forward: Forward }[],
  boot: BootstrapOptions,
): Promise<Results['noise']> {
  const sigmas = plan.analysis.noiseSigmas;
  if (sigmas.length === 0) return null;
  // A seeded, stratified subset keeps the 3 x N extra reconstructions within the time budget.
  const subset = stratifiedSample(labelArray(data.eval), data.classNames.length, plan.analysis.noiseSamples, plan.seed + 11);
  const index = tensor(BigInt64Array.from(subset, BigInt));
  const labels = keep(data.eval.labels.indexSelect(0, index));
  const originals = keep(data.evalOriginal.indexSelect(0, index));
  index.dispose();
  const truth = labelValues(labels);
  const opts = { batchSize: plan.evalBatchSize, device: plan.device };
  const rows = classifiers.map((c) => ({ name: c.name, noisy: [] as number[], own: [] as number[], gain: [] as number[], ci95: { noisy: [] as Interval[], own: [] as Interval[], gain: [] as Interval[] } }));
  const noisyInputs = sigmas.map((sigma) => {
    const pixels = addPixelNoise(originals, sigma, plan.seed);
    const model = normalize(pixels, data.mean, data.std);
    pixels.dispose();
    return model;
  });
  originals.dispose();
  for (const [j, c] of classifiers.entries()) {
    const finetune = jobs.finetunes.get(c.name)!;
    const ae = loadReconstructor(plan, data, join(ctx.input(finetune), ctx.output(finetune).weights));
    for (const input of noisyInputs) {
      const onNoisy = correctness(await predictClassifier(c.forward, input, labels, opts), truth);
      const onOwn = correctness(await predictClassifier(c.forward, input, labels, { ...opts, transform: ae.reconstruct }), truth);
      const paired = pairedChange(onNoisy, onOwn, boot);
      const row = rows[j];
      row.noisy.push(paired.a.value);
      row.own.push(paired.b.value);
      row.gain.push(paired.change.value);
      row.ci95.noisy.push(paired.a.ci95);
      row.ci95.own.push(paired.b.ci95);
      row.ci95.gain.push(paired.change.ci95);
    }
    ae.dispose();
    await ctx.progress(0.3 + (0.2 * (j + 1)) / classifiers.length, 'noise robustness');
  }
  for (const t of [...noisyInputs, labels]) t.dispose();
  return { sigmas, samples: subset.length, classifiers: rows };
}

/**
 * The paper's claims that the order follows neither accuracy nor network size: Kendall's tau of
 * each classifier's position in the ranking (first = highest) against its accuracy on the
 * originals and against its parameter count, with exact permutation p-values.
 *
 * @param order The order (its ranking, first = highest).
 * @param classifiers Names, parameter counts and accuracies on the originals.
 * @param seed Seed of the Monte Carlo permutations (beyond 8 classifiers).
 * @returns Both tests, or null with fewer than two classifiers.
 * @example
 * orderClaims(order, evaluation.classifiers, plan.seed).orderVsAccuracy.p;
 */
export function orderClaims(order: Pick<TotalOrder, 'ranking'>, classifiers: Pick<ClassifierResult, 'name' | 'parameters' | 'accuracy'>[], seed: number): Results['claims'] {
  // One classifier has no order to compare with anything.
  if (classifiers.length < 2) return null;
  const position = classifiers.map((c) => classifiers.length - order.ranking.indexOf(c.name));
  return {
    orderVsAccuracy: kendallTest(position, classifiers.map((c) => c.accuracy.original.top1), { seed }),
    orderVsSize: kendallTest(position, classifiers.map((c) => c.parameters), { seed }),
  };
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
    deps: [...jobs.classifiers.values(), jobs.pretrain, ...jobs.finetunes.values(), ...jobs.reconstructions.values()],
    config: { analysis: plan.analysis as unknown as Json, evalBatchSize: plan.evalBatchSize },
    // 2: the artifact holds per-image predictions; 3: intervals, order confidence, claims, noise;
    // 4: planted shape agreement, retention intervals, carrier change against A_S; 5: what each classifier saw.
    codeVersion: '5',
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

/** The evaluation job's work; `classifiers` receives each forward as it opens (the caller closes them). */
async function evaluate(plan: ExperimentPlan, jobs: ExperimentJobs, ctx: JobContext, classifiers: ({ name: string } & EvaluationForward)[]): Promise<EvaluationOutput> {
  const data = await experimentData(plan);
  const labels = data.eval.labels;
  const inputs: SeenInput[] = [];
  for (const entry of plan.classifiers) {
    const job = jobs.classifiers.get(entry.name)!;
    const model = await openClassifier(entry, data, plan.device, classifierWeights(ctx, job));
    inputs.push(seenInput(model, data));
    const check = { images: data.eval.images, labels, batchSize: plan.evalBatchSize };
    classifiers.push({ name: entry.name, ...(await evaluationForward(entry, model, check, plan.device, (line) => ctx.log(line))) });
  }
  const aeNames = [GENERIC_AE, ...plan.classifiers.map((c) => aeName(c.name))];
  const recon = new Map<string, Tensor>(aeNames.map((n) => [n, loadReconstructions(ctx.input(jobs.reconstructions.get(n)!), ctx.output(jobs.reconstructions.get(n)!))]));
  const opts = { batchSize: plan.evalBatchSize, device: plan.device };

  await ctx.progress(0.05, 'cross-evaluation');
  // One pass per (images, classifier) pair gives both the cross matrix and the accuracy table.
  const grid = await accuracyGrid(
    aeNames.map((n) => ({ name: n, images: recon.get(n)! })),
    classifiers,
    data.eval.images,
    labels,
    opts,
  );
  const cross = crossMatrixOf(grid);
  const boot = { resamples: plan.analysis.bootstrapResamples, seed: plan.seed };
  const ci = gridUncertainty(grid, boot);
  const withCi = (a: Accuracy, c: AccuracyInterval) => ({ top1: a.top1, top5: a.top5, ci95: c });
  const evalClassifiers = classifiers.map((c, j) => {
    const clsOut = ctx.output(jobs.classifiers.get(plan.classifiers[j].name)!);
    return {
      name: c.name,
      family: clsOut.family,
      parameters: clsOut.parameters,
      input: inputs[j],
      // Row 0 is A_S, row j + 1 the classifier's own S2SNet.
      accuracy: { original: withCi(grid.original[j], ci.original[j]), generic: withCi(grid.cells[0][j], ci.cells[0][j]), own: withCi(grid.cells[j + 1][j], ci.cells[j + 1][j]) },
    };
  });
  // The square part: row S2S-i, column j.
  const names = classifiers.map((c) => c.name);
  // A classifier whose accuracy interval reaches 1 / classes is not shown to beat guessing.
  const chance = 1 / data.classNames.length;
  const atChance = evalClassifiers
    .filter((c) => c.accuracy.original.ci95.top1[0] <= chance)
    .map((c) => ({ name: c.name, reason: `top-1 ${withInterval(c.accuracy.original.top1, c.accuracy.original.ci95.top1, 100)} % reaches ${(100 * chance).toFixed(1)} % = 1/${data.classNames.length}` }));
  const order = totalOrder(names, cross.delta.slice(1), { epsilon: plan.analysis.orderEpsilon, level: plan.analysis.orderLevel, resampled: ci.deltaSamples.slice(1), atChance });
  const crossEvaluation = { ...cross, ci95: { top1: ci.cells.map((row) => row.map((c) => c.top1)), original: ci.original.map((c) => c.top1), delta: ci.delta } };

  await ctx.progress(0.3, 'noise robustness');
  const noise = await noiseRobustness(plan, jobs, ctx, data, classifiers, boot);
  for (const c of classifiers) await c.close();

  await ctx.progress(0.5, 'NMI, histograms, colour shift, periodic artifacts');
  const original = toImageSet(data.evalOriginal);
  const pixels = new Map(aeNames.map((n) => [n, toImageSet(tidy(() => data.toPixels(recon.get(n)!)))]));
  const nmiOpts = { bins: plan.analysis.nmiBins };
  const autoencoders = aeNames.map((n) => {
    const set = pixels.get(n)!;
    // Per image (PSNR, intra-NMI) and per pair (inter-NMI): their means carry bootstrap intervals.
    const psnr = meanEstimate(psnrEach(original, set), boot);
    const intra = meanEstimate(intraNmiEach(original, set, nmiOpts), boot);
    const inter = meanEstimate(interNmiEach(set, { ...nmiOpts, pairs: plan.analysis.interPairs, seed: plan.seed }), boot);
    return {
      name: n,
      psnr: psnr.value,
      intraNmi: intra.value,
      interNmi: inter.value,
      gridEnergy: gridEnergy(original, set),
      colourShift: data.channels === 3 ? colourShift(original, set, boot) : null,
      periodic: periodicArtifacts(original, set, ARTIFACT_PERIODS, boot),
      ci95: { psnr: psnr.ci95, intraNmi: intra.ci95, interNmi: inter.ci95 },
    };
  });
  const truth = data.evalTruth;
  const planted = truth ? plantedSignal(truth, original, aeNames.map((n) => ({ name: n, images: pixels.get(n)! })), boot) : null;
  const finetunes = plan.classifiers.map((c) => ({ classifier: c.name, ...ctx.output(jobs.finetunes.get(c.name)!).finetune }));
  const histograms = channelHistogramsEach(original, Object.fromEntries(aeNames.map((n) => [n, pixels.get(n)!])));
  const rows = reconstructionGrid(original, aeNames.map((n) => ({ name: n, images: pixels.get(n)! })), plan.analysis.gridSamples);

  const curves: Record<string, { step: number[]; loss: number[] }> = {};
  for (const [name, job] of jobs.classifiers) if (ctx.output(job).curve.step.length) curves[`train ${name}`] = ctx.output(job).curve;
  if (ctx.output(jobs.pretrain).curve.step.length) curves['pretrain A_S'] = ctx.output(jobs.pretrain).curve;
  for (const [name, job] of jobs.finetunes) curves[`fine-tune ${name}`] = ctx.output(job).curve;

  const evaluation: Evaluation = {
    format: EVALUATION_FORMAT,
    dataset: datasetLabel(plan),
    imageSize: data.size,
    channels: data.channels,
    classes: data.classNames,
    evalSamples: labels.shape[0],
    skippedInputs: data.skipped,
    plan,
    classifiers: evalClassifiers,
    autoencoders,
    planted,
    finetunes,
    crossEvaluation,
    order,
    bootstrap: { resamples: plan.analysis.bootstrapResamples, seed: plan.seed, level: CI_LEVEL, method: 'percentile' },
    claims: orderClaims(order, evalClassifiers, plan.seed),
    noise,
    nmi: { bins: plan.analysis.nmiBins, interPairs: plan.analysis.interPairs, normalization: '2 I(X;Y) / (H(X) + H(Y))' },
    histograms,
    curves,
  };
  const encodeRows = (rs: PictureRow[]) => rs.map((r) => ({ label: r.label, images: r.images.map((im) => ({ ...im, data: Buffer.from(im.data).toString('base64') })) }));
  writeFileAtomic(join(ctx.dir, EVALUATION_FILES.evaluation), JSON.stringify(evaluation));
  writeFileAtomic(join(ctx.dir, EVALUATION_FILES.pictures), JSON.stringify({ grid: encodeRows(rows.reconstructions), differences: encodeRows(rows.differences) }));
  writeFileAtomic(join(ctx.dir, EVALUATION_FILES.predictions), JSON.stringify(storedPredictions(grid)));
  for (const t of recon.values()) t.dispose();
  ctx.setMetrics({ orderIsTotal: order.isTotal });
  return { ...EVALUATION_FILES };
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
