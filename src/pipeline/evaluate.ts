// The evaluation job: every measure of the paper, computed from the reconstructions of the
// fixed evaluation set. Its artifact (evaluation.json, pictures.json) is plain data from which
// the report is rendered, so a report can be rebuilt from the run store alone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tidy, type Tensor } from '../engine/index.js';
import type { Module } from '../nn/index.js';
import { writeFileAtomic } from '../common/atomic.js';
import {
  channelHistogramsEach,
  accuracyGrid,
  crossMatrixOf,
  gridEnergy,
  interNmi,
  intraNmi,
  reconstructionGrid,
  toImageSet,
  totalOrder,
  type ChannelHistogram,
  type CrossMatrix,
  type PictureRow,
  type TotalOrder,
} from '../analysis/index.js';
import type { JobSpec, Json } from './jobs.js';
import { experimentData } from './inputs.js';
import { aeName, classifierWeights, GENERIC_AE, loadReconstructions, type ExperimentJobs } from './experiment.js';
import { openClassifier } from './classifiers.js';
import type { ExperimentPlan } from './plan.js';
import { datasetLabel } from './names.js';
import { EVALUATION_FILES, ORIGINAL_ROW, ReportSourceError, readPredictions, type EvaluationOutput, type StoredPredictions } from './evaluation-files.js';

export { EVALUATION_FILES, ORIGINAL_ROW, ReportSourceError, readPredictions, type EvaluationOutput, type StoredPredictions };
import type { Accuracy, AccuracyGrid, ImagePredictions } from '../analysis/accuracy.js';


export interface Evaluation {
  dataset: string;
  imageSize: number;
  channels: number;
  classes: string[];
  evalSamples: number;
  skippedInputs: number;
  plan: ExperimentPlan;
  classifiers: { name: string; family: string; parameters: number; accuracy: { original: Accuracy; generic: Accuracy; own: Accuracy } }[];
  autoencoders: { name: string; psnr: number; intraNmi: number; interNmi: number; gridEnergy: number }[];
  crossEvaluation: CrossMatrix;
  order: TotalOrder;
  nmi: { bins: number; interPairs: number; normalization: string };
  histograms: Record<string, ChannelHistogram[]>;
  curves: Record<string, { step: number[]; loss: number[] }>;
}

/** The per-image predictions of an accuracy grid as stored plain data. */
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

export { datasetLabel };

export function evaluationJob(plan: ExperimentPlan, jobs: ExperimentJobs): JobSpec<EvaluationOutput> {
  return {
    name: 'evaluate',
    deps: [...jobs.classifiers.values(), jobs.pretrain, ...jobs.finetunes.values(), ...jobs.reconstructions.values()],
    config: { analysis: plan.analysis as unknown as Json, evalBatchSize: plan.evalBatchSize },
    // 2: the artifact holds per-image predictions.
    codeVersion: '2',
    async run(ctx) {
      const data = await experimentData(plan);
      const labels = data.eval.labels;
      const classifiers: { name: string; model: Module }[] = [];
      for (const entry of plan.classifiers) {
        const job = jobs.classifiers.get(entry.name)!;
        classifiers.push({ name: entry.name, model: await openClassifier(entry, data, plan.device, classifierWeights(ctx, job)) });
      }
      const aeNames = [GENERIC_AE, ...plan.classifiers.map((c) => aeName(c.name))];
      const recon = new Map<string, Tensor>(aeNames.map((n) => [n, loadReconstructions(ctx.input(jobs.reconstructions.get(n)!), ctx.output(jobs.reconstructions.get(n)!))]));
      const opts = { batchSize: plan.evalBatchSize, device: plan.device };

      await ctx.progress(0.05, 'cross-evaluation');
      // One pass per (images, classifier) pair gives both the cross matrix and the accuracy table.
      const grid = accuracyGrid(
        aeNames.map((n) => ({ name: n, images: recon.get(n)! })),
        classifiers.map((c) => ({ name: c.name, forward: (x: Tensor) => c.model.forward(x) })),
        data.eval.images,
        labels,
        opts,
      );
      const cross = crossMatrixOf(grid);
      const evalClassifiers = classifiers.map((c, j) => {
        const clsOut = ctx.output(jobs.classifiers.get(plan.classifiers[j].name)!);
        return {
          name: c.name,
          family: clsOut.family,
          parameters: clsOut.parameters,
          // Row 0 is A_S, row j + 1 the classifier's own S2SNet.
          accuracy: { original: grid.original[j], generic: grid.cells[0][j], own: grid.cells[j + 1][j] },
        };
      });
      // The square part: row S2S-i, column j.
      const names = classifiers.map((c) => c.name);
      const order = totalOrder(names, cross.delta.slice(1));

      await ctx.progress(0.5, 'NMI, histograms, grid artifacts');
      const original = toImageSet(data.evalOriginal);
      const pixels = new Map(aeNames.map((n) => [n, toImageSet(tidy(() => data.toPixels(recon.get(n)!)))]));
      const nmiOpts = { bins: plan.analysis.nmiBins };
      const autoencoders = aeNames.map((n) => {
        const set = pixels.get(n)!;
        const reconJob = jobs.reconstructions.get(n)!;
        return {
          name: n,
          psnr: ctx.output(reconJob).psnr,
          intraNmi: intraNmi(original, set, nmiOpts),
          interNmi: interNmi(set, { ...nmiOpts, pairs: plan.analysis.interPairs, seed: plan.seed }),
          gridEnergy: gridEnergy(original, set),
        };
      });
      const histograms = channelHistogramsEach(original, Object.fromEntries(aeNames.map((n) => [n, pixels.get(n)!])));
      const rows = reconstructionGrid(original, aeNames.map((n) => ({ name: n, images: pixels.get(n)! })), plan.analysis.gridSamples);

      const curves: Record<string, { step: number[]; loss: number[] }> = {};
      for (const [name, job] of jobs.classifiers) if (ctx.output(job).curve.step.length) curves[`train ${name}`] = ctx.output(job).curve;
      if (ctx.output(jobs.pretrain).curve.step.length) curves['pretrain A_S'] = ctx.output(jobs.pretrain).curve;
      for (const [name, job] of jobs.finetunes) curves[`fine-tune ${name}`] = ctx.output(job).curve;

      const evaluation: Evaluation = {
        dataset: datasetLabel(plan),
        imageSize: data.size,
        channels: data.channels,
        classes: data.classNames,
        evalSamples: labels.shape[0],
        skippedInputs: data.skipped,
        plan,
        classifiers: evalClassifiers,
        autoencoders,
        crossEvaluation: cross,
        order,
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
    },
  };
}

export function readEvaluation(dir: string, out: EvaluationOutput): { evaluation: Evaluation; pictures: StoredPictures } {
  const evaluation = JSON.parse(readFileSync(join(dir, out.evaluation), 'utf8')) as Evaluation;
  type Encoded = { label: string; images: (Omit<PictureRow['images'][number], 'data'> & { data: string })[] }[];
  const raw = JSON.parse(readFileSync(join(dir, out.pictures), 'utf8')) as { grid: Encoded; differences: Encoded };
  const decode = (rs: Encoded): PictureRow[] => rs.map((r) => ({ label: r.label, images: r.images.map((im) => ({ ...im, data: new Uint8Array(Buffer.from(im.data, 'base64')) })) }));
  return { evaluation, pictures: { grid: decode(raw.grid), differences: decode(raw.differences) } };
}
