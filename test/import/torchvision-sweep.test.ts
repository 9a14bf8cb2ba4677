// Every torchvision 0.14 classification architecture, exported by PyTorch at opsets 11, 13 and 17
// with a static batch of 1 and with a dynamic batch axis, imported and run: logits and input
// gradients against PyTorch in float64. Run in float64 the import must agree up to the graph's
// float32 constants; run in float32 its tolerance is set per model from PyTorch's own float32
// error against float64 (how sensitive the model is to rounding), not one loose global bound.
// Default tier: one architecture per family; S2SNETS_SWEEP=all runs every variant, and
// S2SNETS_SWEEP=resnet18,vit_b_16 the ones named.
// Exports: test/fixtures/export_torchvision.py, cached per architecture under the OS temp folder,
// keyed by the script's hash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensor } from '../../src/engine/index.js';
import { loadOnnxClassifier } from '../../src/import/onnx/index.js';
import { pythonMissing } from '../nn/python.js';
import { relativeError } from './relative-error.js';

/**
 * The default tier: one per family, as small as the family comes. AlexNet, VGG, ResNet-50,
 * Inception v3 and GoogLeNet, whose exports are the slowest to write, are covered by default in
 * test/import/onnx.test.ts and here in the full tier.
 */
const REPRESENTATIVES = [
  'convnext_tiny', 'densenet121', 'efficientnet_b0', 'efficientnet_v2_s', 'maxvit_t', 'mnasnet0_5', 'mobilenet_v2',
  'mobilenet_v3_small', 'regnet_x_400mf', 'regnet_y_400mf', 'resnet18', 'shufflenet_v2_x0_5', 'squeezenet1_0', 'swin_t',
  'swin_v2_t', 'vit_b_32',
];
/**
 * The other variants (S2SNETS_SWEEP=all: all 80 architectures, about an hour on 2 cores; their
 * exports take 124 GB, each kept in the cache, so a smaller disk runs them a few at a time).
 */
const VARIANTS = [
  'alexnet', 'googlenet', 'inception_v3', 'vgg11', 'resnext50_32x4d', 'wide_resnet50_2',
  'convnext_small', 'convnext_base', 'convnext_large', 'densenet161', 'densenet169', 'densenet201',
  'efficientnet_b1', 'efficientnet_b2', 'efficientnet_b3', 'efficientnet_b4', 'efficientnet_b5', 'efficientnet_b6', 'efficientnet_b7',
  'efficientnet_v2_m', 'efficientnet_v2_l', 'mnasnet0_75', 'mnasnet1_0', 'mnasnet1_3', 'mobilenet_v3_large',
  'regnet_y_800mf', 'regnet_y_1_6gf', 'regnet_y_3_2gf', 'regnet_y_8gf', 'regnet_y_16gf', 'regnet_y_32gf', 'regnet_y_128gf',
  'regnet_x_800mf', 'regnet_x_1_6gf', 'regnet_x_3_2gf', 'regnet_x_8gf', 'regnet_x_16gf', 'regnet_x_32gf',
  'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnext101_32x8d', 'resnext101_64x4d', 'wide_resnet101_2',
  'shufflenet_v2_x1_0', 'shufflenet_v2_x1_5', 'shufflenet_v2_x2_0', 'squeezenet1_1',
  'vgg11_bn', 'vgg13', 'vgg13_bn', 'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn',
  'vit_b_16', 'vit_l_16', 'vit_l_32', 'vit_h_14', 'swin_s', 'swin_b', 'swin_v2_s', 'swin_v2_b',
];
/** Architectures PyTorch 1.13's exporter cannot write (aten::zero; einsum before opset 12), by opset. */
const EXPORTER_REFUSES: [string, number[]][] = [['swin_v2_', [11, 13, 17]], ['maxvit_', [11]]];
const CASES = ['11_static', '11_dynamic', '13_static', '13_dynamic', '17_static', '17_dynamic'];
/** Our float32 error may exceed PyTorch's own float32 error by this factor (the graph's op order differs from the module's). */
const SENSITIVITY_FACTOR = 10;
/** ...plus this absolute share of the largest value: a few float32 ulps, for models PyTorch happens to round luckily. */
const FLOOR = 2e-6;
/**
 * Run in float64, the import must compute what PyTorch computes in float64 up to the graph's own
 * float32 parts: the input file is float32, and the exporter stores constants such as
 * HardSigmoid's 1/6 or attention's 1/sqrt(d) as float32 (relative error 2^-24 each).
 */
const FLOAT64_TOLERANCE = 1e-6;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const script = join(root, 'test', 'fixtures', 'export_torchvision.py');
const python = process.env.PYTHON ?? '/usr/bin/python3';
const tier = process.env.S2SNETS_SWEEP ?? '';
const architectures = tier === 'all' ? [...REPRESENTATIVES, ...VARIANTS] : tier ? tier.split(',') : REPRESENTATIVES;
const rows: string[] = [];

/** The cache folder holding every architecture's exports, exporting the missing ones first. */
function exports(archs: string[]): string {
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 's2snets-fixtures', `torchvision-${hash}`);
  const missing = archs.filter((a) => !existsSync(join(dir, a, 'meta.json')));
  if (missing.length === 0) return dir;
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, '.work-'));
  try {
    const r = spawnSync(python, [script, work, ...missing], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
    if (r.status !== 0) throw new Error(`export_torchvision.py failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    for (const arch of readdirSync(work)) {
      // Another test process may have exported the same architecture meanwhile: keep theirs.
      if (!existsSync(join(dir, arch, 'meta.json'))) renameSync(join(work, arch), join(dir, arch));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

function floats(path: string, Kind: Float32ArrayConstructor | Float64ArrayConstructor): Float32Array | Float64Array {
  const b = readFileSync(path);
  return new Kind(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

after(() => {
  if (rows.length) console.log(['architecture | opset | batch | loads | f32 logits err (PyTorch f32) | f32 input-grad err (PyTorch f32) | f64 logits err | f64 input-grad err', ...rows].join('\n'));
});

const skip = pythonMissing(['torch', 'torchvision']);
test(`torchvision ${tier || 'one per family'}: ${architectures.length} architectures x opsets 11/13/17 x static/dynamic batch import and match PyTorch float64`, { skip: skip ?? false }, async (t) => {
  const dir = exports(architectures);
  for (const arch of architectures) {
    const at = (f: string) => join(dir, arch, f);
    const meta = JSON.parse(readFileSync(at('meta.json'), 'utf8')) as { inputShape: number[]; logitsShape: number[] };
    const refusedByPyTorch = JSON.parse(readFileSync(at('export_errors.json'), 'utf8')) as Record<string, string>;
    const x = floats(at('input.bin'), Float32Array);
    const w = floats(at('loss_weight.bin'), Float32Array);
    const [logits32, grad32, logits32Single, grad32Single, logits64, grad64] = [
      floats(at('logits32.bin'), Float32Array), floats(at('grad32.bin'), Float32Array),
      floats(at('logits32_single.bin'), Float32Array), floats(at('grad32_single.bin'), Float32Array),
      floats(at('logits64.bin'), Float64Array), floats(at('grad64.bin'), Float64Array),
    ];
    for (const c of CASES) {
      const [opset, kind] = c.split('_');
      if (refusedByPyTorch[c] !== undefined) {
        // Nothing to import: PyTorch 1.13 itself cannot write this graph. Only the known cases may.
        assert.ok(EXPORTER_REFUSES.some(([prefix, opsets]) => arch.startsWith(prefix) && opsets.includes(Number(c.split('_')[0]))), `${arch} ${c}: PyTorch's exporter refused it: ${refusedByPyTorch[c]}`);
        rows.push(`${arch} | ${c.replace('_', ' | ')} | not exportable by PyTorch: ${refusedByPyTorch[c].slice(0, 90)}`);
        continue;
      }
      // A static export has batch 1: it is checked on the first image (images are independent in eval mode).
      const batch = kind === 'static' ? 1 : meta.inputShape[0];
      const inputShape = [batch, ...meta.inputShape.slice(1)];
      const perImage = (a: Float32Array | Float64Array, shape: number[]) => a.subarray(0, (a.length / shape[0]) * batch);
      const model = await loadOnnxClassifier(at(join(c, 'model.onnx')));
      const lossWeight = perImage(w, meta.logitsShape);
      const run = (K: Float32ArrayConstructor | Float64ArrayConstructor) => {
        const input = tensor(K.from(perImage(x, meta.inputShape)), inputShape).requiresGrad_(true);
        const logits = model.forward(input);
        logits.mul(tensor(K.from(lossWeight), [batch, meta.logitsShape[1]])).sum().backward();
        return { logits: logits.toArray(), grad: input.grad!.toArray() };
      };
      const f32 = run(Float32Array);
      model.to({ dtype: 'float64' });
      const f64 = run(Float64Array);
      model.dispose();
      const refLogits = perImage(logits64, meta.logitsShape);
      const refGrad = perImage(grad64, meta.inputShape);
      const err = {
        logits32: relativeError(f32.logits, refLogits),
        grad32: relativeError(f32.grad, refGrad),
        // For the first image alone PyTorch has two float32 results (its batch-1 and batch-2 runs
        // block the work differently); the import may round like either, so the larger error counts.
        torchLogits32: Math.max(relativeError(perImage(logits32, meta.logitsShape), refLogits), kind === 'static' ? relativeError(logits32Single, refLogits) : 0),
        torchGrad32: Math.max(relativeError(perImage(grad32, meta.inputShape), refGrad), kind === 'static' ? relativeError(grad32Single, refGrad) : 0),
        logits64: relativeError(f64.logits, refLogits),
        grad64: relativeError(f64.grad, refGrad),
      };
      const e = (v: number) => v.toExponential(2);
      const row = `${arch} | ${opset} | ${kind === 'static' ? 'static 1' : `dynamic (${batch})`} | yes | ${e(err.logits32)} (${e(err.torchLogits32)}) | ${e(err.grad32)} (${e(err.torchGrad32)}) | ${e(err.logits64)} | ${e(err.grad64)}`;
      rows.push(row);
      t.diagnostic(row);
      assert.ok(err.logits64 <= FLOAT64_TOLERANCE && err.grad64 <= FLOAT64_TOLERANCE, `${arch} ${c}: in float64, logits differ from PyTorch by ${err.logits64} and input gradients by ${err.grad64}`);
      assert.ok(err.logits32 <= SENSITIVITY_FACTOR * err.torchLogits32 + FLOOR, `${arch} ${c}: float32 logits error ${err.logits32}, PyTorch float32's own ${err.torchLogits32}`);
      assert.ok(err.grad32 <= SENSITIVITY_FACTOR * err.torchGrad32 + FLOOR, `${arch} ${c}: float32 input-gradient error ${err.grad32}, PyTorch float32's own ${err.torchGrad32}`);
    }
  }
});
