// The progress display with several jobs at once (--jobs): in a log (not a terminal) each job
// gets its own throttled lines, with no header repeated when the jobs take turns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const reporter = fileURLToPath(new URL('../../src/cli/progress.js', import.meta.url));

test('two jobs taking turns: each has its own lines, at most one per 5 s, and its end closes it', () => {
  // Real stderr of a child process (a pipe, so the plain-line mode), 40 alternating updates.
  const script = `
    const { ProgressReporter } = await import(${JSON.stringify(reporter)});
    const p = new ProgressReporter();
    for (let i = 0; i < 20; i++) {
      p.update({ stage: '[1/3] a', fraction: i / 20, message: 'step ' + i });
      p.update({ stage: '[2/3] b', fraction: i / 40, message: 'step ' + i });
    }
    p.log('[1/3] a: done in 1.0s', '[1/3] a');
    p.update({ stage: '[1/3] a', fraction: 0.5, message: 'again' });
    p.update({ stage: '[2/3] b', fraction: 1, message: 'last' });
    p.stop();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stderr.trimEnd().split('\n'), [
    '  [1/3] a: 0% step 0 (eta --)',
    '  [2/3] b: 0% step 0 (eta --)',
    '[1/3] a: done in 1.0s',
    // A stage that ended and shows up again starts afresh; a finished fraction always prints.
    '  [1/3] a: 50% again (eta --)',
    '  [2/3] b: 100% last (eta --)',
  ]);
});
