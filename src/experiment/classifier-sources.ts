// Where the classifiers of a run come from: zoo models are trained by the run (their weights are
// a job's artifact); ONNX and TorchScript models are imported as frozen, differentiable modules.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { noGrad, tidy, zeros } from '../engine/index.js';
import { adaptInput, decodeSafetensors, InputAdapter, unwrapAdapter, type ImageInput, type Module, type ResizeMode } from '../nn/index.js';
import { buildClassifier, ZOO } from '../models/classifiers.js';
import { loadOnnxClassifier, OnnxModule } from '../import/onnx/index.js';
import { loadTorchScriptClassifier } from '../import/torchscript.js';
import { hashFile } from '../runs/artifacts.js';
import type { ClassifierEntry } from './plan.js';
import type { DataShape, ExperimentData, TrainingData } from './inputs.js';
import { S2SNetsError, ioReason } from '../common/errors.js';

export class ClassifierMismatchError extends S2SNetsError {
  override name = 'ClassifierMismatchError';
  static override readonly codes = ['S2SNETS_CLASSIFIER_MISMATCH'] as const;
}

/** The model file of an imported classifier, or null for zoo models. */
export function importedFile(entry: ClassifierEntry): string | null {
  return 'onnx' in entry ? entry.onnx : 'torchscript' in entry ? entry.torchscript : null;
}

/** An input file named by the plan (a model, starting weights) cannot be read. */
export class InputFileError extends S2SNetsError {
  override name = 'InputFileError';
  static override readonly codes = ['S2SNETS_INPUT_FILE'] as const;
}

/** What identifies an input file's content (part of job keys: a changed file reruns its jobs). */
export function fileDigest(path: string): string {
  try {
    return hashFile(path).sha256;
  } catch (e) {
    throw new InputFileError(`${path}: cannot read (${ioReason(e)})`);
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
 * An ONNX (.onnx) or TorchScript (any other extension) classifier file as a frozen module in eval
 * mode that takes images of `side` px (null: of any size) in the normalization it takes: a graph
 * with a fixed input size of its own gets them resized to it (bilinear, antialiased when shrinking).
 * @param file the model file
 * @param device where it runs
 * @param side the side of the images it will be given, or null when their size varies
 * @throws ClassifierMismatchError, and the loaders' errors naming the file
 * @example await loadClassifierFile('resnet50.onnx', 'cpu', 256) // resizes to 224 when the graph declares 224
 */
export async function loadClassifierFile(file: string, device: string, side: number | null): Promise<Module> {
  const entry = extname(file).toLowerCase() === '.onnx' ? { name: file, onnx: file } : { name: file, torchscript: file };
  const model = await loadImported(entry, device);
  const channels = (model instanceof OnnxModule ? model.info.inputShape?.[1] : null) ?? 3;
  // Only the size is adapted. Side 0 (images of any size) never equals the graph's.
  return adaptToData(entry, model, sizeOnly(side ?? 0, channels), device);
}

/** Images of side x side px whose normalization is left as it is (mean 0, std 1): an adapter from them changes only the size. */
const sizeOnly = (side: number, channels: number): ImageInput => ({ height: side, width: side, mean: new Array(channels).fill(0), std: new Array(channels).fill(1) });

/**
 * The classifier as a frozen module in eval mode on `device` that takes the data's images (its
 * size, mean and std): an imported model whose input differs (its `input` settings, or the fixed
 * size its ONNX graph declares) comes wrapped in an InputAdapter that resizes and re-normalizes
 * on the way in, differentiably; otherwise the model itself. Zoo models need their trained
 * weights file. Imported models are checked against the data (channels, class count) first.
 * @param entry the classifier as the plan names it
 * @param data the run's data (its size, mean and std are what the module takes)
 * @param device where the module runs
 * @param weights a zoo model's trained weights
 * @param log one line for the run's log (batch handling, input adaptation)
 * @throws ClassifierMismatchError when the model cannot serve the data
 * @example const model = await openClassifier(entry, data, 'cpu'); model.forward(data.eval.images)
 */
export async function openClassifier(entry: ClassifierEntry, data: TrainingData, device: string, weights?: string, log?: (line: string) => void): Promise<Module> {
  let model: Module;
  if ('zoo' in entry) {
    model = buildClassifier(entry.zoo, data.inputSpec).to({ device });
    if (weights) loadWeightsInto(model, weights, device);
    return model.eval().freeze();
  }
  const source: ImageInput = { height: data.size, width: data.size, mean: data.mean, std: data.std };
  const adapted = adaptToData(entry, await loadImported(entry, device), source, device);
  checkFits(entry, adapted, data, device);
  for (const line of [batchNote(unwrapAdapter(adapted).classifier), adaptationNote(entry, adapted)]) if (line) log?.(line);
  return adapted;
}

/** What a classifier saw of the data's images: its input size and normalization, and the resize that made them (null: none). */
export interface SeenInput {
  height: number;
  width: number;
  mean: number[];
  std: number[];
  /** The interpolation from the data's size (antialiased when shrinking), or null when the sizes are equal. */
  resize: ResizeMode | null;
  antialias: boolean;
}

/**
 * What the module openClassifier returned takes in, as the report states it.
 * @param model a module from openClassifier
 * @param data the run's data
 * @example seenInput(await openClassifier(entry, data, 'cpu'), data) // { height: 299, width: 299, ..., resize: 'bilinear', antialias: false }
 */
export function seenInput(model: Module, data: Pick<ExperimentData, 'size' | 'mean' | 'std'>): SeenInput {
  if (!(model instanceof InputAdapter)) return { height: data.size, width: data.size, mean: [...data.mean], std: [...data.std], resize: null, antialias: false };
  const { height, width, mean, std } = model.target;
  return { height, width, mean: [...mean], std: [...std], resize: model.resizes ? model.resize : null, antialias: model.resizes && (height < data.size || width < data.size) };
}

/** The run's log line of an adapted classifier, or null when it takes the data's images as they are. */
function adaptationNote(entry: ClassifierEntry, model: Module): string | null {
  if (!(model instanceof InputAdapter)) return null;
  const { source, target } = model;
  const resized = model.resizes ? `resized from ${source.height}x${source.width} (${model.resize}${target.height < source.height || target.width < source.width ? ', antialiased' : ''})` : 'at their size';
  return `${importedFile(entry)}: takes ${target.height}x${target.width} images normalized with mean [${target.mean.join(', ')}] and std [${target.std.join(', ')}]; it sees the run's images ${resized} and re-normalized from mean [${source.mean.join(', ')}], std [${source.std.join(', ')}]`;
}

/**
 * The imported model behind the map from `source` (the data's images) to its own input: the
 * entry's `input` settings, where absent the fixed height and width its ONNX graph declares,
 * else the source's. Throws ClassifierMismatchError when the settings contradict the graph or
 * the mean and std have another channel count than the data.
 */
function adaptToData(entry: Exclude<ClassifierEntry, { zoo: string }>, model: Module, source: ImageInput, device: string): Module {
  model.eval().freeze();
  const file = importedFile(entry);
  const settings = entry.input ?? {};
  const declared = model instanceof OnnxModule && model.info.inputShape?.length === 4 ? model.info.inputShape : null;
  const [dh, dw] = [declared?.[2] ?? null, declared?.[3] ?? null];
  if (settings.size !== undefined && ((dh !== null && dh !== settings.size) || (dw !== null && dw !== settings.size))) {
    throw new ClassifierMismatchError(`${file}: inputSize ${settings.size} contradicts the ${side(declared![1], dh, dw)} input its ONNX graph declares; remove inputSize or export the model for ${settings.size} px`);
  }
  const channels = source.mean.length;
  for (const [field, v] of [['mean', settings.mean], ['std', settings.std]] as const) {
    if (v && v.length !== channels) throw new ClassifierMismatchError(`${file}: ${field} has ${v.length} value(s) but the run's images have ${channels} channel(s); give one value per channel`);
  }
  const target: ImageInput = {
    height: settings.size ?? dh ?? source.height,
    width: settings.size ?? dw ?? source.width,
    mean: settings.mean ?? source.mean,
    std: settings.std ?? source.std,
  };
  return adaptInput(model, source, target, settings.resize ?? 'bilinear').to({ device });
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
export async function checkImportedClassifiers(classifiers: ClassifierEntry[], shape: DataShape): Promise<void> {
  for (const entry of classifiers) {
    if ('zoo' in entry) continue;
    // The data's mean and std are not known before its images are read; they change no shape.
    const model = adaptToData(entry, await loadImported(entry, 'cpu'), sizeOnly(shape.size, shape.channels), 'cpu');
    try {
      checkFits(entry, model, shape, 'cpu');
    } finally {
      for (const t of model.stateDict().values()) t.dispose();
    }
  }
}

const side = (c: number | null, h: number | null, w: number | null) => [c, h, w].map((d) => d ?? '?').join('x');

/** Images in the trial batch every imported classifier runs before a run starts. */
const TRIAL_BATCH = 2;

/**
 * An imported model fits when it takes the run's channels (the input shape an ONNX graph
 * declares, where it declares one), runs on a blank batch of the run's images (through its
 * input adapter) and has one output per class.
 */
function checkFits(entry: ClassifierEntry, adapted: Module, shape: DataShape, device: string): void {
  const file = importedFile(entry);
  const { channels, size } = shape;
  const model = unwrapAdapter(adapted).classifier;
  const target = adapted instanceof InputAdapter ? adapted.target : { height: size, width: size };
  const images = side(channels, target.height, target.width);
  const declared = model instanceof OnnxModule ? model.info.inputShape : null;
  if (declared?.length === 4 && declared[1] !== null && declared[1] !== channels) {
    throw new ClassifierMismatchError(
      `${file}: the model takes ${side(declared[1], declared[2], declared[3])} images (the input shape its ONNX graph declares) but the run's images have ${channels} channel(s); export the model for ${channels}-channel images`,
    );
  }
  let classes: number;
  let rows: number;
  try {
    // A trial batch of 2 (a graph that only takes another batch size fails here, not mid-run): at
    // the run's own batch size the trial took gigabytes and most of a minute for Inception v3 at 299 px.
    [rows, classes] = noGrad(() =>
      tidy(() => {
        const out = adapted.forward(zeros([TRIAL_BATCH, channels, size, size], { device })).shape;
        return [out[0], out[out.length - 1]];
      }),
    );
  } catch (e) {
    // Loader errors already name the file.
    const reason = (e as Error).message.split('\n')[0].replace(`${file}: `, '');
    throw new ClassifierMismatchError(`${file}: cannot run on ${images} images (${reason}); was it made for another input size? Give the classifier's inputSize in the config`);
  }
  if (rows !== TRIAL_BATCH) {
    throw new ClassifierMismatchError(`${file}: given a batch of ${TRIAL_BATCH} images the model returns ${rows} rows; a classifier needs one row of outputs per image`);
  }
  if (classes !== shape.classNames.length) {
    throw new ClassifierMismatchError(`${file}: the model has ${classes} outputs but the data has ${shape.classNames.length} classes; a classifier needs one output per class`);
  }
}
