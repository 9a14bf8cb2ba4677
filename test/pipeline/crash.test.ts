// Crash safety of the runner with a real child process: the fixture graph (seeded data, two
// tiny convnets trained with checkpoints, evaluation, report) is killed with SIGKILL at several
// moments and resumed each time; the final results must equal an uninterrupted run's byte for
// byte, the database must pass integrity_check, and no temporary file may be left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunStore } from '../../src/runs/store.js';
import { status } from '../../src/scheduler/runner.js';
import { verifyRun } from '../../src/commands/verify.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixture-graph.js');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-crash-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  killed: boolean;
}

/**
 * Runs the fixture in runDir. When `when` matches a stdout line (or after `afterMs`), sends
 * `sendSignal` to the child. Resolves when the child has exited (and been reaped).
 */
function runChild(runDir: string, kill: { when?: RegExp; afterMs?: number; sendSignal?: NodeJS.Signals } = {}): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [FIXTURE, '--run-dir', runDir], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const fire = () => {
      if (!killed && child.exitCode === null) {
        killed = child.kill(kill.sendSignal ?? 'SIGKILL');
      }
    };
    const timer = kill.afterMs !== undefined ? setTimeout(fire, kill.afterMs) : undefined;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (kill.when && kill.when.test(stdout)) fire();
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, killed });
    });
  });
}

function assertClean(runDir: string): void {
  const check = verifyRun(runDir);
  assert.equal(check.integrity, 'ok');
  assert.deepEqual(check.problems, []);
  // Nothing but committed artifacts (named by their 64-hex key) in artifacts/.
  for (const name of readdirSync(join(runDir, 'artifacts'))) assert.match(name, /^[0-9a-f]{64}$/);
  assert.ok(!existsSync(join(runDir, 'lock')), 'the run lock is released');
}

let reference: Buffer;

before(async () => {
  const dir = join(tmp, 'reference');
  const r = await runChild(dir);
  assert.equal(r.code, 0, r.stderr);
  reference = readFileSync(join(dir, 'results.json'));
});

test('SIGKILL at five moments, resumed each time, gives the uninterrupted results byte for byte', async () => {
  const dir = join(tmp, 'killed');
  const kills = [
    // In run order: both trainings, then the evaluations (jobs.ts runOrder).
    { when: /progress train\[a\] step 1[3-9]\d\// }, // mid-training, after the checkpoint at step 125
    { when: /progress train\[b\] step 2[6-9]\d\// },
    { when: /done eval\[a\]/ }, // right after a commit
    { afterMs: 200 + Math.random() * 1500 },
    { afterMs: 200 + Math.random() * 1500 },
  ];
  let landed = 0;
  for (const k of kills) {
    const r = await runChild(dir, k);
    if (r.signal === 'SIGKILL') landed++;
    else assert.equal(r.code, 0, `a run that was not killed must succeed: ${r.stderr}`);
  }
  assert.ok(landed >= 3, `at least three kills hit a running process (got ${landed})`);
  const final = await runChild(dir);
  assert.equal(final.code, 0, final.stderr);
  assert.ok(readFileSync(join(dir, 'results.json')).equals(reference), 'results.json equals the uninterrupted run');
  assertClean(dir);

  // Training resumed from a checkpoint instead of starting over.
  const store = RunStore.openReadOnly(dir);
  try {
    const resumed = store.events().filter((e) => e.kind === 'log' && /resumed from checkpoint at step [1-9]/.test(e.message));
    assert.ok(resumed.length >= 1, 'at least one training job resumed from a checkpoint');
  } finally {
    store.close();
  }
  const table = status(dir).jobs;
  assert.deepEqual(table.map((j) => j.name), ['data', 'train[a]', 'train[b]', 'eval[a]', 'eval[b]', 'report']);
  assert.ok(table.every((j) => j.status === 'done'));
  assert.ok(table.find((j) => j.name === 'train[a]')!.attempts >= 2, 'train[a] was interrupted and resumed');
});

test('SIGINT checkpoints the running job, exits 130 with a resume hint, and the rerun resumes', async () => {
  const dir = join(tmp, 'sigint');
  const r = await runChild(dir, { when: /progress train\[a\] step 1[3-9]\d\//, sendSignal: 'SIGINT' });
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted; rerun the same command to resume/);
  const row = status(dir).jobs.find((j) => j.name === 'train[a]')!;
  assert.equal(row.status, 'pending');
  assertClean(dir);
  const again = await runChild(dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /log train\[a\] resumed from checkpoint at step [1-9]/);
  assert.ok(readFileSync(join(dir, 'results.json')).equals(reference));
  assertClean(dir);
});
