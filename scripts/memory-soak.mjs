#!/usr/bin/env node
// Memory soak: runs the small conv net's forward/backward/Adam step (test/engine/small-net.ts)
// many times inside tidy() and prints RSS and live native tensors as it goes. Flat numbers mean
// no leak in the engine, the addon or the optimizer.
//   node scripts/memory-soak.mjs [steps=10000]     (compile first: node_modules/.bin/tsc -p .)
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const steps = Number(process.argv[2] ?? 10_000);
if (!Number.isInteger(steps) || steps < 1) {
  console.error(`steps must be a positive integer, got '${process.argv[2]}'`);
  process.exit(2);
}
const { smallTrainer } = await import(pathToFileURL(join(root, 'dist/test/engine/small-net.js')).href);
const { memoryStats } = await import(pathToFileURL(join(root, 'dist/src/engine/index.js')).href);

const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
const report = (label, loss) => {
  const { liveTensors, liveBytes, mallocBytes } = memoryStats();
  const malloc = mallocBytes === undefined ? '' : `   malloc ${mb(mallocBytes).padStart(7)} MB`;
  console.log(`${label.padEnd(12)} rss ${mb(process.memoryUsage.rss()).padStart(7)} MB${malloc}   js heap ${mb(process.memoryUsage().heapUsed).padStart(6)} MB   live tensors ${liveTensors} (${mb(liveBytes)} MB)${loss === undefined ? '' : `   loss ${loss.toFixed(4)}`}`);
};

const trainer = smallTrainer(0);
report('start');
const started = performance.now();
let loss;
for (let i = 1; i <= steps; i++) {
  loss = trainer.step();
  if (i % 1000 === 0 && i !== steps) report(`step ${i}`, loss);
}
report('end', loss);
console.log(`${steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`);
