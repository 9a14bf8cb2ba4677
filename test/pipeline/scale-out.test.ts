// The job graph run in parallel (local job processes) and on BullMQ workers against a real Redis,
// compared with the sequential run of the same quick experiment: identical results.json (minus
// timings) and identical artifact files. Workers are SIGKILLed at random moments, two submitters
// race for the same jobs, Redis is SIGKILLed and restarted empty mid-run, a job fails on bad
// input, and Redis is unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { status } from '../../src/scheduler/runner.js';
import { verifyRun } from '../../src/commands/verify.js';
import { QUEUE_NAME } from '../../src/scheduler/distributed.js';
import { startRedis } from './redis-server.js';
import { artifactFiles, comparableResults } from './compare-runs.js';

const cli = resolve('dist/src/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 's2snets-scale-'));
const env = { ...process.env, S2SNETS_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' };
const quick = ['--quick', '--device', 'cpu'];
const redis = await startRedis();
const noRedis = typeof redis === 'string' ? redis : false;
const url = typeof redis === 'string' ? '' : redis.url;

function cliRun(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A CLI process whose output is collected as it comes. */
function cliStart(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}

function assertSameAsSequential(runDir: string): void {
  assert.deepEqual(comparableResults(runDir), comparableResults(join(root, 'sequential')));
  assert.deepEqual(artifactFiles(runDir), artifactFiles(join(root, 'sequential')));
  const check = verifyRun(runDir);
  assert.equal(check.integrity, 'ok');
  assert.deepEqual(check.problems, []);
}

/** Worker lines saying a job ran to completion, as job key prefixes. */
const completions = (log: string) => [...log.matchAll(/\(([0-9a-f]{12})\): ran to completion/g)].map((m) => m[1]);

const worker = () => cliStart(['worker', '--redis', url, '--stall-timeout', '6']);

async function stopWorkers(workers: ReturnType<typeof worker>[]): Promise<void> {
  for (const w of workers) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exit));
}

async function flush(): Promise<void> {
  const client = new Redis(url);
  await client.flushall();
  client.disconnect();
}

test('sequential reference run', () => {
  const r = cliRun(['demo', ...quick, '--jobs', '1', '--run-dir', join(root, 'sequential')]);
  assert.equal(r.status, 0, r.stderr);
});

test('--jobs 2: the same results and artifacts as the sequential run', () => {
  const dir = join(root, 'jobs2');
  const r = cliRun(['demo', ...quick, '--jobs', '2', '--run-dir', dir]);
  assert.equal(r.status, 0, r.stderr);
  assertSameAsSequential(dir);
});

test('3 workers, two submitters at once: each job runs once, both runs equal the sequential one', { skip: noRedis }, async () => {
  await flush();
  const workers = [worker(), worker(), worker()];
  const [a, b] = ['submit-a', 'submit-b'].map((d) => cliStart(['demo', ...quick, '--redis', url, '--run-dir', join(root, d)]));
  const codes = await Promise.all([a.exit, b.exit]);
  await stopWorkers(workers);
  assert.deepEqual(codes, [0, 0], `${a.err()}\n${b.err()}`);
  for (const d of ['submit-a', 'submit-b']) assertSameAsSequential(join(root, d));
  const ran = workers.flatMap((w) => completions(w.out()));
  const keys = status(join(root, 'submit-a')).jobs.map((j) => j.key.slice(0, 12));
  assert.deepEqual([...ran].sort(), [...keys].sort(), 'every job ran exactly once across the workers');
  // Every worker took part, and the submitters showed the workers' per-job progress.
  for (const w of workers) assert.ok(completions(w.out()).length > 0, w.out());
  assert.match(a.err() + b.err(), /\[\d+\/10\] (classifier|pretrain|finetune)\[[^\]]+\]: \d+% step \d+\/\d+ loss/);
});

test('chaos: 5 workers SIGKILLed at random moments; the run completes with identical results, no job ran twice', { skip: noRedis }, async () => {
  await flush();
  const dir = join(root, 'chaos');
  const workers = [worker(), worker(), worker()];
  const submitter = cliStart(['demo', ...quick, '--redis', url, '--run-dir', dir]);
  let finished = false;
  void submitter.exit.then(() => (finished = true));
  const kills: string[] = [];
  const alive = () => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  const started = (w: (typeof workers)[number]) => w.out().split('\n').filter((l) => l.includes(': started'));
  const busy = () => alive().filter((w) => started(w).length > (w.out().match(/: (ran to completion|already done|failed)/g) ?? []).length);
  while (kills.length < 5 && !finished) {
    // A random moment while some worker is in the middle of a job: the case recovery must handle.
    // Short waits, so that five kills fit in a quick run even on a fast, quiet machine.
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
    const candidates = busy();
    if (finished || candidates.length === 0) continue;
    const victim = candidates[Math.floor(Math.random() * candidates.length)];
    victim.child.kill('SIGKILL');
    await victim.exit;
    kills.push(started(victim).pop()!.replace(/: started.*/, ''));
    workers.push(worker());
  }
  const code = await submitter.exit;
  await stopWorkers(workers);
  console.log(`# killed workers during: ${kills.join('; ')}`);
  assert.equal(code, 0, submitter.err());
  assert.equal(kills.length, 5, `the run ended after ${kills.length} kills`);
  assertSameAsSequential(dir);
  const ran = workers.flatMap((w) => completions(w.out()));
  assert.equal(new Set(ran).size, ran.length, `a job ran to completion twice: ${ran.join(', ')}`);
  // Stalled-job recovery handed the killed workers' jobs to others.
  assert.ok(workers.some((w) => /: started again after \d+ lost worker\(s\), from its checkpoint/.test(w.out())));
});

test('Redis SIGKILLed mid-run and restarted empty: the run resumes with identical results, no finished job runs again, one line per outage', { skip: noRedis }, async () => {
  if (typeof redis === 'string') return;
  await flush();
  const dir = join(root, 'redis-restart');
  const workers = [worker(), worker()];
  const submitter = cliStart(['demo', ...quick, '--redis', url, '--run-dir', dir]);
  // While the fine-tunes run: jobs are waiting, running and done, so Redis loses all three kinds.
  while (!/finetune\[[^\]]+\]: \d+% step/.test(submitter.err()) && submitter.child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const finishedBefore = workers.flatMap((w) => completions(w.out()));
  const logsBefore = workers.map((w) => w.out().length);
  const errBefore = submitter.err().length;
  await redis.crash();
  await new Promise((r) => setTimeout(r, 3000));
  await redis.restart();
  // Without recovery the submitter waits forever for the jobs Redis forgot: give up after 4 minutes.
  const timeout = setTimeout(() => submitter.child.kill('SIGKILL'), 240_000);
  const code = await submitter.exit;
  clearTimeout(timeout);
  await stopWorkers(workers);
  assert.equal(code, 0, submitter.err().slice(-3000));
  assertSameAsSequential(dir);
  const after = submitter.err().slice(errBefore);
  console.log(`# submitter after the crash: ${after.split('\n').filter((l) => /Redis|queued again/.test(l)).join(' | ')}`);
  assert.doesNotMatch(after, /^\s+at /m, 'no stack trace');
  assert.equal(after.match(/Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\): waiting for it to come back/g)?.length, 1, after);
  assert.equal(after.match(/Redis at redis:\/\/127\.0\.0\.1:\d+ is back/g)?.length, 1, after);
  const startedAfter = workers.flatMap((w, i) => [...w.out().slice(logsBefore[i]).matchAll(/\(([0-9a-f]{12})\): started/g)].map((m) => m[1]));
  assert.ok(finishedBefore.length > 0, 'some jobs had finished before Redis went away');
  for (const key of finishedBefore) assert.ok(!startedAfter.includes(key), `job ${key}, finished before the restart, ran again`);
  for (const w of workers) assert.doesNotMatch(w.out() + w.err(), /^\s+at /m, 'no stack trace from a worker');
});

test('a job that fails on bad input fails once, with one line in the terminal and the store', { skip: noRedis }, async () => {
  const dir = join(root, 'diverges');
  const config = join(root, 'diverges.json');
  // A learning rate this large makes the fine-tuning loss non-finite within a few steps.
  writeFileSync(config, JSON.stringify({ quick: true, device: 'cpu', classifiers: ['lenet5'], finetune: { lr: 1e30, steps: 5 }, runDir: dir }));
  const workers = [worker()];
  const r = cliStart(['run', config, '--redis', url]);
  const code = await r.exit;
  await stopWorkers(workers);
  assert.equal(code, 1);
  const lines = r.err().trim().split('\n');
  assert.match(lines[lines.length - 1], /^s2snets: error S2SNETS_JOB_FAILED \(S2SNETS_NON_FINITE_LOSS\): job 'finetune\[lenet5\]' failed: NonFiniteLossError: .*; not run because of it: reconstruct\[S2S-lenet5\], evaluate$/);
  const row = status(dir).jobs.find((j) => j.name === 'finetune[lenet5]')!;
  assert.equal(row.status, 'failed');
  assert.match(row.error!, /^NonFiniteLossError: /);
  assert.ok(!row.error!.includes('\n'));
  const queue = new Queue(QUEUE_NAME, { connection: { url } });
  const job = (await queue.getJob(row.key))!;
  assert.equal(await job.getState(), 'failed');
  assert.equal(job.attemptsMade, 1, 'not retried');
  await queue.close();
  assert.equal((workers[0].out().match(/finetune\[lenet5\].*: failed: NonFiniteLossError/g) ?? []).length, 1);
});

test('Redis unreachable: one line naming the URL, exit 1', () => {
  const bad = 'redis://127.0.0.1:1';
  for (const args of [['demo', ...quick, '--redis', bad, '--run-dir', join(root, 'unreachable')], ['worker', '--redis', bad]]) {
    const r = cliRun(args);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, `s2snets: error S2SNETS_REDIS_UNREACHABLE: cannot reach Redis at ${bad}: ECONNREFUSED\n`);
  }
});

test.after(async () => {
  if (typeof redis !== 'string') await redis.stop();
  rmSync(root, { recursive: true, force: true });
});
