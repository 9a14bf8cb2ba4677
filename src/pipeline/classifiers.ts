// Where the classifiers of a run come from: zoo models are trained by the run (their weights are
// a job's artifact); ONNX and TorchScript models are imported as frozen, differentiable modules.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Tensor } from '../engine/index.js';
import { decodeSafetensors, type Module } from '../nn/index.js';
import { buildClassifier, ZOO } from '../models/classifiers.js';
import { loadOnnxClassifier } from '../import/onnx/index.js';
import { loadTorchScriptClassifier } from '../import/torchscript.js';
import type { ClassifierEntry } from './plan.js';
import type { ExperimentData } from './inputs.js';

export class ClassifierMismatchError extends Error {
  override name = 'ClassifierMismatchError';
}

/** The model file of an imported classifier, or null for zoo models. */
export function importedFile(entry: ClassifierEntry): string | null {
  return 'onnx' in entry ? entry.onnx : 'torchscript' in entry ? entry.torchscript : null;
}

/** What identifies an imported model's content (part of job keys: a changed file reruns its jobs). */
export function fileDigest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
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

/**
 * The classifier as a frozen module in eval mode on `device`. Zoo models need their trained
 * weights file. Imported models are checked against the data (class count) before use.
 */
export async function openClassifier(entry: ClassifierEntry, data: ExperimentData, device: string, weights?: string): Promise<Module> {
  let model: Module;
  if ('zoo' in entry) {
    model = buildClassifier(entry.zoo, data.inputSpec).to({ device });
    if (weights) loadWeightsInto(model, weights, device);
  } else if ('onnx' in entry) {
    model = await loadOnnxClassifier(entry.onnx, { device });
  } else {
    model = await loadTorchScriptClassifier(entry.torchscript, { device });
  }
  model.eval().freeze();
  if (!('zoo' in entry)) checkOutputs(entry, model, data);
  return model;
}

function checkOutputs(entry: ClassifierEntry, model: Module, data: ExperimentData): void {
  const probe: Tensor = data.eval.images.slice(0, 0, 1);
  let classes: number;
  try {
    const out = model.forward(probe);
    classes = out.size(-1);
    out.dispose();
  } catch (e) {
    throw new ClassifierMismatchError(`${importedFile(entry)}: cannot run on ${data.channels}x${data.size}x${data.size} images (${(e as Error).message.split('\n')[0]})`);
  } finally {
    probe.dispose();
  }
  if (classes !== data.classNames.length) {
    throw new ClassifierMismatchError(`${importedFile(entry)}: the model has ${classes} outputs but the data has ${data.classNames.length} classes`);
  }
}
