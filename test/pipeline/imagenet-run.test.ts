// End to end through the CLI, as a user with their own models runs it: an ImageNet-style image
// folder (PNG, JPEG, WebP of varying sizes, one unreadable file), a classifier exported by
// torch.onnx.export and one by torch.jit.script, a JSON config, `s2snets run`; then a rerun
// that reuses every job, and one after an image was added that reuses none.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateResults } from '../../src/report/index.js';
import { status } from '../../src/scheduler/runner.js';
import { artifactDir } from '../../src/runs/artifacts.js';
import { EVALUATION_FILES, ORIGINAL_ROW, readPredictions } from '../../src/experiment/evaluation.js';
import { fixtureDir } from '../import/pth-fixtures.js';
import { CLASSES, writeImageFolder } from './image-folder-fixture.js';

const fixtures = fixtureDir('make_pipeline_fixtures.py');
const skip = fixtures.missing ?? false;
const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-imagenet-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// The folder's index first; no encode job: a streamed folder's training images are cropped anew each epoch.
const JOB_NAMES = ['index[images]', 'import[cnn]', 'import[cnn_ts]', 'pretrain[A_S]', 'finetune[cnn]', 'finetune[cnn_ts]', 'reconstruct[A_S]', 'reconstruct[S2S-cnn]', 'reconstruct[S2S-cnn_ts]', 'evaluate'];
const JOBS = JOB_NAMES.length;

function run(config: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'run', config], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** results.json without what legitimately differs between invocations. */
function comparable(runDir: string): unknown {
  const r = JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8'));
  delete r.createdAt;
  delete r.run.durations;
  return r;
}

test('s2snets run: image folder, ONNX and TorchScript classifiers, a valid report; a rerun reuses every job, changed images none', { skip }, async () => {
  const images = await writeImageFolder(join(tmp, 'images'));
  writeFileSync(join(images, 'dog', 'truncated.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
  mkdirSync(join(tmp, 'models'));
  for (const file of ['cnn.onnx', 'cnn.pt']) copyFileSync(join(fixtures.dir!, file), join(tmp, 'models', file));
  // Paths are relative to the config file; quick sizes and few steps keep it to seconds.
  const config = {
    dataset: { imageFolder: 'images', imageSize: 32 },
    classifiers: [{ onnx: 'models/cnn.onnx' }, { torchscript: 'models/cnn.pt', name: 'cnn_ts' }],
    quick: true,
    ae: { pretrain: { epochs: 1, batchSize: 8 } },
    finetune: { steps: 3, batchSize: 8 },
    // Fewer than the test split's images, so the evaluation set is a subset of it.
    eval: { samples: 4 },
    device: 'cpu',
    runDir: 'run',
  };
  const file = join(tmp, 'experiment.json');
  writeFileSync(file, JSON.stringify(config));
  const runDir = join(tmp, 'run');

  const first = run(file);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`${JOBS} job\\(s\\) ran, 0 reused`));
  const results = validateResults(JSON.parse(readFileSync(join(runDir, 'report', 'results.json'), 'utf8')));
  assert.deepEqual(results.run.classes, CLASSES);
  assert.equal(results.run.imageSize, 32);
  assert.equal(results.run.channels, 3);
  assert.equal(results.run.skippedInputs, 1);
  assert.deepEqual(results.classifiers.map((c) => [c.name, c.family]), [['cnn', 'imported (ONNX)'], ['cnn_ts', 'imported (TorchScript)']]);
  // Every accuracy is the share of evaluation images the imported model got right, counted from
  // the per-image predictions stored beside the evaluation; the cross matrix holds the same counts.
  const cross = results.crossEvaluation;
  assert.deepEqual(cross.rows, ['A_S', 'S2S-cnn', 'S2S-cnn_ts']);
  assert.deepEqual(cross.columns, ['cnn', 'cnn_ts']);
  const evaluation = status(runDir).jobs.find((j) => j.name === 'evaluate')!;
  const predictions = readPredictions(artifactDir(runDir, evaluation.key), EVALUATION_FILES);
  assert.equal(predictions.labels.length, results.run.evalSamples);
  const right = (top1: number[]) => top1.filter((p, i) => p === predictions.labels[i]).length / top1.length;
  results.classifiers.forEach((c, j) => {
    for (const a of [c.accuracy.original, c.accuracy.generic, c.accuracy.own]) assert.equal(a.top5, null, 'top-5 only above 5 classes');
    assert.equal(c.accuracy.original.top1, right(predictions.rows[ORIGINAL_ROW][c.name].top1), `${c.name} on the originals`);
    assert.equal(cross.original[j], c.accuracy.original.top1);
    cross.rows.forEach((row, i) => assert.equal(cross.top1[i][j], right(predictions.rows[row][c.name].top1), `${c.name} on ${row}`));
    assert.deepEqual([cross.top1[0][j], cross.top1[j + 1][j]], [c.accuracy.generic.top1, c.accuracy.own.top1], `${c.name}: on A_S and on its own S2SNet`);
    // Each prediction is one of the folder's classes.
    assert.ok(predictions.rows[ORIGINAL_ROW][c.name].top1.every((p) => Number.isInteger(p) && p >= 0 && p < CLASSES.length), `${c.name}: a prediction outside the classes`);
  });
  // Every figure is a file of the report and is embedded in report.html.
  const html = readFileSync(join(runDir, 'report', 'report.html'), 'utf8');
  assert.ok(results.figures.length >= 3);
  for (const f of results.figures) {
    const png = join(runDir, 'report', f.file);
    assert.ok(existsSync(png), f.file);
    assert.ok(html.includes(readFileSync(png).toString('base64')), `report.html embeds ${f.file}`);
  }

  const before = comparable(runDir);
  const again = run(file);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`0 job\\(s\\) ran, ${JOBS} reused`));
  const jobs = status(runDir).jobs;
  assert.deepEqual(jobs.map((j) => j.name).sort(), [...JOB_NAMES].sort());
  for (const j of jobs) assert.deepEqual([j.status, j.attempts], ['done', 1], `${j.name}: done on its first attempt`);
  assert.deepEqual(comparable(runDir), before);
  // An imported classifier is measured on the evaluation's originals, its accuracy there the report's.
  for (const c of results.classifiers) assert.equal(jobs.find((j) => j.name === `import[${c.name}]`)!.metrics.top1, c.accuracy.original.top1, `import[${c.name}]`);
  // Every job that reads images says its throughput; timed over its images' work alone, it is no
  // lower than the images over the job's whole time. The fine-tunes: 3 steps of 8.
  for (const j of jobs.filter((j) => /^(pretrain|import|finetune|reconstruct|evaluate)/.test(j.name))) {
    const rate = j.metrics.imagesPerS;
    assert.ok(typeof rate === 'number' && Number.isFinite(rate) && rate > 0, `${j.name}: imagesPerS ${rate}`);
    const images = j.name.startsWith('finetune') ? 24 : /^(reconstruct|evaluate|import)/.test(j.name) ? results.run.evalSamples : 0;
    assert.ok(rate >= images / j.durationS! * 0.99, `${j.name}: ${rate} img/s, below ${images} images in ${j.durationS} s`);
  }

  // Job keys hold a fingerprint of the folder's files: one more image invalidates everything.
  const catDir = join(images, CLASSES[0]);
  const firstImage = readdirSync(catDir)[0];
  copyFileSync(join(catDir, firstImage), join(catDir, `copy-of-${firstImage}`));
  const changed = run(file);
  assert.equal(changed.status, 0, changed.stderr);
  assert.match(changed.stdout, new RegExp(`${JOBS} job\\(s\\) ran, 0 reused`));
});
