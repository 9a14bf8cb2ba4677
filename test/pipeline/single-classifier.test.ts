// A run with one classifier (the common case of a user checking one model) goes end to end:
// there is no order to test against accuracy or size, and the results say so instead of failing.
// It goes through `s2snets run` with `quick: true` in the config file: the plan is the quick
// demo's, every size of it, so `demo --quick` on the same run directory reuses every job, and so
// does `demo --quick --finetune-images N` with N images making quick's fine-tune steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateResults } from '../../src/report/index.js';
import { NO_CLAIMS } from '../../src/report/format.js';
import { quickPlan, type ExperimentPlan } from '../../src/experiment/plan.js';

const cli = resolve('dist/src/cli/main.js');

test('run with quick: true and a single classifier: the quick plan, results validate, claims are null and the summary says why', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2snets-single-'));
  const runDir = join(dir, 'run');
  const config = join(dir, 'quick.json');
  writeFileSync(config, JSON.stringify({ quick: true, classifiers: ['lenet5'], device: 'cpu', runDir: 'run' }));
  const r = spawnSync(process.execPath, [cli, 'run', config], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const results = validateResults(JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8')));
  const quick = quickPlan();
  const plan = results.run.plan as ExperimentPlan;
  // Quick's sizes, not the full defaults a config would otherwise fill in.
  assert.equal(results.run.evalSamples, quick.evalSamples);
  assert.deepEqual([plan.evalSamples, plan.ae.epochs, plan.ae.stages, plan.trainLimit, plan.finetune.steps], [quick.evalSamples, quick.ae.epochs, quick.ae.stages, quick.trainLimit, quick.finetune.steps]);
  assert.deepEqual(results.classifiers.map((c) => c.name), ['lenet5']);
  assert.deepEqual(results.order.ranking, ['lenet5']);
  assert.equal(results.claims, null);
  assert.ok(r.stdout.includes(NO_CLAIMS), r.stdout);
  assert.ok(readFileSync(join(runDir, 'report', 'report.html'), 'utf8').includes(NO_CLAIMS));
  // The same plan as the quick demo's: every job is reused.
  const demo = spawnSync(process.execPath, [cli, 'demo', '--quick', '--device', 'cpu', '--classifiers', 'lenet5', '--run-dir', runDir], { encoding: 'utf8' });
  assert.equal(demo.status, 0, demo.stderr);
  assert.match(demo.stdout, /\b0 job\(s\) ran, \d+ reused/);
  // A fine-tune length in images that makes quick's steps (ceil(images / batch)): the same jobs, all reused.
  const images = quick.finetune.steps * quick.finetune.batchSize - 10;
  const byImages = spawnSync(process.execPath, [cli, 'demo', '--quick', '--device', 'cpu', '--classifiers', 'lenet5', '--run-dir', runDir, '--finetune-images', String(images)], { encoding: 'utf8' });
  assert.equal(byImages.status, 0, byImages.stderr);
  assert.match(byImages.stdout, /\b0 job\(s\) ran, \d+ reused/);
  assert.ok(byImages.stderr.includes(`fine-tune length ${images} images: ${quick.finetune.steps} steps of ${quick.finetune.batchSize}`), byImages.stderr);
  rmSync(dir, { recursive: true, force: true });
});
