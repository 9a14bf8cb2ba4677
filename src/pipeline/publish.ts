// Renders a run's report into <runDir>/report from what the run store holds: the evaluation
// job's verified artifact and the job timings. The new report replaces the old one whole.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { engineInfo } from '../engine/index.js';
import { RESULTS_SCHEMA_VERSION, formatSummary, writeReport, type Results } from '../report/index.js';
import { artifactDir, verifyArtifact } from './artifacts.js';
import { status } from './runner.js';
import { toolVersion } from './store.js';
import { readEvaluation, type Evaluation } from './evaluate.js';

export class ReportSourceError extends Error {
  override name = 'ReportSourceError';
}

export function resultsOf(e: Evaluation, durations: Record<string, number>): Results {
  const info = engineInfo();
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: { name: 's2snets', version: toolVersion() },
    createdAt: new Date().toISOString(),
    run: {
      dataset: e.dataset,
      imageSize: e.imageSize,
      channels: e.channels,
      classes: e.classes,
      seed: e.plan.seed,
      device: e.plan.device,
      engine: { torchVersion: info.torchVersion, threads: info.threads, cuda: info.cuda },
      evalSamples: e.evalSamples,
      skippedInputs: e.skippedInputs,
      durations,
      plan: e.plan,
    },
    classifiers: e.classifiers,
    autoencoders: e.autoencoders,
    planted: e.planted,
    finetunes: e.finetunes,
    crossEvaluation: e.crossEvaluation,
    order: e.order,
    nmi: e.nmi,
    histograms: e.histograms,
    curves: e.curves,
    figures: [],
  };
}

/** Writes <runDir>/report from the store; returns the terminal summary. */
export async function renderRunReport(runDir: string): Promise<string> {
  const jobs = status(runDir).jobs;
  const evaluation = jobs.find((j) => j.name === 'evaluate' && j.status === 'done');
  if (!evaluation) throw new ReportSourceError(`${runDir}: the run has no finished evaluation yet; run \`s2snets demo\` (or \`evaluate\`) with this --run-dir first`);
  const check = verifyArtifact(runDir, evaluation.key);
  if (!check.ok) throw new ReportSourceError(`${runDir}: the evaluation artifact is damaged (${check.reason}); rerun the same command to recompute it`);
  const { evaluation: e, pictures } = readEvaluation(artifactDir(runDir, evaluation.key), { evaluation: 'evaluation.json', pictures: 'pictures.json' });
  const durations = Object.fromEntries(jobs.filter((j) => j.durationS !== null).map((j) => [j.name, j.durationS as number]));
  const results = resultsOf(e, durations);
  const target = join(runDir, 'report');
  const staging = `${target}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await writeReport(staging, results, pictures);
  const old = `${target}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(target)) renameSync(target, old);
  renameSync(staging, target);
  rmSync(old, { recursive: true, force: true });
  return formatSummary(results, join(target, 'report.html'));
}
