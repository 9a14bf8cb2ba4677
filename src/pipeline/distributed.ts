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
// run directory. A job that fails by itself (bad input) is not retried: its one-line error
// reaches the submitter, which records it in the run store.
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { ArtifactError } from './artifacts.js';
import { directoryStore } from './artifact-store.js';
import type { Execution, JobBackend, JobEvents, JobRequest } from './execute.js';
import { JobProcessError, runJobProcess, threadsPerJob, type JobProcessRequest } from './job-process.js';
import type { ExperimentPlan } from './plan.js';

/** The BullMQ queue every submitter and worker of this version uses. */
export const QUEUE_NAME = 's2snets-jobs';

/** How many times a job may lose its worker (the worker died) before BullMQ gives up on it. */
const MAX_STALLS = 10;

/** Progress updates a worker sends per job, at most one per this many milliseconds. */
const PROGRESS_INTERVAL_MS = 500;

export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
  readonly code = 'S2S_REDIS_UNREACHABLE';
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
    const err = cause ?? (e as NodeJS.ErrnoException);
    throw new RedisUnreachableError(`cannot reach Redis at ${redactUrl(url)}: ${err.code ?? err.message}`);
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

/**
 * Sends the jobs the runner hands it to the BullMQ queue and waits for workers to run them; the
 * artifacts land in runDir (a path every worker sees). A job another submitter queued earlier
 * (same key) is waited for, not queued again; its artifact is taken over from that run
 * directory when it is another one.
 * @param url the Redis URL
 * @param plan the experiment (travels with each job, so workers can rebuild its graph)
 * @param runDir this run's directory, on the file system the workers share
 * @param acceptEngineChange workers resume from checkpoints another engine made
 * @throws RedisUnreachableError when Redis cannot be reached
 * @example
 * await runJobs(runDir, targets, { backend: await bullmqBackend('redis://10.0.0.5:6379', plan, runDir, false) });
 */
export async function bullmqBackend(url: string, plan: ExperimentPlan, runDir: string, acceptEngineChange: boolean): Promise<JobBackend> {
  await checkRedis(url);
  const connection = { url };
  const store = directoryStore(runDir);
  const queue = new Queue<JobProcessRequest, WorkerResult>(QUEUE_NAME, { connection });
  const queueEvents = new QueueEvents(QUEUE_NAME, { connection });
  const listening = new Map<string, JobEvents>();
  queueEvents.on('progress', ({ jobId, data }) => {
    const p = data as unknown as ProgressData;
    if (typeof p?.fraction === 'number') listening.get(jobId)?.progress(p.fraction, p.message);
  });
  await Promise.all([queue.waitUntilReady(), queueEvents.waitUntilReady()]);

  const submit = (r: JobRequest) => queue.add(r.job.name, { plan, runDir: store.location, key: r.key, acceptEngineChange }, { jobId: r.key, attempts: 1 });

  /** The queue's job for this key, ready to wait for: failed ones are retried, stale completed ones replaced. */
  async function queued(r: JobRequest): Promise<Job<JobProcessRequest, WorkerResult>> {
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

  return {
    slots: Infinity,
    async run(r: JobRequest): Promise<Execution> {
      listening.set(r.key, r.events);
      try {
        const job = await queued(r);
        const result = await untilAborted(job.waitUntilFinished(queueEvents), r.signal);
        const v = store.adopt(r.key, directoryStore(result.runDir));
        if (!v.ok) throw new ArtifactError(`job '${r.job.name}' finished on a worker, but its artifact in ${store.location} is unusable: ${v.reason}`);
        return { manifest: v.manifest, manifestSha: v.manifestSha, durationS: result.durationS ?? 0 };
      } finally {
        listening.delete(r.key);
      }
    },
    async close() {
      await queueEvents.close();
      await queue.close();
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
}

/** Environment of this worker's job processes that puts them on its device. */
export function deviceEnvironment(device: string): NodeJS.ProcessEnv {
  if (device === 'auto' || device === 'cuda') return {};
  if (device === 'cpu') return { CUDA_VISIBLE_DEVICES: '' };
  const m = /^cuda:(\d+)$/.exec(device);
  if (!m) throw new WorkerConfigError(`--device ${device}: expected auto, cpu, cuda or cuda:N`);
  return { CUDA_VISIBLE_DEVICES: m[1] };
}

export class WorkerConfigError extends Error {
  override name = 'WorkerConfigError';
  readonly code = 'S2S_WORKER_CONFIG';
}

/**
 * Takes jobs from the queue until the signal aborts, then lets the running ones finish. A job
 * whose artifact is already in place is not run again. Jobs run on their plan's device (part of
 * their key); `device` only chooses which GPU that is on this machine.
 * @param opts see WorkerOptions
 * @throws RedisUnreachableError when Redis cannot be reached; WorkerConfigError for a bad device
 * @example
 * const stop = new AbortController();
 * await runWorker({ redis: 'redis://10.0.0.5:6379', concurrency: 1, device: 'cuda:0', stallTimeoutS: 30, signal: stop.signal, log: console.log });
 */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const env = deviceEnvironment(opts.device);
  await checkRedis(opts.redis);
  const threads = threadsPerJob(opts.concurrency);
  const process = async (job: Job<JobProcessRequest, WorkerResult>): Promise<WorkerResult> => {
    const { runDir, key } = job.data;
    const tag = `${job.name} (${key.slice(0, 12)})`;
    if (directoryStore(runDir).verify(key).ok) {
      opts.log(`${tag}: already done, not run again`);
      return { runDir, ran: false, durationS: null };
    }
    opts.log(`${tag}: started${job.stalledCounter ? ` again after ${job.stalledCounter} lost worker(s), from its checkpoint` : ''}`);
    let lastProgress = 0;
    try {
      const done = await runJobProcess(job.data, {
        threads,
        env,
        events: {
          progress: (fraction, message) => {
            const now = Date.now();
            if (now - lastProgress < PROGRESS_INTERVAL_MS && fraction < 1) return;
            lastProgress = now;
            void job.updateProgress({ fraction, message }).catch(() => {});
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
        throw new UnrecoverableError(e.message);
      }
      throw e;
    }
  };
  const worker = new Worker<JobProcessRequest, WorkerResult>(QUEUE_NAME, process, {
    connection: { url: opts.redis },
    concurrency: opts.concurrency,
    lockDuration: opts.stallTimeoutS * 1000,
    stalledInterval: Math.max(1000, (opts.stallTimeoutS * 1000) / 2),
    maxStalledCount: MAX_STALLS,
  });
  worker.on('error', (e) => opts.log(`worker: ${e.message}`));
  await worker.waitUntilReady();
  opts.log(`worker ${globalThis.process.pid}: taking jobs from ${redactUrl(opts.redis)} (${opts.concurrency} at a time, ${threads} thread(s) each)`);
  await new Promise<void>((resolve) => (opts.signal.aborted ? resolve() : opts.signal.addEventListener('abort', () => resolve(), { once: true })));
  await worker.close();
}
