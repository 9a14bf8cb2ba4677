// The whole job graph of an experiment, rebuilt from its plan alone. The plan is plain JSON and
// job keys are content hashes, so any process given the plan (a local job process, a worker on
// another machine) builds the same graph and finds a job by its key.
import { canonicalJson, jobKey, topologicalOrder, type JobSpec, type Json } from '../scheduler/job-graph.js';
import type { GraphSource } from '../scheduler/job-process.js';
import { experimentJobs, type ExperimentJobs } from './jobs.js';
import { evaluationJob, type EvaluationOutput } from './evaluation.js';
import { replicatesJob } from './replicates-job.js';
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

/** This module's URL: job processes and workers load it to rebuild an experiment's graph (a GraphModule). */
export const EXPERIMENT_GRAPH_MODULE = import.meta.url;

/**
 * The plan as the JSON payload job processes and workers rebuild its graph from.
 * @param plan the experiment
 * @throws JobConfigError when the plan holds a value that is not plain JSON
 * @example bullmqBackend(url, planPayload(plan), runDir, false, console.error)
 */
export function planPayload(plan: ExperimentPlan): Json {
  canonicalJson(plan, 'plan');
  // The plan's own key order, not the canonical one: results.json records the plan as given.
  return JSON.parse(JSON.stringify(plan)) as Json;
}

/**
 * Where a job process finds the jobs of this plan: this module and the plan as its payload.
 * @param plan the experiment
 * @example processBackend(experimentGraphSource(plan), runDir, 2, false)
 */
export function experimentGraphSource(plan: ExperimentPlan): GraphSource {
  return { module: EXPERIMENT_GRAPH_MODULE, payload: planPayload(plan) };
}

const cache = new Map<string, ExperimentGraph>();

/**
 * The job of the plan's graph with this key; graphs are built once per plan and process (building
 * one hashes imported model files and lists image folders). What makes this module a GraphModule.
 * @param payload the experiment the job belongs to (its plan, as planPayload gives it)
 * @param key the job's content hash
 * @throws UnknownJobError when the plan's graph has no such job (code of another version, or a changed input file)
 * @example
 * const job = findJob(planPayload(plan), key); // then executeJob(store, job, ...)
 */
export function findJob(payload: Json, key: string): JobSpec<unknown> {
  const id = canonicalJson(payload, 'plan');
  let graph = cache.get(id);
  if (!graph) {
    graph = experimentGraph(payload as unknown as ExperimentPlan);
    cache.set(id, graph);
  }
  const job = graph.byKey.get(key);
  if (!job) {
    throw new UnknownJobError(`job ${key.slice(0, 12)} is not in the graph this process builds from the plan (another s2snets version, or an input file changed since it was submitted)`);
  }
  return job;
}
