// A streamed dataset resumes where it stopped: A_S pretrained on an image folder (random crops
// and flips drawn per image and epoch, batches read ahead of the step) and killed with SIGKILL
// mid-epoch, then run again, ends with the same weights, byte for byte, as an uninterrupted run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImageFolder } from './image-folder-fixture.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'stream-pretrain-child.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-stream-resume-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the child; with `killAt`, SIGKILLs it once a progress line shows that step. Resolves with its stdout and whether it was killed. */
function pretrain(folder: string, runDir: string, killAt?: number): Promise<{ stdout: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, folder, runDir]);
    let stdout = '';
    let killed = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (killAt !== undefined && !killed && new RegExp(`step ${killAt}/40`).test(stdout)) killed = child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', () => resolve({ stdout, killed }));
  });
}

/** The A_S weights file of a run (the pretrain job's artifact). */
function weightsOf(runDir: string): Buffer {
  const artifacts = join(runDir, 'artifacts');
  const dir = readdirSync(artifacts).find((d) => readdirSync(join(artifacts, d)).includes('autoencoder.safetensors'))!;
  return readFileSync(join(artifacts, dir, 'autoencoder.safetensors'));
}

test('pretraining on a streamed folder killed mid-epoch and resumed equals an uninterrupted run', async () => {
  const folder = await writeImageFolder(join(tmp, 'images'), 8);
  const straight = await pretrain(folder, join(tmp, 'straight'));
  assert.match(straight.stdout, /done/);

  const interrupted = join(tmp, 'interrupted');
  // Step 22 is the second batch of an epoch, after the checkpoint at step 20.
  const first = await pretrain(folder, interrupted, 22);
  assert.ok(first.killed && !/done/.test(first.stdout), 'killed before the end');
  const resumed = await pretrain(folder, interrupted);
  assert.match(resumed.stdout, /done/);
  assert.doesNotMatch(resumed.stdout, /step [1-9]\/40/, 'resumed from the checkpoint, not from the start');
  assert.ok(weightsOf(interrupted).equals(weightsOf(join(tmp, 'straight'))), 'the same weights, byte for byte');
});
