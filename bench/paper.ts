// Paper-shape benchmark (GPU, or CPU with --device cpu) of the S2SNet decoder fine-tune step against PyTorch (bench/torch_paper_reference.py,
// same models, batch sizes and precisions). Rows:
//   toy            two-stage SegNet on 1x32x32, small CNN, batch 32, fp32
//   vgg16 resnet50 paper SegNet (VGG16 widths) on 3x224x224 + torchvision ONNX export, batch 16, fp32
//   *-bf16         the same (and alexnet) at batch 64 under bfloat16 autocast
// Ours runs each row three times: 'plain' (the step as written), 'fast' (train/speed.ts: channels_last,
// the frozen networks' BatchNorms folded: a fine-tune whose images' encodings exceed
// finetune.encodingCacheMiB) and 'cached' (fast, reading the frozen encoder's outputs from the
// run's shared encodings, as every fine-tune does when they fit: train/encoding-cache.ts). The forward pass
// (reconstruct, then classify; PyTorch: both in eval mode under no_grad) is the plain one as written
// for 'plain', and for 'fast' and 'cached' the one the tool runs: the reconstruction jobs' inference
// copy of the AE (nn/fuse.ts) and the evaluation's engine for the classifier (ONNX Runtime on the
// CPU when it agrees with the import: experiment/evaluation-forward.ts). Every row runs in its own
// process so that its GPU memory is its own.
//   node dist/bench/paper.js [--device cuda] [--rows toy,vgg16,...] [--steps 10] [--onnx-dir DIR]
//                          [--size N] [--batch N] [--no-reference] [--check] [--flat-memory STEPS] [--turns N]
// --check compares fine-tune loss curves of the speed options with the plain step on the device and
// pinned transfers with plain ones; --flat-memory runs the toy fine-tune through the training loop
// for STEPS steps and prints host RSS, live tensors and GPU memory at intervals.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocast, engineInfo, keep, manualSeed, memoryStats, noGrad, randint, randn, resolveDevice, synchronize, tidy, type Tensor } from '../src/engine/index.js';
import { Adam, Conv2d, Flatten, inferenceForward, Linear, MaxPool2d, ReLU, Sequential, type Module } from '../src/nn/index.js';
import { SegNet, SMALL_STAGES, VGG16_STAGES } from '../src/models/segnet.js';
import { buildClassifier } from '../src/models/classifiers.js';
import { loadOnnxClassifier } from '../src/import/onnx/index.js';
import { trainLoop } from '../src/train/loop.js';
import { finetuneLoss } from '../src/train/finetune.js';
import { finetuneStep } from './steps.js';
import { formatRatio, turnRatio } from './turns.js';
import { engineLine } from './engine-line.js';
import { DEFAULT_ONNX_DIR, ensureExports, paperReference, python } from './exports.js';
import { prepareForFinetune, toDeviceAsync, withSpeedOptions, type SpeedOptions } from '../src/train/speed.js';
import { evaluationForward } from '../src/experiment/evaluation-forward.js';

interface RowSpec {
  classifier: 'small-cnn' | 'vgg16' | 'resnet50' | 'alexnet';
  batch: number;
  autocast?: 'bfloat16';
}

// Same table as ROWS in bench/torch_paper_reference.py.
const ROWS: Record<string, RowSpec> = {
  toy: { classifier: 'small-cnn', batch: 32 },
  vgg16: { classifier: 'vgg16', batch: 16 },
  resnet50: { classifier: 'resnet50', batch: 16 },
  'vgg16-bf16': { classifier: 'vgg16', batch: 64, autocast: 'bfloat16' },
  'resnet50-bf16': { classifier: 'resnet50', batch: 64, autocast: 'bfloat16' },
  'alexnet-bf16': { classifier: 'alexnet', batch: 64, autocast: 'bfloat16' },
};

interface Args {
  device: string;
  rows: string[];
  steps: number;
  onnxDir: string;
  size: number;
  batch: number;
  reference: boolean;
  check: boolean;
  flatMemory: number;
  turns: number;
  child: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { device: 'cuda', rows: Object.keys(ROWS), steps: 10, onnxDir: DEFAULT_ONNX_DIR, size: 0, batch: 0, reference: true, check: false, flatMemory: 0, turns: 1, child: null };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${argv[i - 1]} needs a value`);
      return v;
    };
    const count = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) usage(`${argv[i - 1]} needs a non-negative integer`);
      return n;
    };
    switch (argv[i]) {
      case '--device': a.device = value(); break;
      case '--rows': a.rows = value().split(','); break;
      case '--steps': a.steps = count(); break;
      case '--onnx-dir': a.onnxDir = value(); break;
      case '--size': a.size = count(); break;
      case '--batch': a.batch = count(); break;
      case '--no-reference': a.reference = false; break;
      case '--check': a.check = true; break;
      case '--flat-memory': a.flatMemory = count(); break;
      case '--turns': a.turns = count(); break;
      case '--child': a.child = value(); break;
      default: usage(`unknown argument '${argv[i]}'`);
    }
  }
  const unknown = a.rows.filter((r) => !ROWS[r]);
  if (unknown.length) usage(`unknown row(s) ${unknown.join(', ')}; rows: ${Object.keys(ROWS).join(', ')}`);
  if (a.steps < 1) usage('--steps must be at least 1');
  if (a.turns < 1) usage('--turns must be at least 1');
  return a;
}

function usage(problem: string): never {
  console.error(`paper bench: ${problem}\nusage: node dist/bench/paper.js [--device cuda|cpu] [--rows ${Object.keys(ROWS).join(',')}] [--steps N] [--onnx-dir DIR] [--size N] [--batch N] [--no-reference] [--check] [--flat-memory STEPS] [--turns N]`);
  process.exit(2);
}

/** This process's GPU memory as nvidia-smi reports it (allocator cache and context), or null. */
function gpuProcessMiB(): number | null {
  try {
    const out = execFileSync('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 20_000 });
    const line = out.split('\n').find((l) => l.split(',')[0]?.trim() === String(process.pid));
    return line ? Number(line.split(',')[1]) : null;
  } catch {
    return null;
  }
}

function smallCnn(): Module {
  return new Sequential(
    new Conv2d(1, 32, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
    new Conv2d(32, 64, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
    new Flatten(), new Linear(64 * 8 * 8, 128), new ReLU(), new Linear(128, 10),
  );
}

interface Workload {
  ae: SegNet;
  classifier: Module;
  channels: number;
  size: number;
  classes: number;
}

async function workload(spec: RowSpec, a: Args, device: string): Promise<Workload> {
  manualSeed(0);
  if (spec.classifier === 'small-cnn') {
    return { ae: new SegNet({ inChannels: 1, stages: SMALL_STAGES }).to({ device }), classifier: smallCnn().to({ device }), channels: 1, size: a.size || 32, classes: 10 };
  }
  const ae = new SegNet({ inChannels: 3, stages: VGG16_STAGES }).to({ device });
  const classifier = await loadOnnxClassifier(join(a.onnxDir, `${spec.classifier}.onnx`), { device });
  return { ae, classifier, channels: 3, size: a.size || 224, classes: 1000 };
}

async function imagesPerSecond(batch: number, steps: number, fn: () => void | Promise<void>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  synchronize();
  const start = performance.now();
  for (let i = 0; i < steps; i++) await fn();
  synchronize();
  return (batch * steps) / ((performance.now() - start) / 1000);
}

/**
 * Reconstruct-then-classify without gradients. 'plain': both models in eval mode, as written.
 * Otherwise as the tool runs it: the AE as the reconstruction jobs load it, the classifier on the
 * engine the evaluation picks (the agreement check runs on this batch).
 */
async function forwardPass(w: Workload, variant: Variant, spec: RowSpec, a: Args, device: string, x: Tensor): Promise<{ run: () => Promise<void>; classifierEngine: string; close: () => Promise<void> }> {
  if (variant === 'plain') {
    w.ae.eval();
    return { run: async () => noGrad(() => tidy(() => void w.classifier.forward(w.ae.forward(x)))), classifierEngine: 'libtorch', close: async () => {} };
  }
  const channelsLast = device === 'cpu';
  const reconstruct = inferenceForward(w.ae, { channelsLast });
  if (spec.classifier === 'small-cnn') {
    const classify = inferenceForward(w.classifier, { channelsLast });
    return { run: async () => noGrad(() => tidy(() => void classify(reconstruct(x)))), classifierEngine: 'libtorch', close: async () => {} };
  }
  const entry = { name: spec.classifier, onnx: join(a.onnxDir, `${spec.classifier}.onnx`) };
  const labels = keep(randint(0, w.classes, [x.shape[0]], { device }));
  const classify = await evaluationForward(entry, w.classifier, { images: x, labels, batchSize: x.shape[0] }, device, (line) => console.error(line));
  const run = async () => {
    const images = noGrad(() => reconstruct(x));
    const logits = await classify.forward(images);
    images.dispose();
    logits.dispose();
  };
  const close = async () => {
    labels.dispose();
    await classify.close();
  };
  return { run, classifierEngine: classify.engine, close };
}

/**
 * plain: the step as written; fast: the fine-tune job's speed options, running the encoder;
 * cached: fast, reading each step's encoding from the run's shared encodings.
 */
const VARIANTS = ['plain', 'fast', 'cached'] as const;
type Variant = (typeof VARIANTS)[number];

/** Measures one row and variant in this process; prints one JSON line. */
async function runRow(row: string, variant: Variant, a: Args): Promise<void> {
  const spec = ROWS[row];
  const device = resolveDevice(a.device);
  const deviceType = device.startsWith('cuda') ? 'cuda' : 'cpu';
  const w = await workload(spec, a, device);
  const batch = a.batch || spec.batch;
  const speed: SpeedOptions = { autocast: spec.autocast, cudnnBenchmark: true, ...(variant === 'plain' ? {} : { channelsLast: true, foldFrozenBn: true }) };
  const b = { x: keep(randn([batch, w.channels, w.size, w.size], { device })), y: keep(randint(0, w.classes, [batch], { device })) };
  const train = await imagesPerSecond(batch, a.steps, finetuneStep(w.ae, w.classifier, speed, b.x, b.y, 1e-4, { cachedEncodings: variant === 'cached' }));
  const decoderParams = w.ae.decoder.parameterCount();
  const forward = await forwardPass(w, variant, spec, a, device, b.x);
  // autocast covers every libtorch call of forward.run: they all happen before its first await.
  const fwd = await imagesPerSecond(batch, a.steps, spec.autocast ? () => autocast(deviceType, spec.autocast!, forward.run) : forward.run);
  await forward.close();
  console.log(JSON.stringify({ engine: 's2snets', variant, row, batch, size: w.size, precision: spec.autocast ? 'bf16 autocast' : 'fp32', train_img_s: round(train), forward_img_s: round(fwd), classifier_forward: forward.classifierEngine, decoder_params: decoderParams, process_gpu_mib: deviceType === 'cuda' ? gpuProcessMiB() : null }));
}

// Three significant digits: at 224 px on a CPU a step takes seconds, so one decimal of img/s would decide the ratio.
const round = (x: number) => Number(x.toPrecision(3));

type Result = Record<string, string | number | null>;

function jsonLines(text: string): Result[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Result);
}

function runChild(row: string, variant: string, a: Args): Result[] {
  const args = [fileURLToPath(import.meta.url), '--child', `${row}:${variant}`, '--device', a.device, '--steps', String(a.steps), '--onnx-dir', a.onnxDir, '--size', String(a.size), '--batch', String(a.batch)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const results = jsonLines(r.stdout ?? '');
  if (r.status === 0 && results.length > 0) return results;
  process.stderr.write(r.stderr ?? '');
  const reason = (r.stderr ?? '').split('\n').filter((l) => /Error/.test(l)).pop() ?? `exit status ${r.status}`;
  return [{ engine: 's2snets', variant, row, error: reason.trim().slice(0, 200) }];
}

function runReference(a: Args): Result[] {
  // The same intra-op thread count as ours (PyTorch reads OMP_NUM_THREADS at start-up).
  const env = { ...process.env, OMP_NUM_THREADS: String(engineInfo().threads) };
  const r = spawnSync(python, [paperReference, 'bench', a.device, a.rows.join(','), String(a.steps), String(a.size), String(a.batch)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env });
  if (r.status !== 0) console.error(`paper bench: the PyTorch reference exited with ${r.status}`);
  return jsonLines(r.stdout ?? '');
}

/** Per row and variant, the turn with the median training rate (its forward rate goes with it). */
function medianTurn(turns: Result[][]): Result[] {
  if (turns.length === 0) return [];
  return turns[0].map((first) => {
    const same = turns.map((t) => t.find((r) => r.row === first.row && r.variant === first.variant)).filter((r): r is Result => !!r && typeof r.train_img_s === 'number');
    if (same.length === 0) return first;
    return [...same].sort((x, y) => (x.train_img_s as number) - (y.train_img_s as number))[Math.floor(same.length / 2)];
  });
}

/** Rates of the median turn; ratios taken within each turn, with their range over turns (bench/turns.ts). */
function printTable(ours: Result[], torch: Result[], oursTurns: Result[][], torchTurns: Result[][]): void {
  const header = ['row', 'batch', 'precision', 'ours', 'train img/s', 'forward img/s', 'GPU MiB', 'torch train', 'torch fwd', 'torch GPU MiB', 'train ratio', 'fwd ratio'];
  const lines = [header];
  for (const o of ours) {
    const t = torch.find((r) => r.row === o.row);
    if (o.error) {
      lines.push([String(o.row), '', '', String(o.variant), `error: ${o.error}`, '', '', '', '', '', '', '']);
      continue;
    }
    const rate = (r: Result | undefined, k: string) => (r && typeof r[k] === 'number' ? (r[k] as number) : undefined);
    const ratio = (k: string) =>
      formatRatio(
        turnRatio(
          oursTurns.map((turn) => rate(turn.find((r) => r.row === o.row && r.variant === o.variant), k)),
          torchTurns.map((turn) => rate(turn.find((r) => r.row === o.row), k)),
        ),
      );
    lines.push([o.row, o.batch, o.precision, o.variant, o.train_img_s, o.forward_img_s, o.process_gpu_mib ?? 'n/a', t?.train_img_s ?? t?.error ?? 'n/a', t?.forward_img_s ?? 'n/a', t?.process_gpu_mib ?? 'n/a', ratio('train_img_s'), ratio('forward_img_s')].map(String));
  }
  console.log(lines.map((l) => `| ${l.join(' | ')} |`).join('\n'));
  const mismatch = ours.filter((o) => { const t = torch.find((r) => r.row === o.row); return t && !o.error && t.decoder_params !== undefined && o.decoder_params !== t.decoder_params; });
  if (mismatch.length) console.log(`WARNING: decoder parameter counts differ from the reference for ${mismatch.map((o) => o.row).join(', ')}`);
}

/** Loss curves of the speed options against the plain step on the device (toy SegNet + zoo ResNet, 10 steps). */
async function check(device: string): Promise<void> {
  const deviceType = device.startsWith('cuda') ? 'cuda' : 'cpu';
  manualSeed(7);
  const images = keep(randn([16, 1, 32, 32]));
  const labels = keep(randint(0, 10, [16]));
  const transferred = toDeviceAsync({ x: images, y: labels }, device);
  const same = tidy(() => transferred.x.cpu().sub(images).abs().max().item() === 0 && transferred.y.cpu().ne(labels).sum().item() === 0);
  console.log(`check pinned non-blocking transfer equals the batch: ${same ? 'PASS' : 'FAIL'}`);
  const curve = async (speed: SpeedOptions) => {
    manualSeed(5);
    const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES }).to({ device });
    const classifier = buildClassifier('resnet', { channels: 1, size: 32, classes: 10 }).to({ device });
    noGrad(() => { for (let i = 0; i < 3; i++) tidy(() => void classifier.forward(images.to({ device }).mul(1.5).add(0.3))); });
    ae.encoder.freeze().eval();
    const encoder = prepareForFinetune(ae, classifier, speed);
    const r = await trainLoop({
      name: 'check', steps: 10, seed: 1, curveEvery: 1, optimizer: new Adam(ae.decoder.trainableParameters(), { lr: 1e-4 }),
      batch: () => toDeviceAsync({ x: images.slice(0, 0, 8), y: labels.slice(0, 0, 8) }, device),
      loss: withSpeedOptions(speed, deviceType, finetuneLoss(encoder, ae, classifier)), modules: { decoder: ae.decoder },
    });
    return r.curve.loss;
  };
  const plain = await curve({});
  const cases: [string, SpeedOptions, number][] = [
    ['foldFrozenBn', { foldFrozenBn: true }, 1e-4],
    ['channelsLast', { channelsLast: true }, 1e-3],
    ['autocast bfloat16 + all', { autocast: 'bfloat16', channelsLast: true, foldFrozenBn: true, cudnnBenchmark: true }, 5e-2],
  ];
  if (deviceType === 'cuda') cases.push(['autocast float16', { autocast: 'float16' }, 5e-2]);
  for (const [name, speed, tolerance] of cases) {
    const c = await curve(speed);
    const worst = Math.max(...c.map((v, i) => Math.abs(v - plain[i]) / Math.abs(plain[i])));
    console.log(`check ${name}: loss curve within ${worst.toExponential(2)} of the plain step (tolerance ${tolerance}): ${worst <= tolerance ? 'PASS' : 'FAIL'}`);
  }
}

/** The toy fine-tune through the training loop for many steps; memory must stay flat. */
async function flatMemory(device: string, steps: number): Promise<void> {
  const deviceType = device.startsWith('cuda') ? 'cuda' : 'cpu';
  manualSeed(3);
  const images = keep(randn([512, 1, 32, 32]));
  const labels = keep(randint(0, 10, [512]));
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES }).to({ device });
  const classifier = smallCnn().to({ device });
  const speed: SpeedOptions = { channelsLast: true, cudnnBenchmark: true };
  ae.encoder.freeze().eval();
  const encoder = prepareForFinetune(ae, classifier, speed);
  const every = Math.max(1, Math.floor(steps / 10));
  const samples: { step: number; rssMiB: number; gpuMiB: number | null; liveTensors: number }[] = [];
  const t0 = performance.now();
  await trainLoop({
    name: 'flat memory', steps, seed: 1, curveEvery: every,
    optimizer: new Adam(ae.decoder.trainableParameters(), { lr: 1e-4 }),
    batch: (step) => {
      const start = (step * 32) % 512;
      return toDeviceAsync({ x: images.slice(0, start, start + 32), y: labels.slice(0, start, start + 32) }, device);
    },
    loss: withSpeedOptions(speed, deviceType, finetuneLoss(encoder, ae, classifier)),
    modules: { decoder: ae.decoder },
    onProgress: (p) => {
      if (p.step % every !== 0 && p.step !== p.steps) return;
      const s = { step: p.step, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20), gpuMiB: deviceType === 'cuda' ? gpuProcessMiB() : null, liveTensors: memoryStats().liveTensors };
      samples.push(s);
      console.log(`flat-memory step ${s.step}/${steps} loss ${p.loss.toFixed(4)} host RSS ${s.rssMiB} MiB, GPU ${s.gpuMiB ?? 'n/a'} MiB, live tensors ${s.liveTensors}, ${((p.step * 32) / ((performance.now() - t0) / 1000)).toFixed(0)} img/s`);
    },
  });
  // The first interval includes warm-up (allocator caches, cuDNN plans); growth is judged after it.
  const [first, last] = [samples[Math.min(1, samples.length - 1)], samples[samples.length - 1]];
  const growth = { rssMiB: last.rssMiB - first.rssMiB, gpuMiB: last.gpuMiB !== null && first.gpuMiB !== null ? last.gpuMiB - first.gpuMiB : null, liveTensors: last.liveTensors - first.liveTensors };
  const flat = growth.rssMiB <= 64 && (growth.gpuMiB ?? 0) <= 64 && growth.liveTensors === 0;
  console.log(`flat-memory from step ${first.step} to ${last.step}: RSS ${growth.rssMiB >= 0 ? '+' : ''}${growth.rssMiB} MiB, GPU ${growth.gpuMiB ?? 'n/a'} MiB, live tensors ${growth.liveTensors >= 0 ? '+' : ''}${growth.liveTensors}: ${flat ? 'FLAT' : 'GROWING'}`);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child) {
    const [row, variant] = a.child.split(':');
    await runRow(row, variant as Variant, a);
    return;
  }
  const device = resolveDevice(a.device);
  const info = engineInfo();
  console.log(`s2snets paper-shape bench: libtorch ${info.torchVersion}, device ${device}${info.cuda ? `, cuDNN ${info.cudnnVersion ?? 'none'}, TF32 convolutions ${info.tf32.convolutions ? 'on' : 'off'}` : ''}, ${engineLine()}, ${a.steps} timed steps after 3 warm-up steps, median of ${a.turns} alternating turns`);
  ensureExports(a.onnxDir, [...new Set(a.rows.map((r) => ROWS[r].classifier).filter((c) => c !== 'small-cnn'))]);
  if (a.check) await check(device);
  // Engines take turns (ours, PyTorch, ours, ...) so that load drifting over the run does not decide the ratio.
  const oursTurns: Result[][] = [];
  const torchTurns: Result[][] = [];
  for (let turn = 0; turn < a.turns; turn++) {
    oursTurns.push(a.rows.flatMap((row) => VARIANTS.flatMap((variant) => runChild(row, variant, a))));
    if (a.reference) torchTurns.push(runReference(a));
  }
  const ours = medianTurn(oursTurns);
  const torch = medianTurn(torchTurns);
  for (const r of [...ours, ...torch]) console.log(JSON.stringify(r));
  printTable(ours, torch, oursTurns, torchTurns);
  if (a.flatMemory > 0) await flatMemory(device, a.flatMemory);
}

await main();
