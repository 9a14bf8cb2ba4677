// ONNX classifiers exported by PyTorch's own exporter (torchvision AlexNet, VGG16, VGG16-BN,
// ResNet-50, Inception v3, GoogLeNet, and an operator mix, at opsets 11-17): logits against
// ONNX Runtime and PyTorch, input gradients against PyTorch autograd and finite differences.
// Fixtures come from test/fixtures/export_onnx.py, cached under the OS temp folder by script hash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { engineInfo, noGrad, setWinograd, tensor, type Tensor } from '../../src/engine/index.js';
import { loadOnnxClassifier, type OnnxModule } from '../../src/import/onnx/index.js';
import { relativeError } from './relative-error.js';

interface FixtureCase {
  case: string;
  architecture: string;
  opset: number;
  dtype: 'float32' | 'float64';
  inputShape: number[];
  logitsShape: number[];
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const script = join(root, 'test', 'fixtures', 'export_onnx.py');
let fixtureDir = '';
let manifest: FixtureCase[] = [];
const table: string[] = [];

/** Exports the fixtures once per version of the export script (about 2 minutes of CPU). */
function ensureFixtures(): string {
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `s2snets-onnx-fixtures-${hash}`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  mkdirSync(partial, { recursive: true });
  const python = process.env.PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [script, partial], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`exporting ONNX fixtures with ${python} failed (status ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  }
  renameSync(partial, dir);
  return dir;
}

function readArray(c: FixtureCase, file: string): Float32Array | Float64Array {
  const b = readFileSync(join(fixtureDir, c.case, file));
  const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return c.dtype === 'float64' ? new Float64Array(buf) : new Float32Array(buf);
}

/** Logits and the input gradient of sum(logits * w), from our module. */
function logitsAndGradient(m: OnnxModule, x: Tensor, lossWeight: Tensor): { logits: number[]; grad: number[] } {
  const input = x.detach().requiresGrad_(true);
  const logits = m.forward(input);
  logits.mul(lossWeight).sum().backward();
  const grad = input.grad as Tensor;
  return { logits: logits.toArray(), grad: grad.toArray() };
}

before(() => {
  fixtureDir = ensureFixtures();
  manifest = JSON.parse(readFileSync(join(fixtureDir, 'manifest.json'), 'utf8')) as FixtureCase[];
});

after(() => {
  console.log(['case | vs ONNX Runtime | Winograd vs ONNX Runtime | vs PyTorch logits | input grad vs PyTorch', ...table].join('\n'));
});

test('torchvision and operator-mix exports: logits match ONNX Runtime (<= 1e-4) and PyTorch, input gradients match PyTorch autograd', async (t) => {
  for (const c of manifest) {
    const path = join(fixtureDir, c.case, 'model.onnx');
    const x = readArray(c, 'input.bin');
    // ONNX Runtime's CPU provider has no float64 Conv; float64 models are checked against PyTorch.
    let ref: Float32Array | null = null;
    if (c.dtype === 'float32') {
      const session = await ort.InferenceSession.create(path);
      ref = (await session.run({ input: new ort.Tensor(c.dtype, x, c.inputShape) })).logits.data as Float32Array;
      await session.release();
    }
    const m = await loadOnnxClassifier(path);
    // Gradients are compared with PyTorch's on the same (direct) convolution kernels: through
    // VGG16's max-pools the input gradient is discontinuous (moving the input by 1e-7 relative
    // swaps some window's two largest values and moves the gradient by 9e-3 of its largest
    // value), so the Winograd kernels' rounding would measure that tie, not the import. Their
    // logits are checked against ONNX Runtime below.
    const winograd = engineInfo().winograd.enabled;
    setWinograd(false);
    const { logits, grad } = logitsAndGradient(m, tensor(x, c.inputShape), tensor(readArray(c, 'loss_weight.bin'), c.logitsShape));
    setWinograd(winograd);
    const winogradLogits = winograd && ref ? noGrad(() => m.forward(tensor(x, c.inputShape)).toArray() as number[]) : null;
    m.dispose();
    const vsOrt = ref ? relativeError(logits, ref) : 0;
    const winogradVsOrt = winogradLogits && ref ? relativeError(winogradLogits, ref) : 0;
    const vsTorch = relativeError(logits, readArray(c, 'torch_logits.bin'));
    const gradVsTorch = relativeError(grad, readArray(c, 'torch_grad.bin'));
    table.push(`${c.case} | ${ref ? vsOrt.toExponential(2) : 'n/a (float64)'} | ${winogradLogits ? winogradVsOrt.toExponential(2) : 'n/a'} | ${vsTorch.toExponential(2)} | ${gradVsTorch.toExponential(2)}`);
    t.diagnostic(table[table.length - 1]);
    assert.ok(vsOrt <= 1e-4, `${c.case}: logits differ from ONNX Runtime by ${vsOrt}`);
    assert.ok(winogradVsOrt <= 1e-4, `${c.case}: logits on Winograd convolutions differ from ONNX Runtime by ${winogradVsOrt}`);
    assert.ok(vsTorch <= 1e-4, `${c.case}: logits differ from PyTorch by ${vsTorch}`);
    assert.ok(gradVsTorch <= 1e-3, `${c.case}: input gradient differs from PyTorch by ${gradVsTorch}`);
  }
});

test('float64 input gradient equals central finite differences (tiny smooth model)', async (t) => {
  const c = manifest.find((k) => k.architecture === 'tiny_smooth')!;
  const m = await loadOnnxClassifier(join(fixtureDir, c.case, 'model.onnx'));
  const x = readArray(c, 'input.bin') as Float64Array;
  const lossWeight = tensor(readArray(c, 'loss_weight.bin'), c.logitsShape);
  const loss = (v: Float64Array) => noGrad(() => m.forward(tensor(v, c.inputShape)).mul(lossWeight).sum().item());
  const { grad } = logitsAndGradient(m, tensor(x, c.inputShape), lossWeight);
  const eps = 1e-6;
  let worst = 0;
  for (let k = 0; k < x.length; k += 9) {
    const plus = Float64Array.from(x);
    const minus = Float64Array.from(x);
    plus[k] += eps;
    minus[k] -= eps;
    const numeric = (loss(plus) - loss(minus)) / (2 * eps);
    worst = Math.max(worst, Math.abs(numeric - grad[k]) / Math.max(...grad.map(Math.abs)));
  }
  t.diagnostic(`finite differences vs autograd, float64, ${Math.ceil(x.length / 9)} coordinates: max relative error ${worst.toExponential(2)}`);
  table.push(`tiny_smooth finite differences (float64) | | | | ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-7, `finite differences differ by ${worst}`);
});

test('metadata, frozen named weights, dynamic batch through Shape/Gather/Concat, and to(float64)', async () => {
  const resnet = manifest.find((k) => k.case === 'resnet50_opset11')!;
  const m = await loadOnnxClassifier(join(fixtureDir, resnet.case, 'model.onnx'));
  assert.deepEqual(m.info.staticInputShape, [2, 3, 64, 64]);
  assert.equal(m.info.numClasses, 1000);
  assert.equal(m.info.opset, 11);
  assert.equal(m.info.inputName, 'input');
  assert.equal(m.info.operators.Conv, 53);
  assert.equal(m.trainableParameters().length, 0);
  assert.ok(m.stateDict().has('fc.weight'));
  assert.equal(m.parameterCount(), m.namedParameters().reduce((s, [, p]) => s + p.numel, 0));
  m.dispose();

  const mix = manifest.find((k) => k.case === 'operator_mix_opset13')!;
  const path = join(fixtureDir, mix.case, 'model.onnx');
  const dyn = await loadOnnxClassifier(path);
  assert.deepEqual(dyn.info.inputShape, [null, 3, 12, 12]);
  assert.equal(dyn.info.staticInputShape, null);
  assert.equal(dyn.info.numClasses, 5);
  // Batch 3 differs from the export's batch 2: the reshape sizes must come from the input.
  const x = new Float32Array(3 * 3 * 12 * 12).map((_, i) => Math.sin(i));
  const session = await ort.InferenceSession.create(path);
  const ref = (await session.run({ input: new ort.Tensor('float32', x, [3, 3, 12, 12]) })).logits.data as Float32Array;
  await session.release();
  const ours = noGrad(() => dyn.forward(tensor(x, [3, 3, 12, 12])));
  assert.deepEqual(ours.shape, [3, 5]);
  assert.ok(relativeError(ours.toArray(), ref) <= 1e-4);
  dyn.to({ dtype: 'float64' });
  const wide = noGrad(() => dyn.forward(tensor(Float64Array.from(x), [3, 3, 12, 12])));
  assert.equal(wide.dtype, 'float64');
  assert.ok(relativeError(wide.toArray(), ref) <= 1e-4);
});
