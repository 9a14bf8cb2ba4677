// A run with one classifier (the common case of a user checking one model) goes end to end:
// there is no order to test against accuracy or size, and the results say so instead of failing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateResults } from '../../src/report/index.js';
import { NO_CLAIMS } from '../../src/report/format.js';

test('quick demo with a single classifier: results validate, claims are null and the summary says why', () => {
  const runDir = mkdtempSync(join(tmpdir(), 's2snets-single-'));
  const r = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), 'demo', '--quick', '--device', 'cpu', '--classifiers', 'lenet5', '--run-dir', runDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const results = validateResults(JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8')));
  assert.deepEqual(results.classifiers.map((c) => c.name), ['lenet5']);
  assert.deepEqual(results.order.ranking, ['lenet5']);
  assert.equal(results.claims, null);
  assert.ok(r.stdout.includes(NO_CLAIMS), r.stdout);
  assert.ok(readFileSync(join(runDir, 'report', 'report.html'), 'utf8').includes(NO_CLAIMS));
});
