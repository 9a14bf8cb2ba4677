// A training loop inside tidy() holds a constant number of native tensors and flat RSS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryStats } from '../../src/engine/index.js';
import { smallTrainer } from './small-net.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('1500 conv-net Adam steps: live tensors exactly constant, RSS growth under 30 MB', () => {
  const trainer = smallTrainer(51);
  for (let i = 0; i < 100; i++) trainer.step();
  gc();
  const live = memoryStats().liveTensors;
  const rss = process.memoryUsage.rss();
  let loss = 0;
  for (let i = 0; i < 1500; i++) {
    loss = trainer.step();
    if (i % 100 === 0) assert.equal(memoryStats().liveTensors, live, `live tensors changed at step ${i}`);
  }
  gc();
  assert.equal(memoryStats().liveTensors, live);
  const growth = (process.memoryUsage.rss() - rss) / 2 ** 20;
  assert.ok(growth < 30, `RSS grew by ${growth.toFixed(1)} MB`);
  assert.ok(Number.isFinite(loss) && loss < 0.1, `the net memorises its fixed batch (loss ${loss})`);
});
