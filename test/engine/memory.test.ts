// A training loop inside tidy() holds a constant number of native tensors, and neither the C
// allocator's bytes in use nor RSS grow, even when the loop never yields to the event loop
// (where Node runs GC finalizers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryStats } from '../../src/engine/index.js';
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
