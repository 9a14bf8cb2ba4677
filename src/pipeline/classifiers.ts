// Where the classifiers of a run come from: zoo models are trained by the run (their weights are
// a job's artifact); ONNX and TorchScript models are imported as frozen, differentiable modules.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { noGrad, tidy, zeros } from '../engine/index.js';
import { decodeSafetensors, type Module } from '../nn/index.js';
import { buildClassifier, ZOO } from '../models/classifiers.js';
import { loadOnnxClassifier, OnnxModule } from '../import/onnx/index.js';
import { loadTorchScriptClassifier } from '../import/torchscript.js';
import { hashFile } from './artifacts.js';
import type { ClassifierEntry } from './plan.js';
import type { DataShape, ExperimentData } from './inputs.js';

export class ClassifierMismatchError extends Error {
  override name = 'ClassifierMismatchError';
}

/** The model file of an imported classifier, or null for zoo models. */
export function importedFile(entry: ClassifierEntry): string | null {
  return 'onnx' in entry ? entry.onnx : 'torchscript' in entry ? entry.torchscript : null;
}

/** An input file named by the plan (a model, starting weights) cannot be read. */
export class InputFileError extends Error {
  override name = 'InputFileError';
}

/** What identifies an input file's content (part of job keys: a changed file reruns its jobs). */
export function fileDigest(path: string): string {
  try {
    return hashFile(path).sha256;
  } catch (e) {
    throw new InputFileError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function familyOf(entry: ClassifierEntry): string {
  if ('zoo' in entry) return ZOO[entry.zoo as keyof typeof ZOO]?.family ?? entry.zoo;
  return 'onnx' in entry ? 'imported (ONNX)' : 'imported (TorchScript)';
}

/** Loads a state dict file into a module. */
export function loadWeightsInto(m: Module, path: string, device: string): void {
  const { tensors } = decodeSafetensors(readFileSync(path), path, device);
  m.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
}

/** Loads an imported classifier (ONNX or TorchScript) as a module on `device`. */
async function loadImported(entry: Exclude<ClassifierEntry, { zoo: string }>, device: string): Promise<Module> {
  return 'onnx' in entry ? loadOnnxClassifier(entry.onnx, { device }) : loadTorchScriptClassifier(entry.torchscript, { device });
}

/**
 * An ONNX (.onnx) or TorchScript (any other extension) classifier file as a frozen module in eval mode.
 * @example await loadClassifierFile('resnet50.onnx', 'cpu')
 */
export async function loadClassifierFile(file: string, device: string): Promise<Module> {
  const entry = extname(file).toLowerCase() === '.onnx' ? { name: file, onnx: file } : { name: file, torchscript: file };
  return (await loadImported(entry, device)).eval().freeze();
}

/**
 * The classifier as a frozen module in eval mode on `device`. Zoo models need their trained
 * weights file. Imported models are checked against the data (input size, class count) before use.
 */
export async function openClassifier(entry: ClassifierEntry, data: ExperimentData, device: string, weights?: string, log?: (line: string) => void): Promise<Module> {
  let model: Module;
  if ('zoo' in entry) {
    model = buildClassifier(entry.zoo, data.inputSpec).to({ device });
    if (weights) loadWeightsInto(model, weights, device);
  } else {
    model = await loadImported(entry, device);
  }
  model.eval().freeze();
  if (!('zoo' in entry)) checkFits(entry, model, data, 1, device);
  const note = batchNote(model);
  if (note) log?.(note);
  return model;
}

/** Says how a graph exported with a fixed batch size runs, or null when it takes any batch. */
export function batchNote(model: Module): string | null {
  if (!(model instanceof OnnxModule) || model.info.fixedBatch === null) return null;
  const b = model.info.fixedBatch;
  return `${model.info.file}: exported with a fixed batch size of ${b}, so batches run through it ${b === 1 ? 'one image' : `${b} images`} at a time (slower); export it with a dynamic batch axis to run whole batches`;
}

/**
 * Loads every imported classifier of a run and checks it against the data's shape, so that a
 * model that cannot serve fails the run before any training starts. Throws ClassifierMismatchError.
 */
export async function checkImportedClassifiers(classifiers: ClassifierEntry[], shape: DataShape, batchSize: number): Promise<void> {
  for (const entry of classifiers) {
    if ('zoo' in entry) continue;
    const model = await loadImported(entry, 'cpu');
    try {
      checkFits(entry, model.eval(), shape, batchSize, 'cpu');
    } finally {
      for (const t of model.stateDict().values()) t.dispose();
    }
  }
}

const side = (c: number | null, h: number | null, w: number | null) => [c, h, w].map((d) => d ?? '?').join('x');

/**
 * An imported model fits when it takes channels x size x size images (the input shape an ONNX
 * graph declares, where it declares one, and a trial forward on a blank image) and has one output
 * per class.
 */
function checkFits(entry: ClassifierEntry, model: Module, shape: DataShape, batchSize: number, device: string): void {
  const file = importedFile(entry);
  const { channels, size } = shape;
  const images = side(channels, size, size);
  const declared = model instanceof OnnxModule ? model.info.inputShape : null;
  if (declared?.length === 4) {
    const [, c, h, w] = declared;
    if ((c !== null && c !== channels) || (h !== null && h !== size) || (w !== null && w !== size)) {
      throw new ClassifierMismatchError(
        `${file}: the model takes ${side(c, h, w)} images (the input shape its ONNX graph declares) but the run's images are ${images}; export the model for ${images} (or with dynamic height and width) or change dataset.imageSize`,
      );
    }
  }
  let classes: number;
  let rows: number;
  try {
    // A trial batch of the run's own size: a graph that only takes another batch size fails here, not mid-run.
    [rows, classes] = noGrad(() =>
      tidy(() => {
        const out = model.forward(zeros([batchSize, channels, size, size], { device })).shape;
        return [out[0], out[out.length - 1]];
      }),
    );
  } catch (e) {
    // Loader errors already name the file.
    const reason = (e as Error).message.split('\n')[0].replace(`${file}: `, '');
    throw new ClassifierMismatchError(`${file}: cannot run on ${images} images (${reason}); was it made for another input size than dataset.imageSize?`);
  }
  if (rows !== batchSize) {
    throw new ClassifierMismatchError(`${file}: given a batch of ${batchSize} images the model returns ${rows} rows; a classifier needs one row of outputs per image`);
  }
  if (classes !== shape.classNames.length) {
    throw new ClassifierMismatchError(`${file}: the model has ${classes} outputs but the data has ${shape.classNames.length} classes; a classifier needs one output per class`);
  }
}
