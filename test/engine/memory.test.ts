// A training loop inside tidy() holds a constant number of native tensors, and neither the C
// allocator's bytes in use nor RSS grow, even when the loop never yields to the event loop
// (where Node runs GC finalizers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { engineInfo, memoryStats, tidy, zeros } from '../../src/engine/index.js';
import { smallTrainer } from './small-net.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('1500 synchronous conv-net Adam steps: live tensors constant, malloc flat, RSS growth under 30 MB', () => {
  const trainer = smallTrainer(51);
  for (let i = 0; i < 100; i++) trainer.step();
  gc();
  const live = memoryStats().liveTensors;
  const rss = process.memoryUsage.rss();
  const heap = memoryStats().mallocBytes;
  let loss = 0;
  for (let i = 0; i < 1500; i++) {
    loss = trainer.step();
    if (i % 100 === 0) assert.equal(memoryStats().liveTensors, live, `live tensors changed at step ${i}`);
  }
  gc();
  assert.equal(memoryStats().liveTensors, live);
  if (heap !== undefined) {
    // A handle that kept native memory after dispose() until its finalizer ran cost about 4 KB
    // per step here (6 MB over this loop).
    const mallocGrowth = (memoryStats().mallocBytes! - heap) / 2 ** 20;
    assert.ok(mallocGrowth < 1, `native heap in use grew by ${mallocGrowth.toFixed(2)} MB`);
  }
  const growth = (process.memoryUsage.rss() - rss) / 2 ** 20;
  assert.ok(growth < 30, `RSS grew by ${growth.toFixed(1)} MB`);
  assert.ok(Number.isFinite(loss) && loss < 0.1, `the net memorises its fixed batch (loss ${loss})`);
});

// V8 answers external memory with garbage collections on the main thread. Host tensors must count
// (undisposed ones are then freed by the GC), in chunks, so that a training step's transient
// activations, which tidy() frees, do not (they cost the zoo's ResNet one full collection per
// step); GPU tensors must not count at all: a 224 px forward allocates gigabytes on the device in
// milliseconds, and counting them cost 21 full collections per forward.
async function fullCollectionsDuring(churn: () => void): Promise<number> {
  let count = 0;
  const observer = new PerformanceObserver((list) => {
    count += list.getEntries().filter((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR).length;
  });
  observer.observe({ entryTypes: ['gc'] });
  churn();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return count;
}

test('holding gigabytes of host tensors makes V8 collect (their bytes count as external memory); of CUDA tensors, not', async () => {
  // As a forward pass does: 1 GiB in 64 MiB activations alive at once, then freed.
  const churn = (device: string) => () => {
    for (let round = 0; round < 2; round++) {
      const held = Array.from({ length: 16 }, () => zeros([64 * 2 ** 18], { device }));
      for (const t of held) t.dispose();
    }
  };
  // As training steps do: 192 MiB of activations (three tensors and their ReLUs) alive at once,
  // freed by tidy() at the end of the step. Measured first: a collection the 1 GiB churn below
  // starts can finish late, on a busy machine inside the next measurement's window.
  const steps = await fullCollectionsDuring(() => {
    for (let step = 0; step < 20; step++) tidy(() => Array.from({ length: 3 }, () => zeros([32 * 2 ** 18])).forEach((t) => t.relu()));
  });
  assert.equal(steps, 0, `20 steps with 192 MiB of transient host tensors caused ${steps} full collections`);
  const host = await fullCollectionsDuring(churn('cpu'));
  assert.ok(host >= 1, `1 GiB of host tensors held twice caused ${host} full collections`);
  if (!engineInfo().cuda) return;
  const cuda = await fullCollectionsDuring(churn('cuda'));
  assert.equal(cuda, 0, `1 GiB of CUDA tensors held twice caused ${cuda} full collections`);
});
