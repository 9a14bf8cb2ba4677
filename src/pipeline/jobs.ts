// Jobs: the units of an experiment graph. A job's key is the hash of everything that decides its
// output (name, configuration, code version, the keys of its inputs), so a changed setting
// invalidates exactly that job and the jobs downstream of it, and nothing else.
import { createHash } from 'node:crypto';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Files of a checkpoint: name -> contents (chunks allowed, e.g. encodeSafetensors output). */
export type CheckpointFiles = Record<string, string | Uint8Array | Uint8Array[]>;

/** The latest committed checkpoint of a job: its name and the directory holding its files. */
export interface Checkpoint {
  name: string;
  dir: string;
}

export interface Checkpointer {
  /** Commits the files as one checkpoint (all or nothing) and drops older ones. */
  save(name: string, files: CheckpointFiles): void;
  /** The latest intact checkpoint, or null when there is none (start from scratch). */
  load(): Checkpoint | null;
}

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

export class JobConfigError extends Error {
  override name = 'JobConfigError';
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
