// A_S started from the authors' SegNet weights (ae.weights), saved by PyTorch: with 0 pretraining
// epochs the run's A_S reconstructs as PyTorch's SegNet does; the weights file is part of the
// pretrain job's key by content; mismatched or missing files fail before any job runs, with one
// line naming the file, the parameter and both shapes; the CLI's --ae-weights takes our own
// .safetensors too.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { manualSeed, noGrad, tensor, tidy } from '../../src/engine/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/nn/index.js';
import { SMALL_STAGES, SegNet, type SegNetStages } from '../../src/models/segnet.js';
import { loadSegNetWeights } from '../../src/import/segnet-weights.js';
import { ConfigError, loadConfig } from '../../src/experiment/config.js';
import { planFromConfig, type ExperimentPlan } from '../../src/experiment/plan.js';
import { runExperiment, type ProgressSink } from '../../src/commands/run.js';
import { status } from '../../src/scheduler/runner.js';
import { artifactDir } from '../../src/runs/artifacts.js';
import { experimentData } from '../../src/experiment/inputs.js';
import { toStoredPixels } from '../../src/experiment/reconstruction-job.js';
import { readWhole } from '../../src/data/index.js';
import { fixtureDir, maxAbsDiff, readFloats } from '../import/pth-fixtures.js';
import { writeImageFolder } from './image-folder-fixture.js';

const fixtures = fixtureDir('make_pth_fixtures.py');
const skip = fixtures.missing ?? false;
const pth = (name: string) => join(fixtures.dir ?? '', name);
const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-ae-weights-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
before(() => writeImageFolder(join(tmp, 'images')));

const quiet: ProgressSink = { update: () => {}, log: () => {} };

/** Writes tmp/<name>.json (paths in it relative to tmp) and returns its plan. */
function planOf(name: string, ae: Record<string, unknown>): ExperimentPlan {
  const file = join(tmp, `${name}.json`);
  const config = { dataset: { imageFolder: 'images', imageSize: 32 }, classifiers: ['lenet5'], ae, eval: { samples: 100 }, device: 'cpu', runDir: name };
  writeFileSync(file, JSON.stringify(config));
  return planFromConfig(loadConfig(file), 'cpu');
}

/** Runs up to A_S's reconstructions; returns the summary line "(n job(s) ran, m reused". */
async function pretrain(plan: ExperimentPlan, runDir: string): Promise<string> {
  const r = await runExperiment(plan, join(tmp, runDir), 'pretrain', quiet);
  return `${r.ran.length} job(s) ran, ${r.reused.length} reused`;
}

/** The artifact folder of a finished job of a run. */
function jobDir(runDir: string, job: string): string {
  const row = status(join(tmp, runDir)).jobs.find((j) => j.name === job && j.status === 'done');
  assert.ok(row, `${job} is done in ${runDir}`);
  return artifactDir(join(tmp, runDir), row.key);
}

/** The A_S a run made, as a SegNet in eval mode. */
function genericAe(runDir: string, stages: SegNetStages = SMALL_STAGES): SegNet {
  const ae = new SegNet({ inChannels: 3, stages });
  loadSegNetWeights(ae, join(jobDir(runDir, 'pretrain[A_S]'), 'autoencoder.safetensors'));
  return ae.eval();
}

test("0 pretraining epochs: A_S is the authors' SegNet unchanged and reconstructs as PyTorch's does", { skip }, async (t) => {
  copyFileSync(pth('segnet3.pth'), join(tmp, 'segnet.pth'));
  const plan = planOf('authors', { stages: [[32, 32], [64, 64]], weights: 'segnet.pth', pretrain: { epochs: 0 } });
  // The folder's index, A_S and its reconstructions.
  assert.equal(await pretrain(plan, 'authors'), '3 job(s) ran, 0 reused');

  // The run's A_S on the input PyTorch reconstructed (saved with the weights by the fixture script).
  const ae = genericAe('authors');
  const ours = noGrad(() => tidy(() => ae.forward(tensor(readFloats(pth('segnet3_input.bin')), [2, 3, 32, 32])).toFloat32Array()));
  const diff = maxAbsDiff(ours, readFloats(pth('segnet3_recon.bin')));
  t.diagnostic(`A_S vs PyTorch: max abs diff ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-4, `max abs diff ${diff}`);

  // The run's reconstructions of its evaluation images are those of the loaded weights.
  const authors = new SegNet({ inChannels: 3, stages: SMALL_STAGES });
  loadSegNetWeights(authors, join(tmp, 'segnet.pth'));
  authors.eval();
  const data = await experimentData(plan);
  const { x: evalImages } = await readWhole(data.eval);
  // Stored as 8-bit pixels: the same pixels, up to a rounding step where float noise crosses a half.
  const expected = noGrad(() => tidy(() => toStoredPixels(data, authors.forward(evalImages)).toFloat32Array()));
  const stored = loadSafetensors(join(jobDir('authors', 'reconstruct[A_S]'), 'reconstructions.safetensors')).tensors.get('images')!;
  assert.deepEqual([stored.dtype, ...stored.shape], ['uint8', ...evalImages.shape]);
  assert.ok(maxAbsDiff(stored.toFloat32Array(), expected) <= 1);

  // Library users get the measurement as data: the PSNR the reconstruction job recorded.
  const again = await runExperiment(plan, join(tmp, 'authors'), 'pretrain', quiet);
  const row = status(join(tmp, 'authors')).jobs.find((j) => j.name === 'reconstruct[A_S]')!;
  assert.deepEqual([again.ran, again.reused.length, again.pretrain], [[], 3, { psnr: row.metrics.psnr }]);
});

test('the weights file is part of the pretrain key by content: reused as is, recomputed when it changes', { skip }, async () => {
  const plan = () => planOf('authors', { stages: [[32, 32], [64, 64]], weights: 'segnet.pth', pretrain: { epochs: 0 } });
  assert.equal(await pretrain(plan(), 'authors'), '0 job(s) ran, 3 reused');
  // Same path, other weights: the images' index stays.
  copyFileSync(pth('segnet3_retrained.pth'), join(tmp, 'segnet.pth'));
  assert.equal(await pretrain(plan(), 'authors'), '2 job(s) ran, 1 reused');
  const retrained = new SegNet({ inChannels: 3, stages: SMALL_STAGES });
  loadSegNetWeights(retrained, pth('segnet3_retrained.pth'));
  const made = genericAe('authors').stateDict();
  for (const [name, t] of retrained.stateDict()) assert.ok(maxAbsDiff(made.get(name)!.float().toFloat32Array(), t.float().toFloat32Array()) === 0, name);
  // Back to the first file: its artifacts are still there.
  copyFileSync(pth('segnet3.pth'), join(tmp, 'segnet.pth'));
  assert.equal(await pretrain(plan(), 'authors'), '0 job(s) ran, 3 reused');
});

test('with pretraining epochs, pretraining continues from the weights', { skip }, async () => {
  // A vanishing learning rate leaves the convolutions where training started.
  const pretrainSettings = { epochs: 1, batchSize: 8, lr: 1e-9 };
  await pretrain(planOf('continued', { stages: [[32, 32], [64, 64]], weights: 'segnet.pth', pretrain: pretrainSettings }), 'continued');
  await pretrain(planOf('scratch', { stages: [[32, 32], [64, 64]], pretrain: pretrainSettings }), 'scratch');
  const authors = new SegNet({ inChannels: 3, stages: SMALL_STAGES });
  loadSegNetWeights(authors, join(tmp, 'segnet.pth'));
  const conv = 'encoder.conv11.weight';
  const from = authors.stateDict().get(conv)!.toFloat32Array();
  const continued = genericAe('continued').stateDict().get(conv)!.toFloat32Array();
  const scratch = genericAe('scratch').stateDict().get(conv)!.toFloat32Array();
  assert.ok(maxAbsDiff(continued, from) < 1e-6, `continued run moved ${maxAbsDiff(continued, from)} from the weights`);
  assert.ok(maxAbsDiff(scratch, from) > 0.05, 'a run from scratch does not start at the weights');
});

test('a missing or mismatched weights file fails before any job runs, in one line naming the file', { skip }, async () => {
  copyFileSync(pth('segnet1.pth'), join(tmp, 'gray.pth'));
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['missing', { weights: 'absent.pth', pretrain: { epochs: 0 } }, /^ae\.weights .*absent\.pth: cannot read \(not found\)$/],
    // 1-channel weights for RGB images: the parameter and both shapes.
    ['channels', { stages: [[32, 32], [64, 64]], weights: 'gray.pth' }, /gray\.pth: encoder\.conv11\.weight has shape \[32,1,3,3\] but the SegNet expects \[32,3,3,3\] \(stages \[\[32,32\],\[64,64\]\], 3 input channel\(s\)\)/],
    ['widths', { stages: [[16, 16], [64, 64]], weights: 'segnet.pth' }, /segnet\.pth: encoder\.conv11\.weight has shape \[32,3,3,3\] but the SegNet expects \[16,3,3,3\]/],
    ['depth', { stages: [[32], [64]], weights: 'segnet.pth' }, /segnet\.pth: not a checkpoint of this SegNet \(.*unexpected encoder\.conv12\.weight, .*stages \[\[32\],\[64\]\]/],
  ];
  for (const [name, ae, message] of cases) {
    await assert.rejects(pretrain(planOf(name, ae), name), (e: Error) => {
      assert.match(e.message, message, name);
      assert.ok(!e.message.includes('\n'), name);
      return true;
    });
    assert.ok(!existsSync(join(tmp, name)), `${name}: the run directory was not created`);
  }
  assert.throws(() => planOf('no-weights', { pretrain: { epochs: 0 } }), (e: Error) => e instanceof ConfigError && /ae\.pretrain\.epochs: 0 needs ae\.weights/.test(e.message));
});

test('CLI: --ae-weights takes an A_S saved as safetensors; --pretrain-epochs 0 alone is a usage error', { skip }, () => {
  manualSeed(3);
  const stages = [[8, 8], [16, 16]];
  const own = new SegNet({ inChannels: 1, stages });
  saveSafetensors(join(tmp, 'own.safetensors'), own.stateDict());
  const runDir = join(tmp, 'cli');
  const r = spawnSync(process.execPath, [cli, 'pretrain', '--quick', '--device', 'cpu', '--run-dir', runDir, '--ae-weights', join(tmp, 'own.safetensors'), '--pretrain-epochs', '0'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /A_S reconstruction PSNR/);
  const row = status(runDir).jobs.find((j) => j.name === 'pretrain[A_S]')!;
  const made = loadSafetensors(join(artifactDir(runDir, row.key), 'autoencoder.safetensors')).tensors;
  for (const [name, t] of own.stateDict()) assert.equal(maxAbsDiff(made.get(name)!.float().toFloat32Array(), t.float().toFloat32Array()), 0, name);

  const usage = spawnSync(process.execPath, [cli, 'pretrain', '--quick', '--pretrain-epochs', '0', '--run-dir', join(tmp, 'cli-bad')], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--pretrain-epochs 0' needs --ae-weights/);
  assert.ok(!existsSync(join(tmp, 'cli-bad')));
});
