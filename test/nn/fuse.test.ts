import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, cat, grad, keep, manualSeed, noGrad, randint, randn, tidy, type Tensor } from '../../src/engine/index.js';
import { BatchNorm2d, Conv2d, FoldBatchNormError, Identity, SGD, Sequential, foldBatchNorm, inferenceForward, type Module } from '../../src/nn/index.js';
import { buildClassifier } from '../../src/models/classifiers.js';
import { SegNet, SMALL_STAGES } from '../../src/models/segnet.js';

/** A few SGD steps in training mode, so that BatchNorm weights and running statistics are no longer their initial values. */
function trainBriefly(m: Module, lossOf: (x: Tensor) => Tensor, inputShape: number[]): void {
  const optimizer = new SGD(m.trainableParameters(), { lr: 0.05, momentum: 0.9 });
  m.train();
  for (let step = 0; step < 4; step++) {
    tidy(() => {
      const loss = lossOf(randn(inputShape).mul(1.5).add(0.3));
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    });
  }
  m.eval().freeze();
}

/** Output and gradient with respect to the input of a fixed random projection of the output. */
function outputAndInputGrad(forward: (x: Tensor) => Tensor, x: Tensor, projection: Tensor): { y: Tensor; dx: Tensor } {
  return tidy(() => {
    const input = x.detach().requiresGrad_(true);
    const y = forward(input);
    const [dx] = grad([y.mul(projection).sum()], [input]);
    return { y: y.detach(), dx: dx! };
  });
}

function maxRelativeDifference(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().max().item() / b.abs().max().item());
}

function batchNormCount(m: Module): number {
  return [...m.namedModules()].filter(([, c]) => c instanceof BatchNorm2d).length;
}

function assertFoldKeepsFunction(name: string, m: Module, forward: (x: Tensor) => Tensor, inputShape: number[]): void {
  const x = keep(randn(inputShape));
  const projection = keep(noGrad(() => randn(forward(x).shape)));
  const before = outputAndInputGrad(forward, x, projection);
  const bns = batchNormCount(m);
  assert.ok(bns > 0, `${name} has BatchNorm layers to fold`);
  // Trained running statistics must matter, or the comparison would be trivial.
  const runningMeans = [...m.stateDict()].filter(([k]) => k.endsWith('running_mean')).map(([, t]) => t.abs().max().item());
  assert.ok(Math.max(...runningMeans) > 1e-2, `${name}: running statistics moved during training`);

  assert.equal(foldBatchNorm(m), m);
  assert.equal(batchNormCount(m), 0, `${name}: every BatchNorm2d was folded`);
  assert.ok(![...m.stateDict().keys()].some((k) => k.includes('running_')), `${name}: no BatchNorm state left`);
  const after = outputAndInputGrad(forward, x, projection);
  const dy = maxRelativeDifference(after.y, before.y);
  const ddx = maxRelativeDifference(after.dx, before.dx);
  assert.ok(dy < 1e-5, `${name}: outputs differ by ${dy} (relative)`);
  assert.ok(ddx < 1e-5, `${name}: input gradients differ by ${ddx} (relative)`);
  // Folding again finds nothing left to fold and changes nothing.
  foldBatchNorm(m);
  const again = outputAndInputGrad(forward, x, projection);
  assert.equal(maxRelativeDifference(again.y, after.y), 0);
}

for (const name of ['vgg-bn', 'resnet', 'inception']) {
  test(`folding BatchNorm keeps ${name}'s eval outputs and input gradients (1e-5 relative)`, () => {
    manualSeed(11);
    const shape = [6, 3, 32, 32];
    const m = buildClassifier(name, { channels: 3, size: 32, classes: 10 });
    trainBriefly(m, (x) => F.crossEntropy(m.forward(x), randint(0, 10, [shape[0]])), shape);
    assertFoldKeepsFunction(name, m, (x) => m.forward(x), shape);
  });
}

test("folding BatchNorm keeps SegNet's encoder code and decoder reconstruction (1e-5 relative)", () => {
  manualSeed(12);
  const shape = [4, 3, 16, 16];
  const ae = new SegNet({ inChannels: 3, stages: SMALL_STAGES });
  trainBriefly(ae, (x) => F.mseLoss(ae.forward(x), x), shape);
  assertFoldKeepsFunction('SegNet', ae, (x) => {
    const encoding = ae.encoder.encode(x);
    return cat([encoding.code.flatten(1), ae.decoder.decode(encoding).flatten(1)], 1);
  }, shape);
});

test('folding matches the formula on one conv and BatchNorm, and adds a bias to a bias-free conv', () => {
  manualSeed(13);
  const conv = new Conv2d(2, 3, 1, { bias: false });
  const bn = new BatchNorm2d(3, 1e-3);
  noGrad(() => {
    bn.weight.copy_(randn([3]));
    bn.bias.copy_(randn([3]));
    bn.running_mean.copy_(randn([3]));
    bn.running_var.copy_(randn([3]).abs().add(0.5));
  });
  const seq = new Sequential(conv, bn).eval();
  const w = conv.weight.toArray();
  const [gamma, beta, mean, variance] = [bn.weight, bn.bias, bn.running_mean, bn.running_var].map((t) => t.toArray());
  foldBatchNorm(seq);
  assert.ok(seq.layers[1] instanceof Identity);
  assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias']);
  const s = gamma.map((g, c) => g / Math.sqrt(variance[c] + 1e-3));
  const expectW = w.map((v, i) => v * s[Math.floor(i / 2)]);
  const expectB = s.map((sc, c) => beta[c] - mean[c] * sc);
  conv.weight.toArray().forEach((v, i) => assert.ok(Math.abs(v - expectW[i]) < 1e-6, `weight ${i}`));
  conv.bias!.toArray().forEach((v, c) => assert.ok(Math.abs(v - expectB[c]) < 1e-6, `bias ${c}`));
});

test('folding refuses a BatchNorm in training mode', () => {
  const seq = new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2));
  assert.throws(() => foldBatchNorm(seq), (e: unknown) => e instanceof FoldBatchNormError && /training mode.*eval\(\)/.test((e as Error).message));
  assert.ok(seq.layers[1] instanceof BatchNorm2d, 'nothing was changed');
});

// The autoencoder is compared part by part: its decoder unpools at the encoder's max-pool
// indices, so a rounding difference at a near-tie in a pool window moves a value by a pixel (seen
// with Winograd convolutions: 1 index of 32,768 flipped, the reconstruction off by 2e-3). The
// decoders therefore both decode the eval-mode encoding, and the classifiers both classify the
// eval-mode reconstruction.
test('inferenceForward (folded, NHWC) gives eval-mode outputs to 1e-5 with the same decisions', () => {
  manualSeed(14);
  const shape = [8, 1, 32, 32];
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
  trainBriefly(ae, (x) => F.mseLoss(ae.forward(x), x), shape);
  const classifier = buildClassifier('resnet', { channels: 1, size: 32, classes: 10 });
  trainBriefly(classifier, (x) => F.crossEntropy(classifier.forward(x), randint(0, 10, [shape[0]])), shape);
  const x = keep(randn(shape));
  const expected = noGrad(() => tidy(() => {
    const encoding = ae.encoder.encode(x);
    const reconstruction = ae.decoder.decode(encoding);
    return { encoding, reconstruction, logits: classifier.forward(reconstruction) };
  }));
  for (const channelsLast of [false, true]) {
    const copies = [new SegNet({ inChannels: 1, stages: SMALL_STAGES }), buildClassifier('resnet', { channels: 1, size: 32, classes: 10 })] as const;
    copies[0].loadStateDict(ae.stateDict());
    copies[1].loadStateDict(classifier.stateDict());
    const [reconstruct, classify] = copies.map((m) => inferenceForward(m, { channelsLast }));
    assert.equal(batchNormCount(copies[0]) + batchNormCount(copies[1]), 0, 'every BatchNorm folded');
    const layout = (t: Tensor) => (channelsLast ? t.contiguous('channels_last') : t);
    const got = noGrad(() => tidy(() => ({
      code: copies[0].encoder.encode(layout(x)).code,
      reconstruction: copies[0].decoder.decode({ ...expected.encoding, code: layout(expected.encoding.code) }),
      logits: classify(expected.reconstruction),
      whole: reconstruct(x),
      composed: copies[0].decoder.decode(copies[0].encoder.encode(layout(x))),
    })));
    assert.ok(maxRelativeDifference(got.code, expected.encoding.code) < 1e-5, `codes (channelsLast ${channelsLast})`);
    assert.ok(maxRelativeDifference(got.reconstruction, expected.reconstruction) < 1e-5, `reconstructions (channelsLast ${channelsLast})`);
    assert.ok(maxRelativeDifference(got.logits, expected.logits) < 1e-5, `logits (channelsLast ${channelsLast})`);
    assert.deepEqual(got.logits.argmax(1).toArray(), expected.logits.argmax(1).toArray());
    assert.deepEqual(got.whole.contiguous().toFloat32Array(), got.composed.contiguous().toFloat32Array(), 'the whole forward is the parts composed');
  }
});
