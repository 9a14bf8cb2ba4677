// The job graph on many machines, on BullMQ (Redis). The submitter (`run`/`demo --redis URL`)
// keeps the order, the reuse checks and the run store as in a local run; each ready job goes to
// a BullMQ queue whose job id is the job's key, so a job is queued once however many submitters
// ask for it, and a finished one is not run again. Workers (`s2snets worker --redis URL`) take
// jobs, run each in a job process (job-process.ts) and commit its artifact into the submitter's
// run directory, which every worker must see at the same path (a shared file system).
//
// Why ready jobs rather than one BullMQ flow: a flow is a tree (a BullMQ job has at most one
// parent), and the experiment is a DAG (A_S feeds every fine-tune), so the submitter releases
// each job when its dependencies are done, which is what a flow's parent waits for.
//
// Failure handling is BullMQ's: a worker that dies loses its job lock, and the stalled-job check
// of another worker puts the job back in the queue; it resumes from its checkpoint in the shared
// run directory. A job that fails by itself (bad input) is not retried: its one-line error and
// its error's code reach the submitter, which records them in the run store and its JobFailedError.
//
// Redis itself may restart, empty when it keeps nothing on disk (`--save ''`). Every client
// reconnects and holds its commands meanwhile; each side says once that Redis is away and once
// that it is back. The submitter checks the jobs it waits for every few seconds: one Redis no
// longer knows is done when its artifact is in the run directory (it finished while Redis was
// away), and queued again otherwise. A worker whose job lock is gone stops that job at a
// checkpoint, so the job queued again resumes from there instead of running twice.
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { ArtifactError } from '../runs/artifacts.js';
import { directoryStore, type ArtifactStore } from '../runs/artifact-store.js';
import { firstLine, type Execution, type JobBackend, type JobEvents, type JobRequest } from './execute.js';
import { JobProcessError, runJobProcess, threadsPerJob, type JobProcessRequest } from './job-process.js';
import type { Json } from './job-graph.js';
import { S2SNetsError, ioReason } from '../common/errors.js';

/** The BullMQ queue every submitter and worker of this version uses. */
export const QUEUE_NAME = 's2snets-jobs';

/** How many times a job may lose its worker (the worker died) before BullMQ gives up on it. */
const MAX_STALLS = 10;

/** Progress updates a worker sends per job, at most one per this many milliseconds. */
const PROGRESS_INTERVAL_MS = 500;

/** How often the submitter asks Redis whether it still holds the jobs it waits for. */
const RECHECK_MS = 2000;

/** How long the submitter's connections may take to close before they are dropped. */
const CLOSE_WAIT_MS = 3000;

/** Longest wait between two attempts to reconnect (BullMQ's own default backs off to 20 s). */
const RECONNECT_MAX_MS = 3000;

/**
 * Client options of every connection: reconnect without end, soon after Redis is back, and keep
 * commands waiting meanwhile instead of failing them (a job is not failed because Redis restarted).
 */
const RECONNECTING = { maxRetriesPerRequest: null, retryStrategy: (attempt: number) => Math.min(250 * attempt, RECONNECT_MAX_MS) };

/** Socket errors that mean Redis is away (stopped, restarting, unreachable), not a refused command. */
const isConnectionError = (e: NodeJS.ErrnoException) => (e.code !== undefined && /^E[A-Z]+$/.test(e.code)) || /Connection is closed/.test(e.message);

/**
 * A connection of its own that says when Redis goes away and when it is back, one line each,
 * where the clients would report every failed reconnection attempt.
 * @returns the watching client (disconnect it when done)
 */
function watchRedis(url: string, log: (line: string) => void, onBack: () => void): Redis {
  const watch = new Redis(url, RECONNECTING);
  let away = false;
  watch.on('error', (e: NodeJS.ErrnoException) => {
    if (away || !isConnectionError(e)) return;
    away = true;
    log(`Redis at ${redactUrl(url)} is unreachable (${ioReason(e)}): waiting for it to come back`);
  });
  watch.on('ready', () => {
    if (!away) return;
    away = false;
    log(`Redis at ${redactUrl(url)} is back`);
    onBack();
  });
  return watch;
}

/** An error listener for a BullMQ client: outages are the watcher's to report; anything else is one line. */
const otherErrors = (log: (line: string) => void, prefix: string) => (e: NodeJS.ErrnoException) => {
  if (!isConnectionError(e)) log(`${prefix}${firstLine(e)}`);
};

export class RedisUnreachableError extends S2SNetsError {
  override name = 'RedisUnreachableError';
  static override readonly codes = ['S2SNETS_REDIS_UNREACHABLE'] as const;
  static override readonly legacyCodes = { S2S_REDIS_UNREACHABLE: 'S2SNETS_REDIS_UNREACHABLE' };
}

/** What a worker returns for a job: where its artifact is, and whether this worker ran it. */
export interface WorkerResult {
  runDir: string;
  ran: boolean;
  durationS: number | null;
}

interface ProgressData {
  fraction: number;
  message: string;
  metrics?: Record<string, Json>;
}

/** A job's own failure as a worker reports it to the submitter (its BullMQ failedReason, as JSON). */
interface WorkerFailure {
  /** The job's error, one line. */
  message: string;
  /** Its s2snets error code, when it had one. */
  code?: string;
}

/**
 * The failedReason a worker gives a job that failed by itself: BullMQ keeps one string, and the
 * submitter needs both the message and the error's code (JobFailedError.causeCode, as in a local run).
 * @param e the job process's error
 * @example throw new UnrecoverableError(failedReason(e));
 */
function failedReason(e: JobProcessError): string {
  const failure: WorkerFailure = { message: e.message, code: e.causeCode };
  return JSON.stringify(failure);
}

/**
 * What the submitter records for a job that failed on a worker: the job's own error, with its
 * code, when the worker reported one (failedReason); BullMQ's own error otherwise (a job whose
 * workers died too often).
 * @param e what waiting for the job rejected with (an Error whose message is the failedReason)
 * @example await job.waitUntilFinished(queueEvents).catch((e) => { throw workerFailure(e); });
 */
function workerFailure(e: unknown): unknown {
  let failure: Partial<WorkerFailure> | null;
  try {
    failure = JSON.parse((e as Error).message);
  } catch {
    return e;
  }
  if (typeof failure?.message !== 'string') return e;
  return new JobProcessError(failure.message, 'failed', typeof failure.code === 'string' ? failure.code : undefined);
}

/** The URL as messages show it: a password in it is replaced by ***. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/**
 * Connects to Redis once and closes again, so that a wrong URL or a stopped server is one clear
 * error instead of a client retrying forever.
 * @param url a Redis URL, e.g. redis://127.0.0.1:6379
 * @throws RedisUnreachableError naming the URL (password redacted) and the reason
 * @example
 * await checkRedis('redis://queue.cluster:6379');
 */
export async function checkRedis(url: string): Promise<void> {
  let client: Redis;
  try {
    client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000, enableOfflineQueue: false });
  } catch (e) {
    throw new RedisUnreachableError(`cannot reach Redis at ${redactUrl(url)}: ${(e as Error).message}`);
  }
  // connect() rejects with a generic 'Connection is closed'; the socket's own error says why.
  let cause: NodeJS.ErrnoException | undefined;
  client.on('error', (e: NodeJS.ErrnoException) => (cause ??= e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new RedisUnreachableError(`cannot reach Redis at ${redactUrl(url)}: ${ioReason(cause ?? e)}`);
  } finally {
    client.disconnect();
  }
}

/** Resolves with the promise, or rejects when the signal aborts first. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason ?? new Error('aborted'));
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** A job the submitter waits for, and what ends the wait when Redis lost the job after it finished. */
interface WaitedJob {
  request: JobRequest;
  finishedUnseen: (result: WorkerResult) => void;
}

/**
 * Every RECHECK_MS, and as soon as Redis is back after an outage, finds the waited-for jobs Redis
 * no longer holds (it restarted empty, or was flushed): one whose artifact is in the store
 * finished meanwhile and ends its wait; any other is queued again.
 * @returns what stops the checks and the watching connection
 */
function recoverLostJobs(url: string, queue: Queue, store: ArtifactStore, waiting: Map<string, WaitedJob>, submit: (r: JobRequest) => Promise<unknown>, log: (line: string) => void): () => void {
  let checking: Promise<void> | null = null;
  let stopped = false;
  const recheck = () =>
    (checking ??= (async () => {
      const requeued: string[] = [];
      for (const [key, w] of waiting) {
        if ((await queue.getJobState(key)) !== 'unknown') continue;
        if (store.verify(key).ok) w.finishedUnseen({ runDir: store.location, ran: true, durationS: null });
        else if (waiting.has(key)) {
          await submit(w.request);
          requeued.push(w.request.job.name);
        }
      }
      if (requeued.length) log(`queued again ${requeued.length} job(s) that Redis lost: ${requeued.join(', ')}`);
    })()
      .catch((e) => {
        if (!stopped) log(`Redis: ${firstLine(e)}`);
      })
      .finally(() => (checking = null)));
  const watch = watchRedis(url, log, () => void recheck());
  const timer = setInterval(() => void recheck(), RECHECK_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    watch.disconnect();
  };
}

/**
 * A queued job: a job process's request without the graph's module, which each worker names
 * itself (its own installation's), so that a queue message never decides what code a worker loads.
 */
type QueuedJob = Omit<JobProcessRequest, 'graph'> & { payload: Json };

/**
 * Sends the jobs the runner hands it to the BullMQ queue and waits for workers to run them; the
 * artifacts land in runDir (a path every worker sees). A job another submitter queued earlier
 * (same key) is waited for, not queued again; its artifact is taken over from that run
 * directory when it is another one. Survives a restart of Redis (see the top of this file).
 * @param url the Redis URL
 * @param payload what the graph is rebuilt from (travels with each job, so workers can rebuild it)
 * @param runDir this run's directory, on the file system the workers share
 * @param acceptEngineChange workers resume from checkpoints another engine made
 * @param log receives a line when Redis goes away, comes back, or lost jobs are queued again
 * @throws RedisUnreachableError when Redis cannot be reached at the start
 * @example
 * await runJobs(runDir, targets, { backend: await bullmqBackend('redis://10.0.0.5:6379', planPayload(plan), runDir, false, console.error) });
 */
export async function bullmqBackend(url: string, payload: Json, runDir: string, acceptEngineChange: boolean, log: (line: string) => void): Promise<JobBackend> {
  await checkRedis(url);
  const connection = { url, ...RECONNECTING };
  const store = directoryStore(runDir);
  const queue = new Queue<QueuedJob, WorkerResult>(QUEUE_NAME, { connection });
  const queueEvents = new QueueEvents(QUEUE_NAME, { connection });
  queue.on('error', otherErrors(log, 'Redis: '));
  queueEvents.on('error', otherErrors(log, 'Redis: '));
  const listening = new Map<string, JobEvents>();
  queueEvents.on('progress', ({ jobId, data }) => {
    const p = data as unknown as ProgressData;
    if (typeof p?.fraction === 'number') listening.get(jobId)?.progress(p.fraction, p.message, p.metrics);
  });
  await Promise.all([queue.waitUntilReady(), queueEvents.waitUntilReady()]);

  const submit = (r: JobRequest) => queue.add(r.job.name, { payload, runDir: store.location, key: r.key, acceptEngineChange }, { jobId: r.key, attempts: 1 });

  /** The queue's job for this key, ready to wait for: failed ones are retried, stale completed ones replaced. */
  async function queued(r: JobRequest): Promise<Job<QueuedJob, WorkerResult>> {
    await submit(r);
    // add() keeps an existing job of the same id (another submitter's, or an earlier run's): read what is there.
    const job = await queue.getJob(r.key);
    if (!job) return submit(r);
    const state = await job.getState();
    if (state === 'failed') await job.retry('failed');
    if (state === 'completed' && !directoryStore(job.returnvalue.runDir).verify(r.key).ok) {
      // Done for a run directory whose artifact is gone since: run it again.
      await job.remove();
      return submit(r);
    }
    return job;
  }

  const waiting = new Map<string, WaitedJob>();
  const stopRecovery = recoverLostJobs(url, queue, store, waiting, submit, log);

  return {
    slots: Infinity,
    async run(r: JobRequest): Promise<Execution> {
      listening.set(r.key, r.events);
      try {
        const job = await untilAborted(queued(r), r.signal);
        const unseen = new Promise<WorkerResult>((resolve) => waiting.set(r.key, { request: r, finishedUnseen: resolve }));
        const finished = job.waitUntilFinished(queueEvents).catch((e: unknown) => {
          throw workerFailure(e);
        });
        const result = await untilAborted(Promise.race([finished, unseen]), r.signal);
        const v = store.adopt(r.key, directoryStore(result.runDir));
        if (!v.ok) throw new ArtifactError(`job '${r.job.name}' finished on a worker, but its artifact in ${store.location} is unusable: ${v.reason}`);
        return { manifest: v.manifest, manifestSha: v.manifestSha, durationS: result.durationS ?? 0 };
      } finally {
        waiting.delete(r.key);
        listening.delete(r.key);
      }
    },
    async close() {
      stopRecovery();
      // Closing waits for Redis: when it is away (a run interrupted during an outage), drop the connections.
      const closed = Promise.all([queueEvents.close(), queue.close()]).then(() => true, () => true);
      const waited = new Promise<false>((resolve) => setTimeout(() => resolve(false), CLOSE_WAIT_MS).unref());
      if (await Promise.race([closed, waited])) return;
      // Their promises settle only once Redis answers: not waited for.
      for (const client of [queueEvents, queue]) client.disconnect().catch(() => {});
    },
  };
}

/** What `s2snets worker` prints, one line per event. */
export type WorkerLog = (line: string) => void;

export interface WorkerOptions {
  redis: string;
  /** Jobs this worker runs at once, each in its own process with its share of the threads. */
  concurrency: number;
  /** 'auto', 'cpu' (hide GPUs), 'cuda' or 'cuda:N' (this worker's jobs use GPU N). */
  device: string;
  /** Seconds without a lock renewal after which a job counts as lost and another worker takes it. */
  stallTimeoutS: number;
  /** Aborting it stops taking jobs; running ones finish first. */
  signal: AbortSignal;
  log: WorkerLog;
  /** URL of the module that rebuilds a queued job's graph from its payload (see GraphSource). */
  graphModule: string;
}

/** Environment of this worker's job processes that puts them on its device. */
export function deviceEnvironment(device: string): NodeJS.ProcessEnv {
  if (device === 'auto' || device === 'cuda') return {};
  if (device === 'cpu') return { CUDA_VISIBLE_DEVICES: '' };
  const m = /^cuda:(\d+)$/.exec(device);
  if (!m) throw new WorkerConfigError(`--device ${device}: expected auto, cpu, cuda or cuda:N`);
  return { CUDA_VISIBLE_DEVICES: m[1] };
}

export class WorkerConfigError extends S2SNetsError {
  override name = 'WorkerConfigError';
  static override readonly codes = ['S2SNETS_WORKER_CONFIG'] as const;
  static override readonly legacyCodes = { S2S_WORKER_CONFIG: 'S2SNETS_WORKER_CONFIG' };
}

/**
 * Takes jobs from the queue until the signal aborts, then lets the running ones finish. A job
 * whose artifact is already in place is not run again. Jobs run on their plan's device (part of
 * their key); `device` only chooses which GPU that is on this machine.
 * @param opts see WorkerOptions
 * @throws RedisUnreachableError when Redis cannot be reached; WorkerConfigError for a bad device
 * @example
 * const stop = new AbortController();
 * await runWorker({ redis: 'redis://10.0.0.5:6379', concurrency: 1, device: 'cuda:0', stallTimeoutS: 30, signal: stop.signal, log: console.log, graphModule: EXPERIMENT_GRAPH_MODULE });
 */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const env = deviceEnvironment(opts.device);
  await checkRedis(opts.redis);
  const threads = threadsPerJob(opts.concurrency);
  // `signal` aborts when this worker no longer holds the job's lock (Redis restarted empty, or
  // another worker took the job over): the job stops at a checkpoint instead of running twice.
  const process = async (job: Job<QueuedJob, WorkerResult>, _token: string | undefined, signal: AbortSignal | undefined): Promise<WorkerResult> => {
    const { payload, ...request } = job.data;
    const { runDir, key } = request;
    const tag = `${job.name} (${key.slice(0, 12)})`;
    if (directoryStore(runDir).verify(key).ok) {
      opts.log(`${tag}: already done, not run again`);
      return { runDir, ran: false, durationS: null };
    }
    opts.log(`${tag}: started${job.stalledCounter ? ` again after ${job.stalledCounter} lost worker(s), from its checkpoint` : ''}`);
    let lastProgress = 0;
    try {
      const done = await runJobProcess({ ...request, graph: { module: opts.graphModule, payload } }, {
        threads,
        env,
        signal,
        events: {
          progress: (fraction, message, metrics) => {
            const now = Date.now();
            if (now - lastProgress < PROGRESS_INTERVAL_MS && fraction < 1) return;
            lastProgress = now;
            void job.updateProgress({ fraction, message, metrics }).catch(() => {});
          },
          log: (message) => void job.log(message).catch(() => {}),
          warning: (message) => void job.log(`warning: ${message}`).catch(() => {}),
          metrics: () => {},
        },
      });
      opts.log(`${tag}: ran to completion in ${done.durationS.toFixed(1)}s`);
      return { runDir, ran: true, durationS: done.durationS };
    } catch (e) {
      // The job's own error would repeat on every retry: fail it once, with its message.
      if (e instanceof JobProcessError && e.reason === 'failed') {
        opts.log(`${tag}: failed: ${e.message}`);
        throw new UnrecoverableError(failedReason(e));
      }
      if (signal?.aborted) opts.log(`${tag}: stopped: this worker lost the job's lock (Redis restarted, or another worker took the job over); it resumes from its checkpoint`);
      throw e;
    }
  };
  const worker = new Worker<QueuedJob, WorkerResult>(QUEUE_NAME, process, {
    connection: { url: opts.redis, ...RECONNECTING },
    concurrency: opts.concurrency,
    lockDuration: opts.stallTimeoutS * 1000,
    stalledInterval: Math.max(1000, (opts.stallTimeoutS * 1000) / 2),
    maxStalledCount: MAX_STALLS,
  });
  worker.on('error', otherErrors(opts.log, 'worker: '));
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const id of jobIds) worker.cancelJob(id, 'lock lost');
  });
  const watch = watchRedis(opts.redis, opts.log, () => {});
  await worker.waitUntilReady();
  opts.log(`worker ${globalThis.process.pid}: taking jobs from ${redactUrl(opts.redis)} (${opts.concurrency} at a time, ${threads} thread(s) each)`);
  await new Promise<void>((resolve) => (opts.signal.aborted ? resolve() : opts.signal.addEventListener('abort', () => resolve(), { once: true })));
  await worker.close();
  watch.disconnect();
}
