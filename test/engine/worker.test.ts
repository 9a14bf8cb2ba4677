// Training off the main thread: the event loop keeps ticking, progress arrives, abort works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerAbortedError, WorkerTaskError, runInWorker } from '../../src/engine/worker.js';
import type { TrainProgress } from './worker-task.js';

const task = new URL('./worker-task.js', import.meta.url);

test('a worker trains 300 steps while the main event loop keeps ticking', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  // The main thread's ticks counted at each progress report: training on the main thread would
  // block the timer until it ended, so every report would see the same count.
  const ticksAt: number[] = [];
  const progress: TrainProgress[] = [];
  try {
    const result = await runInWorker<{ steps: number; every: number }, TrainProgress, { steps: number; loss: number }>(task, 'train', { steps: 300, every: 50 }, {
      onProgress: (p) => {
        progress.push(p);
        ticksAt.push(ticks);
      },
    });
    assert.equal(result.steps, 300);
    assert.ok(result.loss < 0.5, `loss ${result.loss}`);
    assert.deepEqual(progress.map((p) => p.step), [50, 100, 150, 200, 250, 300]);
    assert.equal(progress.at(-1)!.loss, result.loss);
    assert.ok(ticksAt.at(-1)! > ticksAt[0], `the main thread's timer ran while the worker trained (ticks at each report: ${ticksAt.join(', ')})`);
  } finally {
    clearInterval(timer);
  }
});

test('an error in the task rejects with its message', async () => {
  await assert.rejects(runInWorker(task, 'fail', { reason: 'no data in ./missing' }), (e: Error) => e instanceof WorkerTaskError && /fail from .*worker-task\.js: no data in \.\/missing/.test(e.message));
  await assert.rejects(runInWorker(task, 'nothing', {}), (e: Error) => e instanceof WorkerTaskError && /no exported function 'nothing'/.test(e.message));
});

test('abort: a cooperative task stops at its next step', async () => {
  const controller = new AbortController();
  // 1e9 steps: only the abort, sent from the main thread at the first report, can end it.
  await assert.rejects(
    runInWorker<{ steps: number; every: number }, TrainProgress, unknown>(task, 'train', { steps: 1e9, every: 10 }, { signal: controller.signal, onProgress: () => controller.abort() }),
    WorkerAbortedError,
  );
});

test('abort: a task that ignores it is terminated after the grace period', async () => {
  const controller = new AbortController();
  // spin never returns and never looks at the signal: only terminating the worker ends it.
  await assert.rejects(runInWorker(task, 'spin', null, { signal: controller.signal, graceMs: 100, onProgress: () => controller.abort() }), WorkerAbortedError);
  const aborted = AbortSignal.abort();
  await assert.rejects(runInWorker(task, 'train', { steps: 1, every: 1 }, { signal: aborted }), /aborted before it started/);
});
