// A small, real job graph for the pipeline tests and the soak script: a seeded synthetic
// dataset, two tiny convnets trained with checkpoints every K steps, their evaluation, and a
// report that gathers the results. Run as a program it executes the graph in --run-dir and
// copies the report's results.json there:
//   node dist/test/pipeline/fixture-graph.js --run-dir DIR [--steps 300] [--every 25] [--lr-b 0.01]
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { F, manualSeed, noGrad, randint, randn, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { Adam, Conv2d, Flatten, Linear, ReLU, Sequential, encodeSafetensors, loadSafetensors, saveSafetensors } from '../../src/nn/index.js';
import { writeFileAtomic } from '../../src/common/atomic.js';
import type { JobContext, JobSpec } from '../../src/scheduler/job-graph.js';
import { runJobs, RunInterruptedError, type RunOptions } from '../../src/scheduler/runner.js';

const SIZE = 12;
const CLASSES = 4;

export interface FixtureOptions {
  seed: number;
  steps: number;
  checkpointEvery: number;
  lrA: number;
  lrB: number;
}

export const FIXTURE_DEFAULTS: FixtureOptions = { seed: 7, steps: 400, checkpointEvery: 25, lrA: 0.003, lrB: 0.01 };

/** Images whose class is carried by which quadrant is bright, under Gaussian noise. */
function makeSplit(n: number): { x: Tensor; y: Tensor } {
  return tidy(() => {
    const half = SIZE / 2;
    const masks = new Float32Array(CLASSES * SIZE * SIZE);
    for (let c = 0; c < CLASSES; c++) {
      for (let i = 0; i < SIZE; i++) {
        for (let j = 0; j < SIZE; j++) {
          if (Math.floor(i / half) * 2 + Math.floor(j / half) === c) masks[c * SIZE * SIZE + i * SIZE + j] = 1;
        }
      }
    }
    const y = randint(0, CLASSES, [n]);
    const x = randn([n, 1, SIZE, SIZE]).mul(2.5).add(tensor(masks, [CLASSES, 1, SIZE, SIZE]).indexSelect(0, y));
    return { x, y };
  });
}

function dataJob(seed: number): JobSpec<{ train: number; test: number }> {
  return {
    name: 'data',
    deps: [],
    config: { seed, train: 512, test: 256, size: SIZE },
    async run(ctx) {
      manualSeed(seed);
      const train = makeSplit(512);
      const test = makeSplit(256);
      saveSafetensors(join(ctx.dir, 'data.safetensors'), new Map([['train.x', train.x], ['train.y', train.y], ['test.x', test.x], ['test.y', test.y]]));
      for (const t of [train.x, train.y, test.x, test.y]) t.dispose();
      return { train: 512, test: 256 };
    },
  };
}

function makeModel(): Sequential {
  return new Sequential(new Conv2d(1, 6, 3, { stride: 2, padding: 1 }), new ReLU(), new Flatten(), new Linear(6 * (SIZE / 2) ** 2, CLASSES));
}

function loadInto(model: Sequential, path: string): void {
  const { tensors } = loadSafetensors(path);
  model.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
}

function trainJob(name: string, data: JobSpec<unknown>, o: { seed: number; steps: number; lr: number; checkpointEvery: number }): JobSpec<{ steps: number }> {
  return {
    name,
    deps: [data],
    config: { seed: o.seed, steps: o.steps, lr: o.lr, batch: 32 },
    async run(ctx: JobContext) {
      const { tensors } = loadSafetensors(join(ctx.input(data), 'data.safetensors'));
      const x = tensors.get('train.x')!;
      const y = tensors.get('train.y')!;
      manualSeed(o.seed);
      const model = makeModel();
      const opt = new Adam(model.parameters(), { lr: o.lr });
      let start = 0;
      const ckpt = ctx.checkpoint.load();
      if (ckpt) {
        const state = JSON.parse(readFileSync(join(ckpt.dir, 'state.json'), 'utf8'));
        loadInto(model, join(ckpt.dir, 'model.safetensors'));
        const optState = loadSafetensors(join(ckpt.dir, 'optim.safetensors')).tensors;
        opt.loadStateDict({ stepCount: state.stepCount, lr: state.lr, tensors: optState });
        for (const t of optState.values()) t.dispose();
        start = state.step;
        ctx.log(`resumed from checkpoint at step ${start}`);
      }
      const save = (step: number) =>
        ctx.checkpoint.save(`step-${step}`, {
          'model.safetensors': encodeSafetensors(model.stateDict()),
          'optim.safetensors': encodeSafetensors(opt.stateDict().tensors),
          'state.json': JSON.stringify({ step, stepCount: opt.stepCount, lr: opt.lr }),
        });
      for (let step = start; step < o.steps; step++) {
        const loss = tidy(() => {
          // The batch depends only on (seed, step), so a resumed run draws the same batches.
          manualSeed(o.seed * 1_000_003 + step);
          const idx = randint(0, x.shape[0], [32]);
          opt.zeroGrad();
          const l = F.crossEntropy(model.forward(x.indexSelect(0, idx)), y.indexSelect(0, idx));
          l.backward();
          opt.step();
          return l.item();
        });
        await ctx.progress((step + 1) / o.steps, `step ${step + 1}/${o.steps}`, { loss });
        // On Ctrl-C, save where we are so the rerun loses nothing.
        if ((step + 1) % o.checkpointEvery === 0 || ctx.signal.aborted) save(step + 1);
        ctx.signal.throwIfAborted();
      }
      saveSafetensors(join(ctx.dir, 'weights.safetensors'), model.stateDict());
      x.dispose();
      y.dispose();
      return { steps: o.steps };
    },
  };
}

function evalJob(name: string, data: JobSpec<unknown>, train: JobSpec<unknown>): JobSpec<{ accuracy: number; loss: number }> {
  return {
    name,
    deps: [data, train],
    config: {},
    async run(ctx) {
      const { tensors } = loadSafetensors(join(ctx.input(data), 'data.safetensors'));
      const model = makeModel();
      loadInto(model, join(ctx.input(train), 'weights.safetensors'));
      const { accuracy, loss } = noGrad(() =>
        tidy(() => {
          const logits = model.forward(tensors.get('test.x')!);
          const y = tensors.get('test.y')!;
          return { accuracy: logits.argmax(1).eq(y).float().mean().item(), loss: F.crossEntropy(logits, y).item() };
        }),
      );
      for (const t of tensors.values()) t.dispose();
      writeFileAtomic(join(ctx.dir, 'metrics.json'), JSON.stringify({ accuracy, loss }));
      ctx.setMetrics({ accuracy, loss });
      return { accuracy, loss };
    },
  };
}

export interface FixtureGraph {
  data: JobSpec<{ train: number; test: number }>;
  trainA: JobSpec<{ steps: number }>;
  trainB: JobSpec<{ steps: number }>;
  evalA: JobSpec<{ accuracy: number; loss: number }>;
  evalB: JobSpec<{ accuracy: number; loss: number }>;
  report: JobSpec<{ file: string }>;
}

export function fixtureGraph(options: Partial<FixtureOptions> = {}): FixtureGraph {
  const o = { ...FIXTURE_DEFAULTS, ...options };
  const data = dataJob(o.seed);
  const trainA = trainJob('train[a]', data, { seed: o.seed, steps: o.steps, lr: o.lrA, checkpointEvery: o.checkpointEvery });
  const trainB = trainJob('train[b]', data, { seed: o.seed + 1, steps: o.steps, lr: o.lrB, checkpointEvery: o.checkpointEvery });
  const evalA = evalJob('eval[a]', data, trainA);
  const evalB = evalJob('eval[b]', data, trainB);
  const report: JobSpec<{ file: string }> = {
    name: 'report',
    deps: [evalA, evalB],
    config: { format: 1 },
    async run(ctx) {
      const results = { models: { a: ctx.output(evalA), b: ctx.output(evalB) } };
      writeFileAtomic(join(ctx.dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
      return { file: 'results.json' };
    },
  };
  return { data, trainA, trainB, evalA, evalB, report };
}

/** Runs the graph and copies results.json into the run directory. */
export async function runFixture(runDir: string, options: Partial<FixtureOptions> = {}, runOptions: RunOptions = {}) {
  const g = fixtureGraph(options);
  const report = await runJobs(runDir, [g.report], runOptions);
  writeFileAtomic(join(runDir, 'results.json'), readFileSync(join(report.dir(g.report), 'results.json')));
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'run-dir': { type: 'string' }, steps: { type: 'string' }, every: { type: 'string' }, 'lr-b': { type: 'string' } },
  });
  const runDir = values['run-dir'];
  if (!runDir) throw new Error('--run-dir is required');
  const options: Partial<FixtureOptions> = {};
  if (values.steps) options.steps = Number(values.steps);
  if (values.every) options.checkpointEvery = Number(values.every);
  if (values['lr-b']) options.lrB = Number(values['lr-b']);
  try {
    await runFixture(runDir, options, {
      onProgress: (e) => process.stdout.write(`${e.kind} ${e.job}${e.message ? ` ${e.message}` : ''}\n`),
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = e instanceof RunInterruptedError ? e.exitCode : 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
