// What the command line says when it is used wrongly or meets a bad file: one line naming the
// thing and what to do, and a non-zero exit status.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../../src/runs/store.js';
import { unreadableFolderRunConfig } from '../pipeline/image-folder-fixture.js';

const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-cli-errors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI; a command that does not end within the safety limit comes back with status null. */
const s2snets = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });

test('a usage error is the error and a pointer to --help, not the whole help', () => {
  for (const args of [['demo', '--bogus'], ['status'], ['demo', '--finetune-steps', 'x']]) {
    const r = s2snets(args);
    assert.equal(r.status, 2, args.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[1], /--help/);
  }
});

test('a run directory on a pseudo file system (/proc) is refused at once, not retried forever', (t) => {
  if (!existsSync('/proc/self')) return t.skip('no /proc on this system');
  const config = join(tmp, 'proc.json');
  writeFileSync(config, JSON.stringify({ quick: true, classifiers: ['lenet5'], device: 'cpu', runDir: '/proc/s2snets-run' }));
  const r = s2snets(['run', config]);
  assert.equal(r.status, 1, `exit status (null: still running after the limit): ${r.stderr}`);
  assert.equal(r.stderr.trim(), 's2snets: error S2SNETS_PREFLIGHT: run directory /proc/s2snets-run: cannot create it in /proc (not found); choose a folder on a disk');
});

test('verify names report/results.json when it is not JSON', () => {
  const runDir = join(tmp, 'garbage');
  RunStore.open(runDir).close();
  mkdirSync(join(runDir, 'report'));
  writeFileSync(join(runDir, 'report', 'results.json'), '\u0000garbage{');
  const r = s2snets(['verify', runDir]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /: report\/results\.json: not valid JSON \(.+\); rebuild it with `s2snets report RUN`$/m);
});

test("a failure's line carries its error code (docs/errors.md) and the exit status is 1", () => {
  const missing = join(tmp, 'missing.json');
  const absent = s2snets(['run', missing]);
  assert.equal(absent.status, 1, absent.stderr);
  assert.equal(absent.stderr, `s2snets: error S2SNETS_CONFIG: ${missing}: cannot read (ENOENT)\n`);
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, JSON.stringify({ classifiers: ['lenet5'], finetune: { epocs: 3 } }));
  const refused = s2snets(['run', bad]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /^s2snets: error S2SNETS_CONFIG: .*bad\.json: finetune: unknown field\(s\) 'epocs'\n$/);
});

test("a failed job's line carries the job's own error code beside S2SNETS_JOB_FAILED, in this process and in a job process", () => {
  const config = unreadableFolderRunConfig(tmp);
  for (const args of [[], ['--jobs', '2']]) {
    const r = s2snets(['run', config, ...args]);
    assert.equal(r.status, 1, `exit status (null: still running after the limit): ${r.stderr}`);
    const last = r.stderr.trim().split('\n').pop()!;
    assert.match(last, /^s2snets: error S2SNETS_JOB_FAILED \(S2SNETS_IMAGE_FOLDER\): job 'index\[unreadable\]' failed: ImageFolderError: .*unreadable: no class folder with images/, args.join(' '));
  }
});
