// s2snets command line, every command. Every stage of the experiment is a command; each runs the jobs it needs
// in a run directory (reusing finished ones), so `demo` after `train-classifier` reuses the
// trained classifiers, and any command interrupted by Ctrl-C resumes when rerun.
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { describeWinograd, engineInfo, resolveDevice } from '../engine/index.js';
import { ZOO_NAMES } from '../models/classifiers.js';
import { defaultPlan, imageLengthLines, planFromConfig, quickPlan, withImageLengths, zooEntries, DEMO_CLASSIFIERS, DATASET_CHOICES, type DatasetChoice, type ExperimentPlan } from '../experiment/plan.js';
import { PLAN_DEFAULTS, RUN_DEFAULTS } from '../experiment/defaults.js';
import { loadConfig } from '../experiment/config.js';
import { runExperiment, type ExperimentOptions, type Stage } from '../commands/run.js';
import { renderRunReport, reportDir } from '../commands/publish.js';
import { status } from '../scheduler/runner.js';
import { defaultJobs } from '../experiment/default-jobs.js';
import { runWorker } from '../scheduler/distributed.js';
import { EXPERIMENT_GRAPH_MODULE } from '../experiment/experiment-graph.js';
import { verifyRun } from '../commands/verify.js';
import { formatSummary } from '../report/index.js';
import { ProgressReporter } from './progress.js';
import { formatCheck, formatExperiment } from './results.js';
import { formatStatus } from './status.js';
import { formatValidation } from './validation-table.js';
import { BROKEN_METHODS, runValidation, validatePlan, VALIDATION_DATASETS, type BrokenMethod } from '../commands/validate.js';
import { addServeCommand } from './serve.js';
import { newProgram, runProgram } from './run-program.js';
import { inspectModelFile } from '../import/inspect.js';
import { formatExport, formatInspection, formatReconstruction } from './inspect.js';
import { loadSegNetFile, reconstructImages, RECONSTRUCT_SIZE } from '../commands/reconstruct.js';
import { findRunAutoencoder } from '../commands/run-autoencoders.js';
import { exportAutoencoder, EXPORT_FORMATS, type ExportFormat } from '../commands/export.js';
import { loadClassifierFile } from '../experiment/classifier-sources.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function classifierList(v: string): string[] {
  const names = v.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(ZOO_NAMES as string[]).includes(n));
  if (unknown.length || names.length === 0) throw new InvalidArgumentError(`unknown classifier(s) ${unknown.join(', ')}; the zoo has: ${ZOO_NAMES.join(', ')}`);
  return names;
}

interface ExperimentFlags {
  dataset: DatasetChoice;
  quick?: boolean;
  runDir?: string;
  device: string;
  seed: number;
  classifiers?: string[];
  finetuneSteps?: number;
  epochs?: number;
  aeWeights?: string;
  pretrainEpochs?: number;
  pretrainSteps?: number;
  pretrainImages?: number;
  finetuneImages?: number;
  untilConverged: boolean;
  targets?: 'labels' | 'predictions';
  trainWholeAe?: boolean;
  autocast?: 'bfloat16' | 'float16';
  channelsLast?: boolean;
  foldBn?: boolean;
  repeats?: number;
  repeatAll?: boolean;
  acceptEngineChange?: boolean;
  jobs?: number;
  redis?: string;
}

/** Options that choose where jobs run (every command that runs jobs has them). */
function withExecutionOptions(cmd: Command): Command {
  return cmd
    .option('--jobs <n>', 'jobs at once, each in its own process with its share of the CPU threads (default: 2 on a CPU with 2+ cores, 1 on CUDA and for short plans such as --quick)', positiveInt)
    .option('--redis <url>', 'run the jobs on the workers of this Redis (s2snets worker --redis URL); the run directory must be on a file system they share');
}

/** ' (default X)' or ' (default X; Y with --quick)' for a plan setting, from the plans themselves. */
function planDefault(value: (plan: ExperimentPlan) => unknown): string {
  const [full, quick] = [value(defaultPlan()), value(quickPlan())];
  return full === quick ? ` (default ${full})` : ` (default ${full}; ${quick} with --quick)`;
}

const ACCEPT_ENGINE_CHANGE = [
  '--accept-engine-change',
  'keep finished jobs made by an engine of another identity (libtorch, BLAS, oneDNN, CPU vector ISA) instead of recomputing them',
] as const;

function withExperimentOptions(cmd: Command): Command {
  return withExecutionOptions(cmd)
    .addOption(new Option('--dataset <name>', 'built-in dataset').choices([...DATASET_CHOICES]).default(PLAN_DEFAULTS.dataset))
    .option('--quick', 'a small, fast configuration (for smoke tests)')
    .option('--run-dir <dir>', 'where jobs, artifacts and the report go (default: runs/<dataset>[-quick])')
    .addOption(new Option('--device <device>', 'cpu, cuda, cuda:N or auto').default(RUN_DEFAULTS.device))
    .option('--seed <n>', 'random seed', nonNegativeInt, PLAN_DEFAULTS.seed)
    .option('--classifiers <list>', `comma-separated zoo names (default: ${DEMO_CLASSIFIERS.join(',')})`, classifierList)
    .option('--epochs <n>', `classifier training epochs, for every classifier${planDefault((p) => `${p.classifierTraining.epochs}${Object.entries(p.classifierTraining.epochsFor).map(([m, e]) => `, ${e} for ${m}`).join('')}`)}`, positiveInt)
    .option('--ae-weights <file>', "start A_S from these SegNet weights (the authors' .pth/.pt, or a .safetensors A_S of an earlier run)")
    .option('--pretrain-epochs <n>', `A_S pretraining epochs (0: take --ae-weights unchanged)${planDefault((p) => p.ae.epochs)}`, nonNegativeInt)
    .option('--pretrain-steps <n>', `A_S pretraining runs at least this many steps${planDefault((p) => p.ae.minSteps)}`, nonNegativeInt)
    .addOption(new Option('--pretrain-images <n>', 'A_S pretraining length in images instead: ceil(n / batch) steps').argParser(positiveInt).conflicts(['pretrainEpochs', 'pretrainSteps']))
    .option('--finetune-steps <n>', `decoder fine-tuning step budget per classifier${planDefault((p) => p.finetune.steps)}`, positiveInt)
    .addOption(new Option('--finetune-images <n>', 'decoder fine-tuning budget in images instead: ceil(n / batch) steps').argParser(positiveInt).conflicts('finetuneSteps'))
    .option('--no-until-converged', 'fine-tune for exactly the budget (--finetune-steps or --finetune-images) instead of stopping once converged')
    .addOption(new Option('--targets <kind>', "fine-tuning targets: true 'labels' (paper) or the classifier's own 'predictions'").choices(['labels', 'predictions']))
    .option('--train-whole-ae', 'fine-tune encoder and decoder (the paper freezes the encoder)')
    .addOption(new Option('--autocast <dtype>', 'mixed precision for fine-tuning').choices(['bfloat16', 'float16']))
    .option('--no-channels-last', 'fine-tune in the NCHW memory format (by default channels_last, faster with oneDNN)')
    .option('--no-fold-bn', "keep the BatchNorms of the frozen classifier and encoder as they are while fine-tuning (by default they are folded into the convolutions)")
    .option('--repeats <k>', 'replicate seeds: rerun the fine-tunes with seeds seed .. seed+k-1 and aggregate every figure across them', positiveInt)
    .option('--repeat-all', 'with --repeats: retrain the classifiers and A_S per seed too')
    .option(ACCEPT_ENGINE_CHANGE[0], ACCEPT_ENGINE_CHANGE[1])
    .hook('preAction', (command) => {
      const f = command.opts<ExperimentFlags>();
      if (f.pretrainEpochs === 0 && !f.aeWeights) command.error("error: option '--pretrain-epochs 0' needs --ae-weights (pretrained weights to start from)", { exitCode: 2, code: 'commander.usage' });
    });
}

function planFrom(f: ExperimentFlags): { plan: ExperimentPlan; runDir: string } {
  const base = f.quick ? quickPlan({ dataset: f.dataset }) : defaultPlan({ dataset: f.dataset });
  const plan: ExperimentPlan = withImageLengths({
    ...base,
    dataset: f.dataset,
    seed: f.seed,
    device: resolveDevice(f.device),
    classifiers: f.classifiers ? zooEntries(f.classifiers) : base.classifiers,
    repeats: f.repeats ?? base.repeats,
    repeatAll: f.repeatAll ?? base.repeatAll,
    // --epochs applies to every classifier, the small ones' longer defaults included.
    classifierTraining: f.epochs === undefined ? base.classifierTraining : { ...base.classifierTraining, epochs: f.epochs, epochsFor: {} },
    ae: { ...base.ae, epochs: f.pretrainEpochs ?? base.ae.epochs, minSteps: f.pretrainSteps ?? base.ae.minSteps, weights: f.aeWeights === undefined ? undefined : resolve(f.aeWeights) },
    finetune: {
      ...base.finetune,
      steps: f.finetuneSteps ?? base.finetune.steps,
      targets: f.targets ?? base.finetune.targets,
      trainWholeAe: f.trainWholeAe ?? base.finetune.trainWholeAe,
      convergence: f.untilConverged ? base.finetune.convergence : null,
      speed: {
        ...base.finetune.speed,
        autocast: f.autocast,
        // Both flags only turn a default off.
        channelsLast: f.channelsLast === false ? false : base.finetune.speed.channelsLast,
        foldFrozenBn: f.foldBn === false ? false : base.finetune.speed.foldFrozenBn,
      },
    },
  }, { pretrain: f.pretrainImages, finetune: f.finetuneImages });
  const runDir = resolve(f.runDir ?? `runs/${f.dataset}${f.quick ? '-quick' : ''}`);
  return { plan, runDir };
}

/** Runs a stage with a progress display and prints what it measured. */
async function runAndPrint(plan: ExperimentPlan, runDir: string, stage: Stage, options: ExperimentOptions): Promise<void> {
  const progress = new ProgressReporter();
  try {
    for (const line of imageLengthLines(plan)) progress.log(line);
    const jobs = options.jobs ?? defaultJobs(plan);
    process.stdout.write(`${formatExperiment(await runExperiment(plan, runDir, stage, progress, { ...options, jobs }))}\n`);
  } finally {
    progress.stop();
  }
}

async function runStage(stage: Stage, f: ExperimentFlags, only?: string): Promise<void> {
  const { plan, runDir } = planFrom(f);
  if (only) plan.classifiers = zooEntries([only]);
  await runAndPrint(plan, runDir, stage, { acceptEngineChange: f.acceptEngineChange, jobs: f.jobs, redis: f.redis });
}

const program = newProgram();

program
  .command('doctor')
  .description('show the compute engine: libtorch version, CUDA, threads, BLAS, oneDNN, CPU vector ISA')
  .action(() => {
    const i = engineInfo();
    const lines = [
      `libtorch ${i.torchVersion}`,
      `CUDA: ${i.cuda ? `yes (${i.cudaDevices} device${i.cudaDevices === 1 ? '' : 's'}, cuDNN ${i.cudnnVersion ?? 'no'}, TF32 ${i.tf32.convolutions ? 'on' : 'off'} for convolutions and ${i.tf32.matmul ? 'on' : 'off'} for matrix products)` : 'no'}`,
      `CPU threads: ${i.threads} (S2SNETS_THREADS sets them), OpenMP wait policy ${i.ompWaitPolicy} (OMP_WAIT_POLICY sets it)`,
      `CPU vector ISA of the kernels: ${i.cpuCapability}`,
      `BLAS: ${i.blas.description}`,
      `convolutions on CPU: ${i.mkldnn && i.mkldnnEnabled ? 'oneDNN (mkldnn)' : "libtorch's own kernels (oneDNN not available)"}, ${describeWinograd(i.winograd)}`,
      `Node ${process.versions.node}`,
    ];
    if (i.blas.kind === 'reference') {
      lines.push('warning: the reference BLAS is 3-17x slower than an optimized one; install OpenBLAS: apt-get install libopenblas0-openmp (npm run setup does it)');
    }
    process.stdout.write(lines.join('\n') + '\n');
  });

withExperimentOptions(program.command('demo').description('run the whole S2SNets experiment (classifiers, A_S, fine-tunes, analysis, report)')).action((f: ExperimentFlags) => runStage('report', f));

withExperimentOptions(program.command('train-classifier').description('train zoo classifiers and report their test accuracy'))
  .option('--model <name>', 'train only this zoo classifier')
  .action((f: ExperimentFlags & { model?: string }) => {
    if (f.model) classifierList(f.model);
    return runStage('classifiers', f, f.model);
  });

withExperimentOptions(program.command('pretrain').description('pretrain the generic autoencoder A_S (pixel MSE) and report its test PSNR')).action((f: ExperimentFlags) => runStage('pretrain', f));

withExperimentOptions(program.command('finetune').description("fine-tune one AE decoder per classifier through the frozen classifier's loss"))
  .option('--classifier <name>', 'fine-tune only for this classifier')
  .action((f: ExperimentFlags & { classifier?: string }) => {
    if (f.classifier) classifierList(f.classifier);
    return runStage('finetune', f, f.classifier);
  });

withExperimentOptions(program.command('evaluate').description('accuracy, cross-evaluation matrix, total order, NMI, histograms, grid artifacts (and the report)')).action((f: ExperimentFlags) => runStage('evaluate', f));

withExecutionOptions(program.command('validate'))
  .description('run both planted datasets end to end and check that each S2S autoencoder keeps the signal its classifier must use (exit code 1 if not)')
  .option('--quick', 'smaller runs (two classifiers, fewer images and steps)')
  .option('--run-dir <dir>', 'where the two runs go (default: runs/validate[-quick])')
  .addOption(new Option('--device <device>', 'cpu, cuda, cuda:N or auto').default(RUN_DEFAULTS.device))
  .option('--seed <n>', 'random seed', nonNegativeInt, PLAN_DEFAULTS.seed)
  .addOption(
    new Option('--broken-method <how>', `validate a deliberately broken method instead of S2SNets, to see validation fail (exit code 1); 'stopped-gradient': ${BROKEN_METHODS['stopped-gradient']}`).choices(Object.keys(BROKEN_METHODS)),
  )
  .action(async (f: { quick?: boolean; runDir?: string; device: string; seed: number; brokenMethod?: BrokenMethod; jobs?: number; redis?: string }) => {
    const progress = new ProgressReporter();
    let report;
    try {
      const opts = { runDir: resolve(f.runDir ?? `runs/validate${f.quick ? '-quick' : ''}`), quick: f.quick ?? false, device: resolveDevice(f.device), seed: f.seed, brokenMethod: f.brokenMethod };
      const jobs = f.jobs ?? defaultJobs(validatePlan(VALIDATION_DATASETS[0], opts));
      report = await runValidation({ ...opts, execution: { jobs, redis: f.redis } }, progress);
    } finally {
      progress.stop();
    }
    process.stdout.write(`${formatValidation(report)}\n`);
    if (!report.passed) process.exitCode = 1;
  });

withExecutionOptions(program.command('run'))
  .description('run the experiment a JSON configuration file describes (image folders, ONNX classifiers, ...)')
  .argument('<config.json>')
  .option(ACCEPT_ENGINE_CHANGE[0], ACCEPT_ENGINE_CHANGE[1])
  .action(async (path: string, f: { acceptEngineChange?: boolean; jobs?: number; redis?: string }) => {
    const cfg = loadConfig(path);
    await runAndPrint(planFromConfig(cfg, resolveDevice(cfg.device)), resolve(cfg.runDir), 'report', { acceptEngineChange: f.acceptEngineChange, jobs: f.jobs, redis: f.redis });
  });

program
  .command('worker')
  .description('take jobs from a Redis queue and run them (the run directories of the submitters must be on a file system this machine shares, at the same path)')
  .requiredOption('--redis <url>', 'the Redis the submitters use, e.g. redis://10.0.0.5:6379')
  .option('--concurrency <k>', 'jobs at once, each in its own process with its share of the CPU threads', positiveInt, 1)
  .addOption(new Option('--device <device>', "auto, cpu (hide GPUs), cuda or cuda:N (this worker's GPU); jobs run on their plan's device").default(RUN_DEFAULTS.device))
  .option('--stall-timeout <s>', "seconds after which a silent worker's job is given to another worker", positiveInt, 30)
  .action(async (f: { redis: string; concurrency: number; device: string; stallTimeout: number }) => {
    const stop = new AbortController();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) process.exit(sig === 'SIGTERM' ? 143 : 130);
      process.stderr.write(`\n${sig}: taking no more jobs; the running ones finish (press again to stop now: other workers take them over from their checkpoints)\n`);
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    await runWorker({ redis: f.redis, concurrency: f.concurrency, device: f.device, stallTimeoutS: f.stallTimeout, signal: stop.signal, log: (line) => process.stdout.write(`${line}\n`), graphModule: EXPERIMENT_GRAPH_MODULE });
  });

program
  .command('status')
  .description("show the job table of a run directory (every command's jobs; damaged artifacts marked)")
  .argument('<run-dir>')
  .option('--json', 'print the table as JSON')
  .action((dir: string, f: { json?: boolean }) => {
    const s = status(resolve(dir));
    process.stdout.write(f.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
  });

program
  .command('report')
  .description("rebuild a run's report from its store alone")
  .argument('<run-dir>')
  .action(async (dir: string) => {
    const runDir = resolve(dir);
    const results = await renderRunReport(runDir, undefined, (line) => process.stderr.write(`s2snets: warning: ${line}\n`));
    process.stdout.write(`${formatSummary(results, resolve(reportDir(runDir), 'report.html'))}\n`);
  });

program
  .command('verify')
  .description('check a run directory: store integrity, artifact checksums, done jobs, report; exit 1 when a problem is found')
  .argument('<run-dir>')
  .option('--json', 'print the check as JSON')
  .action((dir: string, f: { json?: boolean }) => {
    const runDir = resolve(dir);
    const check = verifyRun(runDir);
    process.stdout.write(f.json ? `${JSON.stringify({ runDir, ok: check.problems.length === 0, ...check }, null, 2)}\n` : `${formatCheck(runDir, check)}\n`);
    if (check.problems.length) process.exitCode = 1;
  });

// ---- any model a user brings: inspect, reconstruct, export ---------------------------------------------
program
  .command('inspect')
  .description('show what a model or weights file holds (.onnx, TorchScript, .pth, .safetensors) without running it')
  .argument('<file>')
  .option('--all', 'list every parameter')
  .option('--json', 'print the report as JSON')
  .action((file: string, f: { all?: boolean; json?: boolean }) => {
    const report = inspectModelFile(file);
    process.stdout.write(`${f.json ? JSON.stringify(report, null, 1) : formatInspection(report, f.all ?? false)}\n`);
  });

program
  .command('reconstruct')
  .description("reconstruct images with a SegNet autoencoder (the authors' .pth, or --run RUN --ae A_S|S2S-<classifier>) and write them as PNGs")
  .argument('<images...>', 'image files or folders')
  .requiredOption('--ae <file|name>', 'autoencoder weights file, or with --run the name of one of its autoencoders')
  .requiredOption('--out <dir>', 'output folder')
  .option('--run <run-dir>', 'take --ae from this run')
  .option('--size <px>', `side the autoencoder works at (the paper: ${RECONSTRUCT_SIZE}; 0 keeps each image's size)`, nonNegativeInt, RECONSTRUCT_SIZE)
  .option('--side-by-side', 'write original | reconstruction | amplified difference')
  .option('--diff-gain <x>', 'amplification of the difference map', Number, 4)
  .option('--classifier <file>', "also print this classifier's top-5 (ONNX or TorchScript) on original and reconstruction (resized to its input size when its ONNX graph fixes one)")
  .option('--batch-size <n>', 'images per batch', positiveInt, 8)
  .addOption(new Option('--device <device>', 'cpu, cuda, cuda:N or auto').default(RUN_DEFAULTS.device))
  .action(async (images: string[], f: { ae: string; out: string; run?: string; size: number; sideBySide?: boolean; diffGain: number; classifier?: string; batchSize: number; device: string }) => {
    const device = resolveDevice(f.device);
    const ae = loadSegNetFile(f.run ? findRunAutoencoder(resolve(f.run), f.ae).file : f.ae);
    const classifier = f.classifier ? await loadClassifierFile(f.classifier, device, f.size === 0 ? null : f.size) : undefined;
    const progress = new ProgressReporter();
    const started = Date.now();
    const summary = await reconstructImages(ae, images, {
      outDir: resolve(f.out), size: f.size === 0 ? null : f.size, sideBySide: f.sideBySide, diffGain: f.diffGain, classifier, batchSize: f.batchSize, device,
      onProgress: (done, total) => progress.update({ stage: 'reconstruct', fraction: done / total, message: `${done}/${total} images`, etaS: ((Date.now() - started) / 1000 / done) * (total - done) }),
    });
    progress.stop();
    process.stdout.write(`${formatReconstruction(summary, resolve(f.out))}\n`);
  });

program
  .command('export')
  .description("write an autoencoder for use outside s2snets: an ONNX graph (ONNX Runtime), or safetensors with the authors' SegNet parameter names (PyTorch)")
  .argument('<out>', 'output file; .onnx or .safetensors chooses the format')
  .requiredOption('--ae <file|name>', 'autoencoder weights file, or with --run the name of one of its autoencoders (A_S, S2S-<classifier>)')
  .option('--run <run-dir>', 'take --ae from this run')
  .addOption(new Option('--format <format>', 'format regardless of the extension').choices([...EXPORT_FORMATS]))
  .option('--json', 'print what was written as JSON')
  .addHelpText('after', '\nExamples:\n  s2snets export --run runs/mnist --ae S2S-resnet resnet-ae.onnx\n  s2snets export --run runs/mnist --ae A_S a_s.safetensors\n  s2snets export --ae s2snet_resnet50.pth s2snet_resnet50.onnx\nThe README shows how to load both in Python.')
  .action((out: string, f: { ae: string; run?: string; format?: ExportFormat; json?: boolean }) => {
    const summary = exportAutoencoder({ ae: f.ae, run: f.run === undefined ? undefined : resolve(f.run), out: resolve(out), format: f.format });
    process.stdout.write(`${f.json ? JSON.stringify(summary, null, 1) : formatExport(summary)}\n`);
  });

addServeCommand(program);

/** Runs the command line `argv` (process.argv) and exits with its status. */
export const runCli = (argv: string[]) => runProgram(program, argv);
