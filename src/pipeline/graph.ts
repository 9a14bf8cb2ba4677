// The whole job graph of an experiment, rebuilt from its plan alone. The plan is plain JSON and
// job keys are content hashes, so any process given the plan (a local job process, a worker on
// another machine) builds the same graph and finds a job by its key.
import { canonicalJson, jobKey, topologicalOrder, type JobSpec } from './jobs.js';
import { experimentJobs, type ExperimentJobs } from './experiment.js';
import { evaluationJob, type EvaluationOutput } from './evaluate.js';
import { replicatesJob } from './replicates.js';
import type { ExperimentPlan } from './plan.js';
import { S2SNetsError } from '../common/errors.js';

export interface ExperimentGraph {
  /** The training and reconstruction jobs of each replicate (0: the run itself). */
  replicates: ExperimentJobs[];
  /** One evaluation per replicate. */
  evaluations: JobSpec<EvaluationOutput>[];
  /** What the report reads: the evaluation, or the replicates' summary over all evaluations. */
  analysed: JobSpec<unknown>[];
  /** Every job by key. */
  byKey: Map<string, JobSpec<unknown>>;
}

/** A job key the graph of the plan does not hold: the process runs other code, or got another plan. */
export class UnknownJobError extends S2SNetsError {
  override name = 'UnknownJobError';
  static override readonly codes = ['S2SNETS_UNKNOWN_JOB'] as const;
  static override readonly legacyCodes = { S2S_UNKNOWN_JOB: 'S2SNETS_UNKNOWN_JOB' };
}

/**
 * Builds the experiment's graph: per replicate (seed + r) the training, reconstruction and
 * evaluation jobs, the replicates' summary when there is more than one, and an index by key.
 * @param plan the experiment
 * @example
 * const g = experimentGraph(quickPlan());
 * g.byKey.get(jobKey(g.evaluations[0])) === g.evaluations[0] // true
 */
export function experimentGraph(plan: ExperimentPlan): ExperimentGraph {
  const replicates = Array.from({ length: plan.repeats }, (_, r) => experimentJobs(plan, r));
  const evaluations = replicates.map((jobs, r) => evaluationJob(plan, jobs, r));
  const analysed: JobSpec<unknown>[] = plan.repeats > 1 ? [replicatesJob(plan, evaluations)] : evaluations;
  const all = topologicalOrder([...analysed, ...replicates.flatMap((jobs) => [...jobs.classifiers.values()])]);
  return { replicates, evaluations, analysed, byKey: new Map(all.map((j) => [jobKey(j), j])) };
}

const cache = new Map<string, ExperimentGraph>();

/**
 * The job of the plan's graph with this key; graphs are built once per plan and process (building
 * one hashes imported model files and lists image folders).
 * @param plan the experiment the job belongs to
 * @param key the job's content hash
 * @throws UnknownJobError when the plan's graph has no such job (code of another version, or a changed input file)
 * @example
 * const job = findJob(plan, key); // then executeJob(store, job, ...)
 */
export function findJob(plan: ExperimentPlan, key: string): JobSpec<unknown> {
  const id = canonicalJson(plan, 'plan');
  let graph = cache.get(id);
  if (!graph) {
    graph = experimentGraph(plan);
    cache.set(id, graph);
  }
  const job = graph.byKey.get(key);
  if (!job) {
    throw new UnknownJobError(`job ${key.slice(0, 12)} is not in the graph this process builds from the plan (another s2snets version, or an input file changed since it was submitted)`);
  }
  return job;
}
