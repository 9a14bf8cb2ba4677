// Runs an experiment up to a stage in a run directory and returns the terminal summary.
import type { JobSpec } from './jobs.js';
import { runJobs, type ProgressEvent, type RunReport } from './runner.js';
import type { ClassifierOutput } from './experiment.js';
import { experimentGraph } from './graph.js';
import { processBackend } from './job-process.js';
import { bullmqBackend } from './distributed.js';
import type { JobBackend } from './execute.js';
import { renderRunReport } from './publish.js';
import { checkInputs } from './preflight.js';
import type { ExperimentPlan } from './plan.js';

export type Stage = 'classifiers' | 'pretrain' | 'finetune' | 'evaluate' | 'report';

export interface ProgressSink {
  update(u: { stage: string; fraction: number; message?: string; etaS?: number }): void;
  log(line: string): void;
}

function forward(progress: ProgressSink): (e: ProgressEvent) => void {
  const started = new Map<string, number>();
  return (e) => {
    const tag = `[${e.index + 1}/${e.total}] ${e.job}`;
    if (e.kind === 'start') started.set(e.job, Date.now());
    if (e.kind === 'progress' && e.fraction !== undefined) {
      const elapsed = (Date.now() - (started.get(e.job) ?? Date.now())) / 1000;
      const etaS = e.fraction > 0.02 ? (elapsed / e.fraction) * (1 - e.fraction) : undefined;
      progress.update({ stage: tag, fraction: e.fraction, message: e.message, etaS });
    } else if (e.kind === 'reused') progress.log(`${tag}: reused (finished earlier)`);
    else if (e.kind === 'done') progress.log(`${tag}: done in ${(e.durationS ?? 0).toFixed(1)}s`);
    else if (e.kind === 'corrupt' || e.kind === 'warning' || e.kind === 'failed') progress.log(`${tag}: ${e.kind}: ${e.message ?? ''}`);
  };
}

function pct(x: number | null): string {
  return x === null || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`;
}

function classifierSummary(plan: ExperimentPlan, report: RunReport, jobs: Map<string, JobSpec<ClassifierOutput>>): string {
  const lines = ['classifier    family                    params     top-1     top-5'];
  for (const entry of plan.classifiers) {
    const o = report.output(jobs.get(entry.name)!);
    lines.push(`${entry.name.padEnd(13)} ${o.family.padEnd(25)} ${String(o.parameters).padStart(8)}  ${pct(o.top1).padStart(8)}  ${pct(o.top5).padStart(8)}`);
  }
  return lines.join('\n');
}

/** Where the jobs run: `jobs` local job processes at once (1: in this process), or on the workers of a Redis queue. */
export interface ExecutionOptions {
  jobs?: number;
  redis?: string;
}

/** The backend for the options: none (the runner's in-process default) for one local job at a time. */
async function backendFor(plan: ExperimentPlan, runDir: string, opts: ExecutionOptions): Promise<JobBackend | undefined> {
  if (opts.redis) return bullmqBackend(opts.redis, plan, runDir);
  return (opts.jobs ?? 1) > 1 ? processBackend(plan, runDir, opts.jobs!) : undefined;
}

/**
 * Runs the jobs a stage needs and returns the terminal summary.
 * @param plan the experiment
 * @param runDir the run directory (store, artifacts, report)
 * @param stage how far to go
 * @param progress receives progress and log lines
 * @param execution local job processes (`jobs`) or a Redis queue's workers (`redis`)
 * @throws the input checks' errors before any job; JobFailedError, RunInterruptedError from the runner; RedisUnreachableError
 * @example
 * await runExperiment(quickPlan(), 'runs/q', 'report', sink, { jobs: 2 });
 */
export async function runExperiment(plan: ExperimentPlan, runDir: string, stage: Stage, progress: ProgressSink, execution: ExecutionOptions = {}): Promise<string> {
  await checkInputs(plan);
  const jobs = experimentGraph(plan);
  const evaluation = jobs.evaluation;
  const targets: Record<Stage, JobSpec<any>[]> = {
    classifiers: [...jobs.classifiers.values()],
    pretrain: [jobs.reconstructions.get('A_S')!],
    finetune: [...jobs.finetunes.values()],
    evaluate: [evaluation],
    report: [evaluation],
  };
  const t0 = Date.now();
  const backend = await backendFor(plan, runDir, execution);
  const done = await runJobs(runDir, targets[stage], { onProgress: forward(progress), config: plan as never, backend });
  const seconds = (Date.now() - t0) / 1000;
  const parts = [`run directory: ${runDir} (${done.ran.length} job(s) ran, ${done.reused.length} reused, ${seconds.toFixed(0)}s)`];
  if (stage === 'classifiers') parts.push(classifierSummary(plan, done, jobs.classifiers));
  if (stage === 'pretrain') {
    const ev = done.output(jobs.reconstructions.get('A_S')!);
    parts.push(`A_S reconstruction PSNR on the evaluation set: ${ev.psnr.toFixed(2)} dB`);
  }
  if (stage === 'finetune') {
    for (const [name, job] of jobs.finetunes) parts.push(`${name}: fine-tuned decoder, final cross-entropy ${done.output(job).finalLoss?.toFixed(4) ?? '-'} (${done.dir(job)})`);
  }
  if (stage === 'evaluate' || stage === 'report') parts.push(await renderRunReport(runDir));
  return parts.join('\n\n');
}

/** `s2snets report RUN`: re-renders the report from what the run store holds. */
export const rebuildRunReport = renderRunReport;
