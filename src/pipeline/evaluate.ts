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
  colourShift,
  periodicArtifacts,
  plantedRetention,
  accuracyGrid,
  crossMatrixOf,
  gridEnergy,
  interNmi,
  intraNmi,
  reconstructionGrid,
  toImageSet,
  totalOrder,
  type ChannelHistogram,
  type ColourShift,
  type PeriodicArtifact,
  type PlantedRetention,
  type CrossMatrix,
  type PictureRow,
  type TotalOrder,
} from '../analysis/index.js';
import type { JobSpec, Json } from './jobs.js';
import { experimentData } from './inputs.js';
import { aeName, classifierWeights, GENERIC_AE, loadReconstructions, type ExperimentJobs } from './experiment.js';
import { openClassifier } from './classifiers.js';
import type { ExperimentPlan } from './plan.js';
import type { Accuracy } from '../analysis/accuracy.js';
import type { FinetuneSummary } from './experiment.js';

export interface Evaluation {
  dataset: string;
  imageSize: number;
  channels: number;
  classes: string[];
  evalSamples: number;
  skippedInputs: number;
  plan: ExperimentPlan;
  classifiers: { name: string; family: string; parameters: number; accuracy: { original: Accuracy; generic: Accuracy; own: Accuracy } }[];
  autoencoders: { name: string; psnr: number; intraNmi: number; interNmi: number; gridEnergy: number; colourShift: ColourShift | null; periodic: PeriodicArtifact[] }[];
  /** On a planted dataset: how each AE keeps the planted colour and shape (`originals`: the measure on the originals themselves). */
  planted: { carrier: 'shape' | 'colour'; originals: PlantedRetention; autoencoders: ({ name: string } & PlantedRetention)[] } | null;
  /** How each decoder fine-tune ended (see train/finetune.ts). */
  finetunes: ({ classifier: string } & FinetuneSummary)[];
  crossEvaluation: CrossMatrix;
  order: TotalOrder;
  nmi: { bins: number; interPairs: number; normalization: string };
  histograms: Record<string, ChannelHistogram[]>;
  curves: Record<string, { step: number[]; loss: number[] }>;
}

export interface EvaluationOutput {
  [k: string]: Json;
  evaluation: string;
  pictures: string;
}

/** Plain-data picture rows (pixels as base64) for the report. */
export interface StoredPictures {
  grid: PictureRow[];
  differences: PictureRow[];
}

export function datasetLabel(plan: ExperimentPlan): string {
  return typeof plan.dataset === 'string' ? plan.dataset : plan.dataset.imageFolder;
}

export function evaluationJob(plan: ExperimentPlan, jobs: ExperimentJobs): JobSpec<EvaluationOutput> {
  return {
    name: 'evaluate',
    deps: [...jobs.classifiers.values(), jobs.pretrain, ...jobs.finetunes.values(), ...jobs.reconstructions.values()],
    config: { analysis: plan.analysis as unknown as Json, evalBatchSize: plan.evalBatchSize },
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

      await ctx.progress(0.5, 'NMI, histograms, colour shift, periodic artifacts');
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
          colourShift: data.channels === 3 ? colourShift(original, set) : null,
          periodic: periodicArtifacts(original, set),
        };
      });
      const truth = data.evalTruth;
      const planted = truth
        ? {
            carrier: truth.carrier,
            originals: plantedRetention(original, original, truth),
            autoencoders: aeNames.map((n) => ({ name: n, ...plantedRetention(original, pixels.get(n)!, truth) })),
          }
        : null;
      const finetunes = plan.classifiers.map((c) => ({ classifier: c.name, ...ctx.output(jobs.finetunes.get(c.name)!).finetune }));
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
        planted,
        finetunes,
        crossEvaluation: cross,
        order,
        nmi: { bins: plan.analysis.nmiBins, interPairs: plan.analysis.interPairs, normalization: '2 I(X;Y) / (H(X) + H(Y))' },
        histograms,
        curves,
      };
      const encodeRows = (rs: PictureRow[]) => rs.map((r) => ({ label: r.label, images: r.images.map((im) => ({ ...im, data: Buffer.from(im.data).toString('base64') })) }));
      writeFileAtomic(join(ctx.dir, 'evaluation.json'), JSON.stringify(evaluation));
      writeFileAtomic(join(ctx.dir, 'pictures.json'), JSON.stringify({ grid: encodeRows(rows.reconstructions), differences: encodeRows(rows.differences) }));
      for (const t of recon.values()) t.dispose();
      ctx.setMetrics({ orderIsTotal: order.isTotal });
      return { evaluation: 'evaluation.json', pictures: 'pictures.json' };
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
