// The classifier job kind: a zoo model trained on the run's data, or an imported model opened
// and measured on it. Either way its output is the classifier every later job of that name uses.
import { join } from 'node:path';
import { manualSeed, noGrad } from '../engine/index.js';
import type { Module } from '../nn/index.js';
import { buildClassifier } from '../models/classifiers.js';
import { trainClassifier } from '../train/classifier.js';
import { splitBatches } from '../train/sampler.js';
import { accuracyOf, batchPredictions, type Accuracy, type Forward } from '../analysis/index.js';
import { deriveSeed, inOrder, randomTranslate, Rng, type ImageSplit } from '../data/index.js';
import type { Json } from '../common/json.js';
import type { JobContext, JobSpec } from '../scheduler/job-graph.js';
import { indexFileOf, sliceEvaluationData, type IndexOutput, type TrainingData } from './inputs.js';
import type { ClassifierEntry, ExperimentPlan } from './plan.js';
import { familyOf, openClassifier } from './classifier-sources.js';
import { curveJson, hashed, imagesPerS, jobCheckpoint, progressTo, saveModule, seedTag, trainingJob, trainingRate, type JobSettings, type KindJob, type TrainingSlice } from './job-common.js';

export interface ClassifierOutput {
  [k: string]: Json;
  weights: string;
  family: string;
  parameters: number;
  top1: number;
  top5: number | null;
  /** Last training loss; null for imported classifiers (not trained here). */
  finalLoss: number | null;
  curve: { step: number[]; loss: number[] };
}

/** What trains a zoo classifier: its model and the plan's classifier training, with this model's own epochs. */
export type TrainedClassifierConfig = TrainingSlice & { model: string } & Omit<ExperimentPlan['classifierTraining'], 'epochsFor'>;

/** What identifies an imported classifier: its file, by path and content, and what input it takes when the plan says. */
export type ImportedClassifierConfig = TrainingSlice & { file: string; sha256: string; input?: Json; evalSamples: number };

export interface ClassifierPayload {
  config: TrainedClassifierConfig | ImportedClassifierConfig;
  /**
   * The plan's entry: its name is in the job's name, a zoo model in `model`, an imported file
   * (by content) and its input in the config; whether the file is ONNX or TorchScript decides
   * only whether it loads.
   */
  entry: ClassifierEntry;
  settings: JobSettings;
}

export type ClassifierJob = KindJob<ClassifierOutput, ClassifierPayload>;

/**
 * The job that trains a zoo classifier.
 * @param payload its config (the key), entry and settings
 * @param index the streamed dataset's index job, null for a built-in dataset
 * @example trainedClassifierJob({ config, entry: { name: 'lenet5', zoo: 'lenet5' }, settings }, null)
 */
export function trainedClassifierJob(payload: ClassifierPayload & { config: TrainedClassifierConfig }, index: JobSpec<IndexOutput> | null): ClassifierJob {
  const { config: cfg, entry, settings } = payload;
  return trainingJob(`classifier[${entry.name}]${seedTag(cfg)}`, payload, index, [], async (ctx, data) => {
    manualSeed(cfg.seed);
    const model = buildClassifier(cfg.model, data.inputSpec).to({ device: cfg.device });
    const batches = splitBatches(data.train, { batchSize: cfg.batchSize, seed: cfg.seed, device: cfg.device });
    // Each step's shift comes from its own seeded stream, so a resumed run draws the same ones.
    const augmented = (step: number) => {
      const b = batches.batch(step);
      const x = randomTranslate(b.x, cfg.augmentShift, new Rng(deriveSeed(cfg.seed, 'augment', step)));
      b.x.dispose();
      return { x, y: b.y };
    };
    const result = await trainClassifier(model, {
      name: `train ${entry.name}`,
      steps: Math.max(1, Math.round(cfg.epochs * batches.stepsPerEpoch)),
      lr: cfg.lr,
      optimizer: cfg.optimizer,
      channelsLast: cfg.channelsLast,
      seed: cfg.seed,
      batch: augmented,
      ready: batches.ready,
      checkpoint: jobCheckpoint(ctx, settings.checkpointEvery),
      signal: ctx.signal,
      onProgress: progressTo(ctx, cfg.batchSize),
    });
    model.eval();
    const { top1, top5 } = await testAccuracy(model, data, cfg.device, settings);
    saveModule(ctx, 'classifier.safetensors', model, { model: cfg.model });
    ctx.setMetrics({ top1, finalLoss: result.finalLoss, imagesPerS: trainingRate(result, cfg.batchSize) });
    return { weights: 'classifier.safetensors', family: familyOf(entry), parameters: model.parameterCount(), top1, top5, finalLoss: result.finalLoss, curve: curveJson(result.curve) };
  });
}

/**
 * The job that opens an imported classifier and measures it on the run's evaluation images (the
 * originals its cross-evaluation column starts from). Not the whole test split: an imported
 * model was not trained on this split, and at ImageNet scale its 10,000 images would keep a CPU
 * busy for hours before the first fine-tune step.
 * @param payload its config (the key), entry and settings
 * @param index the streamed dataset's index job, null for a built-in dataset
 * @example importedClassifierJob({ config, entry: { name: 'vgg', onnx: 'vgg16.onnx' }, settings }, null)
 */
export function importedClassifierJob(payload: ClassifierPayload & { config: ImportedClassifierConfig }, index: JobSpec<IndexOutput> | null): ClassifierJob {
  const { config: cfg, entry, settings } = payload;
  return {
    name: `import[${entry.name}]`,
    deps: index ? [index] : [],
    config: hashed(cfg),
    payload,
    async run(ctx) {
      const data = await sliceEvaluationData(cfg, cfg.evalSamples, indexFileOf(ctx, index));
      const model = await openClassifier(entry, data, cfg.device, undefined, (line) => ctx.log(line));
      const started = performance.now();
      const { top1, top5 } = await splitAccuracy((x) => model.forward(x), data.eval, { batchSize: settings.evalBatchSize, device: cfg.device });
      ctx.setMetrics({ top1, imagesPerS: imagesPerS(data.eval.length, (performance.now() - started) / 1000) });
      return { weights: '', family: familyOf(entry), parameters: model.parameterCount(), top1, top5, finalLoss: null, curve: { step: [], loss: [] } };
    },
  };
}

/**
 * The weights file of a finished classifier job (null for imported models, which keep their own file).
 * @param ctx the context of a job that depends on it
 * @param job the classifier job
 * @example const weights = classifierWeights(ctx, classifierJob);
 */
export function classifierWeights(ctx: Pick<JobContext, 'input' | 'output'>, job: JobSpec<ClassifierOutput>): string | undefined {
  const out = ctx.output(job);
  return out.weights ? join(ctx.input(job), out.weights) : undefined;
}

/**
 * A classifier's accuracy over a split, streamed a batch at a time (top-5 only above 5 classes).
 * @param forward the classifier
 * @param split the images
 * @param o batch size, device
 * @example const { top1 } = await splitAccuracy((x) => model.forward(x), data.eval, { batchSize: 250, device: 'cpu' });
 */
async function splitAccuracy(forward: Forward, split: ImageSplit, o: { batchSize: number; device: string }): Promise<Accuracy> {
  const top1: number[] = [];
  const top5: number[] = [];
  for await (const { batch } of inOrder(split, o)) {
    const logits = await noGrad(() => forward(batch.x));
    const p = batchPredictions(logits, batch.y);
    top1.push(...p.top1);
    if (p.top5Hit) top5.push(...p.top5Hit);
    for (const t of [logits, batch.x, batch.y]) t.dispose();
  }
  return accuracyOf({ top1: Int32Array.from(top1), top5Hit: top5.length ? Uint8Array.from(top5) : null }, split.labels);
}

/** Test-split accuracy of a classifier (top-5 only above 5 classes). */
async function testAccuracy(model: Module, data: TrainingData, device: string, settings: JobSettings): Promise<{ top1: number; top5: number | null }> {
  const { top1, top5 } = await splitAccuracy((x) => model.forward(x), data.test, { batchSize: settings.evalBatchSize, device });
  return { top1, top5 };
}
