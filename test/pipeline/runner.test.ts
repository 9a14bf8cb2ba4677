// The runner in-process: reuse, invalidation by configuration, corrupt artifacts, a failing
// commit, failing jobs, adoption of committed work, locking, and the checkpoint helper.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fixtureGraph, runFixture } from './fixture-graph.js';
import { runJobs, status, JobFailedError, type ProgressEvent } from '../../src/scheduler/runner.js';
import { ConfigError } from '../../src/experiment/config.js';
import { currentEngine, engineDifferences } from '../../src/scheduler/current-engine.js';
import { verifyRun } from '../../src/commands/verify.js';
import { LockHeldError } from '../../src/runs/lock.js';
import { canonicalJson, jobKey, jobsThatRunAlone, runOrder, topologicalOrder, JobConfigError, type JobSpec } from '../../src/scheduler/job-graph.js';
import { artifactDir, createCheckpointer } from '../../src/runs/artifacts.js';
import { writeFileAtomic } from '../../src/common/atomic.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-runner-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = { handleSignals: false };
const SMALL = { steps: 40, checkpointEvery: 10 };
// The run order: both trainings (2 jobs wait for each) before either evaluation (1 waits).
const ALL = ['data', 'train[a]', 'train[b]', 'eval[a]', 'eval[b]', 'report'];

test('keys: canonical config, stable under key order, changed by config, code version and deps', () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 0, y: undefined } }), '{"a":[true,null,"x"],"b":1,"c":{"z":0}}');
  assert.throws(() => canonicalJson({ lr: NaN }), JobConfigError);
  assert.throws(() => canonicalJson({ when: new Date() }), /config\.when: a Date is not plain JSON/);
  const leaf = (config: Record<string, number>, codeVersion?: string): JobSpec => ({ name: 'leaf', deps: [], config, codeVersion, run: async () => null });
  assert.equal(jobKey(leaf({ a: 1, b: 2 })), jobKey(leaf({ b: 2, a: 1 })));
  assert.notEqual(jobKey(leaf({ a: 1 })), jobKey(leaf({ a: 2 })));
  assert.notEqual(jobKey(leaf({ a: 1 })), jobKey(leaf({ a: 1 }, 'v2')));
  const top = (dep: JobSpec): JobSpec => ({ name: 'top', deps: [dep], config: {}, run: async () => null });
  assert.notEqual(jobKey(top(leaf({ a: 1 }))), jobKey(top(leaf({ a: 2 }))));
});

test('topological order is stable, deduplicates equal jobs and refuses cycles', () => {
  const g = fixtureGraph(SMALL);
  assert.deepEqual(topologicalOrder([g.report]).map((j) => j.name), ['data', 'train[a]', 'eval[a]', 'train[b]', 'eval[b]', 'report']);
  // A second graph object with the same configuration is the same set of keys.
  const g2 = fixtureGraph(SMALL);
  assert.deepEqual(topologicalOrder([g.report, g2.evalB, g2.data]).map(jobKey), topologicalOrder([g.report]).map(jobKey));
  const a: JobSpec = { name: 'a', deps: [], config: {}, run: async () => null };
  const b: JobSpec = { name: 'b', deps: [a], config: {}, run: async () => null };
  a.deps.push(b);
  assert.throws(() => topologicalOrder([b]), /cycle: b -> a -> b/);
});

test('run order: the job more jobs wait for starts first; only jobs related to every other job run alone', () => {
  const job = (name: string, deps: JobSpec[]): JobSpec => ({ name, deps, config: {}, run: async () => null });
  // The demo's shape: two classifiers listed before the pretraining that every fine-tune needs.
  const [c1, c2, pre] = [job('classifier[1]', []), job('classifier[2]', []), job('pretrain', [])];
  const [f1, f2] = [job('finetune[1]', [pre, c1]), job('finetune[2]', [pre, c2])];
  const evaluate = job('evaluate', [c1, c2, pre, f1, f2]);
  assert.deepEqual(topologicalOrder([evaluate]).map((j) => j.name), ['classifier[1]', 'classifier[2]', 'pretrain', 'finetune[1]', 'finetune[2]', 'evaluate']);
  assert.deepEqual(runOrder([evaluate]).map((j) => j.name), ['pretrain', 'classifier[1]', 'classifier[2]', 'finetune[1]', 'finetune[2]', 'evaluate']);
  assert.deepEqual([...jobsThatRunAlone([evaluate])], [jobKey(evaluate)]);
  // A chain runs alone everywhere; two independent jobs never do.
  const a = job('a', []);
  const chain = job('c', [job('b', [a])]);
  assert.equal(jobsThatRunAlone([chain]).size, 3);
  assert.equal(jobsThatRunAlone([job('x', []), job('y', [])]).size, 0);
});

test('a second run reuses everything; status reports the table with metrics', async () => {
  const dir = join(tmp, 'reuse');
  const first = await runFixture(dir, SMALL, quiet);
  assert.deepEqual(first.ran, ALL);
  const second = await runFixture(dir, SMALL, quiet);
  assert.deepEqual(second.ran, []);
  assert.deepEqual(second.reused, ALL);
  const s = status(dir);
  assert.deepEqual(s.jobs.map((j) => [j.name, j.status, j.attempts]), ALL.map((n) => [n, 'done', 1]));
  const evalA = s.jobs.find((j) => j.name === 'eval[a]')!;
  assert.equal(evalA.metrics.accuracy, JSON.parse(readFileSync(join(first.dir(fixtureGraph(SMALL).evalA), 'metrics.json'), 'utf8')).accuracy);
  assert.ok(s.jobs.every((j) => j.durationS !== null && j.durationS >= 0 && j.startedAt && j.finishedAt));
  assert.ok(s.meta && s.meta.created && s.meta.toolVersion !== 'unknown');
});

test('changing one job config reruns exactly it and its dependents', async () => {
  const dir = join(tmp, 'reuse');
  const r = await runFixture(dir, { ...SMALL, lrB: 0.02 }, quiet);
  assert.deepEqual(r.ran, ['train[b]', 'eval[b]', 'report']);
  assert.deepEqual(r.reused, ['data', 'train[a]', 'eval[a]']);
  // Going back reuses the earlier artifacts: nothing was overwritten.
  const back = await runFixture(dir, SMALL, quiet);
  assert.deepEqual(back.ran, []);
});

test('a corrupt, truncated or unlisted artifact file is detected, reported and recomputed', async () => {
  const dir = join(tmp, 'corrupt');
  const g = fixtureGraph(SMALL);
  const first = await runFixture(dir, SMALL, quiet);
  const weights = join(first.dir(g.trainA), 'weights.safetensors');
  const original = readFileSync(weights);
  const cases: [string, () => void, RegExp][] = [
    ['flipped byte', () => {
      const bad = Buffer.from(original);
      bad[bad.length - 3] ^= 0x10;
      writeFileSync(weights, bad);
    }, /sha256 mismatch/],
    ['truncated', () => writeFileSync(weights, original.subarray(0, 100)), /has 100 bytes/],
    ['deleted', () => rmSync(weights), /weights\.safetensors missing/],
    ['stray file', () => writeFileSync(join(first.dir(g.trainA), 'stray.bin'), 'x'), /unexpected file stray\.bin/],
    ['manifest gone', () => rmSync(join(first.dir(g.trainA), 'manifest.json')), /manifest\.json unreadable/],
  ];
  for (const [what, damage, reason] of cases) {
    damage();
    const events: string[] = [];
    const r = await runFixture(dir, SMALL, { ...quiet, onProgress: (e) => e.kind === 'corrupt' && events.push(e.message!) });
    assert.deepEqual(r.ran, ['train[a]'], what);
    assert.equal(r.recomputed.length, 1, what);
    assert.match(r.recomputed[0].reason, reason, what);
    assert.match(events[0], /artifact of job 'train\[a\]' .* is unusable/, what);
    // The seeded job recomputes the same bytes, so its dependents stay valid.
    assert.ok(readFileSync(weights).equals(original), what);
    assert.deepEqual(verifyRun(dir).problems, [], what);
  }
});

/** Makes a directory refuse new entries, even for root (chattr +i); returns the undo, or null. */
function freeze(dir: string): (() => void) | null {
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o555);
    return () => chmodSync(dir, 0o755);
  }
  const r = spawnSync('chattr', ['+i', dir]);
  return r.status === 0 ? () => spawnSync('chattr', ['-i', dir]) : null;
}

test('a commit that fails on the file system leaves the previous artifacts intact', async (t) => {
  const dir = join(tmp, 'readonly');
  await runFixture(dir, SMALL, quiet);
  const artifactsDir = join(dir, 'artifacts');
  const before = readdirSync(artifactsDir).sort();
  const unfreeze = freeze(artifactsDir);
  if (!unfreeze) return t.skip('cannot make a directory read-only here (root without chattr)');
  let error: unknown;
  try {
    await runFixture(dir, { ...SMALL, lrB: 0.05 }, quiet);
  } catch (e) {
    error = e;
  } finally {
    unfreeze();
  }
  assert.ok(error instanceof JobFailedError, String(error));
  assert.match(error.message, /job 'train\[b\]' failed: .*(EPERM|EACCES).*; not run because of it: eval\[b\], report/);
  assert.deepEqual(readdirSync(artifactsDir).sort(), before);
  assert.deepEqual(verifyRun(dir).problems, []);
  const row = status(dir).jobs.find((j) => j.name === 'train[b]')!;
  assert.equal(row.status, 'failed');
  assert.match(row.error!, /EPERM|EACCES/);
  // The old configuration is still complete; the new one succeeds once the disk accepts writes.
  assert.deepEqual((await runFixture(dir, SMALL, quiet)).ran, []);
  assert.deepEqual((await runFixture(dir, { ...SMALL, lrB: 0.05 }, quiet)).ran, ['train[b]', 'eval[b]', 'report']);
});

test('a failing job stops its dependents, independent jobs still run, the error names the job', async () => {
  const dir = join(tmp, 'failing');
  const count = (n: number): JobSpec<number> => ({
    name: `count${n}`,
    deps: [],
    config: { n },
    run: async (ctx) => {
      writeFileAtomic(join(ctx.dir, 'n.txt'), String(n));
      return n;
    },
  });
  const bad: JobSpec<number> = {
    name: 'divide',
    deps: [count(1)],
    config: {},
    run: async () => {
      throw new RangeError('division by zero in bucket 3');
    },
  };
  const sum: JobSpec<number> = { name: 'sum', deps: [bad, count(2)], config: {}, run: async (ctx) => ctx.output(bad) + ctx.output(count(2)) };
  const other = count(3);
  await assert.rejects(runJobs(dir, [sum, other], quiet), (e: unknown) => {
    assert.ok(e instanceof JobFailedError);
    assert.equal(e.message, "job 'divide' failed: RangeError: division by zero in bucket 3; not run because of it: sum");
    assert.equal(e.causeCode, undefined, 'a plain error has no code to carry');
    return true;
  });
  const rows = Object.fromEntries(status(dir).jobs.map((j) => [j.name, j]));
  assert.equal(rows.divide.status, 'failed');
  assert.equal(rows.divide.error, 'RangeError: division by zero in bucket 3');
  assert.equal(rows.sum.status, 'pending');
  assert.equal(rows.count3.status, 'done');
  assert.equal(rows.count2.status, 'done');
});

test("a job that fails with an s2snets error: the run's error carries that code as causeCode", async () => {
  const dir = join(tmp, 'failing-code');
  const bad: JobSpec<number> = {
    name: 'load',
    deps: [],
    config: {},
    run: async () => {
      throw new ConfigError('config: epochs: must be a positive integer');
    },
  };
  await assert.rejects(runJobs(dir, [bad], quiet), (e: unknown) => {
    assert.ok(e instanceof JobFailedError);
    assert.equal(e.code, 'S2SNETS_JOB_FAILED');
    assert.equal(e.causeCode, 'S2SNETS_CONFIG');
    assert.deepEqual(e.failures.map((f) => f.code), ['S2SNETS_CONFIG']);
    return true;
  });
});

test('an artifact committed just before a crash is adopted, not recomputed', async () => {
  const dir = join(tmp, 'adopt');
  const g = fixtureGraph(SMALL);
  await runFixture(dir, SMALL, quiet);
  // The process died between the artifact rename and the DB transaction: the row says running.
  const db = new Database(join(dir, 'run.db'));
  db.prepare(`UPDATE jobs SET status = 'running', artifact_sha = NULL WHERE key = ?`).run(jobKey(g.evalB));
  db.close();
  const r = await runFixture(dir, SMALL, quiet);
  assert.deepEqual(r.ran, []);
  assert.equal(status(dir).jobs.find((j) => j.name === 'eval[b]')!.status, 'done');
  // The opposite: the DB says done but the artifact never made it: recomputed.
  rmSync(artifactDir(dir, jobKey(g.evalB)), { recursive: true });
  assert.deepEqual((await runFixture(dir, SMALL, quiet)).ran, ['eval[b]']);
});

test('one process per run directory; a lock left by a dead process is taken over', async () => {
  const dir = join(tmp, 'lock');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow: JobSpec<null> = { name: 'slow', deps: [], config: {}, run: () => gate.then(() => null) };
  const running = runJobs(dir, [slow], quiet);
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(runJobs(dir, [slow], quiet), (e: unknown) => e instanceof LockHeldError && /in use by process \d+ \(running jobs, since /.test(e.message));
  release();
  await running;
  // A pid that cannot be alive (beyond pid_max) stands for a process killed with SIGKILL.
  writeFileSync(join(dir, 'lock'), '99999999');
  const r = await runJobs(dir, [slow], quiet);
  assert.deepEqual(r.reused, ['slow']);
  assert.ok(!existsSync(join(dir, 'lock')));
});

test('checkpoints: atomic save/load, stale leftovers ignored, a corrupt checkpoint is refused', () => {
  const dir = join(tmp, 'ckpt');
  const warnings: string[] = [];
  const ck = createCheckpointer(dir, join(tmp, 'ckpt-trash'), 'train', (m) => warnings.push(m));
  assert.equal(ck.load(), null);
  ck.save('step-10', { 'state.json': '{"step":10}', 'w.bin': [new Uint8Array([1, 2]), new Uint8Array([3])] });
  ck.save('step-20', { 'state.json': '{"step":20}', 'w.bin': new Uint8Array([4, 5, 6]) });
  const c = ck.load()!;
  assert.equal(c.name, 'step-20');
  assert.deepEqual([...readFileSync(join(c.dir, 'w.bin'))], [4, 5, 6]);
  assert.equal(readdirSync(dir).length, 2, 'only latest.json and the latest checkpoint remain');
  // A crash while writing the next one leaves a staging folder and an uncommitted checkpoint.
  mkdirSync(join(dir, '.staging-ckpt-000003'));
  mkdirSync(join(dir, 'ckpt-000003'));
  assert.equal(ck.load()!.name, 'step-20');
  ck.save('step-30', { 'state.json': '{"step":30}' });
  assert.equal(ck.load()!.name, 'step-30');
  assert.equal(readdirSync(dir).length, 2);
  writeFileSync(join(ck.load()!.dir, 'state.json'), '{"step":31}');
  assert.equal(ck.load(), null);
  assert.match(warnings[0], /checkpoint 'step-30' of job 'train' is unusable \(file state\.json content changed/);
});

test('provenance: manifests record the engine; a changed engine identity is said on one line and recomputes, unless accepted', async () => {
  const dir = join(tmp, 'engine');
  const g = fixtureGraph(SMALL);
  const first = await runFixture(dir, SMALL, quiet);
  const recorded = JSON.parse(readFileSync(join(first.dir(g.trainA), 'manifest.json'), 'utf8')).engine;
  assert.deepEqual(recorded, currentEngine());
  // The same machine with another BLAS: a fake identity injected through the library API.
  const otherBlas = { ...currentEngine(), blas: 'reference BLAS (netlib, slow: /usr/lib/libblas.so.3)' };
  const notices: string[] = [];
  const onProgress = (e: ProgressEvent) => e.kind === 'notice' && notices.push(e.message!);
  const kept = await runFixture(dir, SMALL, { ...quiet, engine: otherBlas, acceptEngineChange: true, onProgress });
  assert.deepEqual(kept.ran, []);
  assert.deepEqual(kept.engineChange, { differences: [`blas: ${currentEngine().blas} -> ${otherBlas.blas}`], jobs: ALL, kept: true });
  assert.deepEqual(notices, [`the engine differs from the one 6 finished job(s) were made with (blas: ${currentEngine().blas} -> ${otherBlas.blas}): keeping them (--accept-engine-change)`]);
  const redone = await runFixture(dir, SMALL, { ...quiet, engine: otherBlas, onProgress });
  assert.deepEqual(redone.ran, ALL);
  assert.equal(notices.length, 2);
  assert.match(notices[1], /^the engine differs from the one 6 finished job\(s\) were made with \(blas: .* -> reference BLAS .*\): recomputing them \(--accept-engine-change keeps them\)$/);
  assert.equal(JSON.parse(readFileSync(join(redone.dir(g.trainA), 'manifest.json'), 'utf8')).engine.blas, otherBlas.blas);
  // Threads are recorded but do not count as a change.
  const threads = await runFixture(dir, SMALL, { ...quiet, engine: { ...otherBlas, threads: otherBlas.threads + 3 } });
  assert.deepEqual([threads.ran, threads.engineChange], [[], null]);
  assert.deepEqual(engineDifferences(undefined, currentEngine()), ['made before engine identities were recorded']);
  // On CUDA, cuDNN's version and TensorFloat-32 count too; records from before they were recorded still match.
  const onCuda = { ...currentEngine(), cuda: true, cudnn: true, cudnnVersion: 91900, tf32: { convolutions: true, matmul: false } };
  assert.deepEqual(engineDifferences({ ...onCuda, tf32: { convolutions: false, matmul: false } }, onCuda), ['tf32: {"convolutions":false,"matmul":false} -> {"convolutions":true,"matmul":false}']);
  assert.deepEqual(engineDifferences({ ...onCuda, cudnnVersion: 90100 }, onCuda), ['cudnnVersion: 90100 -> 91900']);
  const { cudnnVersion: _version, tf32: _tf32, winograd: _winograd, ...olderRecord } = onCuda;
  assert.deepEqual(engineDifferences(olderRecord, onCuda), []);
  // Winograd convolutions round differently from direct ones: switching them counts as a change.
  assert.deepEqual(engineDifferences({ ...currentEngine(), winograd: false }, { ...currentEngine(), winograd: true }), ['winograd: off -> on']);
  // Checkpoints record the engine too: one made by another engine is not resumed from unless accepted.
  const warnings: string[] = [];
  const saved = createCheckpointer(join(dir, 'ck'), join(dir, 'ck-trash'), 'train', (m) => warnings.push(m), { identity: currentEngine(), accept: false });
  saved.save('step-10', { 'state.json': '{}' });
  assert.equal(saved.load()!.name, 'step-10');
  const reader = (accept: boolean) => createCheckpointer(join(dir, 'ck'), join(dir, 'ck-trash'), 'train', (m) => warnings.push(m), { identity: otherBlas, accept });
  assert.equal(reader(false).load(), null);
  assert.equal(warnings.pop(), `checkpoint 'step-10' of job 'train' was made by another engine (blas: ${currentEngine().blas} -> ${otherBlas.blas}); starting the job over (--accept-engine-change resumes from it)`);
  assert.equal(reader(true).load()!.name, 'step-10');
});

test('checkpoints are removed once the artifact is committed, also after a kill past the commit and on adoption', async () => {
  const dir = join(tmp, 'ckpt-cleanup');
  const g = fixtureGraph(SMALL);
  await runFixture(dir, SMALL, quiet);
  const ckpt = (job: JobSpec<unknown>) => join(dir, 'checkpoints', jobKey(job));
  assert.deepEqual(readdirSync(join(dir, 'checkpoints')), [], 'a normal run leaves none');
  // Killed after recording train[a] done, before removing its checkpoint; eval[b] committed but unrecorded.
  mkdirSync(join(ckpt(g.trainA), 'ckpt-000001'), { recursive: true });
  mkdirSync(join(ckpt(g.evalB), 'ckpt-000001'), { recursive: true });
  const db = new Database(join(dir, 'run.db'));
  db.prepare(`UPDATE jobs SET status = 'running', artifact_sha = NULL WHERE key = ?`).run(jobKey(g.evalB));
  db.close();
  assert.match(verifyRun(dir).problems.join('\n'), new RegExp(`checkpoints/${jobKey(g.trainA)} of finished job 'train\\[a\\]' left behind`));
  const r = await runFixture(dir, SMALL, quiet);
  assert.deepEqual(r.ran, []);
  assert.ok(!existsSync(ckpt(g.trainA)) && !existsSync(ckpt(g.evalB)));
  assert.deepEqual(verifyRun(dir).problems, []);
});

test("status and verify: the whole graph of every command, damaged artifacts marked, a line per problem", async () => {
  const dir = join(tmp, 'graph');
  const g = fixtureGraph(SMALL);
  await runFixture(dir, SMALL, quiet);
  // A later command that needs only part of the graph: status still shows every job.
  await runJobs(dir, [g.trainA], quiet);
  assert.deepEqual(status(dir).jobs.map((j) => j.name), ALL);
  // A changed setting supersedes train[b]'s old key: one row per job name, the newest.
  await runJobs(dir, [fixtureGraph({ ...SMALL, lrB: 0.05 }).trainB], quiet);
  const rows = status(dir).jobs;
  assert.deepEqual(rows.map((j) => j.name), ALL);
  assert.equal(rows.find((j) => j.name === 'train[b]')!.key, jobKey(fixtureGraph({ ...SMALL, lrB: 0.05 }).trainB));
  assert.deepEqual(verifyRun(dir).problems, []);
  const weights = join(artifactDir(dir, jobKey(g.trainA)), 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(weights, bytes);
  const marked = status(dir).jobs.find((j) => j.name === 'train[a]')!;
  assert.equal(marked.artifactProblem, 'file weights.safetensors content changed (sha256 mismatch)');
  assert.deepEqual(verifyRun(dir).problems, [`artifacts/${jobKey(g.trainA)} (job 'train[a]'): file weights.safetensors content changed (sha256 mismatch)`]);
  rmSync(artifactDir(dir, jobKey(g.evalA)), { recursive: true });
  assert.ok(verifyRun(dir).problems.includes(`job 'eval[a]' is recorded done but its artifact artifacts/${jobKey(g.evalA)} is missing`));
});
