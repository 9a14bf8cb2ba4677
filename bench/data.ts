// Data at scale, measured. Two parts:
//  loader:  a generated ImageNet-layout folder of JPEGs (256-500 px sides, 10 classes) read an
//           epoch at a time through the training view (RandomResizedCrop 224 + flip) and the
//           evaluation view (resize 256, centre crop 224) by s2snets' streamed split (the
//           fine-tunes' own sampler: batches read ahead, decoded on libvips' threads) and by
//           torchvision's ImageFolder + DataLoader with as many worker processes as cores
//           (bench/torch_data_reference.py), taking turns; images per second and their ratio.
//  memory:  `s2snets run` (quick settings, 32 px, one zoo classifier, a short fine-tune) over
//           generated folders of 10,000 and 200,000 small images: the peak RSS of any of its
//           processes (GNU time's maximum resident set size), which must not grow with the folder.
//   node dist/bench/data.js [--images 2000 (0: no loader part)] [--turns 3] [--batch 64] [--memory 10000,200000 ('': none)] [--dir DIR]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { IMAGENET_MEAN, IMAGENET_STD, indexImageFolder, Rng, streamedSplit, type ImageSplit, type StreamView } from '../src/data/index.js';
import { splitBatches } from '../src/train/sampler.js';
import { engineLine } from './engine-line.js';
import { formatRatio, turnRatio } from './turns.js';
import { python } from './exports.js';

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
const workers = availableParallelism();
const here = dirname(fileURLToPath(import.meta.url));
const reference = join(here, '..', '..', 'bench', 'torch_data_reference.py');
const cli = join(here, '..', 'src', 'cli', 'main.js');

/** Writes `count` JPEGs into root/class-k/ (sides drawn in [minSide, maxSide]), once; returns root. */
async function generateFolder(root: string, count: number, minSide: number, maxSide: number): Promise<string> {
  if (existsSync(join(root, 'complete'))) return root;
  const rng = new Rng(count);
  console.error(`writing ${count} JPEGs to ${root} (once)...`);
  let next = 0;
  const one = async () => {
    while (next < count) {
      const i = next++;
      const [w, h] = [minSide + rng.int(maxSide - minSide + 1), minSide + rng.int(maxSide - minSide + 1)];
      const folder = join(root, `class-${i % 10}`);
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

/** One epoch of the split through the fine-tunes' sampler; images per second. */
async function oursRate(split: ImageSplit): Promise<number> {
  const batches = splitBatches(split, { batchSize: batch, seed: 1 });
  const start = performance.now();
  for (let step = 0; step < batches.stepsPerEpoch; step++) {
    await batches.ready(step);
    const b = batches.batch(step);
    b.x.dispose();
    b.y.dispose();
  }
  return (batches.stepsPerEpoch * batch) / ((performance.now() - start) / 1000);
}

/** One epoch through torchvision's DataLoader; images per second (null when PyTorch is missing). */
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
    const median = (xs: (number | undefined)[]) => {
      const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
      return v.length ? v[Math.floor(v.length / 2)].toFixed(0) : 'n/a';
    };
    rows.push([kind, median(ours), median(theirs), formatRatio(turnRatio(ours, theirs))]);
  }
  printTable(rows);
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

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

if (!(images >= 0 && turns > 0 && batch > 0 && memorySizes.every((n) => n > 0))) {
  console.error('usage: node dist/bench/data.js [--images N] [--turns N] [--batch N] [--memory 10000,200000] [--dir DIR]');
  process.exit(2);
}
// --images 0 skips the loader part.
if (images > 0) await loader();
await memory();
