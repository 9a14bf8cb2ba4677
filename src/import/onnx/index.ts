// ONNX classifier import: parse .onnx files (inline or external weights) into a differentiable Module.
export { loadOnnxClassifier, loadOnnxClassifierFromBytes, OnnxModule, graphSupportProblem, unsupportedOperators } from './module.js';
export { defaultOpset } from './graph.js';
export { decodeModel, decodeTensor, type TensorData } from './proto.js';
export type { OnnxModelInfo, LoadOnnxOptions } from './module.js';
export { OnnxError, OnnxParseError, OnnxGraphError, OnnxUnsupportedOperatorError, OnnxExternalDataError, OnnxRuntimeError } from './errors.js';
export { SUPPORTED_OPERATORS } from './ops.js';
export { OnnxInference, type OnnxInferenceOptions } from './inference.js';
export { ModelProtoType, TensorProtoType, type ModelProto, type TensorProto } from './schema.js';
