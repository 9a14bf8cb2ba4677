// How the OpenMP wait policy and the thread count hold up when another CPU-heavy process shares
// the machine. The workload is the demo's largest job in miniature: training steps of the zoo's
// ResNet-like classifier (Adam, batch 64 of 1x32x32, as on MNIST) then fine-tune-like steps of a
// SegNet decoder through it. Each setting runs in a fresh child process (libgomp reads
// OMP_WAIT_POLICY once, when it loads), quiet and beside `hogs` single-threaded busy loops; the
// settings take turns `turns` times and the median turn counts.
//   node dist/bench/contention.js [steps=20] [turns=3] [hogs=1]
//   node dist/bench/contention.js --workload <steps>      (one child: prints ms per step as JSON)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function workload(steps: number): Promise<void> {
  const { F, keep, manualSeed, randint, randn, tidy } = await import('../src/engine/index.js');
  const { Adam } = await import('../src/nn/index.js');
  const { buildClassifier } = await import('../src/models/classifiers.js');
  const { SegNet, SMALL_STAGES } = await import('../src/models/segnet.js');
  const { finetuneStep, msPerStep, PLAIN_STEP } = await import('./steps.js');
  manualSeed(0);
  const classifier = buildClassifier('resnet', { channels: 1, size: 32, classes: 10 });
  const ae = new SegNet({ inChannels: 1, stages: SMALL_STAGES });
  const x = keep(randn([64, 1, 32, 32]));
  const y = keep(randint(0, 10, [64]));
  const timed = (step: () => void) => msPerStep(step, steps, 2);
  const trainOptimizer = new Adam(classifier.trainableParameters(), { lr: 1e-3 });
  const train = timed(() =>
    tidy(() => {
      const loss = F.crossEntropy(classifier.train().forward(x), y);
      trainOptimizer.zeroGrad();
      loss.backward();
      trainOptimizer.step();
    }),
  );
  const finetune = timed(finetuneStep(ae, classifier, PLAIN_STEP, x, y, 1e-4));
  console.log(JSON.stringify({ train, finetune }));
}

interface Setting {
  label: string;
  env: Record<string, string>;
}

function runSetting(s: Setting, steps: number): { train: number; finetune: number } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OMP_WAIT_POLICY;
  delete env.GOMP_SPINCOUNT;
  Object.assign(env, s.env);
  const r = spawnSync(process.execPath, [self, '--workload', String(steps)], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`workload failed (${s.label}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { train: number; finetune: number };
}

/** `count` single-threaded busy loops, standing in for another user's CPU-heavy process. */
function startHogs(count: number): ChildProcess[] {
  return Array.from({ length: count }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--workload') return workload(Number(process.argv[3]));
  const [steps, turns, hogs] = [2, 3, 4].map((i, k) => Number(process.argv[i] ?? [20, 3, 1][k]));
  if (![steps, turns].every((n) => Number.isInteger(n) && n >= 1) || !Number.isInteger(hogs) || hogs < 1) {
    console.error('usage: node dist/bench/contention.js [steps>=1] [turns>=1] [hogs>=1]');
    process.exit(2);
  }
  const cores = availableParallelism();
  const free = Math.max(1, cores - hogs);
  // OpenMP's own default (no policy) spins 300,000 times before sleeping; s2snets sets PASSIVE
  // unless one of the two variables is set, so the default is asked for by its spin count.
  const openmpDefault = { GOMP_SPINCOUNT: '300000' };
  const settings: Setting[] = [
    { label: `${cores} threads, OpenMP default wait`, env: { S2SNETS_THREADS: String(cores), ...openmpDefault } },
    { label: `${cores} threads, OMP_WAIT_POLICY=PASSIVE`, env: { S2SNETS_THREADS: String(cores), OMP_WAIT_POLICY: 'PASSIVE' } },
    { label: `${cores} threads, OMP_WAIT_POLICY=ACTIVE`, env: { S2SNETS_THREADS: String(cores), OMP_WAIT_POLICY: 'ACTIVE' } },
    { label: `${cores} threads, GOMP_SPINCOUNT=10000`, env: { S2SNETS_THREADS: String(cores), GOMP_SPINCOUNT: '10000' } },
    { label: `${free} thread(s) (free cores), OpenMP default wait`, env: { S2SNETS_THREADS: String(free), ...openmpDefault } },
    { label: `${free} thread(s) (free cores), OMP_WAIT_POLICY=PASSIVE`, env: { S2SNETS_THREADS: String(free), OMP_WAIT_POLICY: 'PASSIVE' } },
  ];
  const times = new Map<string, { train: number[]; finetune: number[] }>();
  const record = (key: string, t: { train: number; finetune: number }) => {
    const entry = times.get(key) ?? { train: [], finetune: [] };
    entry.train.push(t.train);
    entry.finetune.push(t.finetune);
    times.set(key, entry);
  };
  for (let turn = 0; turn < turns; turn++) {
    for (const contended of [false, true]) {
      const running = contended ? startHogs(hogs) : [];
      try {
        for (const s of settings) record(`${s.label}|${contended}`, runSetting(s, steps));
      } finally {
        for (const h of running) h.kill('SIGKILL');
      }
    }
    process.stderr.write(`turn ${turn + 1}/${turns} done\n`);
  }
  console.log(`Contention: zoo ResNet training step and SegNet fine-tune step (batch 64, 1x32x32), ms per step, median of ${turns} turns of ${steps} steps; ${cores} cores, beside: ${hogs} busy loop(s)\n`);
  const base = times.get(`${settings[0].label}|false`)!;
  const rows = [['setting', 'train quiet', 'train beside', 'fine-tune quiet', 'fine-tune beside']];
  for (const s of settings) {
    const [q, c] = [times.get(`${s.label}|false`)!, times.get(`${s.label}|true`)!];
    const cell = (xs: number[], ref: number[]) => `${median(xs).toFixed(1)} (x${(median(xs) / median(ref)).toFixed(2)})`;
    rows.push([s.label, cell(q.train, base.train), cell(c.train, base.train), cell(q.finetune, base.finetune), cell(c.finetune, base.finetune)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '));
  console.log('\n(xN: time relative to the first setting on a quiet machine; lower is better)');
}

await main();
