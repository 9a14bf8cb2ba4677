// `s2snets inspect` / inspectModelFile on files PyTorch wrote (ONNX with a fixed batch, TorchScript,
// a research checkpoint with an argparse.Namespace, a checkpoint whose state dict sits inside a
// custom object) and on ones written here (safetensors, an ONNX graph with unsupported operators).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tensor } from '../../src/engine/index.js';
import { inspectModelFile } from '../../src/import/inspect.js';
import { saveSafetensors } from '../../src/nn/index.js';
import { encodeModel } from './onnx-build.js';
import { fixtureDir } from './pth-fixtures.js';

const pipeline = fixtureDir('make_pipeline_fixtures.py');
const pth = fixtureDir('make_pth_fixtures.py');
const skip = pipeline.missing ?? pth.missing ?? false;
const tmp = mkdtempSync(join(tmpdir(), 's2snets-inspect-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ONNX: inputs, outputs, opset, operator counts and support, initializers, fixed-batch note', { skip }, () => {
  const r = inspectModelFile(join(pipeline.dir!, 'shufflenet_static.onnx'));
  assert.equal(r.format, 'onnx');
  assert.equal(r.opset, 13);
  assert.deepEqual(r.inputs.map((i) => i.shape), [[1, 3, 32, 32]]);
  assert.deepEqual(r.outputs.map((o) => o.shape), [[1, 3]]);
  assert.ok(r.operators.every((o) => o.supported) && r.operators.some((o) => o.op === 'Reshape' && o.nodes === 32));
  assert.equal(r.unsupported, null);
  assert.deepEqual(r.parameters.find((p) => p.name === 'fc.weight'), { name: 'fc.weight', dtype: 'float32', shape: [3, 1024] });
  assert.match(r.notes.join(' '), /fixed batch size 1/);
  assert.deepEqual(r.inputSize, [32, 32]);
  assert.match(r.notes.join(' '), /fixed input size 32x32 px: a run resizes its images to it/);

  const file = join(tmp, 'odd.onnx');
  writeFileSync(file, encodeModel({ opset: 17, nodes: [{ op: 'RoiAlign', inputs: ['x', 'x'], outputs: ['a'] }, { op: 'Relu', inputs: ['a'], outputs: ['y'] }], input: { name: 'x', dims: ['n', 3, 4, 4] }, output: { name: 'y' } }));
  const odd = inspectModelFile(file);
  assert.deepEqual(odd.inputs, [{ name: 'x', dtype: 'float32', shape: ['n', 3, 4, 4] }]);
  assert.deepEqual(odd.operators, [{ op: 'Relu', nodes: 1, supported: true }, { op: 'RoiAlign', nodes: 1, supported: false }]);
  assert.match(odd.unsupported!, /1 ONNX operator is not supported at opset 17: RoiAlign \(1 node\)/);
  assert.deepEqual(odd.inputSize, [4, 4]);
  // Symbolic height and width: the graph takes any size, and says so by giving none.
  const anySize = join(tmp, 'any-size.onnx');
  writeFileSync(anySize, encodeModel({ opset: 13, nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], input: { name: 'x', dims: ['n', 3, 'h', 'w'] }, output: { name: 'y' } }));
  assert.equal(inspectModelFile(anySize).inputSize, null);
});

test('checkpoints: tensors by key path, numpy arrays, skipped placeholders, where the state dict is or why it cannot be read', { skip }, () => {
  const r = inspectModelFile(join(pth.dir!, 'research_legacy.pth'));
  assert.equal(r.format, 'pth');
  assert.deepEqual(r.parameters.find((p) => p.name === 'state_dict.0.weight')?.shape, [4, 3, 3, 3]);
  assert.deepEqual(r.parameters.find((p) => p.name === 'confusion'), { name: 'confusion', dtype: 'float32', shape: [2, 3] });
  assert.deepEqual(r.skipped, [{ path: 'args', type: 'argparse.Namespace', tensors: 0 }]);
  assert.deepEqual(r.notes, ['state dict: 7 tensors']);
  const custom = inspectModelFile(join(pth.dir!, 'custom_zip.pth'));
  assert.deepEqual(custom.skipped, [{ path: 'trainer', type: '__main__.Trainer', tensors: 7 }]);
  assert.match(custom.notes[0], /no loadable state dict \(the tensors are inside an object of class __main__\.Trainer/);
});

test('TorchScript and safetensors: parameter names and shapes', { skip }, () => {
  const ts = inspectModelFile(join(pipeline.dir!, 'cnn.pt'));
  assert.equal(ts.format, 'torchscript');
  assert.deepEqual(ts.parameters.find((p) => p.name === 'conv1.weight')?.shape, [8, 3, 3, 3]);
  const file = join(tmp, 'w.safetensors');
  saveSafetensors(file, new Map([['a.weight', tensor([1, 2, 3, 4, 5, 6], [2, 3])]]), { note: 'hi' });
  const st = inspectModelFile(file);
  assert.deepEqual([st.format, st.parameters, st.parameterCount, st.notes], ['safetensors', [{ name: 'a.weight', dtype: 'float32', shape: [2, 3] }], 6, ['metadata: note=hi']]);
});

test('s2snets inspect prints the report; a malicious checkpoint exits 1 with one line', { skip }, () => {
  const cli = resolve('dist/src/cli/main.js');
  const ok = spawnSync(process.execPath, [cli, 'inspect', join(pth.dir!, 'research_zip.pth')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /research_zip\.pth: PyTorch checkpoint \(torch\.save\)\nparameters: 13 tensors/);
  assert.match(ok.stdout, /skipped \(kept as inert placeholders, never run\): args \(argparse\.Namespace\)/);
  const evil = spawnSync(process.execPath, [cli, 'inspect', join(pth.dir!, 'evil_legacy.pth')], { encoding: 'utf8' });
  assert.equal(evil.status, 1);
  assert.match(evil.stderr, /^s2snets: error S2SNETS_UNSAFE_PICKLE: refusing to call posix\.system .*\n$/);
});
