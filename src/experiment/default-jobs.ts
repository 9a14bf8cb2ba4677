// How many jobs of a plan run at once when the command line does not say: a property of the
// experiment (its device and the length of its training jobs), not of the scheduler that runs them.
import { availableParallelism } from 'node:os';
import type { ExperimentPlan } from './plan.js';

/** Below this many steps in its longest training job a plan runs one job at a time by default (see defaultJobs). */
export const MIN_STEPS_FOR_JOB_PROCESSES = 200;

/**
 * How many jobs run at once by default. One on a GPU (jobs would compete for its memory). On the
 * CPU two, each in its own process with half the threads: on 2 cores the MNIST demo took 4 min
 * 4 s against 5 min 38 s as one job at a time with both threads (README), since the
 * classifiers gain little from a second thread and the two processes need no OpenMP barriers.
 * Not more, since every job process holds its own copy of the data. One, in this process, when
 * the plan's jobs are short (fewer than MIN_STEPS_FOR_JOB_PROCESSES steps in the A_S floor and
 * the fine-tune budget, as in --quick): starting a job process (libtorch, the data) takes about
 * a second, as much as running such jobs side by side gains (the quick demo: 6.8-7.9 s one at a
 * time, 7.3-7.4 s two at once; 10.2-10.6 s when every job started its own process).
 * @param plan the experiment (device and step counts)
 * @example
 * defaultJobs(defaultPlan()) // 2 on 2 cores or more, 1 on a GPU
 * defaultJobs(quickPlan()) // 1
 */
export function defaultJobs(plan: Pick<ExperimentPlan, 'device' | 'ae' | 'finetune'>): number {
  if (plan.device.startsWith('cuda') || availableParallelism() < 2) return 1;
  return Math.max(plan.ae.minSteps, plan.finetune.steps) < MIN_STEPS_FOR_JOB_PROCESSES ? 1 : 2;
}
