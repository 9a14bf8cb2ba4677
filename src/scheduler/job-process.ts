// Jobs in their own processes. A job process gets where its graph comes from (a module and the
// JSON payload it rebuilds the graph from), the artifact store's location and a job key, rebuilds
// the graph (the module's findJob), runs that one job into its artifact and reports back
// over the IPC channel. Separate processes let independent jobs use the cores at the same time
// (libtorch calls block the thread that makes them) with their own share of libtorch threads,
// and keep a remote worker's main loop free to hold its queue lock while a job computes.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { engineInfo } from '../engine/index.js';
import { directoryStore } from '../runs/artifact-store.js';
import type { Execution, JobBackend, JobEvents } from './execute.js';
import type { Json, JobSpec } from './job-graph.js';
import { explainKill, readMemoryFigures } from './memory-pressure.js';
import { S2SNetsError } from '../common/errors.js';

/**
 * A job graph any process can rebuild: a module that exports `findJob(payload, key)` (a
 * GraphModule) and the plain JSON it rebuilds the graph from. Job keys are content hashes, so
 * every process that rebuilds the graph from the same payload finds the same job by its key.
 */
export interface GraphSource {
  /** URL of the module (import.meta.url of the module that builds the graph). */
  module: string;
  payload: Json;
}

/** What a GraphSource's module exports. */
export interface GraphModule {
  /** The job of the payload's graph with this key; throws when there is none. */
  findJob(payload: Json, key: string): JobSpec<unknown>;
}

/** What a job process needs: its graph, where its artifacts live, and which job. */
export interface JobProcessRequest {
  graph: GraphSource;
  /** The run directory holding the artifact store (an absolute path every worker sees). */
  runDir: string;
  key: string;
  /** Resume from a checkpoint another engine made (otherwise the job starts over). */
  acceptEngineChange: boolean;
}

/** Messages from a job process to its parent. */
export type JobProcessMessage =
  | { type: 'progress'; fraction: number; message: string; metrics?: Record<string, Json> }
  | { type: 'log' | 'warning'; message: string }
  | { type: 'metrics'; metrics: Record<string, Json> }
  | { type: 'done'; execution: Execution }
  | { type: 'failed'; error: string; code?: string }
  | { type: 'interrupted' };

/**
 * A job process ended without a result. `reason` tells why: the job failed (its own error, which
 * a retry would repeat), the process was stopped by a signal or died, or it was interrupted.
 */
export class JobProcessError extends S2SNetsError {
  override name = 'JobProcessError';
  static override readonly codes = ['S2SNETS_JOB_PROCESS'] as const;
  static override readonly legacyCodes = { S2S_JOB_PROCESS: 'S2SNETS_JOB_PROCESS' };
  constructor(
    message: string,
    readonly reason: 'failed' | 'died' | 'interrupted',
    /** The code of the job's own error, when it was an s2snets error (reason 'failed'). */
    readonly causeCode?: string,
  ) {
    super(message);
  }
}

const CHILD = fileURLToPath(new URL('./job-child.js', import.meta.url));

/** What the parent sends a job process: a job to run, and whether to wait for another after it. */
export interface JobProcessCommand {
  type: 'run';
  request: JobProcessRequest;
  /** Stay up for the next job once this one is done (a pool's process); else exit after it. */
  keepAlive: boolean;
}

function forkJobProcess(threads: number, env?: NodeJS.ProcessEnv): ChildProcess {
  return fork(CHILD, [], {
    env: { ...process.env, ...env, S2SNETS_THREADS: String(threads) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    // Its own process group: a Ctrl-C in the terminal reaches the parent only, which decides
    // (a run stops its jobs through `signal`; a worker lets them finish).
    detached: true,
  });
}

/**
 * Runs one job in `child` and settles when the job reports its outcome (a kept-alive child then
 * waits for its next job) or the child exits without one.
 */
function runInChild(child: ChildProcess, request: JobProcessRequest, keepAlive: boolean, opts: { signal?: AbortSignal; events: JobEvents }): Promise<Execution> {
  return new Promise((resolve, reject) => {
    const stop = () => child.kill('SIGTERM');
    const settle = () => {
      opts.signal?.removeEventListener('abort', stop);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const onMessage = (m: JobProcessMessage) => {
      if (m.type === 'progress') opts.events.progress(m.fraction, m.message, m.metrics);
      else if (m.type === 'log') opts.events.log(m.message);
      else if (m.type === 'warning') opts.events.warning(m.message);
      else if (m.type === 'metrics') opts.events.metrics(m.metrics);
      else {
        settle();
        if (m.type === 'done') resolve(m.execution);
        else if (m.type === 'failed') reject(new JobProcessError(m.error, 'failed', m.code));
        else reject(new JobProcessError('interrupted; resumes from its checkpoint', 'interrupted'));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      settle();
      // Nobody can catch SIGKILL: say who most likely sent it (the OOM killer) and what to do.
      const why = signal === 'SIGKILL' ? `: ${explainKill(memoryAtStart, readMemoryFigures())}` : '';
      reject(new JobProcessError(`the job process ended (${signal ? `signal ${signal}` : `exit code ${code}`}) before it finished${why}`, 'died'));
    };
    const onError = (e: Error) => {
      // A process that started and died before it read its job fails the send (EPIPE); its
      // 'exit' follows and says how it ended.
      if (child.pid !== undefined) return;
      settle();
      reject(new JobProcessError(`cannot start a job process: ${e.message}`, 'died'));
    };
    const memoryAtStart = readMemoryFigures();
    opts.signal?.addEventListener('abort', stop, { once: true });
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
    const command: JobProcessCommand = { type: 'run', request, keepAlive };
    child.send(command);
  });
}

/**
 * Runs one job in a new process and resolves with its committed artifact; the process exits
 * after it (remote workers isolate every job so).
 * @param request the graph, run directory and job key
 * @param opts threads: libtorch intra-op threads of the process; env: extra environment (e.g.
 *   CUDA_VISIBLE_DEVICES); signal: aborting it asks the job to checkpoint and stop; events:
 *   receives the job's progress, log lines, warnings and metrics
 * @throws JobProcessError when the job failed (reason 'failed', message: the job's error),
 *   the process died ('died') or was interrupted ('interrupted')
 * @example
 * const done = await runJobProcess({ graph, runDir, key, acceptEngineChange: false }, { threads: 1, events });
 */
export function runJobProcess(request: JobProcessRequest, opts: { threads: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal; events: JobEvents }): Promise<Execution> {
  return runInChild(forkJobProcess(opts.threads, opts.env), request, false, opts);
}

/**
 * Job processes kept up between jobs, so that a run's jobs pay for starting libtorch and loading
 * the data once per process instead of once per job (about a second each on 2 cores). A process
 * whose job failed or was interrupted exits; the next job gets a fresh one.
 */
export class JobProcessPool {
  /** Idle processes by thread count. */
  private readonly idle = new Map<number, ChildProcess[]>();
  private forked = 0;

  /** How many processes this pool has started. */
  get started(): number {
    return this.forked;
  }

  /**
   * Runs a job in an idle process with this many threads, or in a new one.
   * @param request the graph, run directory and job key
   * @param opts threads, abort signal and event sink (as runJobProcess)
   * @throws JobProcessError as runJobProcess
   * @example const done = await pool.run({ graph, runDir, key, acceptEngineChange: false }, { threads: 1, events });
   */
  async run(request: JobProcessRequest, opts: { threads: number; signal?: AbortSignal; events: JobEvents }): Promise<Execution> {
    let idle = this.idle.get(opts.threads);
    if (!idle) this.idle.set(opts.threads, (idle = []));
    let child = idle.pop();
    // One that ended while idle (killed from outside) is dropped.
    while (child && !child.connected) child = idle.pop();
    if (!child) {
      child = forkJobProcess(opts.threads);
      this.forked++;
    }
    const execution = await runInChild(child, request, true, opts);
    if (child.connected) idle.push(child);
    return execution;
  }

  /** Ends the idle processes. */
  close(): void {
    for (const children of this.idle.values()) for (const child of children) child.kill('SIGTERM');
    this.idle.clear();
  }
}

/** libtorch threads for each of `jobs` processes: this process's threads divided, at least 1. */
export const threadsPerJob = (jobs: number): number => Math.max(1, Math.floor(engineInfo().threads / jobs));

/**
 * Runs up to `jobs` jobs at once, each in a job process (kept up between jobs: JobProcessPool)
 * with its share of the threads (the total stays at this process's thread count, so the cores
 * are not oversubscribed). A job that
 * can only run alone (the evaluation, which needs every other job) gets every thread: which jobs
 * those are follows from the graph, so a job's thread count does not depend on timing.
 * @param graph the graph whose jobs the runner hands over
 * @param runDir the run directory (its artifact store)
 * @param jobs how many jobs at once (at least 1)
 * @param acceptEngineChange resume from checkpoints another engine made
 * @example
 * await runJobs(runDir, targets, { backend: processBackend(experimentGraphSource(plan), runDir, 2, false) });
 */
export function processBackend(graph: GraphSource, runDir: string, jobs: number, acceptEngineChange: boolean): JobBackend {
  const store = directoryStore(runDir);
  const shared = threadsPerJob(jobs);
  const pool = new JobProcessPool();
  return {
    slots: jobs,
    run: (r) => pool.run({ graph, runDir: store.location, key: r.key, acceptEngineChange }, { threads: r.runsAlone ? threadsPerJob(1) : shared, signal: r.signal, events: r.events }),
    close: async () => pool.close(),
  };
}
