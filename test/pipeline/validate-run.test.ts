// End to end through the CLI: `validate --quick` on the planted sets. The real method must pass
// with every negative control failing, and the sets must be hard enough that A_S itself loses
// the carrier of some images (else "no worse than A_S" could not fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve('dist/src/cli/main.js');

test('validate --quick: every S2S AE passes, every control fails, A_S keeps the carrier in less than all images, exit code 0', () => {
  const runDir = mkdtempSync(join(tmpdir(), 's2snets-validate-'));
  try {
    const r = spawnSync(process.execPath, [cli, 'validate', '--quick', '--device', 'cpu', '--run-dir', runDir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const rows = r.stdout.split('\n').filter((line) => /^planted-(colour|shape) /.test(line));
    const named = (pattern: RegExp) => rows.filter((line) => pattern.test(line.split(/\s{2,}/)[1]));
    assert.equal(named(/^A_S$/).length, 2);
    for (const line of named(/^A_S$/)) {
      const kept = Number(line.split(/\s{2,}/)[4].split(' ')[0]);
      assert.ok(kept < 100, `A_S keeps the carrier in ${kept} % of images: ${line}`);
    }
    // A grey and a permuted-labels control on the colour set, a blurred and a permuted-labels one on the shape set.
    const controls = named(/^control: /);
    assert.equal(controls.length, 4, r.stdout);
    for (const line of controls) assert.match(line, /ok: control fails \((colour|shape) kept less than on A_S\)$/);
    const s2s = named(/^S2S-/);
    assert.equal(s2s.length, 4, r.stdout);
    for (const line of s2s) assert.match(line, /ok$/);
    assert.match(r.stdout, /VERDICT: PASS: every S2S autoencoder keeps its carrier and every negative control fails\./);
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
});
