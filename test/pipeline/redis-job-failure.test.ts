// A job that fails by itself on a Redis worker: the submitter's error carries the job's own error
// code (S2SNETS_JOB_FAILED (S2SNETS_...)), as a local run's does, and its message is the job's.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { status } from '../../src/scheduler/runner.js';
import { startRedis } from './redis-server.js';
import { unreadableFolderRunConfig } from './image-folder-fixture.js';

const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-redis-failure-'));
const redis = await startRedis();
after(async () => {
  if (typeof redis !== 'string') await redis.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** The CLI with these arguments; resolves with its exit status and stderr once it ends. */
function s2snets(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ status: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, done: new Promise((r) => child.on('exit', (status) => r({ status, stderr }))) };
}

test("a job failing on a worker: the submitter's line carries the job's own error code", { skip: typeof redis === 'string' && redis }, async () => {
  if (typeof redis === 'string') return;
  const worker = s2snets(['worker', '--redis', redis.url]);
  try {
    // Without the worker's code the line would read `S2SNETS_JOB_FAILED: ...`; no worker: the run waits until the limit.
    const submitter = s2snets(['run', unreadableFolderRunConfig(tmp), '--redis', redis.url]);
    const limit = setTimeout(() => submitter.child.kill('SIGKILL'), 60_000);
    const r = await submitter.done;
    clearTimeout(limit);
    assert.equal(r.status, 1, r.stderr);
    const last = r.stderr.trim().split('\n').pop()!;
    assert.match(last, /^s2snets: error S2SNETS_JOB_FAILED \(S2SNETS_IMAGE_FOLDER\): job 'index\[unreadable\]' failed: ImageFolderError: .*unreadable: no class folder with images/);
    const row = status(join(tmp, 'unreadable-run')).jobs.find((j) => j.name === 'index[unreadable]')!;
    assert.equal(row.status, 'failed');
    assert.match(row.error!, /^ImageFolderError: .*no class folder with images/, 'the store keeps the job\'s own message, not the encoded reason');
  } finally {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
});
