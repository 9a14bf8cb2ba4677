// The progress display with several jobs at once (--jobs): in a log (not a terminal) each job
// gets its own throttled lines, with no header repeated when the jobs take turns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const reporter = fileURLToPath(new URL('../../src/cli/progress.js', import.meta.url));

/** The stderr lines of a module script run in a child process (a pipe: the plain-line mode). */
function stderrLines(script: string): string[] {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr.trimEnd().split('\n');
}

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
  assert.deepEqual(stderrLines(script), [
    '  [1/3] a: 0% step 0 (eta --)',
    '  [2/3] b: 0% step 0 (eta --)',
    '[1/3] a: done in 1.0s',
    // A stage that ended and shows up again starts afresh; a finished fraction always prints.
    '  [1/3] a: 50% again (eta --)',
    '  [2/3] b: 100% last (eta 0s)',
  ]);
});

test('durations and throughputs as the progress line shows them', async () => {
  const { formatDuration, formatRate } = await import(reporter);
  assert.deepEqual([0, 42.4, 59.6, 119.7, 185, 3599.6, 7620, undefined, Number.NaN, -1].map(formatDuration), ['0s', '42s', '1m00s', '2m00s', '3m05s', '1h00m', '2h07m', '--', '--', '--']);
  assert.deepEqual([0.74, 9.96, 10, 812.4, 1234.5].map(formatRate), ['0.7 img/s', '10.0 img/s', '10 img/s', '812 img/s', '1,235 img/s']);
});

test('a training line: step, loss, img/s and eta on one line, whatever the message holds', async () => {
  const { formatProgressLine } = await import(reporter);
  assert.equal(
    formatProgressLine({ stage: '[5/9] finetune[resnet]', fraction: 0.05, message: 'step 30/600 loss 0.1234', imagesPerS: 812, etaS: 65 }),
    '  [5/9] finetune[resnet]: 5% step 30/600 loss 0.1234, 812 img/s (eta 1m05s)',
  );
  assert.equal(formatProgressLine({ stage: 'x', fraction: 1, message: 'a\nb\r\nc' }), '  x: 100% a b c (eta --)');
});

test('the eta comes from the pace since the first update: setup before it and a resumed start do not count', () => {
  // A clock the script sets: a job resumed at 40 % reports first 30 s after it started (setup), then runs 10 % every 20 s.
  const script = `
    const { ProgressReporter } = await import(${JSON.stringify(reporter)});
    let t = 30_000;
    const p = new ProgressReporter(() => t);
    p.update({ stage: 'finetune[a]', fraction: 0.4, message: 'step 240/600', imagesPerS: 3.24 });
    t += 20_000;
    p.update({ stage: 'finetune[a]', fraction: 0.5, message: 'step 300/600', imagesPerS: 3.2 });
    t += 1_000;
    p.update({ stage: 'finetune[a]', fraction: 0.52, message: 'step 312/600' });
    t += 40_000;
    p.update({ stage: 'finetune[a]', fraction: 0.7, message: 'step 420/600', etaS: 7 });
    p.stop();`;
  assert.deepEqual(stderrLines(script), [
    '  finetune[a]: 40% step 240/600, 3.2 img/s (eta --)',
    // 10 % in 20 s: the other 50 % take 100 s.
    '  finetune[a]: 50% step 300/600, 3.2 img/s (eta 1m40s)',
    // Within 5 s of the last line: none. An eta the job gives is shown as it is.
    '  finetune[a]: 70% step 420/600 (eta 7s)',
  ]);
});
