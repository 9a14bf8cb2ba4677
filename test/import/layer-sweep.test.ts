// Small classifiers built from layers beyond torchvision's (GroupNorm, LayerNorm2d, PixelShuffle/
// Unshuffle, PReLU, ELU/SELU/CELU, GELU, Mish, Hardtanh, squeeze-excitation, attention pooling,
// ConvTranspose with InstanceNorm, reductions and indexing, a grid-sample spatial transformer),
// exported by PyTorch at opsets 13, 17 and 18 in float64, imported and run: logits and input
// gradients against PyTorch's float64 autograd. The graph holds the reference's float64 weights,
// so the import must agree up to the graph's float32 attributes. PyTorch 1.13 writes no opset 18, and GridSample
// only from opset 16: those exports are listed as refused by PyTorch, and only those may be.
// Exports: test/fixtures/export_layer_sweep.py, cached under the OS temp folder by script hash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensor } from '../../src/engine/index.js';
import { loadOnnxClassifier } from '../../src/import/onnx/index.js';
import { pythonMissing } from '../nn/python.js';
import { relativeError } from './relative-error.js';

const MODELS = [
  'groupnorm_pixelshuffle', 'layernorm2d_gelu', 'prelu_elu_se', 'unshuffle_mish_hardtanh', 'attention_pool',
  'convtranspose_instancenorm', 'reductions_indexing', 'gridsample_tril',
];
const OPSETS = [13, 17, 18];
/** Exports PyTorch 1.13 cannot write: [model prefix ('' for all), opsets]. */
const EXPORTER_REFUSES: [string, number[]][] = [['', [18]], ['gridsample_', [13]]];
/** Operators added for these layers that the exported graphs must contain (so their gradients are checked here). */
const COVERED = [
  'PRelu', 'Elu', 'Selu', 'Celu', 'Softplus', 'InstanceNormalization', 'DepthToSpace', 'ConvTranspose', 'GridSample', 'Trilu',
  'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceLogSumExp', 'Max', 'Min', 'CumSum', 'GatherElements', 'Tile', 'TopK', 'Sin', 'Cos',
];
/**
 * Weights and data are float64 end to end, but ONNX stores float attributes as float32 (ELU's
 * alpha 0.7, SELU's constants): relative error 2^-24 each, as in the torchvision sweep.
 */
const TOLERANCE = 1e-6;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const script = join(root, 'test', 'fixtures', 'export_layer_sweep.py');
const python = process.env.PYTHON ?? '/usr/bin/python3';
const rows: string[] = [];

/** The cache folder with every model's exports, exporting them first when missing. */
function exports(): string {
  // The script imports helpers from export_torchvision.py: both make the cache key.
  const hash = createHash('sha256').update(readFileSync(script)).update(readFileSync(join(dirname(script), 'export_torchvision.py'))).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 's2snets-fixtures', `layer-sweep-${hash}`);
  if (MODELS.every((m) => existsSync(join(dir, m, 'meta.json')))) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  const work = mkdtempSync(`${dir}.work-`);
  try {
    const r = spawnSync(python, [script, work], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    if (r.status !== 0) throw new Error(`export_layer_sweep.py failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    // Another test process may have exported meanwhile: keep theirs.
    if (!existsSync(dir)) renameSync(work, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

function float64s(path: string): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

after(() => {
  if (rows.length) console.log(['model | opset | operators | logits rel. err | input-grad rel. err', ...rows].join('\n'));
});

const skip = pythonMissing(['torch']);
test(`${MODELS.length} classifiers from non-torchvision layers x opsets 13/17/18 import and match PyTorch float64, logits and input gradients`, { skip: skip ?? false }, async (t) => {
  const dir = exports();
  const seen = new Set<string>();
  for (const name of MODELS) {
    const at = (f: string) => join(dir, name, f);
    const meta = JSON.parse(readFileSync(at('meta.json'), 'utf8')) as { inputShape: number[]; logitsShape: number[] };
    const refused = JSON.parse(readFileSync(at('export_errors.json'), 'utf8')) as Record<string, string>;
    for (const opset of OPSETS) {
      if (refused[opset] !== undefined) {
        assert.ok(EXPORTER_REFUSES.some(([prefix, opsets]) => name.startsWith(prefix) && opsets.includes(opset)), `${name} opset ${opset}: PyTorch's exporter refused it: ${refused[opset]}`);
        rows.push(`${name} | ${opset} | not exportable by PyTorch 1.13: ${refused[opset].slice(0, 80)}`);
        continue;
      }
      const model = await loadOnnxClassifier(at(join(String(opset), 'model.onnx')));
      const input = tensor(float64s(at('input.bin')), meta.inputShape).requiresGrad_(true);
      const logits = model.forward(input);
      logits.mul(tensor(float64s(at('loss_weight.bin')), meta.logitsShape)).sum().backward();
      const logitsErr = relativeError(logits.toArray(), float64s(at('logits.bin')));
      const gradErr = relativeError(input.grad!.toArray(), float64s(at('grad.bin')));
      const operators = Object.keys(model.info.operators).sort();
      operators.forEach((op) => seen.add(op));
      model.dispose();
      const row = `${name} | ${opset} | ${operators.join(' ')} | ${logitsErr.toExponential(2)} | ${gradErr.toExponential(2)}`;
      rows.push(row);
      t.diagnostic(row);
      assert.ok(logitsErr <= TOLERANCE && gradErr <= TOLERANCE, `${name} opset ${opset}: logits differ from PyTorch by ${logitsErr}, input gradients by ${gradErr}`);
    }
  }
  assert.deepEqual(COVERED.filter((op) => !seen.has(op)), [], 'operators the sweep should exercise but no exported graph contains');
});

