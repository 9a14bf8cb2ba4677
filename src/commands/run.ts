// Runs an experiment up to a stage in a run directory and returns what it measured as data
// (the CLI renders it). The run's lock is held from the first job to the written report.
import type { Results } from '../report/index.js';
import type { JobSpec } from '../scheduler/job-graph.js';
import { runJobs, runLockPath, type EngineChange, type ProgressEvent } from '../scheduler/runner.js';
import { experimentGraph, experimentGraphSource, planPayload } from '../experiment/experiment-graph.js';
import { processBackend } from '../scheduler/job-process.js';
import { bullmqBackend } from '../scheduler/distributed.js';
import type { JobBackend } from '../scheduler/execute.js';
import { renderRunReport, reportDir } from './publish.js';
import { checkInputs } from '../experiment/preflight.js';
import { withLock } from '../runs/lock.js';
import type { EngineIdentity } from '../scheduler/current-engine.js';
import type { ExperimentPlan } from '../experiment/plan.js';

export type Stage = 'classifiers' | 'pretrain' | 'finetune' | 'evaluate' | 'report';

export interface ProgressSink {
  /** A stage's progress: imagesPerS is its throughput; without etaS the sink estimates the time left. */
  update(u: { stage: string; fraction: number; message?: string; imagesPerS?: number; etaS?: number }): void;
  /** A line for the log; `ended` names the stage it closes (its bar can go). */
  log(line: string, ended?: string): void;
}

export interface ExperimentOptions {
  /** Keep finished jobs made by an engine of another identity (default: recompute them). */
  acceptEngineChange?: boolean;
  /** The engine identity to record and compare (default: this process's engine). */
  engine?: EngineIdentity;
  /** Jobs at once, each in its own local process (default 1: one at a time, in this process). */
  jobs?: number;
  /** Run the jobs on the workers of this Redis instead (see scheduler/distributed.ts). */
  redis?: string;
}

/** The backend for the options: none (the runner's in-process default) for one local job at a time. */
async function backendFor(plan: ExperimentPlan, runDir: string, options: ExperimentOptions, progress: ProgressSink): Promise<JobBackend | undefined> {
  const accept = options.acceptEngineChange ?? false;
  if (options.redis) return bullmqBackend(options.redis, planPayload(plan), runDir, accept, (line) => progress.log(line));
  const jobs = options.jobs ?? 1;
  return jobs > 1 ? processBackend(experimentGraphSource(plan), runDir, jobs, accept) : undefined;
}

/** What one invocation did and measured; the fields of the stages it reached are set. */
export interface ExperimentResult {
  stage: Stage;
  runDir: string;
  ran: string[];
  reused: string[];
  /** Jobs recomputed because their artifact was damaged or made by another engine, and why. */
  recomputed: { job: string; reason: string }[];
  engineChange: EngineChange | null;
  wallS: number;
  /** Stage 'classifiers': test-split accuracy of each classifier (top-5 only above 5 classes). */
  classifiers?: { name: string; family: string; parameters: number; top1: number; top5: number | null }[];
  /** Stage 'pretrain': A_S's reconstruction PSNR on the evaluation set. */
  pretrain?: { psnr: number };
  /** Stage 'finetune': each fine-tuned decoder's final loss and artifact directory. */
  finetunes?: { classifier: string; finalLoss: number | null; dir: string }[];
  /** Stages 'evaluate' and 'report': the results written to reportDir/results.json. */
  results?: Results;
  reportDir?: string;
}

function forward(progress: ProgressSink): (e: ProgressEvent) => void {
  return (e) => {
    const tag = `[${e.index + 1}/${e.total}] ${e.job}`;
    if (e.kind === 'progress' && e.fraction !== undefined) {
      const rate = e.metrics?.imagesPerS;
      progress.update({ stage: tag, fraction: e.fraction, message: e.message, imagesPerS: typeof rate === 'number' ? rate : undefined });
    } else if (e.kind === 'notice') progress.log(e.message ?? '');
    else if (e.kind === 'reused') progress.log(`${tag}: reused (finished earlier)`, tag);
    else if (e.kind === 'done') progress.log(`${tag}: done in ${(e.durationS ?? 0).toFixed(1)}s`, tag);
    else if (e.kind === 'failed') progress.log(`${tag}: failed: ${e.message ?? ''}`, tag);
    else if (e.kind === 'corrupt' || e.kind === 'warning') progress.log(`${tag}: ${e.kind}: ${e.message ?? ''}`);
  };
}

/**
 * Checks the plan's inputs and outputs (nothing runs when one is wrong), then runs the jobs the
 * stage needs in runDir, reusing finished ones; 'evaluate' and 'report' also write the report.
 * @param plan the experiment (see plan.ts)
 * @param runDir where the run store, artifacts and report live
 * @param stage how far to go
 * @param progress receives progress bars and log lines
 * @param options engine identity handling; where jobs run (`jobs` local processes, or `redis` workers)
 * @throws PreflightError (and the input checks' typed errors) before any job; JobFailedError,
 *   RunInterruptedError, LockHeldError from the runner; RedisUnreachableError
 * @example
 * const r = await runExperiment(quickPlan(), 'runs/quick', 'report', sink);
 * r.results!.order.ranking // e.g. ['resnet', 'lenet5']
 */
export async function runExperiment(plan: ExperimentPlan, runDir: string, stage: Stage, progress: ProgressSink, options: ExperimentOptions = {}): Promise<ExperimentResult> {
  await checkInputs(plan, runDir);
  // Replicate r retrains the seed-dependent stages with seed + r; replicate 0 is the run itself.
  const { replicates, analysed } = experimentGraph(plan);
  const jobs = replicates[0];
  const targets: Record<Stage, JobSpec<any>[]> = {
    classifiers: replicates.flatMap((js) => [...js.classifiers.values()]),
    pretrain: replicates.map((js) => js.reconstructions.get('A_S')!),
    finetune: replicates.flatMap((js) => [...js.finetunes.values()]),
    evaluate: analysed,
    report: analysed,
  };
  const t0 = Date.now();
  // Held across the jobs and the report, so no `report` can interleave.
  return withLock(runLockPath(runDir), `s2snets ${stage}`, async (lock) => {
    const backend = await backendFor(plan, runDir, options, progress);
    const { engine, acceptEngineChange } = options;
    const done = await runJobs(runDir, targets[stage], { onProgress: forward(progress), config: plan as never, lock, backend, engine, acceptEngineChange });
    const result: ExperimentResult = { stage, runDir, ran: done.ran, reused: done.reused, recomputed: done.recomputed, engineChange: done.engineChange, wallS: 0 };
    if (stage === 'classifiers') {
      result.classifiers = plan.classifiers.map((entry) => {
        const o = done.output(jobs.classifiers.get(entry.name)!);
        return { name: entry.name, family: o.family, parameters: o.parameters, top1: o.top1, top5: o.top5 };
      });
    }
    if (stage === 'pretrain') result.pretrain = { psnr: done.output(jobs.reconstructions.get('A_S')!).psnr };
    if (stage === 'finetune') result.finetunes = [...jobs.finetunes].map(([classifier, job]) => ({ classifier, finalLoss: done.output(job).finalLoss, dir: done.dir(job) }));
    if (stage === 'evaluate' || stage === 'report') {
      result.results = await renderRunReport(runDir, lock);
      result.reportDir = reportDir(runDir);
    }
    result.wallS = (Date.now() - t0) / 1000;
    return result;
  });
}
