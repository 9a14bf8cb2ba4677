// Every classifier at its own input: a classifier opened for a run takes the data's images and
// sees them at its own size and normalization. Torchvision's ResNet-18 (224 px) and Inception v3
// (299 px), fed 256 px images, give the logits PyTorch computes on the resized, re-normalized
// images, on libtorch and on ONNX Runtime; and a run on 32 px images with a classifier whose
// graph only takes 299 px goes end to end, its results saying what the classifier saw.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { noGrad, tensor, type Tensor } from '../../src/engine/index.js';
import { openClassifier, seenInput } from '../../src/experiment/classifier-sources.js';
import { evaluationForward } from '../../src/experiment/evaluation-forward.js';
import type { ExperimentData } from '../../src/experiment/inputs.js';
import type { ClassifierEntry } from '../../src/experiment/plan.js';
import { RunStore } from '../../src/runs/store.js';
import { validateResults } from '../../src/report/index.js';
import { fixtureDir, readFloats } from '../import/pth-fixtures.js';
import { encodeModel, randomValues } from '../import/onnx-build.js';
import { tinyFolderRunConfig, writeImageFolder } from './image-folder-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 's2snets-classifier-input-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Largest |a - b| over the largest |b|. */
function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) [diff, scale] = [Math.max(diff, Math.abs(a[i] - b[i])), Math.max(scale, Math.abs(b[i]))];
  return diff / scale;
}

/**
 * Float32 logits of two runs of the same model on the same images differ by rounding: our resize
 * and affine map are ordered differently from the reference's, and kernels block differently.
 */
const LOGIT_TOLERANCE = 1e-5;

type Case = { size: number; resize: 'bilinear' | 'bicubic'; mean: number[]; std: number[] };
const fixtures = fixtureDir('export_input_reference.py');

test('resnet18 at 224 and inception_v3 at 299 fed 256 px images give PyTorch\'s logits on the resized, re-normalized images (libtorch and ONNX Runtime)', { skip: fixtures.missing ?? false }, async () => {
  const dir = fixtures.dir!;
  const meta = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { inputShape: number[]; imagenet: [number[], number[]]; cases: Record<string, Case> };
  const images = tensor(readFloats(join(dir, 'input.bin')), meta.inputShape);
  const labels = tensor(BigInt64Array.from([0n, 1n]));
  const side = meta.inputShape[2];
  // What openClassifier reads of the run's data: size and normalization, channels and classes.
  const data = { size: side, channels: 3, mean: meta.imagenet[0], std: meta.imagenet[1], classNames: Array.from({ length: 1000 }, (_, i) => `c${i}`) } as unknown as ExperimentData;
  for (const [arch, c] of Object.entries(meta.cases)) {
    // The size comes from the graph; ResNet-18 takes the data's (ImageNet) normalization, Inception v3 its own.
    const entry: ClassifierEntry = { name: arch, onnx: join(dir, `${arch}.onnx`), input: arch === 'resnet18' ? { resize: c.resize } : { mean: c.mean, std: c.std } };
    const log: string[] = [];
    const model = await openClassifier(entry, data, 'cpu', undefined, (line) => log.push(line));
    assert.deepEqual(seenInput(model, data), { height: c.size, width: c.size, mean: c.mean, std: c.std, resize: c.resize, antialias: c.size < side });
    assert.ok(log.some((l) => l.includes(`takes ${c.size}x${c.size} images`) && l.includes(`resized from ${side}x${side} (${c.resize}`)), log.join('\n'));
    const reference = readFloats(join(dir, `${arch}_logits.bin`));
    const ours = noGrad(() => model.forward(images));
    const libtorchError = relativeError(ours.toFloat32Array(), reference);
    assert.ok(libtorchError < LOGIT_TOLERANCE, `${arch} on libtorch: logits differ from PyTorch's by ${libtorchError} relative`);
    const evaluation = await evaluationForward(entry, model, { images, labels, batchSize: 2 }, 'cpu', () => {});
    try {
      assert.equal(evaluation.engine, 'ONNX Runtime');
      const ort = (await evaluation.forward(images)) as Tensor;
      const ortError = relativeError(ort.toFloat32Array(), reference);
      assert.ok(ortError < LOGIT_TOLERANCE, `${arch} on ONNX Runtime: logits differ from PyTorch's by ${ortError} relative`);
      console.log(`${arch}: ${side} px -> ${c.size} px ${c.resize}; logits vs PyTorch: libtorch ${libtorchError.toExponential(2)}, ONNX Runtime ${ortError.toExponential(2)} relative`);
    } finally {
      await evaluation.close();
    }
  }
});

/**
 * A colour classifier that only runs on 299 px images: 13x13 average pools (23 x 23 per channel),
 * flattened into a linear layer that weighs each channel's pools, with seeded perturbations so
 * its decisions vary from image to image.
 */
function colourClassifier299(file: string): string {
  const pools = 23 * 23;
  const fc = randomValues(3 * 3 * pools, 5).map((v, i) => (Math.floor(i / pools) % 3 === Math.floor(i / (3 * pools)) ? 1 : 0) / pools + (0.5 * v) / pools);
  writeFileSync(
    file,
    encodeModel({
      opset: 13,
      input: { name: 'input', dims: ['batch', 3, 299, 299] },
      output: { name: 'logits', dims: ['batch', 3] },
      initializers: [{ name: 'fc', dims: [3, 3 * pools], values: fc }],
      nodes: [
        { op: 'AveragePool', inputs: ['input'], outputs: ['p'], attrs: { kernel_shape: { ints: [13, 13] }, strides: { ints: [13, 13] } } },
        { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'fc'], outputs: ['logits'], attrs: { transB: { i: 1 } } },
      ],
    }),
  );
  return file;
}

test('a run on 32 px images with a classifier made for 299 px goes end to end, and its results say what the classifier saw', async () => {
  await writeImageFolder(join(tmp, 'images'), 8);
  const onnx = colourClassifier299(join(tmp, 'colour299.onnx'));
  const file = tinyFolderRunConfig(tmp, [{ onnx, name: 'colour299', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }], { steps: 3, samples: 9 });
  const r = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), 'run', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const runDir = join(tmp, 'run');
  const results = validateResults(JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8')));
  assert.deepEqual(results.classifiers[0].input, { height: 299, width: 299, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'bilinear', antialias: false });
  assert.equal(results.run.imageSize, 32);
  // The classifier decides by colour: far above chance on the originals it saw at 299 px.
  assert.ok(results.classifiers[0].accuracy.original.top1 > 0.6, JSON.stringify(results.classifiers[0].accuracy));
  assert.ok(readFileSync(join(runDir, 'report', 'report.html'), 'utf8').includes('299x299 (bilinear from 32x32), mean 0.5/0.5/0.5, std 0.25/0.25/0.25'));
  assert.match(r.stdout, /299x299 \(bilinear from 32x32\)/);
  const store = RunStore.openReadOnly(runDir);
  const events = store.events().map((e) => e.message);
  store.close();
  // The evaluation's ONNX Runtime session got the adapted images and agreed with libtorch.
  assert.ok(events.some((m) => m.includes("the evaluation's forward passes run on ONNX Runtime")), events.join('\n'));
  assert.ok(events.some((m) => m.includes('takes 299x299 images')), events.join('\n'));
});
