#!/usr/bin/env node
// Soak test of a distributed run: a private redis-server, workers, and a submitter running the
// quick demo, SIGKILLed at random moments in every round: a worker, a job process, the submitter
// and redis-server itself (restarted empty after a pause). A killed worker is replaced, a killed
// submitter is started again with the same command (it resumes), and so is a submitter that ended
// because a job process of a worker was killed (its job failed: the rerun retries it) or because
// it started while Redis was down. Redis starts empty for every round. Every
// round must end with results.json and the artifact files of the sequential run (timings and
// timestamps aside), a run.db that passes integrity_check, and no stack trace from any process.
//   node scripts/soak-redis.mjs [--rounds 20] [--workers 2] [--seed N] [--keep]
// Needs a build (dist/, with the compiled test helpers) and redis-server on the PATH.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    workers: { type: 'string', default: '2' },
    seed: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const workerCount = Number(values.workers);
if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer, got '${values.rounds}'`);
if (!Number.isInteger(workerCount) || workerCount < 1) fail(`--workers must be a positive integer, got '${values.workers}'`);
if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) fail('redis-server is not installed (node scripts/setup.mjs --with-redis)');
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);

const dist = (path) => import(pathToFileURL(join(root, 'dist', 'src', path)).href).catch(() => fail(`dist/src/${path} not found: compile first (node_modules/.bin/tsc -p .)`));
const { verifyRun } = await dist('commands/verify.js');
const { checkRedis } = await dist('scheduler/distributed.js');
const { Rng } = await dist('data/random.js');
// Helpers the tests share: finding job processes, and what two runs must have in common.
const testHelper = (name) => import(pathToFileURL(join(root, 'dist', 'test', 'pipeline', name)).href);
const { jobProcessesOf } = await testHelper('job-processes.js');
const { artifactFiles, comparableResults } = await testHelper('compare-runs.js');
const comparable = (runDir) => JSON.stringify(comparableResults(runDir));
const artifactList = (runDir) => JSON.stringify(artifactFiles(runDir));
const rng = new Rng(seed);

function fail(message) {
  console.error(`soak-redis: ${message}`);
  process.exit(2);
}

const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const env = { ...process.env, S2SNETS_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' };
const quick = ['--quick', '--device', 'cpu'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alive = (p) => p.child.exitCode === null && p.child.signalCode === null;

/** A process whose output is kept; `exit` resolves with its exit code (null when killed). */
function start(command, args) {
  const child = spawn(command, args, { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, output: '', exit: null };
  child.stdout.on('data', (d) => (p.output += d));
  child.stderr.on('data', (d) => (p.output += d));
  p.exit = new Promise((r) => child.on('exit', (code) => r(code)));
  return p;
}

async function kill(p) {
  if (!alive(p)) return;
  p.child.kill('SIGKILL');
  await p.exit;
}

const port = await new Promise((resolvePort, reject) => {
  const server = createServer();
  server.listen(0, '127.0.0.1', () => {
    const { port: free } = server.address();
    server.close(() => resolvePort(free));
  });
  server.on('error', reject);
});
const url = `redis://127.0.0.1:${port}`;

/** redis-server on the port, empty (no persistence), once it answers. */
async function startRedis() {
  const server = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  for (let tries = 0; ; tries++) {
    try {
      await checkRedis(url);
      return server;
    } catch (e) {
      if (tries > 50 || !alive(server)) fail(`redis-server did not start on port ${port}: ${e.message}`);
      await sleep(100);
    }
  }
}

const stackTraces = (text) => (text.match(/^\s+at .+\(.+:\d+:\d+\)$/gm) ?? []).length;

const tmp = mkdtempSync(join(tmpdir(), 's2snets-soak-redis-'));
console.log(`soak-redis: seed ${seed}, ${rounds} round(s), ${workerCount} worker(s), Redis at ${url}`);
const t0 = performance.now();
const reference = start(process.execPath, [cli, 'demo', ...quick, '--jobs', '1', '--run-dir', join(tmp, 'sequential')]);
if ((await reference.exit) !== 0) fail(`the sequential run failed:\n${reference.output.slice(-2000)}`);
const refResults = comparable(join(tmp, 'sequential'));
const refFiles = artifactList(join(tmp, 'sequential'));
console.log(`sequential reference: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

let redis = await startRedis();
const kills = { worker: 0, 'job process': 0, submitter: 0, 'redis-server': 0 };
const problems = [];
let identical = 0;
let submitterRestarts = 0;
let traces = 0;

for (let round = 1; round <= rounds; round++) {
  const started = performance.now();
  const dir = join(tmp, `round-${round}`);
  // Empty for every round: a job another round finished would be taken over, not run.
  await kill(redis);
  redis = await startRedis();
  const submit = () => start(process.execPath, [cli, 'demo', ...quick, '--redis', url, '--run-dir', dir]);
  const startWorker = () => start(process.execPath, [cli, 'worker', '--redis', url, '--stall-timeout', '6']);
  const workers = Array.from({ length: workerCount }, startWorker);
  // Workers that gave up (Redis was down while they started) are replaced, as an operator would.
  const keepWorkers = () => {
    for (let k = workers.filter(alive).length; k < workerCount; k++) workers.push(startWorker());
  };
  const submitters = [submit()];
  const current = () => submitters[submitters.length - 1];
  // One kill of each kind per round, in a random order, at random moments.
  const plan = rng.shuffle(Object.keys(kills));
  const killedKinds = [];
  for (const kind of plan) {
    await sleep(rng.uniform(2000, 8000));
    if (!alive(current())) break;
    if (kind === 'worker') {
      const victim = workers.filter(alive)[rng.int(workers.filter(alive).length)];
      await kill(victim);
      keepWorkers();
    } else if (kind === 'job process') {
      // Wait for one: between jobs, or while Redis or a submitter restarts, none may be running.
      let pids = jobProcessesOf(workers.filter(alive).map((w) => w.child.pid));
      for (let waited = 0; pids.length === 0 && waited < 60_000 && alive(current()); waited += 200) {
        await sleep(200);
        pids = jobProcessesOf(workers.filter(alive).map((w) => w.child.pid));
      }
      if (pids.length === 0) continue;
      process.kill(pids[rng.int(pids.length)], 'SIGKILL');
    } else if (kind === 'submitter') {
      await kill(current());
      submitters.push(submit());
      submitterRestarts++;
    } else {
      await kill(redis);
      await sleep(rng.uniform(1000, 4000));
      redis = await startRedis();
    }
    kills[kind]++;
    killedKinds.push(kind);
  }
  // A submitter whose job failed because its job process was killed, or that started while Redis
  // was down, ends with exit 1 and says so: run it again, as its message tells a user to.
  let code = await current().exit;
  for (let rerun = 0; code !== 0 && rerun < 3 && /signal SIGKILL|cannot reach Redis/.test(current().output.slice(-2000)); rerun++) {
    keepWorkers();
    submitters.push(submit());
    submitterRestarts++;
    code = await current().exit;
  }
  for (const w of workers) await kill(w);
  const output = [...submitters, ...workers].map((p) => p.output).join('\n');
  const roundTraces = stackTraces(output);
  traces += roundTraces;
  const roundProblems = [];
  writeFileSync(join(tmp, `round-${round}.log`), [...submitters, ...workers].map((p, i) => `=== ${i < submitters.length ? `submitter ${i + 1}` : `worker ${i - submitters.length + 1}`} (exit ${p.child.exitCode ?? p.child.signalCode})\n${p.output}`).join('\n'));
  if (code !== 0) roundProblems.push(`the submitter failed (exit ${code}): ${current().output.trim().split('\n').pop()} (every process's output: round-${round}.log)`);
  else {
    if (comparable(dir) !== refResults) roundProblems.push('results.json differs from the sequential run');
    if (artifactList(dir) !== refFiles) roundProblems.push('artifact files differ from the sequential run');
    const check = verifyRun(dir);
    if (check.integrity !== 'ok') roundProblems.push(`integrity_check: ${check.integrity}`);
    roundProblems.push(...check.problems);
  }
  if (roundTraces) roundProblems.push(`${roundTraces} stack trace line(s) in the output`);
  if (roundProblems.length === 0) identical++;
  problems.push(...roundProblems.map((p) => `round ${round}: ${p}`));
  const secs = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`round ${round}: killed ${killedKinds.join(', ') || 'nothing (finished first)'}; ${submitters.length} submitter start(s); ${roundProblems.length ? `PROBLEMS: ${roundProblems.join('; ')}` : 'identical to the sequential run'} (${secs} s)`);
}
await kill(redis);

console.log(`rounds: ${rounds}; kills by kind: ${Object.entries(kills).map(([k, n]) => `${k} ${n}`).join(', ')}; submitter restarts: ${submitterRestarts}`);
console.log(`identical to the sequential run: ${identical}/${rounds}; stack trace lines: ${traces}; total ${((performance.now() - t0) / 60000).toFixed(1)} min`);
if (problems.length) {
  console.log(`PROBLEMS (${problems.length}):\n  ${problems.join('\n  ')}`);
  console.log(`run directories kept in ${tmp}`);
  process.exit(1);
}
if (values.keep) console.log(`run directories kept in ${tmp}`);
else rmSync(tmp, { recursive: true, force: true });
