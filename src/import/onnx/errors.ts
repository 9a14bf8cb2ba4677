// Typed errors of the ONNX importer. Every message is one line naming the file (and the node
// where there is one) and the reason.
import { FileContentError } from '../../common/text.js';

/** Base class: catch this to handle any failure of ONNX import. */
export abstract class OnnxError extends FileContentError {
  override name = 'OnnxError';
}

/** The file cannot be read or is not a well-formed ONNX protobuf. */
export class OnnxParseError extends OnnxError {
  override name = 'OnnxParseError';
  static override readonly codes = ['S2SNETS_ONNX_PARSE'] as const;
}

/** The graph is malformed: cycles, dangling inputs, bad attributes, tensor sizes that do not fit. */
export class OnnxGraphError extends OnnxError {
  override name = 'OnnxGraphError';
  static override readonly codes = ['S2SNETS_ONNX_GRAPH'] as const;
}

/** The graph uses an operator (or an operator mode) this importer does not implement. */
export class OnnxUnsupportedOperatorError extends OnnxError {
  override name = 'OnnxUnsupportedOperatorError';
  static override readonly codes = ['S2SNETS_ONNX_UNSUPPORTED_OPERATOR'] as const;
}

/** Weights stored outside the model file are missing, out of range or outside the model's folder. */
export class OnnxExternalDataError extends OnnxError {
  override name = 'OnnxExternalDataError';
  static override readonly codes = ['S2SNETS_ONNX_EXTERNAL_DATA'] as const;
}

/** A node failed while the graph ran (e.g. an input of a shape the graph does not accept). */
export class OnnxRuntimeError extends OnnxError {
  override name = 'OnnxRuntimeError';
  static override readonly codes = ['S2SNETS_ONNX_RUNTIME'] as const;
}
