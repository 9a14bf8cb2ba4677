// Jobs: the units of a job graph (an experiment's, for one). A job's key is the hash of everything that decides its
// output (name, configuration, code version, the keys of its inputs), so a changed setting
// invalidates exactly that job and the jobs downstream of it, and nothing else.
import { createHash } from 'node:crypto';
import type { Json } from '../common/json.js';
import type { Checkpointer } from '../runs/artifacts.js';
import { S2SNetsError } from '../common/errors.js';

export type { Json };

export interface JobContext {
  /** The job's key (hex sha256). */
  readonly key: string;
  /** A fresh, empty staging directory: write the job's output files here. */
  readonly dir: string;
  /** Persistent across attempts of the same key: resumable state lives here. */
  readonly checkpointDir: string;
  /** Atomic checkpoints inside checkpointDir. */
  readonly checkpoint: Checkpointer;
  /** Aborted on SIGINT/SIGTERM: save a checkpoint and throw (signal.throwIfAborted()). */
  readonly signal: AbortSignal;
  /** The verified artifact directory of a dependency (one of this job's deps). */
  input(dep: JobSpec<unknown>): string;
  /** The value a dependency's run() returned. */
  output<T>(dep: JobSpec<T>): T;
  /** Reports progress; awaiting it yields to the event loop so Ctrl-C is noticed. */
  progress(fraction: number, message: string, metrics?: Record<string, Json>): Promise<void>;
  /** Appends a line to the run's event log. */
  log(message: string): void;
  /** Merges metrics into the job's record (stored in the DB and the artifact manifest). */
  setMetrics(metrics: Record<string, Json>): void;
}

export interface JobSpec<TOut = Json> {
  /** Display name, unique within a graph by convention (e.g. 'finetune[vgg]'). */
  name: string;
  deps: JobSpec<any>[];
  /** Everything that decides the output; part of the key. */
  config: Json;
  /** Bump when the job's code changes in a way that changes its output. */
  codeVersion?: string;
  /** Writes files into ctx.dir and returns a JSON value describing them. */
  run(ctx: JobContext): Promise<TOut>;
}

export class JobConfigError extends S2SNetsError {
  override name = 'JobConfigError';
  static override readonly codes = ['S2SNETS_JOB_CONFIG'] as const;
}

/** JSON with object keys sorted, so equal values always give the same text; refuses non-JSON values. */
export function canonicalJson(value: unknown, where = 'config'): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new JobConfigError(`${where}: ${value} is not valid JSON (use a finite number)`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v, i) => {
      if (v === undefined) throw new JobConfigError(`${where}[${i}]: undefined is not valid JSON`);
      return canonicalJson(v, `${where}[${i}]`);
    }).join(',')}]`;
  }
  if (typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    const obj = value as Record<string, unknown>;
    // Like JSON.stringify, properties holding undefined are left out (optional fields).
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], `${where}.${k}`)}`).join(',')}}`;
  }
  const kind = typeof value === 'object' ? (value as object).constructor?.name ?? 'object' : typeof value;
  throw new JobConfigError(`${where}: a ${kind} is not plain JSON (use numbers, strings, booleans, arrays and plain objects)`);
}

const keys = new WeakMap<JobSpec<unknown>, string>();

/** sha256 (hex) of name, canonical config, code version and the keys of the deps, in order. */
export function jobKey(job: JobSpec<unknown>): string {
  const known = keys.get(job);
  if (known) return known;
  const text = canonicalJson(
    { name: job.name, config: job.config, codeVersion: job.codeVersion ?? null, deps: job.deps.map((d) => jobKey(d)) },
    `job '${job.name}'`,
  );
  const key = createHash('sha256').update(text).digest('hex');
  keys.set(job, key);
  return key;
}

/**
 * The order the runner starts jobs in: dependencies first, and among the jobs that could start,
 * the one that more jobs wait for (directly or not) first, ties in topological order. So the A_S
 * pretraining, which every fine-tune waits for, starts before the classifiers instead of after
 * them, and with two slots the fine-tunes do not queue behind it. A pure function of the graph:
 * the same on every run.
 * @param targets the jobs to bring to done (with everything they need)
 * @returns every job once, in start order
 * @throws JobConfigError when the graph has a cycle
 * @example
 * runOrder([evaluate]).map((j) => j.name) // ['pretrain[A_S]', 'classifier[lenet5]', ...]
 */
export function runOrder(targets: JobSpec<unknown>[]): JobSpec<unknown>[] {
  const { jobs, position, dependents } = dependentSets(targets);
  const placed = new Set<number>();
  const order: JobSpec<unknown>[] = [];
  while (order.length < jobs.length) {
    let best = -1;
    jobs.forEach((job, i) => {
      if (placed.has(i) || !job.deps.every((d) => placed.has(position.get(jobKey(d))!))) return;
      if (best < 0 || dependents[i].size > dependents[best].size) best = i;
    });
    placed.add(best);
    order.push(jobs[best]);
  }
  return order;
}

/**
 * The keys of the jobs that can only ever run alone: every other job of the graph is upstream or
 * downstream of them (say, an evaluation that needs every other job). A runner with several
 * slots may give such a job all of its threads without the thread count depending on timing.
 * @param targets the jobs to bring to done (with everything they need)
 * @throws JobConfigError when the graph has a cycle
 * @example
 * jobsThatRunAlone([evaluate]).has(jobKey(evaluate)) // true
 */
export function jobsThatRunAlone(targets: JobSpec<unknown>[]): Set<string> {
  const { jobs, dependents } = dependentSets(targets);
  const related = (i: number, j: number) => i === j || dependents[i].has(j) || dependents[j].has(i);
  return new Set(jobs.filter((_, i) => jobs.every((__, j) => related(i, j))).map(jobKey));
}

/** The topological order, each key's position in it and, per job, the positions of every job that needs it, directly or not. */
function dependentSets(targets: JobSpec<unknown>[]): { jobs: JobSpec<unknown>[]; position: Map<string, number>; dependents: Set<number>[] } {
  const jobs = topologicalOrder(targets);
  const position = new Map(jobs.map((job, i) => [jobKey(job), i]));
  const dependents = jobs.map(() => new Set<number>());
  // Dependents come after their dependencies: walking backwards, each job's set is final when read.
  for (let i = jobs.length - 1; i >= 0; i--) {
    for (const dep of jobs[i].deps) {
      const d = dependents[position.get(jobKey(dep))!];
      d.add(i);
      for (const k of dependents[i]) d.add(k);
    }
  }
  return { jobs, position, dependents };
}

/**
 * Every job the targets need, dependencies before dependents, one entry per key. The order
 * follows the targets and each job's deps as given, so it is the same on every run.
 */
export function topologicalOrder(targets: JobSpec<unknown>[]): JobSpec<unknown>[] {
  const order: JobSpec<unknown>[] = [];
  const visited = new Set<JobSpec<unknown>>();
  const keysSeen = new Set<string>();
  const path: JobSpec<unknown>[] = [];
  const visit = (job: JobSpec<unknown>) => {
    if (visited.has(job)) return;
    if (path.includes(job)) {
      const cycle = [...path.slice(path.indexOf(job)), job].map((j) => j.name).join(' -> ');
      throw new JobConfigError(`job graph has a cycle: ${cycle}`);
    }
    // The cycle check must come before hashing: hashing a cyclic graph would never end.
    path.push(job);
    for (const dep of job.deps) visit(dep);
    path.pop();
    visited.add(job);
    const key = jobKey(job);
    if (keysSeen.has(key)) return;
    keysSeen.add(key);
    order.push(job);
  };
  for (const t of targets) visit(t);
  return order;
}
