// The replicates step: one evaluation per seed (see experimentJobs' replicates), aggregated into
// replicates.json: every figure's mean and sd across seeds, how often the order's relations and
// rankings recur, Kendall's W, and which measures separate their subjects beyond seed noise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import { aggregateReplicates, COLOUR_FIGURES, type Figure, type ReplicateSummary } from '../analysis/index.js';
import type { JobSpec, Json } from '../scheduler/job-graph.js';
import { ReportSourceError, readEvaluation, type Evaluation, type EvaluationOutput } from './evaluation.js';
import type { ExperimentPlan } from './plan.js';

export interface ReplicatesOutput {
  [k: string]: Json;
  file: string;
}

/**
 * Every single-valued figure of an evaluation, named by measure and subject: what replicate
 * seeds are compared on.
 *
 * @param e One seed's evaluation.
 * @example
 * evaluationFigures(e).find((f) => f.measure === 'top-1 on own S2SNet' && f.subject === 'lenet5')?.value;
 */
export function evaluationFigures(e: Evaluation): Figure[] {
  const figures: Figure[] = [];
  for (const c of e.classifiers) {
    for (const [input, a] of Object.entries({ original: c.accuracy.original, 'A_S reconstruction': c.accuracy.generic, 'own S2SNet': c.accuracy.own })) {
      figures.push({ measure: `top-1 on ${input}`, subject: c.name, value: a.top1 });
    }
  }
  const cx = e.crossEvaluation;
  cx.rows.forEach((row, i) => cx.columns.forEach((col, j) => figures.push({ measure: 'cross top-1 change', subject: `${col} on ${row}`, value: cx.delta[i][j] })));
  for (const a of e.autoencoders) {
    figures.push({ measure: 'PSNR dB', subject: a.name, value: a.psnr }, { measure: 'intra-NMI', subject: a.name, value: a.intraNmi }, { measure: 'inter-NMI', subject: a.name, value: a.interNmi });
    // The paper's colour and texture findings: cast, washed-out colour, hue rotation, grids.
    if (a.colourShift) {
      const c = a.colourShift;
      const [cast, chroma, hue] = COLOUR_FIGURES;
      figures.push({ measure: cast, subject: a.name, value: c.castMagnitude }, { measure: chroma, subject: a.name, value: c.chromaRatio }, { measure: hue, subject: a.name, value: c.hueRotation });
    }
    for (const p of a.periodic) figures.push({ measure: `period-${p.period} grid dB`, subject: a.name, value: p.db });
  }
  for (const c of e.noise?.classifiers ?? []) {
    e.noise!.sigmas.forEach((sigma, k) => figures.push({ measure: `noise ${sigma}: own S2SNet minus noisy`, subject: c.name, value: c.gain[k] }));
  }
  return figures;
}

/**
 * The job that aggregates the evaluations of all replicate seeds.
 *
 * @param plan The run's plan (repeats > 1).
 * @param evaluations The evaluation job of each replicate, replicate 0 first.
 * @example
 * const aggregate = replicatesJob(plan, [0, 1, 2].map((r) => evaluationJob(plan, experimentJobs(plan, r), r)));
 */
export function replicatesJob(plan: ExperimentPlan, evaluations: JobSpec<EvaluationOutput>[]): JobSpec<ReplicatesOutput> {
  return {
    name: 'replicates',
    deps: evaluations,
    config: { seeds: evaluations.map((_, r) => plan.seed + r), repeatAll: plan.repeatAll },
    // 2: colour and periodic-artifact figures per autoencoder. 3: separations per measure.
    codeVersion: '3',
    async run(ctx) {
      const runs = evaluations.map((job, r) => {
        const { evaluation } = readEvaluation(ctx.input(job), ctx.output(job));
        return { seed: plan.seed + r, figures: evaluationFigures(evaluation), order: evaluation.order };
      });
      const summary: ReplicateSummary & { repeatAll: boolean } = { ...aggregateReplicates(runs), repeatAll: plan.repeatAll };
      writeFileAtomic(join(ctx.dir, REPLICATES_FILE), JSON.stringify(summary));
      ctx.setMetrics({ kendallW: summary.kendallW });
      return { file: REPLICATES_FILE };
    },
  };
}

export const REPLICATES_FILE = 'replicates.json';

/**
 * The aggregate of a finished replicates job.
 *
 * @param dir The replicates job's artifact directory.
 * @throws ReportSourceError when the file is missing or unreadable.
 * @example
 * readReplicates(artifactDir(runDir, key)).kendallW;
 */
export function readReplicates(dir: string): ReplicateSummary & { repeatAll: boolean } {
  try {
    return JSON.parse(readFileSync(join(dir, REPLICATES_FILE), 'utf8'));
  } catch (e) {
    throw new ReportSourceError(`${dir}: cannot read ${REPLICATES_FILE} (${(e as Error).message}); rerun the same command to recompute it`);
  }
}

