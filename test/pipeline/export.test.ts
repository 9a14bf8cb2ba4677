// `s2snets export`: a run's trained A_S written as ONNX runs on ONNX Runtime with our
// reconstruction (dynamic batch, odd sides); the authors' .pth written as ONNX gives PyTorch's
// own reconstruction on ONNX Runtime; the safetensors loads back through the importer to the same
// SegNet and into a PyTorch SegNet defined with the authors' names (test/fixtures/segnet.py) with
// the same output; a run that cannot give the autoencoder is refused with a typed error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { engineInfo, manualSeed, noGrad, randn, setWinograd, tensor, type Tensor } from '../../src/engine/index.js';
import { exportAutoencoder } from '../../src/commands/export.js';
import { loadSegNetFile } from '../../src/commands/reconstruct.js';
import { findRunAutoencoder } from '../../src/commands/run-autoencoders.js';
import type { SegNet } from '../../src/models/segnet.js';
import { pythonMissing } from '../nn/python.js';
import { fixtureDir, maxAbsDiff, readFloats } from '../import/pth-fixtures.js';
import { relativeError } from '../import/relative-error.js';

const cli = resolve('dist/src/cli/main.js');
const python = process.env.PYTHON ?? '/usr/bin/python3';
const tmp = mkdtempSync(join(tmpdir(), 's2snets-export-'));
const runDir = join(tmp, 'run');
let ours: SegNet;

function s2snets(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

before(() => {
  // A real trained A_S: the quick plan's pretraining on MNIST (the fine-tunes are left pending).
  const r = s2snets(['pretrain', '--quick', '--device', 'cpu', '--run-dir', runDir]);
  assert.equal(r.status, 0, r.stderr);
  ours = loadSegNetFile(findRunAutoencoder(runDir, 'A_S').file);
});

after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Our reconstruction on aten's convolutions, the kernels PyTorch runs. Winograd's (the default
 * where built) round differently, enough to flip a max-pool's choice between near-equal values
 * now and then: at VGG16 widths and 224 px, 89 of 301,056 outputs moved by up to 1.3 % of the
 * largest, against ONNX Runtime and against our own aten path alike.
 */
function reference(x: Tensor): Float32Array {
  const winograd = engineInfo().winograd.enabled;
  setWinograd(false);
  try {
    return noGrad(() => ours.forward(x)).toFloat32Array();
  } finally {
    setWinograd(winograd);
  }
}

/** The exported graph's output on ONNX Runtime. */
async function onOrt(session: ort.InferenceSession, x: Tensor): Promise<Float32Array> {
  const out = await session.run({ input: new ort.Tensor('float32', x.toFloat32Array(), x.shape) });
  assert.deepEqual(out.reconstruction.dims, x.shape);
  return out.reconstruction.data as Float32Array;
}

test('export --run --ae A_S to ONNX: ONNX Runtime gives our reconstruction for any batch and odd sides; the ONNX checker passes it', async (t) => {
  const file = join(tmp, 'a_s.onnx');
  const r = s2snets(['export', '--run', runDir, '--ae', 'A_S', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /a_s\.onnx: ONNX opset 13, .*\nautoencoder: A_S of .*run; SegNet stages .*\ninput 'input' \[batch, 1, height, width\] -> output 'reconstruction'/);
  assert.match(r.stdout, /normalized: \(x - mean \(0\.1307\)\) \/ std \(0\.3081\), trained at 32x32/);
  const session = await ort.InferenceSession.create(file);
  manualSeed(27);
  let worst = 0;
  for (const shape of [[3, 1, 32, 32], [1, 1, 32, 32], [2, 1, 29, 35]]) {
    const x = randn(shape);
    const ref = reference(x);
    const theirs = await onOrt(session, x);
    const err = relativeError(theirs, ref);
    const winograd = engineInfo().winograd.enabled ? `; on Winograd convolutions ${relativeError(theirs, noGrad(() => ours.forward(x)).toFloat32Array()).toExponential(2)}` : '';
    t.diagnostic(`[${shape}]: max |ONNX Runtime - ours| / max |ours| = ${err.toExponential(2)} (max abs ${maxAbsDiff(theirs, ref).toExponential(2)})${winograd}`);
    worst = Math.max(worst, err);
  }
  assert.ok(worst <= 1e-5, `ONNX Runtime differs from our reconstruction by ${worst} (relative)`);
  // onnx.checker, not onnx: Debian's ONNX test data alone makes an `onnx` namespace package without it.
  const noOnnx = pythonMissing(['onnx.checker']);
  if (noOnnx) t.diagnostic(`ONNX checker not run: ${noOnnx}`);
  else {
    const check = spawnSync(python, ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  }
});

const pth = fixtureDir('make_pth_fixtures.py');

test("export of the authors' SegNet .pth to ONNX: ONNX Runtime gives PyTorch's own reconstruction", { skip: pth.missing ?? false }, async (t) => {
  const file = join(tmp, 'segnet3.onnx');
  exportAutoencoder({ ae: join(pth.dir!, 'segnet3.pth'), out: file });
  const session = await ort.InferenceSession.create(file);
  const x = tensor(readFloats(join(pth.dir!, 'segnet3_input.bin')), [2, 3, 32, 32]);
  const err = relativeError(await onOrt(session, x), readFloats(join(pth.dir!, 'segnet3_recon.bin')));
  t.diagnostic(`segnet3.pth: max |ONNX Runtime - PyTorch| / max |PyTorch| = ${err.toExponential(2)}`);
  assert.ok(err <= 1e-5, `ONNX Runtime differs from PyTorch by ${err} (relative)`);
});

test("export to safetensors: the importer loads back the same SegNet, and PyTorch's SegNet with the authors' names loads it strictly with the same output", { skip: pythonMissing(['torch', 'numpy']) ?? false }, (t) => {
  const file = join(tmp, 'a_s.safetensors');
  const summary = exportAutoencoder({ run: runDir, ae: 'A_S', out: file });
  assert.equal(summary.format, 'safetensors');
  manualSeed(28);
  const x = randn([2, 1, 32, 32]);
  const ref = reference(x);
  const back = loadSegNetFile(file);
  const roundTrip = maxAbsDiff(noGrad(() => back.forward(x)).toFloat32Array(), noGrad(() => ours.forward(x)).toFloat32Array());
  const request = { weights: file, stages: ours.config.stages, in_channels: 1, input: Array.from(x.toFloat32Array()), shape: x.shape };
  const py = spawnSync(python, [resolve('test/fixtures/segnet.py')], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  assert.equal(py.status, 0, py.stderr);
  const { output, metadata } = JSON.parse(py.stdout) as { output: number[]; metadata: Record<string, string> };
  const err = relativeError(output, ref);
  t.diagnostic(`importer round trip: max |reloaded - ours| = ${roundTrip}; PyTorch SegNet from the safetensors: max |PyTorch - ours| / max |ours| = ${err.toExponential(2)} (max abs ${maxAbsDiff(Float32Array.from(output), ref).toExponential(2)})`);
  assert.equal(roundTrip, 0, 'the importer reads back other weights than were written');
  assert.ok(err <= 1e-5, `PyTorch differs from our reconstruction by ${err} (relative)`);
  assert.deepEqual([metadata['s2snets.autoencoder'], metadata['s2snets.mean'], metadata['s2snets.std'], metadata['s2snets.stages']], ['A_S', '[0.1307]', '[0.3081]', JSON.stringify(ours.config.stages)]);
});

test('export refuses with a typed error what it cannot write, and writes nothing', () => {
  const out = join(tmp, 'refused');
  const cases: [Parameters<typeof exportAutoencoder>[0], string, RegExp][] = [
    [{ run: join(tmp, 'nowhere'), ae: 'A_S', out: join(out, 'a.onnx') }, 'S2SNETS_RUN_UNREADABLE', /nowhere: no run here/],
    [{ run: runDir, ae: 'S2S-vgg', out: join(out, 'a.onnx') }, 'S2SNETS_UNKNOWN_AE', /no autoencoder 'S2S-vgg' in this run \(it has: A_S, S2S-lenet5 \(not started\), S2S-resnet \(not started\)\)/],
    [{ run: runDir, ae: 'S2S-lenet5', out: join(out, 'a.onnx') }, 'S2SNETS_AE_UNFINISHED', /autoencoder 'S2S-lenet5' is not trained yet \(not started\)/],
    [{ run: runDir, ae: 'A_S', out: join(out, 'a.bin') }, 'S2SNETS_EXPORT_FORMAT', /cannot tell the export format from the extension '\.bin'/],
    [{ ae: 'A_S', out: join(out, 'a.onnx') }, 'S2SNETS_EXPORT_NEEDS_RUN', /A_S names an autoencoder of a run: add --run/],
  ];
  for (const [options, expected, message] of cases) {
    assert.throws(() => exportAutoencoder(options), (e: Error & { code?: string }) => e.code === expected && message.test(e.message), expected);
  }
  assert.ok(!existsSync(out) || readdirSync(out).length === 0);
  const r = s2snets(['export', '--run', runDir, '--ae', 'S2S-vgg', join(out, 'a.onnx')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^s2snets: error S2SNETS_UNKNOWN_AE: .*no autoencoder 'S2S-vgg' in this run \(it has: .*\)\n$/);
});
