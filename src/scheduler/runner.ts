// Runs a job graph in a run directory so that finished work is never lost: jobs start in a
// stable order (jobs.ts runOrder: the most awaited first) as soon as their dependencies are done
// (one at a time, or as many as the backend has slots), a job whose verified artifact exists is reused, each finished job is
// committed (artifact rename, then a DB transaction), and Ctrl-C asks the running jobs to
// checkpoint and stop. Rerunning the same command resumes. This process alone writes the run
// store, whichever backend (this process, local job processes, remote workers) runs the jobs.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { artifactDir, discardDir, readManifest, runLayout, verifyArtifact, type Manifest } from '../runs/artifacts.js';
import { directoryStore } from '../runs/artifact-store.js';
import { firstLine, inProcessBackend, type JobBackend } from './execute.js';
import { jobKey, jobsThatRunAlone, runOrder, JobConfigError, type JobSpec, type Json } from './job-graph.js';
import { acquireLock, ownerAlive, readLock, type Lock, type LockOwner } from '../runs/lock.js';
import { currentEngine, engineDifferences, type EngineIdentity } from './current-engine.js';
import { RunStore, StoreError, type JobRow, type RunMeta } from '../runs/store.js';
import { S2SNetsError } from '../common/errors.js';
import { JobProcessError } from './job-process.js';

/** 'notice': a line about the whole run (job is ''), e.g. an engine change. */
export type ProgressKind = 'reused' | 'start' | 'progress' | 'log' | 'warning' | 'notice' | 'done' | 'failed' | 'blocked' | 'corrupt' | 'interrupted';

export interface ProgressEvent {
  kind: ProgressKind;
  job: string;
  key: string;
  /** Position of the job in the run order (0-based) and the number of jobs. */
  index: number;
  total: number;
  fraction?: number;
  message?: string;
  metrics?: Record<string, Json>;
  durationS?: number;
}

export interface RunOptions {
  onProgress?: (event: ProgressEvent) => void;
  /** Who runs the jobs (default: this process, one at a time); the runner closes it. */
  backend?: JobBackend;
  /** The experiment configuration, stored as the run's metadata. */
  config?: Json;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** The engine identity recorded in new artifacts and compared with reused ones (default: this process's). */
  engine?: EngineIdentity;
  /** Reuse artifacts made by an engine of another identity instead of recomputing them. */
  acceptEngineChange?: boolean;
  /** The run directory's lock, when the caller holds it already (otherwise runJobs takes it). */
  lock?: Lock;
}

/** A job that failed: its name, key, first error line, and that error's code when it had one. */
export interface JobFailure {
  job: string;
  key: string;
  error: string;
  code?: string;
}

/** Finished jobs whose artifacts were made by an engine of another identity than this run's. */
export interface EngineChange {
  /** What differs, e.g. "blas: reference BLAS -> OpenBLAS 0.3.21 (OpenMP, core Haswell)". */
  differences: string[];
  jobs: string[];
  /** True when they were kept (acceptEngineChange), false when recomputed. */
  kept: boolean;
}

export interface RunReport {
  /** The graph's jobs in run order, as recorded in the store. */
  jobs: JobRow[];
  ran: string[];
  reused: string[];
  /** Jobs whose artifact was missing or corrupt though recorded as done, or made by another engine, and why. */
  recomputed: { job: string; reason: string }[];
  engineChange: EngineChange | null;
  /** Artifact directory of a job of this graph. */
  dir(job: JobSpec<unknown>): string;
  /** What a job of this graph returned. */
  output<T>(job: JobSpec<T>): T;
}

export class JobFailedError extends S2SNetsError {
  override name = 'JobFailedError';
  static override readonly codes = ['S2SNETS_JOB_FAILED'] as const;
  /** The code of the first failed job's own error (S2SNETS_...), when it was an s2snets error. */
  readonly causeCode: string | undefined;
  constructor(
    readonly failures: JobFailure[],
    readonly notRun: string[],
  ) {
    const [first] = failures;
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more failed job(s))` : '';
    const skipped = notRun.length ? `; not run because of it: ${notRun.join(', ')}` : '';
    super(`job '${first.job}' failed: ${first.error}${more}${skipped}`);
    this.causeCode = first.code;
  }
}

export class RunInterruptedError extends S2SNetsError {
  override name = 'RunInterruptedError';
  static override readonly codes = ['S2SNETS_RUN_INTERRUPTED'] as const;
  /** Conventional shell exit status for the signal (130 for SIGINT, 143 for SIGTERM). */
  readonly exitCode: number;
  constructor(readonly signal: NodeJS.Signals) {
    super('interrupted; rerun the same command to resume');
    this.exitCode = signal === 'SIGTERM' ? 143 : 130;
  }
}

/** The lock file of a run directory: every process that writes there holds it (see lock.ts). */
export const runLockPath = (runDir: string) => join(runDir, 'lock');

/** Aborts on the first SIGINT/SIGTERM; a second one exits at once (the store stays consistent). */
function interruptOnSignals(controller: AbortController, install: boolean): { signal: () => NodeJS.Signals | null; remove: () => void } {
  let received: NodeJS.Signals | null = null;
  const handler = (sig: NodeJS.Signals) => {
    if (received) process.exit(sig === 'SIGTERM' ? 143 : 130);
    received = sig;
    process.stderr.write(`\n${sig}: stopping after the current job saves a checkpoint (press again to quit now)\n`);
    controller.abort(new RunInterruptedError(sig));
  };
  if (install) {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }
  return {
    signal: () => received,
    remove: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/**
 * Brings every target (and what it needs) to done in runDir. Resolves with the report; rejects
 * with JobFailedError when a job failed (its dependents are not run, independent jobs are),
 * RunInterruptedError after SIGINT/SIGTERM, LockHeldError when another process holds the run.
 */
export async function runJobs(runDir: string, targets: JobSpec<any>[], opts: RunOptions = {}): Promise<RunReport> {
  const order = runOrder(targets);
  const layout = runLayout(runDir);
  mkdirSync(runDir, { recursive: true });
  const lock = opts.lock ?? acquireLock(runLockPath(runDir), 'running jobs');
  if (lock.path !== resolve(runLockPath(runDir))) throw new JobConfigError(`the lock passed is ${lock.path}, not the run's ${runLockPath(runDir)}`);
  const controller = new AbortController();
  const signals = interruptOnSignals(controller, opts.handleSignals ?? true);
  const engine = opts.engine ?? currentEngine();
  const backend = opts.backend ?? inProcessBackend(directoryStore(runDir), { identity: engine, accept: opts.acceptEngineChange ?? false });
  let store: RunStore | undefined;
  try {
    // Leftovers of a process that died: half-written outputs and half-deleted directories.
    rmSync(layout.staging, { recursive: true, force: true });
    rmSync(layout.trash, { recursive: true, force: true });
    store = RunStore.open(runDir);
    if (opts.config !== undefined) store.setMeta(opts.config);
    else if (!store.meta()) store.setMeta(null);
    store.beginInvocation(order.map((j) => ({ key: jobKey(j), name: j.name })));
    removeFinishedCheckpoints(runDir, store);
    const executor = new Executor({
      runDir,
      store,
      order,
      alone: jobsThatRunAlone(targets),
      signal: controller.signal,
      receivedSignal: signals.signal,
      backend,
      engine,
      acceptEngineChange: opts.acceptEngineChange,
      onProgress: opts.onProgress,
    });
    await executor.runAll();
    return executor.report();
  } finally {
    signals.remove();
    await backend.close();
    store?.close();
    rmSync(layout.trash, { recursive: true, force: true });
    rmSync(layout.staging, { recursive: true, force: true });
    if (!opts.lock) lock.release();
  }
}

/**
 * Checkpoints outlive their job only until its artifact is committed; a process killed right after
 * recording a job done (or a job whose artifact was adopted) leaves them behind, so every run
 * start removes those of finished jobs.
 */
function removeFinishedCheckpoints(runDir: string, store: RunStore): void {
  const { checkpoints } = runLayout(runDir);
  if (!existsSync(checkpoints)) return;
  for (const key of readdirSync(checkpoints)) {
    if (store.job(key)?.status === 'done') rmSync(join(checkpoints, key), { recursive: true, force: true });
  }
}

/** What an Executor works with: the run, its graph, who runs the jobs and who hears about it. */
interface ExecutorOptions {
  /** The run directory: artifacts, checkpoints, staging and trash live under it. */
  runDir: string;
  /** The run's store, opened by runJobs: every job's outcome is recorded there. */
  store: RunStore;
  /** Every job of the graph, dependencies first (jobs.ts runOrder): jobs start in this order. */
  order: JobSpec<unknown>[];
  /** Keys of the jobs nothing else can run beside (jobs.ts jobsThatRunAlone). */
  alone: Set<string>;
  /** Aborted on SIGINT/SIGTERM: nothing new starts, and the running jobs checkpoint and stop. */
  signal: AbortSignal;
  /** The signal received, once one was (it names the interruption in the store and the error). */
  receivedSignal: () => NodeJS.Signals | null;
  /** Runs the jobs; its slots bound how many run at once. */
  backend: JobBackend;
  /** Recorded in new artifacts and compared with the engine of reused ones. */
  engine: EngineIdentity;
  /**
   * Reuse artifacts made by an engine of another identity instead of recomputing them.
   * @defaultValue false
   */
  acceptEngineChange?: boolean;
  /**
   * Hears of every job's start, progress, logs and outcome, and of notices about the whole run.
   * @defaultValue no listener
   */
  onProgress?: (event: ProgressEvent) => void;
}

/** A job waiting to start, with its position in the run order (events carry it). */
interface PendingJob {
  job: JobSpec<unknown>;
  index: number;
}

class Executor {
  private readonly manifests = new Map<string, Manifest>();
  private readonly failed = new Map<string, JobFailure>();
  private readonly notRun: string[] = [];
  private readonly notRunKeys = new Set<string>();
  private readonly ran: string[] = [];
  private readonly reused: string[] = [];
  private engineChange: EngineChange | null = null;
  private readonly recomputed: { job: string; reason: string }[] = [];
  private readonly layout: ReturnType<typeof runLayout>;
  private readonly runDir: string;
  private readonly store: RunStore;
  private readonly order: JobSpec<unknown>[];
  private readonly alone: Set<string>;
  private readonly signal: AbortSignal;
  private readonly receivedSignal: () => NodeJS.Signals | null;
  private readonly backend: JobBackend;
  private readonly engine: EngineIdentity;
  private readonly acceptEngineChange: boolean;
  private readonly onProgress?: (event: ProgressEvent) => void;

  constructor(options: ExecutorOptions) {
    this.runDir = options.runDir;
    this.store = options.store;
    this.order = options.order;
    this.alone = options.alone;
    this.signal = options.signal;
    this.receivedSignal = options.receivedSignal;
    this.backend = options.backend;
    this.engine = options.engine;
    this.acceptEngineChange = options.acceptEngineChange ?? false;
    this.onProgress = options.onProgress;
    this.layout = runLayout(this.runDir);
  }

  /**
   * Finished jobs of this graph made by an engine of another identity, found from their manifests
   * alone (no hashing), and announced on one line before anything runs.
   */
  private findEngineChange(): void {
    const jobs: string[] = [];
    const differences = new Set<string>();
    for (const job of this.order) {
      const manifest = readManifest(artifactDir(this.runDir, jobKey(job)));
      if (!manifest) continue;
      const diff = engineDifferences(manifest.engine, this.engine);
      if (diff.length === 0) continue;
      jobs.push(job.name);
      for (const d of diff) differences.add(d);
    }
    if (jobs.length === 0) return;
    this.engineChange = { differences: [...differences], jobs, kept: this.acceptEngineChange };
    const what = this.acceptEngineChange ? 'keeping them (--accept-engine-change)' : 'recomputing them (--accept-engine-change keeps them)';
    const message = `the engine differs from the one ${jobs.length} finished job(s) were made with (${[...differences].join('; ')}): ${what}`;
    this.store.addEvent(null, 'engine-change', message);
    this.onProgress?.({ kind: 'notice', job: '', key: '', index: -1, total: this.order.length, message });
  }

  private emit(job: JobSpec<unknown>, index: number, kind: ProgressKind, extra: Partial<ProgressEvent> = {}): void {
    this.onProgress?.({ kind, job: job.name, key: jobKey(job), index, total: this.order.length, ...extra });
  }

  /**
   * Starts jobs in run order as soon as their dependencies are done, up to the backend's slots;
   * with one slot this is exactly the sequential order. After a signal nothing new starts and
   * the running jobs are awaited (they checkpoint and stop).
   */
  async runAll(): Promise<void> {
    this.findEngineChange();
    let pending: PendingJob[] = this.order.map((job, index) => ({ job, index }));
    const running = new Map<string, Promise<void>>();
    while (!this.signal.aborted) {
      pending = this.startReady(pending, running);
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    await Promise.all(running.values());
    if (this.signal.aborted) throw new RunInterruptedError(this.receivedSignal() ?? 'SIGINT');
    if (this.failed.size) throw new JobFailedError([...this.failed.values()], this.notRun);
  }

  /**
   * One look at the pending jobs in run order while the backend has a free slot: each blocked job
   * is settled, each ready one reused or started. Returns the jobs still waiting, in run order.
   */
  private startReady(pending: PendingJob[], running: Map<string, Promise<void>>): PendingJob[] {
    let waiting = pending;
    // A reused job is done at once and may make jobs ready that were passed over: look again.
    for (let reusedAny = true; reusedAny; ) {
      reusedAny = false;
      const stillWaiting: PendingJob[] = [];
      for (const pendingJob of waiting) {
        const outcome = running.size < this.backend.slots ? this.tryStart(pendingJob, running) : 'waiting';
        if (outcome === 'waiting') stillWaiting.push(pendingJob);
        reusedAny ||= outcome === 'reused';
      }
      waiting = stillWaiting;
    }
    return waiting;
  }

  /** Settles a job a failure blocks, reuses or starts a ready one; 'waiting' while a dependency is not done. */
  private tryStart({ job, index }: PendingJob, running: Map<string, Promise<void>>): 'blocked' | 'waiting' | 'reused' | 'started' {
    const depKeys = job.deps.map(jobKey);
    const blockedBy = depKeys.find((k) => this.failed.has(k) || this.notRunKeys.has(k));
    if (blockedBy) {
      this.block(job, index, blockedBy);
      return 'blocked';
    }
    if (!depKeys.every((k) => this.manifests.has(k))) return 'waiting';
    if (this.reuse(job, index)) return 'reused';
    const key = jobKey(job);
    running.set(key, this.execute(job, index).finally(() => running.delete(key)));
    return 'started';
  }

  /** Records a job that is not run because a dependency failed or was not run itself. */
  private block(job: JobSpec<unknown>, index: number, blockedBy: string): void {
    const key = jobKey(job);
    const why = `not run: dependency '${this.order.find((j) => jobKey(j) === blockedBy)!.name}' did not finish`;
    this.notRun.push(job.name);
    this.notRunKeys.add(key);
    this.store.addEvent(key, 'blocked', why);
    this.emit(job, index, 'blocked', { message: why });
  }

  /** Uses the job's artifact when it verifies; reports and discards it when it does not. */
  private reuse(job: JobSpec<unknown>, index: number): boolean {
    const key = jobKey(job);
    const row = this.store.job(key)!;
    const v = verifyArtifact(this.runDir, key);
    let reason = v.ok ? null : v.reason;
    if (v.ok && row.status === 'done' && row.artifactSha !== v.manifestSha) reason = 'manifest differs from the one recorded when the job finished';
    const engineChanged = v.ok && reason === null && !this.acceptEngineChange && engineDifferences(v.manifest.engine, this.engine).length > 0;
    if (engineChanged) {
      // Announced once for the whole run (findEngineChange); recorded per job.
      this.recomputed.push({ job: job.name, reason: 'made by an engine of another identity' });
      this.store.markInvalid(key, `artifact of job '${job.name}' was made by an engine of another identity; recomputing`);
      return false;
    }
    if (v.ok && reason === null) {
      this.manifests.set(key, v.manifest);
      if (row.status !== 'done') {
        // Committed just before the process died, without its DB record: the artifact is the truth.
        this.store.markDone(key, { durationS: null, artifactSha: v.manifestSha, metrics: v.manifest.metrics }, 'adopted its committed artifact');
      }
      rmSync(join(this.layout.checkpoints, key), { recursive: true, force: true });
      this.reused.push(job.name);
      this.emit(job, index, 'reused', { metrics: v.manifest.metrics });
      return true;
    }
    if (row.status === 'done' || reason !== 'missing') {
      const message = `artifact of job '${job.name}' (${artifactDir(this.runDir, key)}) is unusable: ${reason}; recomputing`;
      this.recomputed.push({ job: job.name, reason: reason! });
      this.store.markInvalid(key, message);
      this.emit(job, index, 'corrupt', { message });
      discardDir(artifactDir(this.runDir, key), this.layout.trash);
    }
    return false;
  }

  /** Runs a ready job on the backend and records the outcome; never throws. */
  private async execute(job: JobSpec<unknown>, index: number): Promise<void> {
    const key = jobKey(job);
    const deps = new Map(job.deps.map((d) => [jobKey(d), this.manifests.get(jobKey(d))!]));
    const row = this.store.markRunning(key);
    this.emit(job, index, 'start', { message: row.attempts > 1 ? `attempt ${row.attempts}` : undefined });
    try {
      const done = await this.backend.run({
        job,
        key,
        deps,
        runsAlone: this.alone.has(key),
        signal: this.signal,
        events: {
          progress: (fraction, message, metrics) => this.emit(job, index, 'progress', { fraction, message, metrics }),
          log: (message) => {
            this.store.addEvent(key, 'log', message);
            this.emit(job, index, 'log', { message });
          },
          warning: (message) => {
            this.store.addEvent(key, 'warning', message);
            this.emit(job, index, 'warning', { message });
          },
          metrics: (metrics) => this.store.setMetrics(key, metrics),
        },
      });
      const metrics = done.manifest.metrics;
      this.store.markDone(key, { durationS: done.durationS, artifactSha: done.manifestSha, metrics });
      this.manifests.set(key, done.manifest);
      this.ran.push(job.name);
      this.emit(job, index, 'done', { durationS: done.durationS, metrics });
    } catch (e) {
      if (this.signal.aborted) {
        this.store.markInterrupted(key, `stopped by ${this.receivedSignal() ?? 'a signal'}; resumes from its checkpoint`);
        this.emit(job, index, 'interrupted');
        return;
      }
      // A job process's own failure is already the job's error in one line (no 'JobProcessError: ' before it).
      const error = e instanceof JobProcessError && e.reason === 'failed' ? e.message : firstLine(e);
      this.store.markFailed(key, error);
      // A job run in its own process (or on a worker) reports its error's code across that boundary.
      const code = e instanceof JobProcessError ? e.causeCode : e instanceof S2SNetsError ? e.code : undefined;
      this.failed.set(key, { job: job.name, key, error, code });
      this.emit(job, index, 'failed', { message: error });
    }
  }

  report(): RunReport {
    const keyOf = (job: JobSpec<unknown>) => {
      const k = jobKey(job);
      if (!this.manifests.has(k)) throw new JobConfigError(`job '${job.name}' is not a finished job of this run`);
      return k;
    };
    return {
      jobs: this.order.map((j) => this.store.job(jobKey(j))!),
      ran: this.ran,
      reused: this.reused,
      recomputed: this.recomputed,
      engineChange: this.engineChange,
      dir: (job) => artifactDir(this.runDir, keyOf(job)),
      output: <T>(job: JobSpec<T>) => this.manifests.get(keyOf(job))!.output as T,
    };
  }
}

/** A job of the run's graph; `artifactProblem` says why a done job's artifact fails verification. */
export interface StatusJob extends JobRow {
  artifactProblem: string | null;
  /** Recorded running, but no process runs in the directory: it was interrupted (the next run resumes it). */
  interrupted: boolean;
}

/**
 * What status and verify say of a job recorded running while no process runs in its directory.
 * @param job the job's name
 * @example interruptedJobNote('evaluate') // "job 'evaluate' is recorded running, but ..."
 */
export const interruptedJobNote = (job: string) => `job '${job}' is recorded running, but no process runs in this directory: it was interrupted; rerun the command to resume it`;

export interface RunStatus {
  runDir: string;
  meta: RunMeta | null;
  /** The run's whole job graph (every command run in the directory), in run order. */
  jobs: StatusJob[];
  /** The process that holds the run's lock now, if any. */
  activeProcess: LockOwner | null;
}

/**
 * The job table of a run directory, for `s2snets status RUN`. Reads without the lock, and
 * verifies the artifact of every done job (so it reads every artifact file once).
 * @param runDir the run directory
 * @throws StoreError when runDir holds no run
 * @example
 * status('runs/mnist').jobs.filter((j) => j.artifactProblem) // damaged artifacts
 */
export function status(runDir: string): RunStatus {
  const store = openExisting(runDir);
  try {
    // Read before the table: a process that ends meanwhile leaves its jobs 'running', not wrongly 'interrupted'.
    const activeProcess = liveOwner(runDir);
    const jobs = store.graphJobs().map((j) => {
      if (j.status !== 'done') return { ...j, artifactProblem: null, interrupted: j.status === 'running' && !activeProcess };
      const v = verifyArtifact(runDir, j.key);
      const problem = !v.ok ? v.reason : v.manifestSha !== j.artifactSha ? 'manifest differs from the one recorded when the job finished' : null;
      return { ...j, artifactProblem: problem, interrupted: false };
    });
    return { runDir, meta: store.meta(), jobs, activeProcess };
  } finally {
    store.close();
  }
}

/**
 * The live process holding the run's lock, or null; reads without taking it.
 * @param runDir the run directory
 * @example
 * liveOwner('runs/mnist')?.pid // the PID of a run in progress
 */
export function liveOwner(runDir: string): LockOwner | null {
  const owner = readLock(runLockPath(runDir));
  return owner && ownerAlive(owner) ? owner : null;
}

/**
 * The store of an existing run, read-only (close it when done).
 * @param runDir the run directory
 * @throws StoreError when runDir holds no run
 * @example
 * const store = openExisting('runs/mnist'); try { store.graphJobs(); } finally { store.close(); }
 */
export function openExisting(runDir: string): RunStore {
  if (!existsSync(runLayout(runDir).db)) throw new StoreError(`${runDir}: no run here (run.db missing)`);
  return RunStore.openReadOnly(runDir);
}
