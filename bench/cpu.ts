// CPU benchmark of the S2SNet toy step against PyTorch (bench/torch_reference.py, same model,
// threads and step counts): a small SegNet whose frozen encoder (eval mode) feeds a frozen
// classifier (eval mode); the decoder trains with Adam (lr 1e-4) on batch 32 of 1x32x32 inputs.
// The forward pass runs both models in eval mode. Ours runs twice: plain (the same steps as the
// reference) and as the fine-tune job and the evaluation run them (their default speed options;
// the job's step reads the frozen encoder's outputs from the run's encode job).
// Each engine runs 3 warm-up steps, then `rounds` rounds of `steps` timed steps; the median
// round counts. The two engines take turns `turns` times (ours, PyTorch, ours, ...): rates are
// the median turn's, ratios are taken within each turn and printed with their range over turns
// (bench/turns.ts), so that a burst of load from other processes does not decide the ratio.
//   node dist/bench/cpu.js [steps=10] [rounds=5] [batch=32] [turns=3]      (npm run bench)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineInfo, keep, manualSeed, noGrad, randint, randn, tidy, type Tensor } from '../src/engine/index.js';
import { Conv2d, Flatten, inferenceForward, Linear, MaxPool2d, ReLU, Sequential } from '../src/nn/index.js';
import { SegNet, SMALL_STAGES } from '../src/models/segnet.js';
import { defaultPlan } from '../src/experiment/plan.js';
import { finetuneStep, PLAIN_STEP } from './steps.js';
import { formatRatio, turnRatio } from './turns.js';
import { engineLine } from './engine-line.js';

const [steps, rounds, batch, turns] = [2, 3, 4, 5].map((i, k) => Number(process.argv[i] ?? [10, 5, 32, 3][k]));
if (![steps, rounds, batch, turns].every((n) => Number.isInteger(n) && n >= 1)) {
  console.error('usage: node dist/bench/cpu.js [steps>=1] [rounds>=1] [batch>=1] [turns>=1]');
  process.exit(2);
}
const python = process.env.PYTHON ?? '/usr/bin/python3';
const reference = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'torch_reference.py');

interface Result {
  engine: string;
  threads: number;
  train_img_s: number;
  forward_img_s: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function imagesPerSecond(fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  const rates = Array.from({ length: rounds }, () => {
    const start = performance.now();
    for (let i = 0; i < steps; i++) fn();
    return (batch * steps) / ((performance.now() - start) / 1000);
  });
  return median(rates);
}

/**
 * Builds the models once; each call of the result measures one turn. 'job': the fine-tune step
 * with the job's default speed options, reading the batch's encoding as every fine-tune reads its
 * encode job's (they fit in the default encodingCacheMiB), and the forward the evaluation runs
 * (models loaded for inference: BatchNorms folded, NHWC); 'plain': the same steps without
 * either, as the PyTorch reference writes them.
 */
function oursBench(variant: 'plain' | 'job'): () => Result {
  // The same weights for both variants and for the training and forward copies.
  const models = () => {
    manualSeed(0);
    const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
    const classifier = new Sequential(
      new Conv2d(1, 32, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
      new Conv2d(32, 64, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
      new Flatten(), new Linear(4096, 128), new ReLU(), new Linear(128, 10),
    );
    return { ae, classifier };
  };
  const x = keep(randn([batch, 1, 32, 32]));
  const y = keep(randint(0, 10, [batch]));
  const job = variant === 'job';
  const trained = models();
  const trainStep = finetuneStep(trained.ae, trained.classifier, job ? defaultPlan().finetune.speed : PLAIN_STEP, x, y, 1e-4, { cachedEncodings: job });
  // The forward runs the models in eval mode, as reconstructions and the cross matrix do.
  const { ae, classifier } = models();
  const [reconstruct, classify] = [ae, classifier].map((m) => (job ? inferenceForward(m, { channelsLast: true }) : (t: Tensor) => m.eval().forward(t)));
  const forward = () => tidy(() => {
    noGrad(() => classify(reconstruct(x)));
  });
  const { torchVersion, threads } = engineInfo();
  return () => ({ engine: `s2snets ${variant} (libtorch ${torchVersion})`, threads, train_img_s: imagesPerSecond(trainStep), forward_img_s: imagesPerSecond(forward) });
}

function benchTorch(threads: number): Result | string {
  const r = spawnSync(python, [reference, String(threads), String(steps), String(rounds), String(batch)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `PyTorch reference did not run (${r.error?.message ?? r.stderr.trim().split('\n').pop()}); npm run bench installs it`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}

/** The median turn of an engine, per measure. */
function medianTurn(results: Result[]): Result {
  return { ...results[0], train_img_s: median(results.map((r) => r.train_img_s)), forward_img_s: median(results.map((r) => r.forward_img_s)) };
}

const measure = { plain: oursBench('plain'), job: oursBench('job') };
const turnsOf: Record<'plain' | 'job' | 'torch', Result[]> = { plain: [], job: [], torch: [] };
let torchFailure: string | null = null;
for (let turn = 0; turn < turns; turn++) {
  turnsOf.plain.push(measure.plain());
  turnsOf.job.push(measure.job());
  const t: Result | string = torchFailure ?? benchTorch(turnsOf.plain[0].threads);
  if (typeof t === 'string') torchFailure = t;
  else turnsOf.torch.push(t);
}
const ours = [medianTurn(turnsOf.plain), medianTurn(turnsOf.job)];
const torch = torchFailure ?? medianTurn(turnsOf.torch);
console.log(`S2SNet toy step, CPU, ${engineLine()}, batch ${batch}: per engine, median of ${turns} alternating turns, each the median of ${rounds} rounds of ${steps} steps after 3 warm-up steps`);
console.log('train: a decoder fine-tune step; forward: the AE and the classifier in eval mode without autograd\n');
const rows: [string, string, string][] = [['engine', 'train img/s', 'forward img/s']];
for (const r of typeof torch === 'string' ? ours : [...ours, torch]) rows.push([r.engine, r.train_img_s.toFixed(1), r.forward_img_s.toFixed(1)]);
if (typeof torch === 'string') {
  console.log(torch);
} else {
  const ratio = (variant: 'plain' | 'job', key: 'train_img_s' | 'forward_img_s') => formatRatio(turnRatio(turnsOf[variant].map((r) => r[key]), turnsOf.torch.map((r) => r[key])), 3);
  for (const variant of ['plain', 'job'] as const) rows.push([`ratio s2snets ${variant}/pytorch (range over turns)`, ratio(variant, 'train_img_s'), ratio(variant, 'forward_img_s')]);
}
const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '));
