// Experiment config: defaults, one-line field errors, JSON files with relative paths, and a fuzz run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/experiment/config.js';
import { defaultPlan, planFromConfig, quickPlan, zooEntries } from '../../src/experiment/plan.js';
import { fuzzConfig } from '../fuzz/config.fuzz.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('defaults fill every field of a minimal config; what the plan sizes is left to the plan', () => {
  assert.deepEqual(loadConfig({ classifiers: ['lenet'] }), {
    dataset: 'mnist',
    classifiers: ['lenet'],
    seed: 0,
    device: 'auto',
    quick: false,
    // Sizes, steps and rates live in the plan (src/experiment/plan.ts), full or quick, not here.
    ae: { stages: 'small', pretrain: {} },
    finetune: { targets: 'labels', trainWholeAe: false, untilConverged: true },
    eval: {},
    repeats: 1,
    repeatAll: false,
    runDir: 's2snets-run',
  });
  assert.deepEqual(planFromConfig(loadConfig({ classifiers: ['lenet5'] }), 'cpu'), { ...defaultPlan(), classifiers: zooEntries(['lenet5']), ae: { ...defaultPlan().ae, weights: undefined } });
  // The config's evaluation and replicate fields reach the plan.
  const plan = planFromConfig(loadConfig({ classifiers: ['lenet'], eval: { orderEpsilon: 0.005, bootstrapResamples: 2000 }, repeats: 3, repeatAll: true }), 'cpu');
  assert.deepEqual([plan.analysis.orderEpsilon, plan.analysis.bootstrapResamples, plan.repeats, plan.repeatAll], [0.005, 2000, 3, true]);
  assert.equal(loadConfig({ classifiers: ['vgg'], finetune: { steps: 300 } }).finetune.epochs, undefined);
});

test('quick: true gives the quick plan whole; a field the file sets still wins', () => {
  const quick = quickPlan();
  assert.deepEqual(planFromConfig(loadConfig({ classifiers: ['lenet5', 'resnet'], quick: true }), 'cpu'), { ...quick, ae: { ...quick.ae, weights: undefined } });
  const set = planFromConfig(loadConfig({ classifiers: ['lenet5'], quick: true, eval: { samples: 300 }, ae: { pretrain: { epochs: 3, lr: 1e-3 } }, finetune: { batchSize: 16 } }), 'cpu');
  assert.deepEqual([set.evalSamples, set.ae.epochs, set.ae.lr, set.finetune.batchSize], [300, 3, 1e-3, 16]);
  assert.deepEqual([set.trainLimit, set.ae.stages, set.finetune.steps], [quick.trainLimit, quick.ae.stages, quick.finetune.steps]);
});

test("an imported classifier's input settings reach its plan entry; an entry without any has none", () => {
  const cfg = loadConfig({
    classifiers: [{ onnx: 'inception.onnx', inputSize: 299, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize: 'bicubic' }, { torchscript: 'r.pt', inputSize: 224 }, { onnx: 'plain.onnx' }],
  });
  assert.deepEqual(planFromConfig(cfg, 'cpu').classifiers, [
    { name: 'inception', onnx: 'inception.onnx', input: { size: 299, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize: 'bicubic' } },
    { name: 'r', torchscript: 'r.pt', input: { size: 224 } },
    { name: 'plain', onnx: 'plain.onnx' },
  ]);
});

test('errors are one line and name the field', () => {
  const cases: [unknown, string][] = [
    [{}, 'config: classifiers: '],
    [{ classifiers: [] }, 'config: classifiers: must list at least one classifier'],
    [{ classifiers: ['lenet'], finetune: { lr: -1 } }, 'config: finetune.lr: must be > 0'],
    [{ classifiers: ['lenet'], finetune: { epochs: 2, steps: 10 } }, 'config: finetune.steps: give epochs, steps or images, not epochs and steps'],
    [{ classifiers: ['lenet'], finetune: { steps: 10, images: 640 } }, 'config: finetune.images: give epochs, steps or images, not steps and images'],
    [{ classifiers: ['lenet'], finetune: { images: 0 } }, 'config: finetune.images: must be > 0'],
    [{ classifiers: ['lenet'], ae: { pretrain: { images: 640, minSteps: 10 } } }, 'config: ae.pretrain.images: give the length in images, or epochs and minSteps, not both'],
    [{ classifiers: ['lenet'], ae: { pretrain: { epochs: 1, images: 640 } } }, 'config: ae.pretrain.images: give the length in images, or epochs and minSteps, not both'],
    [{ classifiers: ['lenet', { onnx: ' ' }] }, 'config: classifiers[1].onnx: must be a non-empty path'],
    [{ classifiers: ['lenet', 7] }, 'config: classifiers[1]: must be a zoo name, {onnx: path} or {torchscript: path}'],
    [{ classifiers: ['lenet'], dataset: 'cifar' }, "config: dataset: must be one of 'mnist', 'fashion-mnist', 'emoji', 'planted-shape', 'planted-colour', {imageFolder: path} or {tarShards: path}"],
    [{ classifiers: ['lenet'], eval: { nmiBins: 1 } }, 'config: eval.nmiBins: must be >= 2'],
    [{ classifiers: ['lenet'], eval: { bootstrapResamples: 100 } }, 'config: eval.bootstrapResamples: must be >= 1000'],
    [{ classifiers: ['lenet'], repeats: 0 }, 'config: repeats: must be > 0'],
    [{ classifiers: ['lenet'], ae: { pretrain: { epocs: 3 } } }, "config: ae.pretrain: unknown field(s) 'epocs'"],
    [{ classifiers: ['lenet'], ae: { pretrain: { epochs: 0 } } }, 'config: ae.pretrain.epochs: 0 needs ae.weights'],
    [{ classifiers: ['lenet'], ae: { weights: 'a.pth', pretrain: { epochs: -1 } } }, 'config: ae.pretrain.epochs: must be >= 0'],
    [{ classifiers: ['lenet'], device: 'tpu' }, "config: device: must be 'auto', 'cpu', 'cuda' or 'cuda:N'"],
    [{ classifiers: [{ onnx: 'm.onnx', mean: [0.5, 0.5, 0.5] }] }, 'config: classifiers[0].std: give mean and std together'],
    [{ classifiers: [{ onnx: 'm.onnx', mean: [0.5, 0.5, 0.5], std: [0.5] }] }, 'config: classifiers[0].std: must have as many values as mean (3)'],
    [{ classifiers: [{ onnx: 'm.onnx', std: [0, 1, 1], mean: [0, 0, 0] }] }, 'config: classifiers[0].std[0]: must be > 0'],
    [{ classifiers: [{ onnx: 'm.onnx', inputSize: 0 }] }, 'config: classifiers[0].inputSize: must be > 0'],
    [{ classifiers: [{ torchscript: 'm.pt', resize: 'nearest' }] }, 'config: classifiers[0].resize: '],
    [[1, 2], 'config: (top level): '],
  ];
  for (const [input, prefix] of cases) {
    assert.throws(() => loadConfig(input), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.startsWith(prefix), `${JSON.stringify(input)} -> ${e.message}`);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  }
});

test('JSON files: relative paths resolve against the file, read and parse errors name the file', () => {
  const file = join(tmp, 'exp.json');
  writeFileSync(file, JSON.stringify({ classifiers: ['lenet', { onnx: 'models/r50.onnx' }], dataset: { imageFolder: 'imgs' }, ae: { weights: 'segnet.pth', pretrain: { epochs: 0 } }, runDir: '/abs/run' }));
  const c = loadConfig(file);
  assert.deepEqual(c.classifiers, ['lenet', { onnx: join(tmp, 'models/r50.onnx') }]);
  assert.equal(c.ae.weights, join(tmp, 'segnet.pth'));
  assert.equal(c.ae.pretrain.epochs, 0);
  assert.deepEqual(c.dataset, { imageFolder: join(tmp, 'imgs') });
  assert.equal(c.runDir, '/abs/run');
  writeFileSync(file, '{"classifiers": ["lenet"],}');
  assert.throws(() => loadConfig(file), { name: 'ConfigError', message: `${file}: not valid JSON (Expected double-quoted property name in JSON at position 26)` });
  assert.throws(() => loadConfig(join(tmp, 'missing.json')), { message: `${join(tmp, 'missing.json')}: cannot read (ENOENT)` });
  // Saved with a UTF-8 byte order mark (some Windows editors do): the same config.
  writeFileSync(file, `\uFEFF${JSON.stringify({ classifiers: ['lenet'], seed: 3 })}`);
  assert.equal(loadConfig(file).seed, 3);
  writeFileSync(file, '{"classifiers": ["lenet"], "seed": 1.5}');
  assert.throws(() => loadConfig(file), { message: `${file}: seed: must be an integer` });
});

test('fuzz: 3000 arbitrary and mutated configs load or fail with a one-line field error', () => {
  fuzzConfig(3000);
});

test('a seed of -0 (valid JSON) loads as 0, so a loaded config round-trips through JSON (a fuzz finding)', () => {
  const cfg = loadConfig({ classifiers: ['vgg'], seed: -0 });
  assert.ok(Object.is(cfg.seed, 0));
});
