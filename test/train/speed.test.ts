import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, keep, manualSeed, noGrad, randint, randn, tidy, type Tensor } from '../../src/engine/index.js';
import { callRaw } from '../../src/engine/op.js';
import { Adam, BatchNorm2d, InputAdapter, SGD, adaptInput, type Module } from '../../src/nn/index.js';
import { buildClassifier } from '../../src/models/classifiers.js';
import { SegNet, SMALL_STAGES } from '../../src/models/segnet.js';
import { trainLoop } from '../../src/train/loop.js';
import { SpeedOptionError, prepareForFinetune, toDeviceAsync, withSpeedOptions, type SpeedOptions } from '../../src/train/speed.js';

const SIZE = 16;
const STEPS = 10;

manualSeed(99);
const data = { name: 'toy', images: keep(randn([64, 1, SIZE, SIZE]).mul(0.5).add(0.2)), labels: keep(randint(0, 4, [64])), classNames: ['a', 'b', 'c', 'd'] };

/** NHWC in memory: the channel stride is 1. */
const isChannelsLast = (t: Tensor) => callRaw('stride', 'int', [t.handle, 1]) === 1 && t.size(1) > 1;

/** A classifier that takes 24 px images of another normalization, behind the input adapter from the toy data's 16 px. */
const ADAPTED = { size: 24, adapt: (m: Module) => adaptInput(m, { height: SIZE, width: SIZE, mean: [0.2], std: [0.5] }, { height: 24, width: 24, mean: [0.45], std: [0.25] }, 'bicubic') };

/**
 * A zoo classifier (default the ResNet: BatchNorms in Sequentials and in bottleneck blocks), with
 * BatchNorm weights and running statistics moved from their initial values; with `adapted`, at
 * its size behind its adapter.
 */
function trainedClassifier(family = 'resnet', adapted?: typeof ADAPTED): Module {
  manualSeed(7);
  const bare = buildClassifier(family, { channels: 1, size: adapted?.size ?? SIZE, classes: 4 });
  const m = adapted ? adapted.adapt(bare) : bare;
  const optimizer = new SGD(m.trainableParameters(), { lr: 0.05, momentum: 0.9 });
  for (let step = 0; step < 3; step++) {
    tidy(() => {
      const loss = F.crossEntropy(m.forward(data.images.slice(0, 16 * step, 16 * step + 16)), data.labels.slice(0, 16 * step, 16 * step + 16));
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    });
  }
  return m;
}

interface Run {
  loss: number[];
  reconstructionDtypes: Set<string>;
  logitDtypes: Set<string>;
  channelsLast: Set<boolean>;
  classifier: Module;
  ae: SegNet;
  /** The encoder that computed the codes. */
  encoder: Module;
}

/** STEPS decoder fine-tune steps (frozen encoder and classifier, Adam) from the same initial state. */
async function finetune(speed: SpeedOptions, family = 'resnet', adapted?: typeof ADAPTED): Promise<Run> {
  const classifier = trainedClassifier(family, adapted);
  manualSeed(5);
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
  ae.encoder.freeze().eval();
  const encoder = prepareForFinetune(ae, classifier, speed);
  const optimizer = new Adam(ae.decoder.trainableParameters(), { lr: 1e-4 });
  const run: Run = { loss: [], reconstructionDtypes: new Set(), logitDtypes: new Set(), channelsLast: new Set(), classifier, ae, encoder };
  const result = await trainLoop({
    name: 'speed test',
    steps: STEPS,
    optimizer,
    // One fixed batch, so that ten steps show learning and not batch-to-batch noise.
    batch: () => ({ x: data.images.slice(0, 0, 8), y: data.labels.slice(0, 0, 8) }),
    loss: withSpeedOptions(speed, 'cpu', (b) => {
      const encoding = noGrad(() => encoder.encode(b.x));
      const reconstruction = ae.decoder.decode(encoding);
      const logits = classifier.forward(reconstruction);
      run.reconstructionDtypes.add(reconstruction.dtype);
      run.logitDtypes.add(logits.dtype);
      run.channelsLast.add(isChannelsLast(encoding.code));
      return F.crossEntropy(logits, b.y);
    }),
    modules: { decoder: ae.decoder },
    seed: 1,
    curveEvery: 1,
  });
  run.loss = result.curve.loss;
  assert.equal(run.loss.length, STEPS);
  return run;
}

function assertCurvesClose(actual: number[], expected: number[], rtol: number, what: string): void {
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]) / Math.abs(expected[i])));
  assert.ok(worst <= rtol, `${what}: loss curve differs by ${worst} (relative) from the plain step, more than ${rtol}\n${actual}\n${expected}`);
}

test('speed options keep the fine-tune loss curve (SegNet + ResNet): BN folding and channels_last within 1e-4, bf16 autocast within 5e-2', async () => {
  const plain = await finetune({});
  assert.ok(plain.loss.every((l, i) => i === 0 || l < plain.loss[i - 1]), `the plain run learns: ${plain.loss}`);
  assert.deepEqual([...plain.reconstructionDtypes, ...plain.logitDtypes, ...plain.channelsLast], ['float32', 'float32', false]);

  const folded = await finetune({ foldFrozenBn: true });
  const batchNorms = (m: Module) => [...m.namedModules()].filter(([, c]) => c instanceof BatchNorm2d).length;
  assert.equal(batchNorms(folded.classifier), 0, 'every classifier BatchNorm was folded');
  assert.equal(batchNorms(folded.encoder), 0, 'the codes come from a folded encoder');
  assert.equal(batchNorms(folded.ae.encoder), batchNorms(plain.ae.encoder), "the AE's own encoder keeps its BatchNorms");
  for (const [k, t] of plain.ae.encoder.stateDict()) {
    assert.deepEqual(folded.ae.encoder.stateDict().get(k)!.toArray(), t.toArray(), `the saved encoder's ${k} is untouched`);
  }
  assertCurvesClose(folded.loss, plain.loss, 1e-4, 'foldFrozenBn');

  const channelsLast = await finetune({ channelsLast: true });
  assert.deepEqual([...channelsLast.channelsLast], [true], 'activations stay channels_last');
  assertCurvesClose(channelsLast.loss, plain.loss, 1e-4, 'channelsLast');

  const bf16 = await finetune({ autocast: 'bfloat16' });
  assert.deepEqual([...bf16.reconstructionDtypes], ['bfloat16'], 'the decoder convolutions run in bfloat16');
  assert.deepEqual([...bf16.logitDtypes], ['bfloat16'], 'the classifier runs in bfloat16');
  assertCurvesClose(bf16.loss, plain.loss, 5e-2, 'autocast bfloat16');
  assert.notDeepEqual(bf16.loss, plain.loss, 'autocast changed the arithmetic');

  const all = await finetune({ foldFrozenBn: true, channelsLast: true, autocast: 'bfloat16' });
  assertCurvesClose(all.loss, plain.loss, 5e-2, 'all options together');
});

test('folding the BatchNorms (the default) keeps what a fine-tune produces for every BatchNorm family: reconstructions within float noise, the same decisions on them', async () => {
  for (const family of ['vgg-bn', 'resnet', 'inception']) {
    const plain = await finetune({}, family);
    const folded = await finetune({ foldFrozenBn: true }, family);
    assert.equal([...folded.classifier.namedModules()].filter(([, m]) => m instanceof BatchNorm2d).length, 0, `${family}: every BatchNorm was folded`);
    plain.ae.eval();
    folded.ae.eval();
    noGrad(() =>
      tidy(() => {
        const a = plain.ae.forward(data.images);
        const b = folded.ae.forward(data.images);
        // Folding is exact up to float32 rounding (logits and input gradients of these classifiers
        // within 6e-7 relative; test/nn/fuse.test.ts asserts 1e-5), but Adam's normalized steps turn such differences in
        // near-zero gradients into steps of up to lr per weight: after these 10 steps the
        // reconstructions differed by 5e-4 (resnet, inception; channels_last gives the same) to
        // 8e-3 (vgg-bn) relative, under 0.5 % of what the fine-tune itself changed. A wrong fold
        // (a lost eps or shift) moves the logits, and so these, by percents.
        const drift = b.sub(a).abs().max().item() / a.abs().max().item();
        assert.ok(drift <= 1e-2, `${family}: reconstructions differ by ${drift} (relative)`);
        // The evaluation runs the unfolded classifier: the decisions on both reconstructions agree.
        assert.deepEqual(plain.classifier.forward(b).argmax(1).toArray(), plain.classifier.forward(a).argmax(1).toArray(), `${family}: decisions`);
      }),
    );
  }
});

test('a classifier behind an input adapter: the fine-tune learns through the resize, and BN folding and channels_last reach the classifier inside (loss curve within 1e-4)', async () => {
  const plain = await finetune({}, 'resnet', ADAPTED);
  assert.ok(plain.classifier instanceof InputAdapter);
  assert.ok(plain.loss.every((l, i) => i === 0 || l < plain.loss[i - 1]), `the plain run learns: ${plain.loss}`);
  const fast = await finetune({ foldFrozenBn: true, channelsLast: true }, 'resnet', ADAPTED);
  assert.equal([...fast.classifier.namedModules()].filter(([, m]) => m instanceof BatchNorm2d).length, 0, 'every BatchNorm inside the adapter was folded');
  assertCurvesClose(fast.loss, plain.loss, 1e-4, 'foldFrozenBn + channelsLast behind the adapter');
});

test('speed options refuse float16 autocast on the CPU and unknown dtypes, with the option named', () => {
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
  const classifier = buildClassifier('vgg', { channels: 1, size: SIZE, classes: 4 });
  assert.throws(() => prepareForFinetune(ae, classifier, { autocast: 'float16' }), (e: unknown) => e instanceof SpeedOptionError && /float16.*CUDA.*bfloat16/.test((e as Error).message));
  assert.throws(() => withSpeedOptions({ autocast: 'int8' as 'float16' }, 'cpu', () => randn([1])), (e: unknown) => e instanceof SpeedOptionError && /autocast must be/.test((e as Error).message));
});

test('a fine-tune that never runs the encoder (it reads precomputed encodings) gets no folded copy of it', () => {
  const prepared = (runsEncoder: boolean) => {
    const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
    ae.encoder.freeze().eval();
    return { ae, encoder: prepareForFinetune(ae, buildClassifier('vgg', { channels: 1, size: SIZE, classes: 4 }), { foldFrozenBn: true }, runsEncoder) };
  };
  const runs = prepared(true);
  assert.notEqual(runs.encoder, runs.ae.encoder, 'the encoder that runs is a folded copy');
  const reads = prepared(false);
  assert.equal(reads.encoder, reads.ae.encoder);
});

test('toDeviceAsync leaves a CPU batch as it is', () => {
  const b = { x: randn([2, 1, 4, 4]), y: randint(0, 3, [2]) };
  const moved = toDeviceAsync(b, 'cpu');
  assert.equal(moved, b);
});
