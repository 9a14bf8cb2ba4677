// TorchScript classifiers (scripted and traced by PyTorch): forward and input gradients match
// PyTorch's; freeze() stops weight gradients; eval()/train() reach the script module; errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, tensor } from '../../src/engine/index.js';
import { TorchScriptError, loadTorchScriptClassifier } from '../../src/import/torchscript.js';
import { PthError, loadPth } from '../../src/import/pth.js';
import { fixtureDir, maxAbsDiff, readFloats } from './pth-fixtures.js';

const fixtures = fixtureDir('make_torchscript_fixtures.py');
const skip = fixtures.missing ?? false;
const dir = fixtures.dir ?? '';
const manifest: { input: number[]; logits: number[]; parameters: string[] } = skip ? { input: [], logits: [], parameters: [] } : JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

for (const file of ['scripted.pt', 'traced.pt']) {
  test(`${file}: forward and input gradient match PyTorch; frozen weights get no gradient`, { skip }, (t) => {
    const model = loadTorchScriptClassifier(join(dir, file));
    assert.equal(model.training, false, 'a loaded classifier starts in eval mode');
    assert.deepEqual(model.namedParameters().map(([n]) => n), manifest.parameters);
    model.freeze();
    assert.ok(model.parameters().every((p) => !p.requiresGrad));

    const x = tensor(readFloats(join(dir, 'input.bin')), manifest.input).requiresGrad_();
    const w = tensor(readFloats(join(dir, 'weight.bin')), manifest.logits);
    const logits = model.forward(x);
    assert.deepEqual(logits.shape, manifest.logits);
    const forwardDiff = maxAbsDiff(logits.toFloat32Array(), readFloats(join(dir, 'logits.bin')));
    logits.mul(w).sum().backward();
    const gradDiff = maxAbsDiff(x.grad!.toFloat32Array(), readFloats(join(dir, 'input_grad.bin')));
    t.diagnostic(`${file}: max abs diff logits ${forwardDiff.toExponential(2)}, input gradient ${gradDiff.toExponential(2)}`);
    assert.ok(forwardDiff <= 1e-5, `logits differ by ${forwardDiff}`);
    assert.ok(gradDiff <= 1e-5, `input gradients differ by ${gradDiff}`);
    for (const [name, p] of model.namedParameters()) assert.equal(p.grad, null, `${name} got a gradient while frozen`);
  });
}

test('train()/eval() switch the script module (BatchNorm uses and updates batch statistics in training)', { skip }, () => {
  const model = loadTorchScriptClassifier(join(dir, 'scripted.pt'));
  const x = tensor(readFloats(join(dir, 'input.bin')), manifest.input);
  const runningMean = () => new Map(model.namedBuffers()).get('bn1.running_mean')!.toFloat32Array();
  const statsBefore = runningMean();
  const evalOut = noGrad(() => model.forward(x)).toFloat32Array();
  assert.deepEqual(runningMean(), statsBefore, 'eval mode updated running statistics');
  model.train();
  const trainOut = noGrad(() => model.forward(x)).toFloat32Array();
  assert.ok(maxAbsDiff(evalOut, trainOut) > 1e-3, 'training mode gave the eval-mode result');
  assert.ok(maxAbsDiff(runningMean(), statsBefore) > 0, 'training mode did not update the running statistics our buffers see');
  model.eval();
  const a = noGrad(() => model.forward(x)).toFloat32Array();
  assert.deepEqual(noGrad(() => model.forward(x)).toFloat32Array(), a, 'eval mode is not deterministic');
  // Unfrozen, the weights do get gradients.
  model.forward(x).sum().backward();
  assert.ok(model.parameters().every((p) => p.grad !== null));
});

test('bad files and bad inputs give one-line TorchScriptErrors naming the file', { skip }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 's2snets-torchscript-'));
  const junk = join(scratch, 'junk.pt');
  writeFileSync(junk, 'not a model');
  const oneLine = (pattern: RegExp) => (e: Error) => e instanceof TorchScriptError && !e.message.includes('\n') && pattern.test(e.message);
  assert.throws(() => loadTorchScriptClassifier(junk), oneLine(/junk\.pt: not a loadable TorchScript module/));
  assert.throws(() => loadTorchScriptClassifier(join(scratch, 'absent.pt')), oneLine(/absent\.pt: file not found/));
  const model = loadTorchScriptClassifier(join(dir, 'traced.pt'));
  assert.throws(() => model.forward(tensor(new Float32Array(10), [1, 10])), oneLine(/traced\.pt: forward on input \[1,10\] float32 failed: /));
  assert.throws(() => model.to({ dtype: 'float64' }), TorchScriptError);
  // A TorchScript archive is not a torch.save checkpoint.
  assert.throws(() => loadPth(join(dir, 'scripted.pt')), (e: Error) => e instanceof PthError && /TorchScript archive/.test(e.message));
});
