// Lengths in images (ae.pretrain.images, finetune.images, --pretrain-images, --finetune-images):
// ceil(images / batch) steps, a plan equal to the one given those steps (so the same jobs), a
// line saying so, and a refusal when another length of the same stage is given too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { loadConfig } from '../../src/experiment/config.js';
import { experimentJobs } from '../../src/experiment/jobs.js';
import { pretrainSteps } from '../../src/experiment/pretrain-job.js';
import { jobKey } from '../../src/scheduler/job-graph.js';
import { imageLengthLines, planFromConfig, stepsForImages, type ExperimentPlan } from '../../src/experiment/plan.js';

const cli = resolve('dist/src/cli/main.js');

const planOf = (fields: object) => planFromConfig(loadConfig({ classifiers: ['lenet5', 'resnet'], ...fields }), 'cpu');
const keysOf = (plan: ExperimentPlan) => {
  const jobs = experimentJobs(plan);
  return [jobs.pretrain, ...jobs.finetunes.values(), ...jobs.reconstructions.values()].map(jobKey);
};

test('steps for a length in images: ceil(images / batch)', () => {
  assert.deepEqual([stepsForImages(19_200, 32), stepsForImages(19_190, 32), stepsForImages(19_201, 32), stepsForImages(1, 32)], [600, 600, 601, 1]);
});

test('a fine-tune length in images is the plan, and every job key, of the steps it makes', () => {
  const byImages = planOf({ finetune: { images: 19_190 } });
  const bySteps = planOf({ finetune: { steps: 600 } });
  assert.deepEqual({ ...byImages, imageLengths: undefined }, { ...bySteps, imageLengths: undefined });
  assert.deepEqual(byImages.imageLengths, { pretrain: undefined, finetune: 19_190 });
  assert.deepEqual(keysOf(byImages), keysOf(bySteps));
  // The batch size it is counted in is the fine-tune's, as set.
  assert.equal(planOf({ finetune: { images: 19_190, batchSize: 64 } }).finetune.steps, 300);
  // Its epochs give way: a budget in images replaces one in epochs of the base plan too.
  assert.equal(planOf({ quick: true, finetune: { images: 100 } }).finetune.epochs, null);
  assert.deepEqual(imageLengthLines(byImages), ['fine-tune length 19,190 images: 600 steps of 32 (ceil(images / batch)), a budget that convergence may cut short']);
  assert.deepEqual(imageLengthLines(bySteps), []);
});

test('a pretraining length in images is exactly its steps, epochs set aside', () => {
  const plan = planOf({ ae: { pretrain: { images: 1000, batchSize: 16 } } });
  assert.deepEqual([plan.ae.epochs, plan.ae.minSteps, plan.ae.batchSize], [null, 63, 16]);
  // Whatever an epoch of the training set holds.
  assert.deepEqual([pretrainSteps(plan.ae, 5), pretrainSteps(plan.ae, 5000)], [63, 63]);
  assert.equal(pretrainSteps(planOf({}).ae, 5000), 10_000);
  assert.deepEqual(imageLengthLines(plan), ['A_S pretraining length 1,000 images: 63 steps of 16 (ceil(images / batch))']);
});

test('a length in images with another length of the same stage is refused, in a config and on the command line', () => {
  assert.throws(() => planOf({ finetune: { steps: 600, images: 19_200 } }), { name: 'ConfigError', message: 'config: finetune.images: give epochs, steps or images, not steps and images' });
  assert.throws(() => planOf({ ae: { pretrain: { minSteps: 10, images: 640 } } }), { name: 'ConfigError', message: 'config: ae.pretrain.images: give the length in images, or epochs and minSteps, not both' });
  for (const [flags, message] of [
    [['--finetune-images', '640', '--finetune-steps', '20'], "error: option '--finetune-images <n>' cannot be used with option '--finetune-steps <n>'"],
    [['--pretrain-epochs', '1', '--pretrain-images', '640'], "error: option '--pretrain-images <n>' cannot be used with option '--pretrain-epochs <n>'"],
    [['--pretrain-images', '0'], "error: option '--pretrain-images <n>' argument '0' is invalid. expected a positive integer"],
  ]) {
    // An unknown device: a conflict the parser missed fails at once (exit 1) instead of running.
    const r = spawnSync(process.execPath, [cli, 'finetune', '--quick', '--device', 'tpu', ...flags], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.split('\n')[0], message);
  }
});
