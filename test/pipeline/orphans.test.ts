// The main process of a run with job processes (--jobs 2) SIGKILLed while they compute: the
// orphaned job processes must exit without a word (no EPIPE stack trace from a message to the
// dead parent) and take their staging directories with them; the rerun then completes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runLayout } from '../../src/runs/artifacts.js';

const cli = resolve('dist/src/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 's2snets-orphans-'));
after(() => rmSync(root, { recursive: true, force: true }));
const env = { ...process.env, S2SNETS_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' };

interface KilledRun {
  /** stderr written after the kill: by the orphaned job processes only. */
  orphansStderr: string;
  killed: boolean;
}

/**
 * Runs the quick demo with two job processes and SIGKILLs the main process once a training job
 * reports progress (job processes are mid-job, sending messages). Resolves once every process
 * that shares its stderr has closed it, that is, once the orphans have exited.
 */
function runAndKillMain(runDir: string): Promise<KilledRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, 'demo', '--quick', '--device', 'cpu', '--jobs', '2', '--run-dir', runDir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killedAt = -1;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (killedAt < 0 && /(classifier|pretrain|finetune)\[[^\]]+\]: \d+% step \d+/.test(stderr)) {
        killedAt = stderr.length;
        child.kill('SIGKILL');
      }
    });
    // 'close' comes when the last writer of the pipe is gone: the main process and its job processes.
    child.stderr.on('close', () => done({ orphansStderr: killedAt < 0 ? '' : stderr.slice(killedAt), killed: killedAt >= 0 }));
  });
}

function leftoverStaging(runDir: string): string[] {
  const staging = runLayout(runDir).staging;
  return existsSync(staging) ? readdirSync(staging) : [];
}

test('SIGKILL of the main process: orphaned job processes exit quietly and leave no staging behind; the rerun completes', async () => {
  const dir = join(root, 'run');
  for (let round = 0; round < 3; round++) {
    const r = await runAndKillMain(dir);
    assert.ok(r.killed, 'the main process was killed while its job processes ran');
    assert.doesNotMatch(r.orphansStderr, /EPIPE|^\s+at |Error/m, `round ${round}: an orphaned job process printed:\n${r.orphansStderr}`);
    assert.deepEqual(leftoverStaging(dir), [], `round ${round}: staging left behind by the orphans`);
  }
  const rerun = await new Promise<number | null>((done) =>
    spawn(process.execPath, [cli, 'demo', '--quick', '--device', 'cpu', '--jobs', '2', '--run-dir', dir], { env, stdio: 'ignore' }).on('exit', (code) => done(code)),
  );
  assert.equal(rerun, 0);
  assert.deepEqual(leftoverStaging(dir), []);
});
