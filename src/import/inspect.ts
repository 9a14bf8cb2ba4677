// What a model or weights file holds, read without running it: inputs, outputs, opset and
// operators (ONNX), parameters with their shapes, and the objects a checkpoint kept as inert
// placeholders. Results as data; the CLI renders them (`s2snets inspect FILE`).
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import type { Tensor } from '../engine/index.js';
import { decodeSafetensors } from '../nn/index.js';
import { OnnxParseError } from './onnx/errors.js';
import { defaultOpset } from './onnx/graph.js';
import { graphSupportProblem } from './onnx/module.js';
import { OPERATORS } from './onnx/ops.js';
import { decodeModel, dtypeOfOnnx } from './onnx/proto.js';
import { int64ToNumber, type ValueInfoProto } from './onnx/schema.js';
import { PthError, checkpointTensors, decodePth, isTorchScriptArchive, skippedObjects, stateDictOf, type SkippedObject } from './pth.js';
import { loadTorchScriptClassifier } from './torchscript.js';
import { ioReason } from '../common/errors.js';

export type ModelFileFormat = 'onnx' | 'torchscript' | 'pth' | 'safetensors';

/** A named tensor: its element type and dims (a string for a symbolic ONNX dim, '?' for an unknown one). */
export interface TensorEntry {
  name: string;
  dtype: string;
  shape: (number | string)[] | null;
}

export interface ModelFileReport {
  file: string;
  format: ModelFileFormat;
  /** Graph inputs and outputs (ONNX; other formats do not declare them). */
  inputs: TensorEntry[];
  outputs: TensorEntry[];
  opset: number | null;
  producer: string | null;
  /** Operators by node count, and whether this importer runs each (ONNX). */
  operators: { op: string; nodes: number; supported: boolean }[];
  /** Why the graph would be refused, or null when it would load (ONNX). */
  unsupported: string | null;
  /** Weights and buffers (ONNX initializers, module tensors, checkpoint tensors by key path). */
  parameters: TensorEntry[];
  /** Total elements of the floating-point parameters. */
  parameterCount: number;
  /** Objects a checkpoint holds that were kept as inert placeholders. */
  skipped: SkippedObject[];
  /** [height, width] of the images an ONNX graph with a fixed spatial input takes; null when it takes any size or declares none. */
  inputSize: [number, number] | null;
  /** Facts worth knowing before a run (fixed batch size, fixed input size, where the state dict sits). */
  notes: string[];
}

/** The fixed [height, width] of a 4-d image input, or null when either is symbolic or unknown. */
function fixedInputSize(input: TensorEntry | undefined): [number, number] | null {
  const shape = input?.shape;
  if (shape?.length !== 4 || typeof shape[2] !== 'number' || typeof shape[3] !== 'number') return null;
  return [shape[2], shape[3]];
}

function emptyReport(file: string, format: ModelFileFormat): ModelFileReport {
  return { file, format, inputs: [], outputs: [], opset: null, producer: null, operators: [], unsupported: null, parameters: [], parameterCount: 0, skipped: [], inputSize: null, notes: [] };
}

const isFloatName = (dtype: string) => /^(float|bfloat)/.test(dtype);

function onnxDtype(code: number): string {
  try {
    return dtypeOfOnnx(code, '');
  } catch {
    return `onnx type ${code}`;
  }
}

function onnxValue(v: ValueInfoProto): TensorEntry {
  const t = v.type?.tensorType;
  const shape = t?.shape ? t.shape.dim.map((d) => (d.value === 'dimParam' && d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined ? int64ToNumber(d.dimValue) : '?')) : null;
  return { name: v.name, dtype: onnxDtype(t?.elemType ?? 0), shape };
}

function inspectOnnx(file: string, bytes: Uint8Array): ModelFileReport {
  const src = { file, dir: dirname(resolve(file)) };
  const model = decodeModel(bytes, src);
  const graph = model.graph!;
  const report = emptyReport(file, 'onnx');
  report.opset = defaultOpset(model, file);
  report.producer = `${model.producerName} ${model.producerVersion}`.trim() || null;
  const weights = new Set(graph.initializer.map((t) => t.name));
  report.inputs = graph.input.filter((v) => !weights.has(v.name)).map(onnxValue);
  report.outputs = graph.output.map(onnxValue);
  const counts = new Map<string, number>();
  for (const n of graph.node) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  report.operators = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, nodes]) => ({ op, nodes, supported: Object.hasOwn(OPERATORS, op) }));
  report.unsupported = graphSupportProblem(model, report.opset, src)?.message ?? null;
  report.parameters = graph.initializer.map((t) => ({ name: t.name, dtype: onnxDtype(t.dataType), shape: t.dims.map((d) => int64ToNumber(d)) }));
  report.parameterCount = report.parameters.filter((p) => isFloatName(p.dtype)).reduce((s, p) => s + (p.shape as number[]).reduce((a, b) => a * b, 1), 0);
  const batch = report.inputs[0]?.shape?.[0];
  if (typeof batch === 'number') report.notes.push(`fixed batch size ${batch}: batches of another size run in chunks of ${batch} (export with a dynamic batch axis to run whole batches)`);
  report.inputSize = fixedInputSize(report.inputs[0]);
  if (report.inputSize) report.notes.push(`fixed input size ${report.inputSize.join('x')} px: a run resizes its images to it for this classifier (give inputSize, mean and std in the config to say more)`);
  return report;
}

/** Entries for named tensors, then disposes them. */
function tensorEntries(named: [string, Tensor][]): { parameters: TensorEntry[]; parameterCount: number } {
  const parameters = named.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const parameterCount = named.filter(([, t]) => isFloatName(t.dtype)).reduce((s, [, t]) => s + t.numel, 0);
  for (const [, t] of named) t.dispose();
  return { parameters, parameterCount };
}

/**
 * Reads what a model or weights file holds, without running it.
 * @param file An .onnx graph, a TorchScript archive, a torch.save checkpoint (.pth/.pt/.tar/.bin) or a .safetensors file.
 * @throws The format's typed error (OnnxParseError, PthError, UnsafePickleError, TorchScriptError, SafetensorsError) naming the file.
 * @example inspectModelFile('resnet50.onnx').operators // [{ op: 'Conv', nodes: 53, supported: true }, ...]
 */
export function inspectModelFile(file: string): ModelFileReport {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const why = `${file}: cannot read (${ioReason(e)})`;
    throw extname(file).toLowerCase() === '.onnx' ? new OnnxParseError(why) : new PthError(why);
  }
  const ext = extname(file).toLowerCase();
  if (ext === '.onnx') return inspectOnnx(file, bytes);
  if (ext === '.safetensors') {
    const { tensors, metadata } = decodeSafetensors(bytes, file);
    const report = { ...emptyReport(file, 'safetensors'), ...tensorEntries([...tensors]) };
    if (Object.keys(metadata).length) report.notes.push(`metadata: ${Object.entries(metadata).map(([k, v]) => `${k}=${v.slice(0, 60)}`).join(', ')}`);
    return report;
  }
  if (isTorchScriptArchive(bytes)) {
    const m = loadTorchScriptClassifier(file);
    const report = { ...emptyReport(file, 'torchscript'), ...tensorEntries([...m.stateDict()]) };
    report.notes.push('TorchScript declares no input shape');
    return report;
  }
  const value = decodePth(bytes, file);
  const report = { ...emptyReport(file, 'pth'), skipped: skippedObjects(value) };
  try {
    report.notes.push(`state dict: ${stateDictOf(value, file).size} tensors`);
  } catch (e) {
    report.notes.push(`no loadable state dict (${(e as Error).message.replace(`${file}: `, '')})`);
  }
  return { ...report, ...tensorEntries(checkpointTensors(value)) };
}
