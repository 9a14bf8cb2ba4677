import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, noGrad, randn, randint, tensor, keep, type Tensor } from '../../src/engine/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import { SegNet } from '../../src/models/segnet.js';
import { buildClassifier } from '../../src/models/classifiers.js';
import { trainClassifier } from '../../src/train/classifier.js';
import { finetuneDecoder } from '../../src/train/finetune.js';
import { pretrainAutoencoder } from '../../src/train/autoencoder.js';
import { fileCheckpoint, NonFiniteLossError, TrainingInterruptedError } from '../../src/train/loop.js';
import { stepBatches } from '../../src/train/sampler.js';
import { Flatten, Linear, Sequential, loadSafetensors, type Module } from '../../src/nn/index.js';

function toyData(n = 96): Dataset {
  manualSeed(123);
  return { name: 'toy', images: keep(randn([n, 1, 16, 16])), labels: keep(randint(0, 4, [n])), classNames: ['a', 'b', 'c', 'd'] };
}

function snapshot(m: Module): Map<string, number[]> {
  return new Map([...m.stateDict()].map(([k, t]) => [k, t.toArray()]));
}

function assertSameState(a: Map<string, number[]>, b: Map<string, number[]>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, `${what}: ${k} differs`);
}

const tmp = () => mkdtempSync(join(tmpdir(), 's2snets-train-'));

test('the sampler covers each example once per epoch, in a seeded order', () => {
  const d = { ...toyData(10), labels: keep(tensor(BigInt64Array.from({ length: 10 }, (_, i) => BigInt(i)))) };
  const s = stepBatches(d, { batchSize: 5, seed: 3 });
  assert.equal(s.stepsPerEpoch, 2);
  const epoch = (e: number) => [...s.batch(2 * e).y.toArray(), ...s.batch(2 * e + 1).y.toArray()];
  assert.deepEqual([...epoch(0)].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(epoch(0), epoch(1));
  assert.deepEqual(stepBatches(d, { batchSize: 5, seed: 3 }).batch(3).y.toArray(), s.batch(3).y.toArray());
});

for (const channelsLast of [false, true])
test(`a run interrupted and resumed from its checkpoint ends bit-identical to an uninterrupted one${channelsLast ? ' (channels_last)' : ''}`, async () => {
  const data = toyData();
  const run = async (dir: string, abortAt: number | null) => {
    manualSeed(7);
    const model = buildClassifier('alexnet', { channels: 1, size: 16, classes: 4 }); // has dropout: exercises per-step reseeding
    const batches = stepBatches(data, { batchSize: 16, seed: 5 });
    const controller = new AbortController();
    const opts = {
      steps: 12,
      lr: 1e-3,
      seed: 9,
      channelsLast,
      batch: batches.batch,
      checkpoint: fileCheckpoint(join(dir, 'ckpt.safetensors'), 4),
      signal: controller.signal,
      onProgress: (p: { step: number }) => {
        if (p.step === abortAt) controller.abort();
      },
    };
    return { model, opts, run: () => trainClassifier(model, opts) };
  };
  const straightDir = tmp();
  const straight = await run(straightDir, null);
  const full = await straight.run();

  const resumedDir = tmp();
  const first = await run(resumedDir, 6);
  await assert.rejects(first.run(), TrainingInterruptedError);
  const second = await run(resumedDir, null); // a fresh process would build the model anew, as here
  const resumed = await second.run();
  assert.equal(resumed.resumedFrom, 6);
  assertSameState(snapshot(straight.model), snapshot(second.model), 'resumed vs uninterrupted');
  assert.equal(resumed.finalLoss, full.finalLoss);
  assert.deepEqual(resumed.curve, full.curve);
  rmSync(straightDir, { recursive: true });
  rmSync(resumedDir, { recursive: true });
});

/** The two trainers with a layout option: each builds its model, trains 8 steps and returns it with its loss curve. */
const TRAINERS = {
  classifier: async (channelsLast: boolean, data: Dataset) => {
    manualSeed(7);
    const model = buildClassifier('resnet', { channels: 1, size: 16, classes: 4 });
    const r = await trainClassifier(model, { steps: 8, lr: 1e-3, seed: 9, channelsLast, batch: stepBatches(data, { batchSize: 16, seed: 5 }).batch });
    return { model: model.eval(), fresh: buildClassifier('resnet', { channels: 1, size: 16, classes: 4 }), loss: r.curve.loss };
  },
  autoencoder: async (channelsLast: boolean, data: Dataset) => {
    manualSeed(7);
    const stages: [number[], number[]] = [[8, 8], [16, 16]];
    const model = new SegNet({ inChannels: 1, stages });
    const r = await pretrainAutoencoder(model, { steps: 8, lr: 1e-3, seed: 9, channelsLast, batch: stepBatches(data, { batchSize: 16, seed: 5 }).batch });
    return { model: model.eval(), fresh: new SegNet({ inChannels: 1, stages }), loss: r.curve.loss };
  },
};

for (const [what, train] of Object.entries(TRAINERS))
test(`${what} training in channels_last follows the NCHW run up to float rounding, and its weights serve an NCHW model`, async () => {
  const data = toyData();
  const nchw = await train(false, data);
  const nhwc = await train(true, data);
  // Float rounding differs between the layouts' kernels and Adam carries it on, so the curves agree
  // closely but not bit for bit (measured at the last of these 8 steps: 2e-7 relative for the
  // classifier, 8e-5 for the AE, whose small MSE shows rounding more); an image read in the wrong
  // layout would change the loss by far more than 1e-3.
  const worst = Math.max(...nhwc.loss.map((l, i) => Math.abs(l - nchw.loss[i]) / nchw.loss[i]));
  assert.ok(worst <= 1e-3, `loss curves differ by ${worst} (relative)`);
  // A saved state dict is layout-free: an NCHW model loaded from it computes what the trained one does.
  nhwc.fresh.eval().loadStateDict(nhwc.model.stateDict());
  const [a, b] = noGrad(() => [nhwc.fresh.forward(data.images), nhwc.model.forward(data.images)]);
  const drift = a.sub(b).abs().max().item() / b.abs().max().item();
  assert.ok(drift <= 1e-5, `NCHW model from the saved weights differs by ${drift} (relative)`);
});

/** LeNet-5 on toy data whose inputs are NaN from step `firstBad` on, as a corrupt batch would be. */
function corruptFrom(firstBad: number) {
  const batches = stepBatches(toyData(), { batchSize: 16, seed: 5 });
  const batch = (step: number) => {
    const b = batches.batch(step);
    return step < firstBad ? b : { x: b.x.mul(Number.NaN), y: b.y };
  };
  return { model: buildClassifier('lenet5', { channels: 1, size: 16, classes: 4 }), batch };
}

test('a non-finite loss stops training with a clear error and keeps the last good checkpoint', async () => {
  const dir = tmp();
  const { model, batch } = corruptFrom(5);
  const path = join(dir, 'c.safetensors');
  await assert.rejects(
    trainClassifier(model, { steps: 50, lr: 1e-3, seed: 1, batch, checkpoint: fileCheckpoint(path, 2) }),
    (e: Error) => e instanceof NonFiniteLossError && /loss became NaN at step 5/.test(e.message) && e.message.includes(path),
  );
  // The checkpoint holds step 4, the last one before the bad batch, and resuming from it works.
  const { metadata } = loadSafetensors(path);
  assert.equal(JSON.parse(metadata.s2snets).step, 4);
  rmSync(dir, { recursive: true });
});

test('reading the loss every 4 steps gives the same weights and curve as reading it every step', async () => {
  const data = toyData();
  const train = async (readLossEvery: number) => {
    manualSeed(7);
    const model = buildClassifier('lenet5', { channels: 1, size: 16, classes: 4 });
    const batches = stepBatches(data, { batchSize: 16, seed: 5 });
    const result = await trainClassifier(model, { steps: 14, lr: 1e-3, seed: 9, batch: batches.batch, readLossEvery });
    return { state: snapshot(model), result };
  };
  const everyStep = await train(1);
  const deferred = await train(4);
  assertSameState(everyStep.state, deferred.state, 'readLossEvery 4 vs 1');
  assert.deepEqual(deferred.result.curve, everyStep.result.curve);
  assert.equal(deferred.result.finalLoss, everyStep.result.finalLoss);
});

test('with deferred loss reads, a non-finite loss still names its step and never reaches a checkpoint', async () => {
  const dir = tmp();
  const { model, batch } = corruptFrom(6);
  const path = join(dir, 'c.safetensors');
  // Reads after steps 3, 7, ... and before each checkpoint (after steps 2, 5, 8): step 6's NaN
  // is found at step 7's read, after it updated the weights, and before the save at step 9.
  await assert.rejects(
    trainClassifier(model, { steps: 50, lr: 1e-3, seed: 1, batch, checkpoint: fileCheckpoint(path, 3), readLossEvery: 4 }),
    (e: Error) => e instanceof NonFiniteLossError && /loss became NaN at step 6/.test(e.message),
  );
  const { tensors, metadata } = loadSafetensors(path);
  assert.equal(JSON.parse(metadata.s2snets).step, 6);
  for (const [name, t] of tensors) assert.ok(t.toArray().every(Number.isFinite), `${name} is finite in the checkpoint`);
  rmSync(dir, { recursive: true });
});

test('fine-tuning changes only the decoder: encoder and classifier weights stay, no weight gradients for them', async () => {
  const data = toyData();
  manualSeed(2);
  const ae = new SegNet({ inChannels: 1, stages: [[4], [8]] });
  const batches = stepBatches(data, { batchSize: 16, seed: 1 });
  await pretrainAutoencoder(ae, { steps: 3, lr: 1e-3, seed: 1, batch: batches.batch });
  const classifier = buildClassifier('lenet5', { channels: 1, size: 16, classes: 4 });
  const encBefore = snapshot(ae.encoder);
  const decBefore = snapshot(ae.decoder);
  const clsBefore = snapshot(classifier);
  const r = await finetuneDecoder(ae, classifier, { steps: 4, lr: 1e-2, seed: 1, batch: batches.batch });
  assert.ok(Number.isFinite(r.finalLoss));
  assertSameState(encBefore, snapshot(ae.encoder), 'encoder (incl. BN running stats)');
  assertSameState(clsBefore, snapshot(classifier), 'classifier');
  assert.notDeepEqual(decBefore.get('conv_final.weight'), snapshot(ae.decoder).get('conv_final.weight'));
  for (const p of [...ae.encoder.parameters(), ...classifier.parameters()]) {
    assert.equal(p.requiresGrad, false);
    assert.equal(p.grad, null);
  }
  assert.equal(ae.training, false, 'the AE is left in eval mode');
});

test("fine-tuning on the classifier's own predictions needs no labels", async () => {
  const data = toyData();
  manualSeed(4);
  const ae = new SegNet({ inChannels: 1, stages: [[4], [8]] });
  const classifier = buildClassifier('lenet5', { channels: 1, size: 16, classes: 4 });
  const batches = stepBatches(data, { batchSize: 16, seed: 1 });
  // Labels replaced by garbage: with targets 'predictions' the loss must not depend on them.
  const withGarbage = (step: number) => {
    const b = batches.batch(step);
    return { x: b.x, y: b.y.mul(0).add(99) as Tensor };
  };
  const r = await finetuneDecoder(ae, classifier, { steps: 3, lr: 1e-3, seed: 1, batch: withGarbage, targets: 'predictions' });
  assert.ok(Number.isFinite(r.finalLoss));
  // With true-label targets, label 99 is out of range for 4 classes and libtorch refuses it.
  await assert.rejects(finetuneDecoder(ae, classifier, { steps: 1, lr: 1e-3, seed: 1, batch: withGarbage }), /out of bounds|Target 99/);
});

test('a fine-tune that stops on its convergence criterion stops at the same step, with the same weights, when resumed from a checkpoint', async () => {
  const data = toyData();
  manualSeed(10);
  // Frozen throughout, so one classifier serves every run. Its own predictions as the check
  // labels make its accuracy on the originals 100 %, which the toy AE's reconstructions do not reach.
  // A linear classifier on the pixels: unlike a small untrained convnet, whose predictions are
  // often one class for every input, its predictions depend on the input.
  const classifier = new Sequential(new Flatten(), new Linear(16 * 16, 4)).eval();
  const x = keep(data.images.slice(0, 0, 32));
  const check = { x, y: keep(noGrad(() => classifier.forward(x).argmax(1))) };
  const run = async (dir: string, abortAt: number | null) => {
    manualSeed(11);
    const ae = new SegNet({ inChannels: 1, stages: [[4], [8]] });
    const batches = stepBatches(data, { batchSize: 16, seed: 2 });
    const controller = new AbortController();
    // minDelta 0.9: no check after the first counts as an improvement, so the plateau rule
    // stops after the checks at steps 2 (best), 4 and 6: the stop at 6 needs the count saved at step 5.
    const opts = {
      steps: 12,
      lr: 1e-3,
      seed: 3,
      batch: batches.batch,
      checkpoint: fileCheckpoint(join(dir, 'ckpt.safetensors'), 4),
      signal: controller.signal,
      convergence: { ...check, every: 2, patience: 2, minDelta: 0.9, minSteps: 0 },
      onProgress: (p: { step: number }) => {
        if (p.step === abortAt) controller.abort();
      },
    };
    return { ae, run: () => finetuneDecoder(ae, classifier, opts) };
  };
  const straightDir = tmp();
  const straight = await run(straightDir, null);
  const full = await straight.run();
  assert.equal(full.stepsRun, 6, JSON.stringify([full.stop, full.checkAccuracy]));
  assert.equal(full.stop, 'loss-plateau');
  assert.equal(full.converged, true);
  assert.ok(full.checkAccuracy && full.checkAccuracy.original >= 0 && full.checkAccuracy.reconstructed <= 1);

  const resumedDir = tmp();
  const first = await run(resumedDir, 5);
  await assert.rejects(first.run(), TrainingInterruptedError);
  const second = await run(resumedDir, null);
  const resumed = await second.run();
  assert.equal(resumed.resumedFrom, 5);
  assert.equal(resumed.stepsRun, 6);
  assert.equal(resumed.stop, 'loss-plateau');
  assertSameState(snapshot(straight.ae), snapshot(second.ae), 'resumed vs uninterrupted');
  assert.deepEqual(resumed.curve, full.curve);

  // The same fine-tune with a budget below the plateau ends unconverged.
  const budgetDir = tmp();
  const short = await run(budgetDir, null);
  const shortResult = await finetuneDecoder(short.ae, classifier, {
    steps: 3,
    lr: 1e-3,
    seed: 3,
    batch: stepBatches(data, { batchSize: 16, seed: 2 }).batch,
    convergence: { ...check, every: 2, patience: 2, minDelta: 0.9, minSteps: 0 },
  });
  assert.equal(shortResult.stepsRun, 3);
  assert.equal(shortResult.stop, 'step-budget');
  assert.equal(shortResult.converged, false);
  assert.ok(shortResult.checkAccuracy!.reconstructed < 1);
  for (const d of [straightDir, resumedDir, budgetDir]) rmSync(d, { recursive: true });
});
