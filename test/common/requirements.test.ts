import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MissingRequirementError, onCi, requirement } from './requirements.js';

test('a missing requirement is a skip reason off CI and an error on CI', () => {
  assert.equal(requirement(null, { CI: 'true' }), null);
  assert.equal(requirement('redis-server is not installed', {}), 'redis-server is not installed');
  for (const off of ['', '0', 'false', 'FALSE']) assert.equal(requirement('no chromium', { CI: off }), 'no chromium', `CI=${off}`);
  for (const on of ['true', '1', 'yes']) {
    assert.throws(
      () => requirement('/usr/bin/python3 lacks torch', { CI: on }),
      (e: Error) => e instanceof MissingRequirementError && (e as MissingRequirementError).code === 'S2SNETS_TEST_REQUIREMENT_MISSING' && /^CI is set, so this fails instead of skipping: \/usr\/bin\/python3 lacks torch/.test(e.message),
    );
  }
  assert.equal(onCi({}), false);
});

test('the tally reporter counts passes, failures and skips (subtests too), and names each skip with its reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2snets-tally-'));
  const file = join(dir, 'sample.test.mjs');
  writeFileSync(
    file,
    [
      "import { test, describe } from 'node:test';",
      "test('passes', () => {});",
      "test('skipped up front', { skip: 'redis-server is not installed' }, () => {});",
      "test('fails', () => { throw new Error('no'); });",
      "test('parent', async (t) => { await t.test('child passes', () => {}); await t.test('child skips', (c) => c.skip('no chromium')); });",
      "describe('a suite', () => { test('in a suite', () => {}); });",
    ].join('\n'),
  );
  const out = join(dir, 'tally.json');
  const reporter = resolve('scripts/test-tally.mjs');
  // Without the parent runner's NODE_TEST_CONTEXT, the child reports for itself.
  const env = { ...process.env, NODE_TEST_CONTEXT: undefined };
  const r = spawnSync(process.execPath, ['--test', '--test-reporter', reporter, '--test-reporter-destination', out, file], { encoding: 'utf8', env });
  assert.equal(r.status, 1, 'a failing test fails the run');
  const tally = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(dir, { recursive: true });
  assert.deepEqual(
    { passed: tally.passed, failed: tally.failed, skipped: tally.skipped, todo: tally.todo },
    // passes, parent, child passes, in a suite; fails; the two skips.
    { passed: 4, failed: 1, skipped: 2, todo: 0 },
  );
  assert.deepEqual(
    tally.skips.map((s: { name: string; reason: string; file: string }) => [s.name, s.reason, s.file]),
    [
      ['skipped up front', 'redis-server is not installed', file],
      ['child skips', 'no chromium', file],
    ],
  );
});
