// Jobs get what they hash: a job kind is a function of its payload (the slice of the plan its key
// hashes, what it inherits from its dependencies, and settings that say how it runs), and of its
// dependencies' artifacts. So whenever a change of the plan leaves a job's key alone, it must
// leave its payload alone too, settings aside: then the job cannot compute anything else, and
// reusing its artifact is right. Checked here for a change of every field of the plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quickPlan, type ExperimentPlan } from '../../src/experiment/plan.js';
import { experimentGraph } from '../../src/experiment/experiment-graph.js';
import { jobKey } from '../../src/scheduler/job-graph.js';

/** Settings a job may read outside its key (job-common.ts JobSettings). */
const SETTINGS = ['checkpointEvery', 'evalBatchSize'];

interface Built {
  key: string;
  /** The payload without its settings, as plain JSON. */
  payload: unknown;
  settings: Record<string, unknown> | null;
}

/** Every job of the plan's graph that a job kind built, by name. */
function jobsOf(plan: ExperimentPlan): Map<string, Built> {
  const built = new Map<string, Built>();
  for (const job of experimentGraph(plan).byKey.values()) {
    if (!('payload' in job)) continue;
    const { settings = null, ...payload } = job.payload as { settings?: Record<string, unknown> };
    built.set(job.name, { key: jobKey(job), payload: JSON.parse(JSON.stringify(payload)), settings });
  }
  return built;
}

const base = quickPlan();
const finetune = base.finetune;

/** One change of each field of the plan (several for the nested ones). */
const CHANGES: [field: keyof ExperimentPlan, what: string, change: (p: ExperimentPlan) => ExperimentPlan][] = [
  ['dataset', 'another built-in dataset', (p) => ({ ...p, dataset: 'fashion-mnist' })],
  ['classifiers', 'another model under a name', (p) => ({ ...p, classifiers: [p.classifiers[0], { name: 'resnet', zoo: 'vgg' }] })],
  ['classifiers', 'one more model', (p) => ({ ...p, classifiers: [...p.classifiers, { name: 'vgg', zoo: 'vgg' }] })],
  ['seed', 'another seed', (p) => ({ ...p, seed: 3 })],
  ['device', 'another device', (p) => ({ ...p, device: 'cuda' })],
  ['trainLimit', 'fewer training images', (p) => ({ ...p, trainLimit: 500 })],
  ['evalSamples', 'a smaller evaluation set', (p) => ({ ...p, evalSamples: 100 })],
  ['evalBatchSize', 'another forward batch size', (p) => ({ ...p, evalBatchSize: 50 })],
  ['checkpointEvery', 'another checkpoint interval', (p) => ({ ...p, checkpointEvery: 5 })],
  ['classifierTraining', 'another learning rate', (p) => ({ ...p, classifierTraining: { ...p.classifierTraining, lr: 0.01 } })],
  ['classifierTraining', 'epochs for one model', (p) => ({ ...p, classifierTraining: { ...p.classifierTraining, epochsFor: { lenet5: 3 } } })],
  ['classifierTraining', 'epochs for a model not in the plan', (p) => ({ ...p, classifierTraining: { ...p.classifierTraining, epochsFor: { vgg: 3 } } })],
  ['ae', 'another learning rate', (p) => ({ ...p, ae: { ...p.ae, lr: 0.01 } })],
  ['ae', 'other stages', (p) => ({ ...p, ae: { ...p.ae, stages: [[8], [16]] } })],
  ['finetune', 'another learning rate', (p) => ({ ...p, finetune: { ...finetune, lr: 0.01 } })],
  ['finetune', 'another check set', (p) => ({ ...p, finetune: { ...finetune, convergence: { ...finetune.convergence!, samples: 32 } } })],
  ['finetune', 'another memory cap for encodings', (p) => ({ ...p, finetune: { ...finetune, encodingCacheMiB: 1024 } })],
  ['finetune', 'no shared encodings', (p) => ({ ...p, finetune: { ...finetune, encodingCacheMiB: 0 } })],
  ['finetune', 'another layout', (p) => ({ ...p, finetune: { ...finetune, speed: { ...finetune.speed, channelsLast: false } } })],
  ['analysis', 'other NMI bins', (p) => ({ ...p, analysis: { ...p.analysis, nmiBins: 32 } })],
  ['repeats', 'replicates', (p) => ({ ...p, repeats: 2 })],
  ['repeatAll', 'replicates of every stage', (p) => ({ ...p, repeats: 2, repeatAll: true })],
  ['permutedLabelsControl', 'a negative control', (p) => ({ ...p, permutedLabelsControl: 'lenet5' })],
];

test('a change to the plan that leaves a job\'s key alone leaves what the job reads alone (settings aside)', () => {
  const before = jobsOf(base);
  for (const [field, what, change] of CHANGES) {
    for (const [name, after] of jobsOf(change(base))) {
      const was = before.get(name);
      if (!was || was.key !== after.key) continue;
      assert.deepEqual(after.payload, was.payload, `${field} (${what}): job ${name} keeps its key but reads something else`);
    }
  }
});

test('the changes cover every field of the plan', () => {
  const fields = new Set([...Object.keys(base), 'permutedLabelsControl']);
  assert.deepEqual([...new Set(CHANGES.map(([field]) => field))].sort(), [...fields].sort());
});

test('jobs read nothing outside their key but the declared settings', () => {
  for (const [name, job] of jobsOf(base)) {
    for (const field of Object.keys(job.settings ?? {})) assert.ok(SETTINGS.includes(field), `${name} reads setting ${field}`);
  }
});

/** Names of the jobs of both graphs whose keys differ. */
function changedKeys(change: (p: ExperimentPlan) => ExperimentPlan): string[] {
  const before = jobsOf(base);
  return [...jobsOf(change(base))].filter(([name, j]) => before.has(name) && before.get(name)!.key !== j.key).map(([name]) => name).sort();
}

test('a hashed field changes the keys of the jobs that read it and of those downstream, and no other', () => {
  assert.deepEqual(changedKeys((p) => ({ ...p, finetune: { ...finetune, lr: 0.01 } })), ['finetune[lenet5]', 'finetune[resnet]', 'reconstruct[S2S-lenet5]', 'reconstruct[S2S-resnet]']);
  assert.deepEqual(changedKeys((p) => ({ ...p, evalSamples: 100 })), ['reconstruct[A_S]', 'reconstruct[S2S-lenet5]', 'reconstruct[S2S-resnet]']);
  assert.deepEqual(changedKeys((p) => ({ ...p, classifierTraining: { ...p.classifierTraining, epochsFor: { lenet5: 3 } } })), ['classifier[lenet5]', 'finetune[lenet5]', 'reconstruct[S2S-lenet5]']);
  assert.deepEqual(changedKeys((p) => ({ ...p, ae: { ...p.ae, lr: 0.01 } })).length, jobsOf(base).size - 2, 'all but the two classifiers');
});

test('settings change what a job is given but not its key', () => {
  const before = jobsOf(base);
  const after = jobsOf({ ...base, checkpointEvery: 5, evalBatchSize: 50, analysis: { ...base.analysis, nmiBins: 32 } });
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  for (const [name, job] of after) {
    assert.equal(job.key, before.get(name)!.key, name);
    assert.deepEqual(job.payload, before.get(name)!.payload, name);
  }
  assert.deepEqual(after.get('pretrain[A_S]')!.settings, { checkpointEvery: 5, evalBatchSize: 50 });
});
