// `s2snets export`: an autoencoder of a run (A_S or S2S-<classifier>), or any SegNet weights file,
// written for use outside s2snets: as an ONNX graph for ONNX Runtime, or as safetensors with the
// authors' parameter names (encoder.conv11.weight ... decoder.conv_final.bias) for PyTorch users'
// own SegNet. Written atomically; what was written is returned as data.
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { encodeSafetensors } from '../nn/index.js';
import type { SegNet } from '../models/segnet.js';
import { segnetToOnnx, SEGNET_ONNX_INPUT, SEGNET_ONNX_OPSET, SEGNET_ONNX_OUTPUT } from '../import/segnet-onnx.js';
import { writeFileAtomic } from '../common/atomic.js';
import { inputSpace, type InputSpace } from '../experiment/inputs.js';
import { loadSegNetFile } from './reconstruct.js';
import { aeName, GENERIC_AE } from '../experiment/names.js';
import { findRunAutoencoder } from './run-autoencoders.js';
import { S2SNetsError } from '../common/errors.js';
import { toolVersion } from '../common/version.js';

export const EXPORT_FORMATS = ['onnx', 'safetensors'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export type ExportErrorCode = (typeof ExportError.codes)[number];

/** An export whose format cannot be told from the output's name, or a run's autoencoder named without the run. */
export class ExportError extends S2SNetsError {
  override name = 'ExportError';
  static override readonly codes = ['S2SNETS_EXPORT_FORMAT', 'S2SNETS_EXPORT_NEEDS_RUN'] as const;
  declare readonly code: ExportErrorCode;
  constructor(code: ExportErrorCode, message: string) {
    super(message, code);
  }
}

export interface ExportOptions {
  /** A run's autoencoder name (with `run`) or a SegNet weights file (.pth, .pt, .safetensors). */
  ae: string;
  /** The run directory to take `ae` from. */
  run?: string;
  out: string;
  /** Default: from the output's extension (.onnx, .safetensors). */
  format?: ExportFormat;
}

export interface ExportSummary {
  output: string;
  format: ExportFormat;
  bytes: number;
  /** The autoencoder's name in its run, or the weights file it came from. */
  autoencoder: string;
  run: string | null;
  inChannels: number;
  stages: number[][];
  parameters: number;
  /** Height and width must be multiples of this (one halving per stage). */
  sizeMultiple: number;
  /** The run's input space (what the autoencoder expects); null for a weights file, whose data is unknown. */
  inputSpace: InputSpace | null;
  /** The graph's opset, input and output (ONNX only). */
  onnx: { opset: number; input: string; output: string; dims: (string | number)[] } | null;
}

/** The format an export is written in: the one asked for, else the output's extension. */
function formatOf(out: string, asked: ExportFormat | undefined): ExportFormat {
  if (asked) return asked;
  const ext = extname(out).slice(1).toLowerCase();
  const known = EXPORT_FORMATS.find((f) => f === ext);
  if (!known) throw new ExportError('S2SNETS_EXPORT_FORMAT', `${out}: cannot tell the export format from the extension '${extname(out)}'; name the file .onnx or .safetensors, or pass --format onnx|safetensors`);
  return known;
}

/** The safetensors header's metadata: the SegNet's shape and, when known, its input space. */
function metadata(ae: SegNet, name: string, space: InputSpace | null): Record<string, string> {
  // 'format: pt' tells Hugging Face's loaders the tensors are PyTorch's.
  const meta: Record<string, string> = { format: 'pt', 's2snets.autoencoder': name, 's2snets.in_channels': String(ae.config.inChannels), 's2snets.stages': JSON.stringify(ae.config.stages) };
  if (space) Object.assign(meta, { 's2snets.mean': JSON.stringify(space.mean), 's2snets.std': JSON.stringify(space.std), 's2snets.size': String(space.size) });
  return meta;
}

/**
 * Writes an autoencoder as ONNX or safetensors, atomically.
 * @param o the autoencoder (a run's name with `run`, or a weights file), the output file and its format
 * @returns what was written, and what the autoencoder expects as input
 * @throws ExportError when the format is neither asked for nor told by the extension, or a run's
 *   autoencoder is named without its run;
 *   RunAutoencoderError when the run has no such finished autoencoder; ReconstructError or
 *   SegNetWeightsError when a weights file holds no SegNet
 * @example exportAutoencoder({ run: 'runs/mnist', ae: 'S2S-resnet', out: 'resnet-ae.onnx' }).bytes
 */
export function exportAutoencoder(o: ExportOptions): ExportSummary {
  const format = formatOf(o.out, o.format);
  if (!o.run && !existsSync(o.ae) && (o.ae === GENERIC_AE || o.ae.startsWith(aeName('')))) {
    throw new ExportError('S2SNETS_EXPORT_NEEDS_RUN', `${o.ae} names an autoencoder of a run: add --run RUN-DIR (or give --ae a weights file)`);
  }
  const found = o.run ? findRunAutoencoder(o.run, o.ae) : null;
  const ae = loadSegNetFile(found ? found.file : o.ae);
  const name = found ? found.name : o.ae;
  const space = found?.plan ? inputSpace(found.plan) : null;
  try {
    const chunks = format === 'onnx' ? [segnetToOnnx(ae, { name: 's2snets', version: toolVersion() })] : encodeSafetensors(ae.stateDict(), metadata(ae, name, space));
    writeFileAtomic(o.out, chunks);
    const dims = ['batch', ae.config.inChannels, 'height', 'width'];
    return {
      output: o.out,
      format,
      bytes: chunks.reduce((n, c) => n + c.byteLength, 0),
      autoencoder: name,
      run: o.run ?? null,
      inChannels: ae.config.inChannels,
      stages: ae.config.stages,
      parameters: ae.parameterCount(),
      sizeMultiple: ae.sizeMultiple,
      inputSpace: space,
      onnx: format === 'onnx' ? { opset: SEGNET_ONNX_OPSET, input: SEGNET_ONNX_INPUT, output: SEGNET_ONNX_OUTPUT, dims } : null,
    };
  } finally {
    ae.stateDict().forEach((t) => t.dispose());
  }
}
