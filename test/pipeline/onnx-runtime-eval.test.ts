// An evaluation whose imported ONNX classifiers run on ONNX Runtime gives the same results as one
// on the libtorch import: the same run evaluated twice, once as it comes (ONNX Runtime, checked
// against libtorch on the evaluation set and logged) and once with S2SNETS_ONNX_RUNTIME=0, gives
// the same results.json, noise robustness included.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agreementProblem, LOGIT_TOLERANCE, logitAgreement, ONNX_RUNTIME_ENV } from '../../src/experiment/evaluation-forward.js';
import { artifactDir } from '../../src/runs/artifacts.js';
import { status } from '../../src/scheduler/runner.js';
import { RunStore } from '../../src/runs/store.js';
import { tensor } from '../../src/engine/index.js';
import { encodeModel, randomValues } from '../import/onnx-build.js';
import { tinyFolderRunConfig, writeImageFolder } from './image-folder-fixture.js';

const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-ort-eval-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ONNX Runtime stands in for libtorch only when every decision is the same and the logits are within the tolerance', () => {
  const labels = tensor(BigInt64Array.from([0n, 1n]));
  const ours = tensor([3, 1, 0, 0.5, 2, 0], [2, 3]);
  const same = logitAgreement([{ ours, theirs: ours.mul(1 + LOGIT_TOLERANCE / 2), labels }]);
  assert.deepEqual([same.images, same.differentDecisions], [2, 0]);
  assert.ok(Math.abs(same.relativeError - LOGIT_TOLERANCE / 2) < 1e-6, String(same.relativeError));
  assert.equal(agreementProblem(same), null);
  const drifted = logitAgreement([{ ours, theirs: ours.mul(1 + 2 * LOGIT_TOLERANCE), labels }]);
  assert.match(agreementProblem(drifted)!, /^logits differ by 2\.0\de-4 relative/);
  // A near-tie that flips: image 1's classes 1 and 0 change places, within a small error.
  const flipped = logitAgreement([{ ours, theirs: tensor([3, 1, 0, 0.5, 0.49, 0], [2, 3]), labels }]);
  assert.equal(agreementProblem(flipped), '1 of 2 evaluation images get another top-1 class or top-5 hit');
  assert.match(agreementProblem({ images: 1, differentDecisions: 0, relativeError: NaN })!, /logits differ/);
});

/**
 * A colour classifier for the fixture folder (class c: channel c bright): a 3x3 convolution near
 * the identity, ReLU, global average pool and a linear layer near the identity, with seeded
 * random perturbations, so that its decisions vary from image to image. `batch` 1 exports it with
 * a fixed batch, as torch.onnx.export does without dynamic axes.
 */
function colourClassifier(file: string, seed: number, batch: 'batch' | 1): string {
  const conv = randomValues(81, seed).map((v, i) => 0.1 * v + (i % 9 === 4 && Math.floor(i / 27) === Math.floor(i / 9) % 3 ? 1 : 0));
  const fc = randomValues(9, seed + 1).map((v, i) => 0.3 * v + (i % 4 === 0 ? 1 : 0));
  writeFileSync(
    file,
    encodeModel({
      opset: 13,
      input: { name: 'input', dims: [batch, 3, 32, 32] },
      output: { name: 'logits', dims: [batch, 3] },
      initializers: [
        { name: 'w', dims: [3, 3, 3, 3], values: conv },
        { name: 'fc', dims: [3, 3], values: fc },
        { name: 'fcb', dims: [3], values: randomValues(3, seed + 2).map((v) => 0.1 * v) },
      ],
      nodes: [
        { op: 'Conv', inputs: ['input', 'w'], outputs: ['c'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
        { op: 'Relu', inputs: ['c'], outputs: ['r'] },
        { op: 'GlobalAveragePool', inputs: ['r'], outputs: ['g'] },
        { op: 'Flatten', inputs: ['g'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'fc', 'fcb'], outputs: ['logits'], attrs: { transB: { i: 1 } } },
      ],
    }),
  );
  return file;
}

test('an evaluation on ONNX Runtime gives the same results as on the libtorch import', async () => {
  await writeImageFolder(join(tmp, 'images'), 16);
  const dynamic = colourClassifier(join(tmp, 'colour.onnx'), 11, 'batch');
  const fixed = colourClassifier(join(tmp, 'colour-fixed.onnx'), 21, 1);
  const file = tinyFolderRunConfig(tmp, [{ onnx: dynamic, name: 'colour' }, { onnx: fixed, name: 'colour_fixed' }], { steps: 2, samples: 18 });
  const runDir = join(tmp, 'run');
  const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [cli, 'run', file], { encoding: 'utf8', env: { ...process.env, ...env } });
  const results = () => {
    const r = JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8'));
    delete r.createdAt;
    delete r.run.durations;
    return r;
  };

  const onOrt = run({});
  assert.equal(onOrt.status, 0, onOrt.stderr);
  const first = results();
  assert.ok(first.noise && first.noise.sigmas.length > 0, 'the noise test ran');
  // Decisions that vary from image to image: equal results cannot come from a constant classifier.
  const evaluationDir = join(runDir, 'artifacts', readdirSync(join(runDir, 'artifacts')).find((k) => readdirSync(join(runDir, 'artifacts', k)).includes('predictions.json'))!);
  const predictions = JSON.parse(readFileSync(join(evaluationDir, 'predictions.json'), 'utf8'));
  for (const column of Object.values(predictions.rows.original) as { top1: number[] }[]) assert.ok(new Set(column.top1).size > 1, JSON.stringify(column.top1));
  const store = RunStore.openReadOnly(runDir);
  const ortLines = store.events().filter((e) => e.message.includes(`the evaluation's forward passes run on ONNX Runtime (same top-1 on the ${first.run.evalSamples} evaluation images`));
  store.close();
  assert.equal(ortLines.length, 2, 'both classifiers were evaluated on ONNX Runtime');

  // The evaluation alone again, on libtorch.
  const evaluation = status(runDir).jobs.find((j) => j.name === 'evaluate')!;
  rmSync(artifactDir(runDir, evaluation.key), { recursive: true });
  const onLibtorch = run({ [ONNX_RUNTIME_ENV]: '0' });
  assert.equal(onLibtorch.status, 0, onLibtorch.stderr);
  assert.match(onLibtorch.stdout, /1 job\(s\) ran/);
  assert.deepEqual(results(), first);
});
