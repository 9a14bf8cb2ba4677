// Forward passes of imported torchvision classifiers (ONNX exports with random weights, 224 px):
// s2snets' ONNX import on libtorch against ONNX Runtime (OnnxInference, in this process) and
// PyTorch (bench/torch_paper_reference.py forward, the same models from the same seed), at
// batch 1 and 16. Each engine runs one warm-up pass, then `rounds` timed passes; the median
// counts. The engines run one after another per model, with the same thread count.
//   node dist/bench/imported.js [--models resnet50,vgg16,mobilenet_v2] [--batches 1,16] [--rounds 5] [--onnx-dir DIR]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { engineInfo, noGrad, randn, tidy } from '../src/engine/index.js';
import { loadOnnxClassifier, OnnxInference } from '../src/import/onnx/index.js';
import { engineLine } from './engine-line.js';
import { DEFAULT_ONNX_DIR, ensureExports, paperReference, python } from './exports.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const models = option('models', 'resnet50,vgg16,mobilenet_v2').split(',');
const batches = option('batches', '1,16').split(',').map(Number);
const rounds = Number(option('rounds', '5'));
const onnxDir = option('onnx-dir', DEFAULT_ONNX_DIR);
if (!batches.every((b) => Number.isInteger(b) && b > 0) || !Number.isInteger(rounds) || rounds < 1) {
  console.error('usage: node dist/bench/imported.js [--models a,b] [--batches 1,16] [--rounds N>=1] [--onnx-dir DIR]');
  process.exit(2);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function medianMs(pass: () => unknown | Promise<unknown>): Promise<number> {
  await pass();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await pass();
    times.push(performance.now() - start);
  }
  return median(times);
}

function torchTimes(threads: number): Map<string, number> {
  const r = spawnSync(python, [paperReference, 'forward', String(threads), models.join(','), batches.join(','), String(rounds)], { encoding: 'utf8' });
  const times = new Map<string, number>();
  for (const line of (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{'))) {
    const o = JSON.parse(line) as { model: string; batch: number; ms: number };
    times.set(`${o.model}@${o.batch}`, o.ms);
  }
  if (r.status !== 0) console.error(`PyTorch reference exited with ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}`);
  return times;
}

ensureExports(onnxDir, models);
const info = engineInfo();
console.log(`Imported classifiers, forward at 224 px, CPU, ${engineLine()}; median of ${rounds} passes after one warm-up\n`);
const rows: string[][] = [['model', 'batch', 's2snets ms', 'ONNX Runtime ms', 'PyTorch ms', 's2snets/ORT speed', 's2snets/PyTorch speed']];
const ours = new Map<string, number>();
const onnxRuntime = new Map<string, number>();
for (const model of models) {
  const file = join(onnxDir, `${model}.onnx`);
  const module = await loadOnnxClassifier(file);
  const session = await OnnxInference.open(file, { threads: info.threads });
  for (const batch of batches) {
    const x = randn([batch, 3, 224, 224]);
    ours.set(`${model}@${batch}`, await medianMs(() => noGrad(() => tidy(() => void module.forward(x)))));
    onnxRuntime.set(`${model}@${batch}`, await medianMs(async () => (await session.logits(x)).dispose()));
    x.dispose();
  }
  await session.close();
}
const torch = torchTimes(info.threads);
for (const model of models) {
  for (const batch of batches) {
    const key = `${model}@${batch}`;
    const [o, r, t] = [ours.get(key)!, onnxRuntime.get(key)!, torch.get(key)];
    rows.push([model, String(batch), o.toFixed(1), r.toFixed(1), t?.toFixed(1) ?? 'n/a', (r / o).toFixed(2), t ? (t / o).toFixed(2) : 'n/a']);
  }
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '));
