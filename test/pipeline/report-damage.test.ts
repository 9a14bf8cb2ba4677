// `report` over a run whose evaluation is intact but whose other artifacts are damaged: each
// damaged artifact is named (a deleted manifest, a truncated file), and a deleted manifest is
// damage, not an engine change in results.json.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { quickPlan, zooEntries } from '../../src/experiment/plan.js';
import { runExperiment, type ProgressSink } from '../../src/commands/run.js';
import { renderRunReport } from '../../src/commands/publish.js';
import { status } from '../../src/scheduler/runner.js';
import { artifactDir, MANIFEST, readManifest } from '../../src/runs/artifacts.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-report-damage-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sink: ProgressSink = { update: () => {}, log: () => {} };

test('report names every damaged artifact; a deleted manifest is not an engine change', async () => {
  const dir = join(tmp, 'run');
  await runExperiment({ ...quickPlan({ classifiers: zooEntries(['lenet5']) }), device: 'cpu' }, dir, 'report', sink, { jobs: 1 });
  const jobs = status(dir).jobs;
  const keyOf = (name: string) => jobs.find((j) => j.name === name)!.key;
  // A deleted manifest, and a weights file cut short.
  rmSync(join(artifactDir(dir, keyOf('finetune[lenet5]')), MANIFEST));
  const classifier = artifactDir(dir, keyOf('classifier[lenet5]'));
  const weights = readManifest(classifier)!.files[0];
  truncateSync(join(classifier, weights.path), 10);
  assert.ok(statSync(join(classifier, weights.path)).size < weights.size);

  const warnings: string[] = [];
  const results = await renderRunReport(dir, undefined, (line) => warnings.push(line));
  assert.deepEqual(results.run.mixedEngines, [], 'a missing manifest is no engine change');
  const remedy = `; the report is drawn from the evaluation, which verifies, but rerun the command that made ${dir} to recompute it`;
  assert.deepEqual(warnings.sort(), [
    `the artifact of job 'classifier[lenet5]' is damaged (file ${weights.path} has 10 bytes, manifest says ${weights.size})${remedy}`,
    `the artifact of job 'finetune[lenet5]' is damaged (${MANIFEST} unreadable (ENOENT))${remedy}`,
  ]);
  // The command line says the same on stderr.
  const r = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), 'report', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stderr.trim().split('\n').sort(), warnings.map((w) => `s2snets: warning: ${w}`));
});
