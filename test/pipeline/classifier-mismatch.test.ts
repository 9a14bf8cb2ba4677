// Imported classifiers that do not fit the data (class count, an input size that contradicts the
// graph's, a model that cannot run at all) stop `s2snets run`
// before any job starts: exit status 1, one line naming the model file and both numbers, and
// no run directory left behind, even when a zoo classifier listed first would train for minutes.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClassifierMismatchError, checkImportedClassifiers } from '../../src/experiment/classifier-sources.js';
import { fixtureDir } from '../import/pth-fixtures.js';
import { writeImageFolder } from './image-folder-fixture.js';

const fixtures = fixtureDir('make_pipeline_fixtures.py');
const skip = fixtures.missing ?? false;
const model = (name: string) => join(fixtures.dir ?? '', name);
const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-mismatch-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
before(() => writeImageFolder(join(tmp, 'images'), 3));

/** `s2snets run` on the 3-class, 32 px folder with a zoo model and then `classifier`. */
function runWith(name: string, classifier: Record<string, unknown>): { status: number | null; stderr: string; runDir: string } {
  const runDir = join(tmp, `run-${name}`);
  const config = { dataset: { imageFolder: join(tmp, 'images'), imageSize: 32 }, classifiers: ['lenet5', classifier], device: 'cpu', runDir };
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const r = spawnSync(process.execPath, [cli, 'run', file], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, runDir };
}

const cases: [string, Record<string, unknown>, RegExp][] = [
  ['onnx-classes', { onnx: model('five_classes.onnx') }, /five_classes\.onnx: the model has 5 outputs but the data has 3 classes/],
  ['torchscript-classes', { torchscript: model('four_classes.pt') }, /four_classes\.pt: the model has 4 outputs but the data has 3 classes/],
  // A graph with a fixed 64 px input runs on 32 px data (resized); an inputSize that contradicts it does not.
  ['onnx-size', { onnx: model('size64.onnx'), inputSize: 48 }, /size64\.onnx: inputSize 48 contradicts the 3x64x64 input its ONNX graph declares/],
  ['onnx-mean', { onnx: model('cnn.onnx'), mean: [0.5], std: [0.5] }, /cnn\.onnx: mean has 1 value\(s\) but the run's images have 3 channel\(s\)/],
  // TorchScript declares no input shape: the trial forward fails, and its reason is kept.
  ['torchscript-size', { torchscript: model('size64.pt') }, /size64\.pt: cannot run on 3x32x32 images \(forward on input \[\d+,3,32,32\] float32 failed: RuntimeError: mat1 and mat2 shapes cannot be multiplied/],
];

for (const [name, classifier, message] of cases) {
  test(`${name}: ClassifierMismatchError before any job, one line naming the file, nothing written`, { skip }, () => {
    const r = runWith(name, classifier);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^s2snets: error S2SNETS_CLASSIFIER_MISMATCH: /);
    assert.match(lines[0], message);
    assert.ok(!existsSync(r.runDir), 'no run directory');
  });
}

test('the check is typed, and passes models that fit', { skip }, async () => {
  const shape = { channels: 3, size: 32, classNames: ['cat', 'dog', 'fox'] };
  await checkImportedClassifiers([{ name: 'cnn', onnx: model('cnn.onnx') }, { name: 'cnn_ts', torchscript: model('cnn.pt') }], shape);
  await assert.rejects(checkImportedClassifiers([{ name: 'five', onnx: model('five_classes.onnx') }], shape), ClassifierMismatchError);
  // The same model fits data with five classes, and 64 px images fit the 64 px model.
  await checkImportedClassifiers([{ name: 'five', onnx: model('five_classes.onnx') }], { ...shape, classNames: ['a', 'b', 'c', 'd', 'e'] });
  await checkImportedClassifiers([{ name: 'size64', onnx: model('size64.onnx') }, { name: 'size64_ts', torchscript: model('size64.pt') }], { ...shape, size: 64 });
  // On 32 px data, the 64 px graph runs behind a resize; the TorchScript model too once inputSize says 64.
  await checkImportedClassifiers([{ name: 'size64', onnx: model('size64.onnx') }, { name: 'size64_ts', torchscript: model('size64.pt'), input: { size: 64 } }], shape);
  await assert.rejects(checkImportedClassifiers([{ name: 'size64_ts', torchscript: model('size64.pt') }], shape), ClassifierMismatchError);
});
