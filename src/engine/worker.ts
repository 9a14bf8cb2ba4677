// Runs an exported function of a module in a worker_threads Worker, so long engine work (a
// training loop) leaves the main thread's event loop free. The native addon is context-aware:
// each worker loads its own instance. The function gets a context to report progress and to
// see a cooperative abort; a worker that does not stop within graceMs is terminated.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { S2SNetsError } from '../common/errors.js';

export interface WorkerContext<P> {
  /** Sends a progress value to the caller's onProgress. */
  progress(value: P): void;
  /** True once the caller aborted: stop at the next convenient point (e.g. between steps). */
  readonly aborted: boolean;
}

/** The shape of a function runInWorker can run: args must be structured-cloneable. */
export type WorkerTask<A, P, R> = (args: A, ctx: WorkerContext<P>) => R | Promise<R>;

export interface RunInWorkerOptions<P> {
  onProgress?: (value: P) => void;
  signal?: AbortSignal;
  /** After an abort, how long the task may take to stop by itself before it is terminated. */
  graceMs?: number;
}

/** The task threw (or its module could not be loaded); the message is the task's own. */
export class WorkerTaskError extends S2SNetsError {
  override name = 'WorkerTaskError';
  static override readonly codes = ['S2SNETS_WORKER_TASK'] as const;
}

/** The caller aborted the task. */
export class WorkerAbortedError extends S2SNetsError {
  override name = 'WorkerAbortedError';
  static override readonly codes = ['S2SNETS_WORKER_ABORTED'] as const;
}

type Message<P, R> = { type: 'progress'; value: P } | { type: 'result'; value: R } | { type: 'error'; message: string };

interface TaskData {
  s2snetsWorkerTask: true;
  module: string;
  exportName: string;
  args: unknown;
  abortFlag: Int32Array;
}

/**
 * Runs `exportName` from `module` (a file URL or path of a compiled ES module) in a new worker
 * and resolves with its return value.
 */
export function runInWorker<A, P, R>(module: string | URL, exportName: string, args: A, opts: RunInWorkerOptions<P> = {}): Promise<R> {
  const { signal, onProgress, graceMs = 2000 } = opts;
  const where = `${exportName} from ${String(module)}`;
  if (signal?.aborted) return Promise.reject(new WorkerAbortedError(`${where} was aborted before it started`));
  const abortFlag = new Int32Array(new SharedArrayBuffer(4));
  const data: TaskData = { s2snetsWorkerTask: true, module: String(module), exportName, args, abortFlag };
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      Atomics.store(abortFlag, 0, 1);
      killTimer = setTimeout(() => void worker.terminate(), graceMs);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const abortedError = () => new WorkerAbortedError(`${where} was aborted`);
    worker.on('message', (m: Message<P, R>) => {
      if (m.type === 'progress') {
        if (!signal?.aborted) onProgress?.(m.value);
      } else if (m.type === 'result') {
        settle(() => (signal?.aborted ? reject(abortedError()) : resolve(m.value)));
      } else {
        settle(() => reject(signal?.aborted ? abortedError() : new WorkerTaskError(`${where}: ${m.message}`)));
      }
    });
    worker.on('error', (e) => settle(() => reject(new WorkerTaskError(`${where}: ${e.message}`))));
    worker.on('exit', (code) => settle(() => reject(signal?.aborted ? abortedError() : new WorkerTaskError(`${where}: worker exited with code ${code} before returning`))));
  });
}

async function runTask(d: TaskData): Promise<void> {
  const port = parentPort!;
  try {
    const mod = (await import(d.module.startsWith('file:') ? d.module : new URL(d.module, 'file://').href)) as Record<string, unknown>;
    const fn = mod[d.exportName];
    if (typeof fn !== 'function') throw new Error(`the module has no exported function '${d.exportName}'`);
    const ctx: WorkerContext<unknown> = {
      progress: (value) => port.postMessage({ type: 'progress', value }),
      get aborted() {
        return Atomics.load(d.abortFlag, 0) === 1;
      },
    };
    const value = await (fn as WorkerTask<unknown, unknown, unknown>)(d.args, ctx);
    port.postMessage({ type: 'result', value });
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}

if (!isMainThread && (workerData as Partial<TaskData> | null)?.s2snetsWorkerTask) void runTask(workerData as TaskData);
