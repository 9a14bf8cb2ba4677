// The encode job: every fine-tune of a run reads the frozen encoder's outputs it computed once, so
// its fine-tunes follow those of a run whose fine-tunes run the encoder themselves (the job's
// encodings are of the right images, in the sampler's positions, check set included); encodings
// over finetune.encodingCacheMiB are skipped with the reason in the log, and a plan whose encoder
// trains, or that allows no memory for them, has no encode job.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quickPlan, zooEntries, type ExperimentPlan } from '../../src/experiment/plan.js';
import { experimentJobs } from '../../src/experiment/jobs.js';
import { runExperiment } from '../../src/commands/run.js';
import { RunStore } from '../../src/runs/store.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-encodings-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const plan = (encodingCacheMiB: number, trainWholeAe = false): ExperimentPlan => {
  const base = quickPlan({ classifiers: zooEntries(['lenet5']), device: 'cpu' });
  return { ...base, finetune: { ...base.finetune, encodingCacheMiB, trainWholeAe } };
};

/** Runs up to the fine-tune; returns the jobs that ran, the fine-tune's final loss, the jobs' log lines and the encode job's metrics. */
async function finetune(p: ExperimentPlan, runDir: string): Promise<{ ran: string[]; finalLoss: number | null; logs: string[]; encodeMetrics: unknown }> {
  const r = await runExperiment(p, join(tmp, runDir), 'finetune', { update: () => {}, log: () => {} });
  const store = RunStore.openReadOnly(join(tmp, runDir));
  const logs = store.events().filter((e) => e.kind === 'log').map((e) => e.message);
  const encodeMetrics = store.allJobs().find((j) => j.name === 'encode[A_S]')?.metrics;
  store.close();
  return { ran: r.ran, finalLoss: r.finetunes![0].finalLoss, logs, encodeMetrics };
}

test("the fine-tunes read the encode job's encodings and follow fine-tunes that run the encoder; too large, they are skipped and said why", async () => {
  const shared = await finetune(plan(2048), 'shared');
  assert.ok(shared.ran.includes('encode[A_S]'), `ran: ${shared.ran.join(', ')}`);
  // The status table's figures: 936 training and 64 check images at 7 KiB each (2 stages of 8 and 16 channels on 32 px).
  assert.deepEqual(shared.encodeMetrics, { images: 1000, MiB: Math.ceil((1000 * (8 * 16 * 16 + 16 * 8 * 8 + 4 * 16 * 8 * 8)) / 2 ** 20) });
  // 936 training and 64 check images of 32 px, 7 KiB each, do not fit in 1 MiB: the fine-tune runs the encoder.
  const own = await finetune(plan(1), 'own');
  assert.ok(own.ran.includes('encode[A_S]'));
  assert.ok(
    own.logs.some((l) => /the frozen encoder runs at every step: the encodings of 1000 images would take \d+ MiB, more than the 1 MiB allowed for them/.test(l)),
    `logs: ${own.logs.join(' | ')}`,
  );
  assert.ok(!shared.logs.some((l) => /the frozen encoder runs at every step/.test(l)));
  // 20 steps from the same A_S and classifier: equal up to float rounding.
  const difference = Math.abs(shared.finalLoss! - own.finalLoss!) / own.finalLoss!;
  assert.ok(difference < 1e-4, `final losses ${shared.finalLoss} and ${own.finalLoss} differ by ${difference} (relative)`);
});

test('no encode job when the encoder trains or no memory is allowed; the fine-tunes then depend on A_S alone', () => {
  assert.ok(experimentJobs(plan(2048)).encodings, 'the default plan shares encodings');
  for (const p of [plan(0), plan(2048, true)]) {
    const jobs = experimentJobs(p);
    assert.equal(jobs.encodings, null);
    assert.deepEqual(jobs.finetunes.get('lenet5')!.deps.map((d) => d.name), ['pretrain[A_S]', 'classifier[lenet5]']);
  }
});
