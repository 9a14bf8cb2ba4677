// Experiment config: defaults, one-line field errors, JSON files with relative paths, and a fuzz run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/pipeline/config.js';
import { planFromConfig } from '../../src/pipeline/plan.js';
import { fuzzConfig } from '../fuzz/config.fuzz.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('defaults fill every field of a minimal config', () => {
  assert.deepEqual(loadConfig({ classifiers: ['lenet'] }), {
    dataset: 'mnist',
    classifiers: ['lenet'],
    seed: 0,
    device: 'auto',
    quick: false,
    ae: { stages: 'small', pretrain: { epochs: 2, lr: 2e-3, batchSize: 32 } },
    // The step budget's default lives in the plan (src/pipeline/plan.ts), not here.
    finetune: { lr: 1e-3, optimizer: 'adam', batchSize: 32, targets: 'labels', trainWholeAe: false, untilConverged: true },
    eval: { samples: 1000, nmiBins: 64, bootstrapResamples: 1000, orderEpsilon: 0 },
    repeats: 1,
    repeatAll: false,
    runDir: 's2snets-run',
  });
  // The config's evaluation and replicate fields reach the plan.
  const plan = planFromConfig(loadConfig({ classifiers: ['lenet'], eval: { orderEpsilon: 0.005, bootstrapResamples: 2000 }, repeats: 3, repeatAll: true }), 'cpu');
  assert.deepEqual([plan.analysis.orderEpsilon, plan.analysis.bootstrapResamples, plan.repeats, plan.repeatAll], [0.005, 2000, 3, true]);
  assert.equal(loadConfig({ classifiers: ['vgg'], finetune: { steps: 300 } }).finetune.epochs, undefined);
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
    [{ classifiers: ['lenet'], finetune: { epochs: 2, steps: 10 } }, 'config: finetune.steps: give epochs or steps, not both'],
    [{ classifiers: ['lenet', { onnx: ' ' }] }, 'config: classifiers[1].onnx: must be a non-empty path'],
    [{ classifiers: ['lenet', 7] }, 'config: classifiers[1]: must be a zoo name, {onnx: path} or {torchscript: path}'],
    [{ classifiers: ['lenet'], dataset: 'cifar' }, "config: dataset: must be one of 'mnist', 'fashion-mnist', 'emoji', 'planted-shape', 'planted-colour' or {imageFolder: path}"],
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
