// The method's central claim, as a test: fine-tuning the decoder through a frozen classifier
// recovers what that classifier needs. On a planted set (the class is the shape's colour), an A_S
// pretrained for only a few steps reconstructs so poorly that the classifier loses at least 10
// points on its reconstructions; fine-tuning the decoder with the classifier's loss must win most
// of that back. The same fine-tune with the gradient stopped at the classifier's input (so the
// decoder learns nothing from the classifier) must not reach that margin: the recovery is the
// classifier's gradient at work, not the extra training steps.
// (The broken fine-tune is finetuneDecoder's stopGradient, which `validate --broken-method` uses.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, tidy } from '../../src/engine/index.js';
import { generatePlantedDataset, type Dataset } from '../../src/data/index.js';
import { SegNet } from '../../src/models/segnet.js';
import { buildClassifier } from '../../src/models/classifiers.js';
import { trainClassifier } from '../../src/train/classifier.js';
import { pretrainAutoencoder } from '../../src/train/autoencoder.js';
import { finetuneDecoder } from '../../src/train/finetune.js';
import { stepBatches } from '../../src/train/sampler.js';
import type { Module } from '../../src/nn/index.js';

const SIZE = 16;
const STAGES = [[8, 8], [16, 16]];

/** Top-1 accuracy of the classifier on the images, or on the AE's reconstructions of them. */
function accuracy(classifier: Module, d: Dataset, ae?: SegNet): number {
  return noGrad(() =>
    tidy(() => {
      const input = ae ? ae.forward(d.images) : d.images;
      return classifier.forward(input).argmax(1).eq(d.labels).float().mean().item();
    }),
  );
}

test('fine-tuning through the classifier recovers what a weak A_S loses; with the gradient stopped at the classifier it does not', async (t) => {
  manualSeed(3);
  const train = generatePlantedDataset({ carrier: 'colour', count: 1024, seed: 1, size: SIZE });
  const evalSet = generatePlantedDataset({ carrier: 'colour', count: 400, seed: 2, size: SIZE });
  const batches = (seed: number) => stepBatches(train, { batchSize: 32, seed }).batch;
  const classifier = buildClassifier('lenet5', { channels: 3, size: SIZE, classes: 4 });
  await trainClassifier(classifier, { steps: 150, lr: 2e-3, seed: 4, batch: batches(4) });
  classifier.eval();
  // A_S: deliberately weak, a few reconstruction steps only.
  const weak = () => {
    manualSeed(5);
    return new SegNet({ inChannels: 3, stages: STAGES });
  };
  const pretrained = weak();
  await pretrainAutoencoder(pretrained, { steps: 15, lr: 2e-3, seed: 6, batch: batches(6) });
  const state = pretrained.stateDict();
  const copyOfAS = () => {
    const ae = weak();
    ae.loadStateDict(state);
    return ae.eval();
  };
  const original = accuracy(classifier, evalSet);
  const onAS = accuracy(classifier, evalSet, pretrained.eval());
  const finetune = async (stopGradient: boolean) => {
    const ae = copyOfAS();
    await finetuneDecoder(ae, classifier, { steps: 150, lr: 1e-3, seed: 7, batch: batches(7), stopGradient });
    return accuracy(classifier, evalSet, ae);
  };
  const onFinetuned = await finetune(false);
  const onBroken = await finetune(true);
  const lost = original - onAS;
  const report = `original ${original}, on A_S ${onAS}, fine-tuned ${onFinetuned}, gradient stopped ${onBroken}`;
  t.diagnostic(report);
  assert.ok(lost >= 0.1, `A_S must be weak for the classifier (loses >= 10 points): ${report}`);
  // Most of the loss recovered: at least half of it, and a margin the broken fine-tune cannot reach.
  const margin = onAS + lost / 2;
  assert.ok(onFinetuned >= margin, `fine-tuning through the classifier recovers most of the loss: ${report}`);
  assert.ok(onBroken < margin, `with the gradient stopped at the classifier, the same fine-tune does not: ${report}`);
  for (const d of [train, evalSet]) for (const t of [d.images, d.labels]) t.dispose();
});
