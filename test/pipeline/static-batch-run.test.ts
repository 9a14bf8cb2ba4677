// A classifier exported exactly as most users export it (torch.randn(1, 3, ...), no dynamic axes)
// whose graph bakes the batch of 1 into a Reshape (ShuffleNetV2's channel shuffle): the pre-run
// check tries the run's real batch size, and `s2snets run` completes, running that classifier one
// image at a time and saying so once per import in the run's log; `reconstruct --run` then uses
// the run's autoencoders by name.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { noGrad, tensor } from '../../src/engine/index.js';
import { loadOnnxClassifier } from '../../src/import/onnx/index.js';
import { RunStore } from '../../src/runs/store.js';
import { validateResults } from '../../src/report/index.js';
import { fixtureDir } from '../import/pth-fixtures.js';
import { writeImageFolder } from './image-folder-fixture.js';

const fixtures = fixtureDir('make_pipeline_fixtures.py');
const skip = fixtures.missing ?? false;
const cli = resolve('dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 's2snets-static-batch-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a fixed-batch export runs a batch of 5 image by image, equal to running each image alone', { skip }, async () => {
  const m = await loadOnnxClassifier(join(fixtures.dir!, 'shufflenet_static.onnx'));
  assert.equal(m.info.fixedBatch, 1);
  const x = tensor(new Float32Array(5 * 3 * 32 * 32).map((_, i) => Math.sin(i * 0.37)), [5, 3, 32, 32]);
  const batch = noGrad(() => m.forward(x)).toArray();
  const single = [0, 1, 2, 3, 4].flatMap((i) => noGrad(() => m.forward(x.slice(0, i, i + 1))).toArray());
  assert.deepEqual(batch, single);
});

test('s2snets run with a ShuffleNetV2 exported at a fixed batch of 1 completes and logs the one-image-at-a-time mode once', { skip }, async () => {
  await writeImageFolder(join(tmp, 'images'), 3);
  const config = {
    dataset: { imageFolder: 'images', imageSize: 32 },
    // A second classifier: the evaluation's rank statistics need two.
    classifiers: [{ onnx: join(fixtures.dir!, 'shufflenet_static.onnx'), name: 'shufflenet' }, { onnx: join(fixtures.dir!, 'cnn.onnx'), name: 'cnn' }],
    quick: true,
    ae: { pretrain: { epochs: 1, batchSize: 8 } },
    finetune: { steps: 2, batchSize: 8 },
    eval: { samples: 30 },
    device: 'cpu',
    runDir: 'run',
  };
  const file = join(tmp, 'experiment.json');
  writeFileSync(file, JSON.stringify(config));
  const r = spawnSync(process.execPath, [cli, 'run', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const results = validateResults(JSON.parse(readFileSync(join(tmp, 'run', 'report', 'results.json'), 'utf8')));
  assert.deepEqual(results.crossEvaluation.rows, ['A_S', 'S2S-shufflenet', 'S2S-cnn']);
  const store = RunStore.openReadOnly(join(tmp, 'run'));
  const notes = store.events().filter((e) => /shufflenet_static\.onnx: exported with a fixed batch size of 1, so batches run through it one image at a time/.test(e.message));
  assert.equal(notes.length, 1, JSON.stringify(store.events().map((e) => e.message)));
  store.close();

  // The run's own autoencoders reconstruct images by name.
  const recon = (ae: string) => spawnSync(process.execPath, [cli, 'reconstruct', '--run', join(tmp, 'run'), '--ae', ae, join(tmp, 'images'), '--out', join(tmp, 'recon'), '--size', '32', '--device', 'cpu'], { encoding: 'utf8' });
  const ok = recon('S2S-shufflenet');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^9 images reconstructed into .*recon, 0 skipped\n$/);
  const unknown = recon('S2S-nope');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no autoencoder 'S2S-nope' in this run \(it has: (A_S|S2S-shufflenet|S2S-cnn)(, (A_S|S2S-shufflenet|S2S-cnn)){2}\)/);
});
