// Local job processes kept up between jobs: successive jobs run in one process, a process
// whose job failed is not reused, and one killed by SIGKILL is explained (memory).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quickPlan } from '../../src/experiment/plan.js';
import { experimentGraph, experimentGraphSource } from '../../src/experiment/experiment-graph.js';
import { jobKey } from '../../src/scheduler/job-graph.js';
import { directoryStore } from '../../src/runs/artifact-store.js';
import { JobProcessError, JobProcessPool, runJobProcess } from '../../src/scheduler/job-process.js';
import { formatBytes } from '../../src/scheduler/memory-pressure.js';
import { jobProcessesOf } from './job-processes.js';

const runDir = mkdtempSync(join(tmpdir(), 's2snets-pool-'));
after(() => rmSync(runDir, { recursive: true, force: true }));

test("a pool runs successive jobs in one process and replaces a process whose job failed", async () => {
  const plan = { ...quickPlan(), device: 'cpu' };
  const [lenet5, resnet] = [...experimentGraph(plan).replicates[0].classifiers.values()];
  const pool = new JobProcessPool();
  const events = { progress() {}, log() {}, warning() {}, metrics() {} };
  const run = (key: string) => pool.run({ graph: experimentGraphSource(plan), runDir, key, acceptEngineChange: false }, { threads: 1, events });
  try {
    await run(jobKey(lenet5));
    await run(jobKey(resnet));
    assert.equal(pool.started, 1, 'the second job ran in the first job\'s process');
    for (const job of [lenet5, resnet]) assert.ok(directoryStore(runDir).verify(jobKey(job)).ok, `${job.name}'s artifact is committed`);
    await assert.rejects(run('0'.repeat(64)), (e: unknown) => e instanceof JobProcessError && e.reason === 'failed' && e.causeCode === 'S2SNETS_UNKNOWN_JOB', "the child's error code crosses the process boundary");
    await run(jobKey(lenet5));
    assert.equal(pool.started, 2, 'after a failure the next job gets a new process');
  } finally {
    pool.close();
  }
});

test('a job process killed by SIGKILL: the error names the out-of-memory killer, the memory figures and what to do', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const plan = { ...quickPlan(), device: 'cpu' };
  const [lenet5] = [...experimentGraph(plan).replicates[0].classifiers.values()];
  let killed = false;
  const events = {
    progress() {
      // Mid-job, as the OOM killer strikes: the job's data and model are loaded and it trains.
      if (killed) return;
      killed = true;
      for (const pid of jobProcessesOf([process.pid])) process.kill(pid, 'SIGKILL');
    },
    log() {},
    warning() {},
    metrics() {},
  };
  const killedRunDir = join(runDir, 'killed');
  const error = await runJobProcess({ graph: experimentGraphSource(plan), runDir: killedRunDir, key: jobKey(lenet5), acceptEngineChange: false }, { threads: 1, events }).then(
    () => assert.fail('the killed job reported success'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof JobProcessError && error.reason === 'died', String(error));
  assert.match(error.message, /^the job process ended \(signal SIGKILL\) before it finished: .*out-of-memory killer/);
  assert.match(error.message, /run fewer at once \(--jobs 1\) or smaller batches/);
  // The machine's figures, read from the real /proc/meminfo.
  const totalKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
  assert.match(error.message, new RegExp(`memory now: \\d+\\.\\d (GiB|MiB) available of ${formatBytes(totalKb * 1024).replace('.', '\\.')}`));
  assert.ok(!error.message.includes('\n'), 'one line');
});
