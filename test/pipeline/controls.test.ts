// The negative controls `validate` runs: the permuted-labels fine-tune in the experiment graph,
// and the targets it trains to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy } from '../../src/engine/index.js';
import { permutedLabels } from '../../src/train/finetune.js';
import { ControlPlanError, experimentJobs, permutedLabelsControlName } from '../../src/experiment/jobs.js';
import { jobKey } from '../../src/scheduler/job-graph.js';
import { validationPlan } from '../../src/experiment/plan.js';

test('permuted labels: every class goes to the next, the last to the first', () => {
  const y = tidy(() => tensor(Int32Array.from([0, 1, 2, 3, 3, 0]), [6]).long());
  const shifted = permutedLabels(y, 4);
  assert.deepEqual(Array.from(shifted.toArray()), [1, 2, 3, 0, 0, 1]);
  for (const t of [y, shifted]) t.dispose();
});

test('validation plan: one more fine-tune, to permuted labels, keyed apart from the real one, with its reconstructions', () => {
  const plan = validationPlan('planted-colour', true);
  const jobs = experimentJobs(plan);
  const control = permutedLabelsControlName('alexnet');
  assert.deepEqual(jobs.controls, [control]);
  const reconstruct = jobs.reconstructions.get(control)!;
  const finetune = reconstruct.deps.find((d) => d.name.startsWith('finetune-permuted-labels['))!;
  const targetsOf = (job: { config?: unknown }) => (job.config as { targets: string }).targets;
  assert.equal(targetsOf(finetune), 'permuted-labels');
  assert.equal(targetsOf(jobs.finetunes.get('alexnet')!), 'labels');
  assert.notEqual(jobKey(finetune), jobKey(jobs.finetunes.get('alexnet')!));
  // The real fine-tunes stay one per classifier.
  assert.deepEqual([...jobs.finetunes.keys()], plan.classifiers.map((c) => c.name));
});

test('a control that names no classifier of the plan is refused', () => {
  const plan = { ...validationPlan('planted-shape', true), permutedLabelsControl: 'inception' };
  assert.throws(() => experimentJobs(plan), (e: unknown) => e instanceof ControlPlanError && e.code === 'S2SNETS_CONTROL_NOT_A_CLASSIFIER' && /'inception'/.test(e.message));
});
