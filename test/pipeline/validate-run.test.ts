// End to end through the CLI: `validate --quick` on the planted sets. The real method must pass
// with every negative control failing, and the sets must be hard enough that A_S itself loses
// the carrier of some images (else "no worse than A_S" could not fail). Then the same validation
// of a broken method (`--broken-method stopped-gradient`: no gradient reaches the decoder) must
// report FAIL and exit non-zero, reusing the classifiers and A_S of the first run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OWN_ACCURACY_SHARE } from '../../src/commands/validate.js';

const cli = resolve('dist/src/cli/main.js');

/** The table rows of validate's output, as cells. */
function tableRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((line) => /^planted-(colour|shape) /.test(line))
    .map((line) => line.split(/\s{2,}/));
}

// Cells: dataset, autoencoder, orig acc %, own acc %, acc on A_S %, carrier kept %, on A_S %, vs A_S, ..., verdict.
const [AUTOENCODER, ORIGINAL, OWN, ON_A_S, CARRIER_KEPT] = [1, 2, 3, 4, 5];

function validate(runDir: string, ...flags: string[]) {
  return spawnSync(process.execPath, [cli, 'validate', '--quick', '--device', 'cpu', '--run-dir', runDir, ...flags], { encoding: 'utf8' });
}

test('validate --quick passes the real method (every control failing, A_S losing some carriers) and fails a broken one with exit code 1', () => {
  const runDir = mkdtempSync(join(tmpdir(), 's2snets-validate-'));
  try {
    const r = validate(runDir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const rows = tableRows(r.stdout);
    const named = (pattern: RegExp) => rows.filter((cells) => pattern.test(cells[AUTOENCODER]));
    assert.equal(named(/^A_S$/).length, 2);
    for (const cells of named(/^A_S$/)) {
      const kept = Number(cells[CARRIER_KEPT].split(' ')[0]);
      assert.ok(kept < 100, `A_S keeps the carrier in ${kept} % of images: ${cells.join(' | ')}`);
    }
    // A grey and a permuted-labels control on the colour set, a blurred and a permuted-labels one on the shape set.
    const controls = named(/^control: /);
    assert.equal(controls.length, 4, r.stdout);
    for (const cells of controls) assert.match(cells.at(-1)!, /^ok: control fails \((colour|shape) kept less than on A_S\)$/);
    const s2s = named(/^S2S-/);
    assert.equal(s2s.length, 4, r.stdout);
    for (const cells of s2s) assert.equal(cells.at(-1), 'ok');
    assert.match(r.stdout, /VERDICT: PASS: every S2S autoencoder keeps its carrier and every negative control fails\./);

    const broken = validate(runDir, '--broken-method', 'stopped-gradient');
    assert.equal(broken.status, 1, broken.stdout + broken.stderr);
    assert.match(broken.stdout, /Broken method validated in place of S2SNets: stopped-gradient/);
    assert.match(broken.stdout, /VERDICT: FAIL/);
    // Only the fine-tunes differ from the real run's.
    for (const job of ['classifier[alexnet]', 'classifier[vgg-bn]', 'pretrain[A_S]']) assert.equal(broken.stderr.split(`${job}: reused`).length - 1, 2, broken.stderr);
    // The decoder stays A_S's: wherever a classifier loses accuracy on A_S's reconstructions, the
    // broken method's S2S AE fails the accuracy rule; the sets must have such classifiers.
    const caught = tableRows(broken.stdout).filter((cells) => /^S2S-/.test(cells[AUTOENCODER]) && Number(cells[ON_A_S]) < OWN_ACCURACY_SHARE * Number(cells[ORIGINAL]));
    assert.ok(caught.length >= 1, `classifiers that lose accuracy on A_S's reconstructions: ${broken.stdout}`);
    for (const cells of caught) {
      assert.match(cells.at(-1)!, /^FAIL: own accuracy below 95 % of the original/, cells.join(' | '));
      assert.ok(Number(cells[OWN]) < OWN_ACCURACY_SHARE * Number(cells[ORIGINAL]), cells.join(' | '));
    }
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
});
