// Wall time of the whole MNIST demo (`s2snets demo`) in a fresh run directory, with the time of
// each job from the run store, the engine it ran on, and the zoo's accuracies (the speed work
// must leave them unchanged).   node dist/bench/demo.js [--dataset mnist|fashion-mnist]  (npm run bench:demo)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineLine } from './engine-line.js';
import type { Results } from '../src/report/index.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const i = process.argv.indexOf('--dataset');
const dataset = i >= 0 ? process.argv[i + 1] : 'mnist';
const runDir = mkdtempSync(join(tmpdir(), 's2snets-bench-demo-'));
console.log(`demo on ${dataset}: ${engineLine()}, run directory ${runDir}`);
const start = performance.now();
const r = spawnSync(process.execPath, [cli, 'demo', '--dataset', dataset, '--run-dir', runDir], { stdio: ['ignore', 'ignore', 'inherit'] });
const wallS = (performance.now() - start) / 1000;
if (r.status !== 0) {
  console.error(`the demo failed (exit ${r.status}); its run directory is kept: ${runDir}`);
  process.exit(1);
}
const results = JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8')) as Results;
const jobs = Object.entries(results.run.durations).sort((a, b) => b[1] - a[1]);
console.log(`wall time: ${Math.floor(wallS / 60)} min ${(wallS % 60).toFixed(0)} s (${wallS.toFixed(1)} s)`);
for (const [job, s] of jobs) console.log(`  ${job.padEnd(28)} ${s.toFixed(1).padStart(7)} s`);
console.log('original accuracy: ' + results.classifiers.map((c) => `${c.name} ${(100 * c.accuracy.original.top1).toFixed(1)} %`).join(', '));
rmSync(runDir, { recursive: true, force: true });
