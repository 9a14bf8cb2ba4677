// Runs a job graph in a run directory so that finished work is never lost: jobs run one at a
// time in a stable topological order, a job whose verified artifact exists is reused, each
// finished job is committed (artifact rename, then a DB transaction) before the next starts,
// and Ctrl-C asks the running job to checkpoint and stop. Rerunning the same command resumes.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { artifactDir, commitDir, createCheckpointer, discardDir, readManifest, runLayout, verifyArtifact, type Manifest } from './artifacts.js';
import { canonicalJson, jobKey, topologicalOrder, JobConfigError, type JobContext, type JobSpec, type Json } from './jobs.js';
import { acquireLock, ownerAlive, readLock, type Lock, type LockOwner } from './lock.js';
import { currentEngine, engineDifferences, type EngineIdentity } from './provenance.js';
import { RunStore, StoreError, type JobRow, type RunMeta } from './store.js';

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
  /** Jobs run one at a time. */
  concurrency?: 1;
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

export class JobFailedError extends Error {
  override name = 'JobFailedError';
  constructor(
    readonly failures: { job: string; key: string; error: string }[],
    readonly notRun: string[],
  ) {
    const [first] = failures;
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more failed job(s))` : '';
    const skipped = notRun.length ? `; not run because of it: ${notRun.join(', ')}` : '';
    super(`job '${first.job}' failed: ${first.error}${more}${skipped}`);
  }
}

export class RunInterruptedError extends Error {
  override name = 'RunInterruptedError';
  /** Conventional shell exit status for the signal (130 for SIGINT, 143 for SIGTERM). */
  readonly exitCode: number;
  constructor(readonly signal: NodeJS.Signals) {
    super('interrupted; rerun the same command to resume');
    this.exitCode = signal === 'SIGTERM' ? 143 : 130;
  }
}

const firstLine = (e: unknown) => {
  const msg = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return msg.split('\n')[0];
};

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
 * RunInterruptedError after SIGINT/SIGTERM, RunLockedError when another process runs there.
 */
export async function runJobs(runDir: string, targets: JobSpec<any>[], opts: RunOptions = {}): Promise<RunReport> {
  if (opts.concurrency !== undefined && opts.concurrency !== 1) throw new JobConfigError(`concurrency ${opts.concurrency} is not supported; jobs run one at a time`);
  const order = topologicalOrder(targets);
  const layout = runLayout(runDir);
  mkdirSync(runDir, { recursive: true });
  const lock = opts.lock ?? acquireLock(runLockPath(runDir), 'running jobs');
  if (lock.path !== resolve(runLockPath(runDir))) throw new JobConfigError(`the lock passed is ${lock.path}, not the run's ${runLockPath(runDir)}`);
  const controller = new AbortController();
  const signals = interruptOnSignals(controller, opts.handleSignals ?? true);
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
    const executor = new Executor(runDir, store, order, controller.signal, opts.engine ?? currentEngine(), opts.acceptEngineChange ?? false, opts.onProgress);
    await executor.runAll(signals.signal);
    return executor.report();
  } finally {
    signals.remove();
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

class Executor {
  private readonly manifests = new Map<string, Manifest>();
  private readonly failed = new Map<string, { job: string; key: string; error: string }>();
  private readonly notRun: string[] = [];
  private readonly ran: string[] = [];
  private readonly reused: string[] = [];
  private engineChange: EngineChange | null = null;
  private readonly recomputed: { job: string; reason: string }[] = [];
  private readonly layout: ReturnType<typeof runLayout>;

  constructor(
    private readonly runDir: string,
    private readonly store: RunStore,
    private readonly order: JobSpec<unknown>[],
    private readonly signal: AbortSignal,
    private readonly engine: EngineIdentity,
    private readonly acceptEngineChange: boolean,
    private readonly onProgress?: (event: ProgressEvent) => void,
  ) {
    this.layout = runLayout(runDir);
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

  async runAll(receivedSignal: () => NodeJS.Signals | null): Promise<void> {
    this.findEngineChange();
    for (const [index, job] of this.order.entries()) {
      if (this.signal.aborted) throw new RunInterruptedError(receivedSignal() ?? 'SIGINT');
      const key = jobKey(job);
      const blockedBy = job.deps.map(jobKey).find((k) => this.failed.has(k) || !this.manifests.has(k));
      if (blockedBy) {
        const why = `not run: dependency '${this.order.find((j) => jobKey(j) === blockedBy)!.name}' did not finish`;
        this.notRun.push(job.name);
        this.store.addEvent(key, 'blocked', why);
        this.emit(job, index, 'blocked', { message: why });
        continue;
      }
      if (this.reuse(job, index)) continue;
      await this.execute(job, index, receivedSignal);
    }
    if (this.failed.size) throw new JobFailedError([...this.failed.values()], this.notRun);
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

  private async execute(job: JobSpec<unknown>, index: number, receivedSignal: () => NodeJS.Signals | null): Promise<void> {
    const key = jobKey(job);
    const staging = join(this.layout.staging, key);
    const checkpointDir = join(this.layout.checkpoints, key);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    mkdirSync(checkpointDir, { recursive: true });
    let metrics: Record<string, Json> = {};
    const depKeys = new Set(job.deps.map(jobKey));
    const depKey = (dep: JobSpec<unknown>) => {
      const k = jobKey(dep);
      if (!depKeys.has(k)) throw new JobConfigError(`job '${job.name}' asked for '${dep.name}', which is not one of its deps`);
      return k;
    };
    const warn = (message: string) => {
      this.store.addEvent(key, 'warning', message);
      this.emit(job, index, 'warning', { message });
    };
    const ctx: JobContext = {
      key,
      dir: staging,
      checkpointDir,
      checkpoint: createCheckpointer(checkpointDir, this.layout.trash, job.name, warn, { identity: this.engine, accept: this.acceptEngineChange }),
      signal: this.signal,
      input: (dep) => artifactDir(this.runDir, depKey(dep)),
      output: <T>(dep: JobSpec<T>) => this.manifests.get(depKey(dep))!.output as T,
      progress: async (fraction, message, m) => {
        this.emit(job, index, 'progress', { fraction, message, metrics: m });
        await new Promise((resolve) => setImmediate(resolve));
      },
      log: (message) => {
        this.store.addEvent(key, 'log', message);
        this.emit(job, index, 'log', { message });
      },
      setMetrics: (m) => {
        canonicalJson(m, `metrics of job '${job.name}'`);
        metrics = { ...metrics, ...m };
        this.store.setMetrics(key, metrics);
      },
    };
    const row = this.store.markRunning(key);
    this.emit(job, index, 'start', { message: row.attempts > 1 ? `attempt ${row.attempts}` : undefined });
    const started = performance.now();
    try {
      const output = ((await job.run(ctx)) ?? null) as Json;
      canonicalJson(output, `output of job '${job.name}'`);
      const { manifest, manifestSha } = commitDir(staging, artifactDir(this.runDir, key), this.layout.trash, { key, job: job.name, output, metrics, engine: this.engine });
      const durationS = (performance.now() - started) / 1000;
      this.store.markDone(key, { durationS, artifactSha: manifestSha, metrics });
      this.manifests.set(key, manifest);
      this.ran.push(job.name);
      rmSync(checkpointDir, { recursive: true, force: true });
      this.emit(job, index, 'done', { durationS, metrics });
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      if (this.signal.aborted) {
        this.store.markInterrupted(key, `stopped by ${receivedSignal() ?? 'a signal'}; resumes from its checkpoint`);
        this.emit(job, index, 'interrupted');
        throw new RunInterruptedError(receivedSignal() ?? 'SIGINT');
      }
      const error = firstLine(e);
      this.store.markFailed(key, error);
      this.failed.set(key, { job: job.name, key, error });
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
}

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
    const jobs = store.graphJobs().map((j) => {
      if (j.status !== 'done') return { ...j, artifactProblem: null };
      const v = verifyArtifact(runDir, j.key);
      const problem = !v.ok ? v.reason : v.manifestSha !== j.artifactSha ? 'manifest differs from the one recorded when the job finished' : null;
      return { ...j, artifactProblem: problem };
    });
    return { runDir, meta: store.meta(), jobs, activeProcess: liveOwner(runDir) };
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
