// The S2SNets experiment as a job graph:
//   classifier[name] ─┐
//   pretrain (A_S) ───┴─> finetune[name] ─> reconstruct[ae] ─> evaluate ─> report
// Each job writes its own artifact (weights, reconstructions, metrics); the run store reuses
// finished jobs, so a rerun resumes and a changed setting recomputes only what depends on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineInfo, manualSeed, noGrad, tidy, cat, keep, type Tensor } from '../engine/index.js';
import { decodeSafetensors, encodeSafetensors, type Module } from '../nn/index.js';
import { writeFileAtomic } from '../common/atomic.js';
import { SegNet } from '../models/segnet.js';
import { buildClassifier } from '../models/classifiers.js';
import { trainClassifier } from '../train/classifier.js';
import { pretrainAutoencoder } from '../train/autoencoder.js';
import { finetuneDecoder } from '../train/finetune.js';
import { stepBatches } from '../train/sampler.js';
import type { CheckpointStore, LossCurve, StepProgress } from '../train/loop.js';
import type { JobContext, JobSpec, Json } from './jobs.js';
import { experimentData, type ExperimentData } from './inputs.js';
import type { ExperimentPlan } from './plan.js';

export const GENERIC_AE = 'A_S';
export const aeName = (classifier: string) => `S2S-${classifier}`;

/** Bridges the training loop's checkpoints to the run store's atomic checkpoint directory. */
function jobCheckpoint(ctx: JobContext, every: number): CheckpointStore {
  const file = 'train.safetensors';
  return {
    every,
    save: (chunks) => ctx.checkpoint.save(`train`, { [file]: chunks }),
    load: () => {
      const c = ctx.checkpoint.load();
      return c ? readFileSync(join(c.dir, file)) : null;
    },
    describe: `checkpoint of job ${ctx.key.slice(0, 12)}`,
  };
}

function progressTo(ctx: JobContext): (p: StepProgress) => void {
  return (p) => void ctx.progress(p.step / p.steps, `step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)}`, { loss: p.loss });
}

function saveModule(ctx: JobContext, file: string, m: Module, meta: Record<string, string> = {}): void {
  writeFileAtomic(join(ctx.dir, file), encodeSafetensors(m.stateDict(), meta));
}

function loadModuleInto(m: Module, path: string, device: string): void {
  const { tensors } = decodeSafetensors(readFileSync(path), path, device);
  m.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
}

/** Accuracy of forward on (images, labels), batched, without autograd. */
export function accuracyOf(forward: (x: Tensor) => Tensor, images: Tensor, labels: Tensor, batchSize: number, topK = 1): number {
  return noGrad(() => {
    let correct = 0;
    const n = labels.shape[0];
    for (let i = 0; i < n; i += batchSize) {
      correct += tidy(() => {
        const logits = forward(images.slice(0, i, i + batchSize));
        const y = labels.slice(0, i, i + batchSize);
        const [, top] = logits.topk(topK, 1);
        return top.eq(y.unsqueeze(1)).sum().item();
      });
    }
    return correct / n;
  });
}

export interface ClassifierOutput {
  [k: string]: Json;
  weights: string;
  family: string;
  parameters: number;
  top1: number;
  top5: number | null;
  finalLoss: number;
  curve: { step: number[]; loss: number[] };
}

export interface AutoencoderOutput {
  [k: string]: Json;
  weights: string;
  finalLoss: number;
  curve: { step: number[]; loss: number[] };
}

export interface ReconstructionOutput {
  [k: string]: Json;
  file: string;
  autoencoder: string;
}

function curveJson(c: LossCurve): { step: number[]; loss: number[] } {
  return { step: c.step, loss: c.loss };
}

export function buildAutoencoder(plan: ExperimentPlan, data: ExperimentData): SegNet {
  return new SegNet({ inChannels: data.channels, stages: plan.ae.stages });
}

export interface ExperimentJobs {
  classifiers: Map<string, JobSpec<ClassifierOutput>>;
  pretrain: JobSpec<AutoencoderOutput>;
  finetunes: Map<string, JobSpec<AutoencoderOutput>>;
  reconstructions: Map<string, JobSpec<ReconstructionOutput>>;
}

/** The training and reconstruction jobs of an experiment. */
export function experimentJobs(plan: ExperimentPlan): ExperimentJobs {
  const common = { dataset: plan.dataset, seed: plan.seed, device: plan.device };

  const classifiers = new Map<string, JobSpec<ClassifierOutput>>();
  for (const name of plan.classifiers) {
    const cfg = plan.classifierTraining;
    classifiers.set(name, {
      name: `classifier[${name}]`,
      deps: [],
      config: { ...common, model: name, ...cfg },
      async run(ctx) {
        const data = await experimentData(plan);
        manualSeed(plan.seed);
        const model = buildClassifier(name, data.inputSpec).to({ device: plan.device });
        const batches = stepBatches(data.train, { batchSize: cfg.batchSize, seed: plan.seed, device: plan.device });
        const steps = Math.max(1, Math.round(cfg.epochs * batches.stepsPerEpoch));
        const result = await trainClassifier(model, {
          name: `train ${name}`,
          steps,
          lr: cfg.lr,
          optimizer: cfg.optimizer,
          seed: plan.seed,
          batch: batches.batch,
          checkpoint: jobCheckpoint(ctx, plan.checkpointEvery),
          signal: ctx.signal,
          onProgress: progressTo(ctx),
        });
        model.eval();
        const forward = (x: Tensor) => model.forward(x.to({ device: plan.device }));
        const top1 = accuracyOf(forward, data.test.images, data.test.labels, plan.evalBatchSize);
        const top5 = data.classNames.length > 5 ? accuracyOf(forward, data.test.images, data.test.labels, plan.evalBatchSize, 5) : null;
        saveModule(ctx, 'classifier.safetensors', model, { model: name });
        ctx.setMetrics({ top1, finalLoss: result.finalLoss });
        return { weights: 'classifier.safetensors', family: data.families[name] ?? name, parameters: model.parameterCount(), top1, top5, finalLoss: result.finalLoss, curve: curveJson(result.curve) };
      },
    });
  }

  const pretrain: JobSpec<AutoencoderOutput> = {
    name: `pretrain[${GENERIC_AE}]`,
    deps: [],
    config: { ...common, ae: plan.ae },
    async run(ctx) {
      const data = await experimentData(plan);
      manualSeed(plan.seed);
      const ae = buildAutoencoder(plan, data).to({ device: plan.device });
      const batches = stepBatches(data.train, { batchSize: plan.ae.batchSize, seed: plan.seed + 1, device: plan.device });
      const steps = Math.max(1, Math.round(plan.ae.epochs * batches.stepsPerEpoch));
      const result = await pretrainAutoencoder(ae, {
        steps,
        lr: plan.ae.lr,
        seed: plan.seed + 1,
        batch: batches.batch,
        checkpoint: jobCheckpoint(ctx, plan.checkpointEvery),
        signal: ctx.signal,
        onProgress: progressTo(ctx),
      });
      ae.eval();
      saveModule(ctx, 'autoencoder.safetensors', ae, { stages: JSON.stringify(plan.ae.stages) });
      ctx.setMetrics({ finalLoss: result.finalLoss });
      return { weights: 'autoencoder.safetensors', finalLoss: result.finalLoss, curve: curveJson(result.curve) };
    },
  };

  const finetunes = new Map<string, JobSpec<AutoencoderOutput>>();
  for (const [name, clsJob] of classifiers) {
    const cfg = plan.finetune;
    finetunes.set(name, {
      name: `finetune[${name}]`,
      deps: [pretrain, clsJob],
      config: { ...common, classifier: name, ...cfg },
      async run(ctx) {
        const data = await experimentData(plan);
        manualSeed(plan.seed);
        const ae = buildAutoencoder(plan, data).to({ device: plan.device });
        loadModuleInto(ae, join(ctx.input(pretrain), ctx.output(pretrain).weights), plan.device);
        const classifier = buildClassifier(name, data.inputSpec).to({ device: plan.device });
        loadModuleInto(classifier, join(ctx.input(clsJob), ctx.output(clsJob).weights), plan.device);
        const batches = stepBatches(data.train, { batchSize: cfg.batchSize, seed: plan.seed + 2, device: plan.device });
        const result = await finetuneDecoder(ae, classifier, {
          name: `fine-tune ${name}`,
          steps: cfg.steps,
          lr: cfg.lr,
          optimizer: cfg.optimizer,
          targets: cfg.targets,
          trainWholeAe: cfg.trainWholeAe,
          seed: plan.seed + 2,
          batch: batches.batch,
          checkpoint: jobCheckpoint(ctx, plan.checkpointEvery),
          signal: ctx.signal,
          onProgress: progressTo(ctx),
        });
        saveModule(ctx, 'autoencoder.safetensors', ae, { classifier: name });
        ctx.setMetrics({ finalLoss: result.finalLoss });
        return { weights: 'autoencoder.safetensors', finalLoss: result.finalLoss, curve: curveJson(result.curve) };
      },
    });
  }

  const reconstructions = new Map<string, JobSpec<ReconstructionOutput>>();
  const aeJobs: [string, JobSpec<AutoencoderOutput>][] = [[GENERIC_AE, pretrain], ...[...finetunes].map(([n, j]) => [aeName(n), j] as [string, JobSpec<AutoencoderOutput>])];
  for (const [name, aeJob] of aeJobs) {
    reconstructions.set(name, {
      name: `reconstruct[${name}]`,
      deps: [aeJob],
      config: { ...common, autoencoder: name, evalSamples: plan.evalSamples },
      async run(ctx) {
        const data = await experimentData(plan);
        const ae = buildAutoencoder(plan, data).to({ device: plan.device });
        loadModuleInto(ae, join(ctx.input(aeJob), ctx.output(aeJob).weights), plan.device);
        ae.eval();
        const recon = noGrad(() => {
          const parts: Tensor[] = [];
          for (let i = 0; i < data.eval.labels.shape[0]; i += plan.evalBatchSize) {
            parts.push(tidy(() => ae.forward(data.eval.images.slice(0, i, i + plan.evalBatchSize).to({ device: plan.device })).cpu()));
          }
          const all = keep(cat(parts));
          for (const p of parts) p.dispose();
          return all;
        });
        writeFileAtomic(join(ctx.dir, 'reconstructions.safetensors'), encodeSafetensors(new Map([['images', recon]])));
        recon.dispose();
        return { file: 'reconstructions.safetensors', autoencoder: name };
      },
    });
  }
  return { classifiers, pretrain, finetunes, reconstructions };
}

/** Loads a finished reconstruction artifact (normalized model-input space, on the CPU). */
export function loadReconstructions(dir: string, out: ReconstructionOutput): Tensor {
  const path = join(dir, out.file);
  const { tensors } = decodeSafetensors(readFileSync(path), path);
  return tensors.get('images')!;
}

/** Loads a finished classifier artifact. */
export function loadClassifier(plan: ExperimentPlan, data: ExperimentData, name: string, dir: string, out: ClassifierOutput): Module {
  const model = buildClassifier(name, data.inputSpec).to({ device: plan.device });
  loadModuleInto(model, join(dir, out.weights), plan.device);
  return model.eval();
}

export { engineInfo };
