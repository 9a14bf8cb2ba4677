// Data at scale, measured. Four parts:
//  loader:  a generated ImageNet-layout folder of JPEGs (256-500 px sides, 10 classes) read two
//           epochs at a time (the second timed) through the training view (RandomResizedCrop 224
//           + flip) and the evaluation view (resize 256, centre crop 224) into normalized float
//           batches, by s2snets' streamed split (the fine-tunes' own sampler: batches read ahead,
//           decoded on libuv's thread pool) and by torchvision's ImageFolder + DataLoader with as
//           many worker processes as cores (bench/torch_data_reference.py), taking turns; images
//           per second and their ratio.
//  memory:  `s2snets run` (quick settings, 32 px, one zoo classifier, a short fine-tune) over
//           generated folders of 10,000 and 200,000 small images: the peak RSS of any of its
//           processes (GNU time's maximum resident set size), which must not grow with the folder.
//  finetune: the fine-tune job's step at the paper's shape (VGG16-width SegNet, 224 px training
//           view, a torchvision ResNet-50 ONNX export with random weights; the job's fine-tune code,
//           speed options and sampler) fed from disk (a streamed split of generated JPEGs, read
//           ahead) and from memory (the same images decoded once), taking turns; their img/s ratio.
//  paper run (--paper-run N): `s2snets run` at the paper's shape over a generated ImageNet-layout
//           folder of N JPEGs (1,000 classes, 224-300 px sides): VGG16-width SegNet, torchvision
//           ResNet-50 at 224 px and Inception v3 at 299 px (ONNX, random weights), short pretraining
//           and fine-tunes, a bounded evaluation set; each job's time and img/s, and the peak RSS.
//   node dist/bench/data.js [--images 2000 (0: no loader part)] [--turns 3] [--batch 64] [--memory 10000,200000 ('': none)]
//                           [--finetune-steps 3 (0: no fine-tune part)] [--finetune-batch 8] [--paper-run 0 (N images)]
//                           [--paper-eval 200] [--onnx-dir DIR] [--dir DIR]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { IMAGENET_MEAN, IMAGENET_STD, indexImageFolder, memorySplit, readWhole, Rng, streamedSplit, type ImageSplit, type StreamView } from '../src/data/index.js';
import { manualSeed } from '../src/engine/index.js';
import { loadOnnxClassifier } from '../src/import/onnx/index.js';
import { SegNet, VGG16_STAGES } from '../src/models/segnet.js';
import type { Module } from '../src/nn/index.js';
import { defaultPlan } from '../src/experiment/plan.js';
import { finetuneDecoder } from '../src/train/finetune.js';
import { splitBatches } from '../src/train/sampler.js';
import { status } from '../src/scheduler/runner.js';
import { engineLine } from './engine-line.js';
import { formatRatio, turnRatio } from './turns.js';
import { DEFAULT_ONNX_DIR, ensureExports, python } from './exports.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const images = Number(option('images', '2000'));
const turns = Number(option('turns', '3'));
const batch = Number(option('batch', '64'));
// --memory '' skips the memory part.
const memorySizes = (process.argv.includes('--memory') ? process.argv[process.argv.indexOf('--memory') + 1] ?? '' : '10000,200000').split(',').filter(Boolean).map(Number);
const dir = option('dir', join(tmpdir(), 's2snets-bench-data'));
const finetuneSteps = Number(option('finetune-steps', '3'));
const finetuneBatch = Number(option('finetune-batch', '8'));
const onnxDir = option('onnx-dir', DEFAULT_ONNX_DIR);
const paperImages = Number(option('paper-run', '0'));
const paperEval = Number(option('paper-eval', '200'));
// Untimed fine-tune steps at the start of every turn: the allocator's and oneDNN's caches, the first batch read cold.
const FINETUNE_WARM_UP = 1;
const workers = availableParallelism();
const here = dirname(fileURLToPath(import.meta.url));
const reference = join(here, '..', '..', 'bench', 'torch_data_reference.py');
const cli = join(here, '..', 'src', 'cli', 'main.js');

/** Writes `count` JPEGs into root/class-k/ (k < classes; sides drawn in [minSide, maxSide]), once; returns root. */
async function generateFolder(root: string, count: number, minSide: number, maxSide: number, classes = 10): Promise<string> {
  if (existsSync(join(root, 'complete'))) return root;
  const rng = new Rng(count);
  console.error(`writing ${count} JPEGs to ${root} (once)...`);
  let next = 0;
  const one = async () => {
    while (next < count) {
      const i = next++;
      if (i > 0 && i % 10_000 === 0) console.error(`  ${i} of ${count} written`);
      const [w, h] = [minSide + rng.int(maxSide - minSide + 1), minSide + rng.int(maxSide - minSide + 1)];
      const folder = join(root, `class-${i % classes}`);
      mkdirSync(folder, { recursive: true });
      // Smoothed noise compresses like a photograph (tens of kB at these sizes), unlike flat colour.
      await sharp({ create: { width: w, height: h, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 40 + 20 * (i % 10), sigma: 60 } } })
        .blur(1.2)
        .jpeg({ quality: 85 })
        .toFile(join(folder, `${i}.jpg`));
    }
  };
  await Promise.all(Array.from({ length: 2 * workers }, one));
  writeFileSync(join(root, 'complete'), '');
  return root;
}

/**
 * Two epochs of the split through the fine-tunes' sampler (normalized float batches, as a CPU
 * step gets them); images per second of the second. The first warms caches and allocators: after
 * the reference's processes ran, a first epoch of 600 images ran at half the second's rate (s12).
 */
async function oursRate(split: ImageSplit): Promise<number> {
  const batches = splitBatches(split, { batchSize: batch, seed: 1 });
  const steps = 2 * batches.stepsPerEpoch;
  let start = 0;
  for (let step = 0; step < steps; step++) {
    if (step === batches.stepsPerEpoch) start = performance.now();
    await batches.ready(step, steps);
    const b = batches.batch(step);
    b.x.dispose();
    b.y.dispose();
  }
  return (batches.stepsPerEpoch * batch) / ((performance.now() - start) / 1000);
}

/** The second of two epochs through torchvision's DataLoader; images per second (undefined when PyTorch is missing). */
function torchRate(root: string, view: StreamView['kind']): number | undefined {
  const r = spawnSync(python, [reference, root, String(workers), String(batch), view, '224', '256'], { encoding: 'utf8' });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) {
    console.error(`torchvision reference failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}`);
    return undefined;
  }
  const o = JSON.parse(line) as { images: number; seconds: number };
  return o.images / o.seconds;
}

async function loader(): Promise<void> {
  const root = await generateFolder(join(dir, `jpeg-${images}`), images, 256, 500);
  const t0 = performance.now();
  const index = await indexImageFolder(root);
  const indexRate = index.paths.length / ((performance.now() - t0) / 1000);
  console.log(`Loader: ${index.paths.length} JPEGs (256-500 px sides) in ${root}; batches of ${batch}; torchvision with ${workers} worker processes; ${engineLine()}`);
  console.log(`Indexing (listing + every header): ${indexRate.toFixed(0)} images/s\n`);
  const rows = [['view', 's2snets img/s', 'torchvision img/s', 's2snets/torchvision']];
  for (const kind of ['train', 'eval'] as const) {
    const view: StreamView = { kind, size: 224, resize: 256, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD };
    const split = streamedSplit(index, Array.from({ length: index.paths.length }, (_, i) => i), view, kind);
    const ours: number[] = [];
    const theirs: (number | undefined)[] = [];
    for (let turn = 0; turn < turns; turn++) {
      ours.push(await oursRate(split));
      theirs.push(torchRate(root, kind));
    }
    rows.push([kind, median(ours), median(theirs), formatRatio(turnRatio(ours, theirs))]);
  }
  printTable(rows);
}

/** The median of the rates measured, for a table cell ('n/a' when none was). */
function median(xs: (number | undefined)[], digits = 0): string {
  const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)].toFixed(digits) : 'n/a';
}

/** Peak RSS (MB) of `s2snets run` over a generated folder of `count` small images, and its wall time. */
async function runMemory(count: number): Promise<{ rssMB: number; seconds: number; status: number | null }> {
  const root = await generateFolder(join(dir, `small-${count}`), count, 40, 64);
  const runDir = join(dir, `run-${count}-${Date.now()}`);
  const config = join(dir, `memory-${count}.json`);
  // One epoch of pretraining and of classifier training: 80 % of the folder streams through each.
  const settings = { dataset: { imageFolder: root, imageSize: 32 }, classifiers: ['lenet5'], quick: true, ae: { pretrain: { epochs: 1 } }, finetune: { steps: 200, untilConverged: false }, eval: { samples: 500 }, device: 'cpu', runDir };
  writeFileSync(config, JSON.stringify(settings));
  const start = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss-kb %M', process.execPath, cli, 'run', config, '--jobs', '1'], { encoding: 'utf8' });
  const seconds = (performance.now() - start) / 1000;
  const kb = Number(/maxrss-kb (\d+)/.exec(r.stderr ?? '')?.[1] ?? NaN);
  if (r.status !== 0) console.error((r.stderr ?? '').trim().split('\n').slice(-3).join('\n'));
  return { rssMB: kb / 1024, seconds, status: r.status };
}

async function memory(): Promise<void> {
  if (memorySizes.length === 0) return;
  console.log(`\nMemory: s2snets run (quick, 32 px, lenet5, one epoch of pretraining and classifier training, 200 fine-tune steps, 500 evaluation images, --jobs 1) over generated folders`);
  const rows = [['images', 'peak RSS MB', 'wall s', 'exit']];
  const peaks: number[] = [];
  for (const count of memorySizes) {
    const m = await runMemory(count);
    peaks.push(m.rssMB);
    rows.push([String(count), m.rssMB.toFixed(0), m.seconds.toFixed(0), String(m.status)]);
  }
  printTable(rows);
  if (peaks.length > 1) console.log(`\nPeak RSS difference, largest folder minus smallest: ${(peaks[peaks.length - 1] - peaks[0]).toFixed(0)} MB (goal: at most 200 MB)`);
}

/**
 * Images per second of the fine-tune job's step fed by the job's sampler over `split`: finetuneDecoder
 * with the default plan's speed options (the encoder runs at every step, as it does for a folder),
 * FINETUNE_WARM_UP untimed steps, then finetuneSteps timed ones.
 */
async function finetuneRate(ae: SegNet, classifier: Module, split: ImageSplit): Promise<number> {
  const batches = splitBatches(split, { batchSize: finetuneBatch, seed: 1 });
  const stepEnds: number[] = [];
  await finetuneDecoder(ae, classifier, {
    name: `fine-tune fed from ${split.name}`,
    steps: FINETUNE_WARM_UP + finetuneSteps,
    lr: 1e-4,
    seed: 1,
    speed: defaultPlan().finetune.speed,
    batch: batches.batch,
    ready: batches.ready,
    // Every step's loss is read, so each step has ended when its progress is reported.
    readLossEvery: 1,
    onProgress: () => stepEnds.push(performance.now()),
  });
  return (finetuneSteps * finetuneBatch) / ((stepEnds[stepEnds.length - 1] - stepEnds[FINETUNE_WARM_UP - 1]) / 1000);
}

async function finetune(): Promise<void> {
  // One epoch per turn; the loader's folder when it is large enough, so that it is generated once.
  const count = finetuneBatch * (FINETUNE_WARM_UP + finetuneSteps);
  const root = await generateFolder(join(dir, `jpeg-${Math.max(images, count)}`), Math.max(images, count), 256, 500);
  ensureExports(onnxDir, ['resnet50']);
  const index = await indexImageFolder(root);
  // Spread over the folder, so the batches mix classes.
  const positions = Array.from({ length: count }, (_, k) => Math.floor((k * index.paths.length) / count));
  const view: StreamView = { kind: 'train', size: 224, resize: 256, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD };
  const disk = streamedSplit(index, positions, view, 'disk');
  // The same images, one draw of their crops, decoded once and held as float tensors (how a built-in dataset is held).
  const whole = await readWhole(disk);
  const memory = memorySplit({ name: 'memory', images: whole.x, labels: whole.y, classNames: index.classNames });
  manualSeed(0);
  const ae = new SegNet({ inChannels: 3, stages: VGG16_STAGES });
  const classifier = await loadOnnxClassifier(join(onnxDir, 'resnet50.onnx'));
  console.log(`\nFine-tune step at the paper's shape: VGG16-width SegNet, torchvision ResNet-50 (ONNX, random weights), 224 px training view of ${count} JPEGs (256-500 px sides), batch ${finetuneBatch}, the fine-tune job's code, speed options and sampler (${FINETUNE_WARM_UP} untimed + ${finetuneSteps} timed steps per turn, ${turns} turns); ${engineLine()}`);
  const [fromDisk, fromMemory]: number[][] = [[], []];
  for (let turn = 0; turn < turns; turn++) {
    fromDisk.push(await finetuneRate(ae, classifier, disk));
    fromMemory.push(await finetuneRate(ae, classifier, memory));
  }
  printTable([['fed from', 'img/s (median turn)'], ['disk (streamed, read ahead)', median(fromDisk, 2)], ['memory', median(fromMemory, 2)]]);
  console.log(`\nDisk/memory: ${formatRatio(turnRatio(fromDisk, fromMemory), 3)} (goal: at least 0.95)`);
  for (const t of [whole.x, whole.y]) t.dispose();
}

/**
 * `s2snets run` at the paper's shape over a generated ImageNet-layout folder: what a user with
 * the ImageNet validation set and two torchvision exports would run on a CPU, with short
 * pretraining and fine-tunes and `paperEval` evaluation images. Prints each job's time and img/s
 * (from the run's own job table) and the peak RSS of the run's processes.
 */
async function paperRun(): Promise<void> {
  const root = await generateFolder(join(dir, `imagenet-${paperImages}`), paperImages, 224, 300, 1000);
  ensureExports(onnxDir, ['resnet50', 'inception_v3']);
  const runDir = join(dir, `paper-run-${paperImages}-${Date.now()}`);
  const config = join(dir, `paper-run-${paperImages}.json`);
  const settings = {
    dataset: { imageFolder: root, imageSize: 224 },
    // Inception v3's export takes 299 px: its fixed input size says so, no inputSize needed.
    classifiers: [{ onnx: join(onnxDir, 'resnet50.onnx') }, { onnx: join(onnxDir, 'inception_v3.onnx') }],
    ae: { stages: 'vgg16', pretrain: { images: 256, batchSize: 8 } },
    finetune: { images: 64, batchSize: 4, untilConverged: false },
    eval: { samples: paperEval },
    device: 'cpu',
    runDir,
  };
  writeFileSync(config, JSON.stringify(settings));
  const timeFile = `${runDir}.time`;
  console.log(`\nPaper run: s2snets run over ${paperImages} JPEGs (1,000 classes, 224-300 px) at 224 px, VGG16-width SegNet (256 pretraining images), ResNet-50 (224 px) and Inception v3 (299 px) ONNX with random weights, fine-tunes of 64 images, ${paperEval} evaluation images; ${engineLine()}`);
  const start = performance.now();
  const r = spawnSync('/usr/bin/time', ['-o', timeFile, '-f', 'maxrss-kb %M', process.execPath, cli, 'run', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const wallS = (performance.now() - start) / 1000;
  const kb = Number(/maxrss-kb (\d+)/.exec(existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '')?.[1] ?? NaN);
  const rows = [['job', 'time s', 'img/s', 'metrics']];
  for (const j of status(runDir).jobs) {
    const { imagesPerS, ...rest } = j.metrics;
    rows.push([j.name, j.durationS === null ? '-' : j.durationS.toFixed(1), imagesPerS === undefined ? '-' : String(imagesPerS), Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`).join(' ')]);
  }
  printTable(rows);
  console.log(`\nExit ${r.status}; wall ${wallS.toFixed(0)} s; peak RSS of any of its processes ${(kb / 1024).toFixed(0)} MB; run directory ${runDir}`);
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

if (!(images >= 0 && turns > 0 && batch > 0 && memorySizes.every((n) => n > 0) && Number.isInteger(finetuneSteps) && finetuneSteps >= 0 && Number.isInteger(finetuneBatch) && finetuneBatch > 0 && Number.isInteger(paperImages) && paperImages >= 0 && Number.isInteger(paperEval) && paperEval > 0)) {
  console.error('usage: node dist/bench/data.js [--images N] [--turns N] [--batch N] [--memory 10000,200000] [--finetune-steps N] [--finetune-batch N] [--paper-run N] [--paper-eval N] [--onnx-dir DIR] [--dir DIR]');
  process.exit(2);
}
// --images 0 skips the loader part.
if (images > 0) await loader();
await memory();
// --finetune-steps 0 skips the fine-tune part.
if (finetuneSteps > 0) await finetune();
// --paper-run 0 (the default) skips the paper run.
if (paperImages > 0) await paperRun();
