// Local job processes kept up between jobs: successive jobs run in one process, and a process
// whose job failed is not reused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quickPlan } from '../../src/pipeline/plan.js';
import { experimentGraph } from '../../src/pipeline/graph.js';
import { jobKey } from '../../src/pipeline/jobs.js';
import { directoryStore } from '../../src/pipeline/artifact-store.js';
import { JobProcessError, JobProcessPool } from '../../src/pipeline/job-process.js';

const runDir = mkdtempSync(join(tmpdir(), 's2snets-pool-'));
after(() => rmSync(runDir, { recursive: true, force: true }));

test("a pool runs successive jobs in one process and replaces a process whose job failed", async () => {
  const plan = { ...quickPlan(), device: 'cpu' };
  const [lenet5, resnet] = [...experimentGraph(plan).replicates[0].classifiers.values()];
  const pool = new JobProcessPool();
  const events = { progress() {}, log() {}, warning() {}, metrics() {} };
  const run = (key: string) => pool.run({ plan, runDir, key, acceptEngineChange: false }, { threads: 1, events });
  try {
    await run(jobKey(lenet5));
    await run(jobKey(resnet));
    assert.equal(pool.started, 1, 'the second job ran in the first job\'s process');
    for (const job of [lenet5, resnet]) assert.ok(directoryStore(runDir).verify(jobKey(job)).ok, `${job.name}'s artifact is committed`);
    await assert.rejects(run('0'.repeat(64)), (e: unknown) => e instanceof JobProcessError && e.reason === 'failed');
    await run(jobKey(lenet5));
    assert.equal(pool.started, 2, 'after a failure the next job gets a new process');
  } finally {
    pool.close();
  }
});
