// One job, run into its artifact: the part of running a job that does not depend on who
// schedules it or where, so that the in-process runner, local job processes and remote workers
// run a job the same way (same context, same staging and checkpoint rules, same commit).
import { rmSync } from 'node:fs';
import { createCheckpointer, type Manifest } from '../runs/artifacts.js';
import type { ArtifactStore } from '../runs/artifact-store.js';
import { canonicalJson, jobKey, JobConfigError, type JobContext, type JobSpec, type Json } from './job-graph.js';
import type { EngineIdentity } from './current-engine.js';

/** An error as one line: its class name (unless plain Error) and the first line of its message. */
export const firstLine = (e: unknown): string => {
  const msg = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return msg.split('\n')[0];
};

/** The engine a job computes with, and whether checkpoints made by another engine are resumed from. */
export interface EngineUse {
  identity: EngineIdentity;
  accept: boolean;
}

/** What a running job reports, wherever it runs. */
export interface JobEvents {
  progress(fraction: number, message: string, metrics?: Record<string, Json>): void;
  log(message: string): void;
  warning(message: string): void;
  /** The job's metrics so far (merged). */
  metrics(metrics: Record<string, Json>): void;
}

/** A finished job: its committed artifact. */
export interface Execution {
  manifest: Manifest;
  manifestSha: string;
  /** Wall time of the job's own work, in seconds. */
  durationS: number;
}

/**
 * Runs one job whose dependencies are finished and commits its output as the artifact of its key;
 * the job's checkpoints are removed once the artifact is in place.
 * @param store where the dependencies' artifacts are and the output goes
 * @param job the job (its deps must have verified artifacts in the store)
 * @param deps the manifests of the job's dependencies, by key
 * @param signal aborted to stop the job at its next checkpoint
 * @param events receives progress, log lines, warnings and metrics
 * @param engine the identity of the engine computing it (recorded in the manifest and the
 *   checkpoints), and whether checkpoints another engine made are resumed from
 * @throws whatever the job throws (the staging directory is removed), JobConfigError for
 *   non-JSON outputs or a dependency that is not declared
 * @example
 * const done = await executeJob(directoryStore(runDir), job, deps, signal, events, { identity: currentEngine(), accept: false });
 * done.manifest.output // what job.run returned
 */
export async function executeJob(store: ArtifactStore, job: JobSpec<unknown>, deps: Map<string, Manifest>, signal: AbortSignal, events: JobEvents, engine: EngineUse): Promise<Execution> {
  const key = jobKey(job);
  const depKey = (dep: JobSpec<unknown>) => {
    const k = jobKey(dep);
    if (!job.deps.some((d) => jobKey(d) === k)) throw new JobConfigError(`job '${job.name}' asked for '${dep.name}', which is not one of its deps`);
    if (!deps.has(k)) throw new JobConfigError(`job '${job.name}' started before its dependency '${dep.name}' finished`);
    return k;
  };
  const staging = store.stagingDir(key);
  const checkpointDir = store.checkpointDir(key);
  let metrics: Record<string, Json> = {};
  const ctx: JobContext = {
    key,
    dir: staging,
    checkpointDir,
    checkpoint: createCheckpointer(checkpointDir, store.trashDir, job.name, (m) => events.warning(m), engine),
    signal,
    input: (dep) => store.localDir(depKey(dep)),
    output: <T>(dep: JobSpec<T>) => deps.get(depKey(dep))!.output as T,
    progress: async (fraction, message, m) => {
      events.progress(fraction, message, m);
      await new Promise((resolve) => setImmediate(resolve));
    },
    log: (message) => events.log(message),
    setMetrics: (m) => {
      canonicalJson(m, `metrics of job '${job.name}'`);
      metrics = { ...metrics, ...m };
      events.metrics(metrics);
    },
  };
  const started = performance.now();
  try {
    const output = ((await job.run(ctx)) ?? null) as Json;
    canonicalJson(output, `output of job '${job.name}'`);
    const committed = store.commit(staging, { key, job: job.name, output, metrics, engine: engine.identity });
    rmSync(checkpointDir, { recursive: true, force: true });
    return { ...committed, durationS: (performance.now() - started) / 1000 };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** One job handed to a backend, with everything it needs to run and report. */
export interface JobRequest {
  job: JobSpec<unknown>;
  key: string;
  /** The manifests of the job's dependencies, by key (all verified). */
  deps: Map<string, Manifest>;
  /** No other job of the graph can run beside this one, so it may take every thread. */
  runsAlone: boolean;
  signal: AbortSignal;
  events: JobEvents;
}

/**
 * Runs the jobs the runner hands it: in this process, in local job processes, or on remote
 * workers. The runner keeps the order, the run store and reuse; a backend only runs a ready job
 * into its artifact, and may run `slots` of them at once.
 */
export interface JobBackend {
  /** How many jobs may run at once (Infinity: the backend bounds it itself). */
  readonly slots: number;
  /** Runs the job into its committed artifact; rejects with the job's error, or after the signal aborted it. */
  run(request: JobRequest): Promise<Execution>;
  /** Frees what the backend holds (processes, connections). */
  close(): Promise<void>;
}

/**
 * Runs one job at a time in the calling process (the sequential runner).
 * @param store where artifacts go
 * @param engine the engine identity recorded in artifacts and checkpoints, and whether other engines' checkpoints are resumed from
 * @example
 * await runJobs(runDir, targets, { backend: inProcessBackend(directoryStore(runDir), { identity: currentEngine(), accept: false }) });
 */
export function inProcessBackend(store: ArtifactStore, engine: EngineUse): JobBackend {
  return {
    slots: 1,
    run: (r) => executeJob(store, r.job, r.deps, r.signal, r.events, engine),
    close: async () => {},
  };
}
