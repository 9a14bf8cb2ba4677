// Writing ONNX files: a graph described as plain nodes, float32 initializers and named inputs and
// outputs, encoded with the same protobuf schema the reader decodes (schema.ts). Symbolic axes
// (a string in place of a size) make the batch, or any other axis, dynamic.
import { noGrad, type Tensor } from '../../engine/index.js';
import { AttributeType, DataType, ModelProtoType } from './schema.js';

/** An attribute value: one integer, one float, or a list of integers. */
export type OnnxAttributeValue = { int: number } | { float: number } | { ints: number[] };

export interface OnnxNodeSpec {
  op: string;
  /** The node's name (tools show it; the graph's own layer names make them readable). */
  name: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, OnnxAttributeValue>;
}

/** A float32 graph input or output; a string dim is a named symbolic axis ('batch'). */
export interface OnnxValueSpec {
  name: string;
  dims: (number | string)[];
}

export interface OnnxModelSpec {
  graphName: string;
  /** Version of the default ('') operator set the nodes follow. */
  opset: number;
  producer: { name: string; version: string };
  nodes: OnnxNodeSpec[];
  /** Constant tensors by name (float32 or int64, any device). */
  initializers: Map<string, Tensor>;
  inputs: OnnxValueSpec[];
  outputs: OnnxValueSpec[];
}

// The oldest IR version that can carry each opset (onnx/helper.py VERSION_TABLE), so that the
// file opens in as many runtimes as the opset allows.
const IR_VERSION_OF_OPSET: Record<number, number> = { 7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

const ELEMENT_TYPE: Partial<Record<Tensor['dtype'], number>> = { float32: DataType.FLOAT, int64: DataType.INT64 };

function attribute(name: string, value: OnnxAttributeValue) {
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: value.ints };
}

function initializer(name: string, t: Tensor) {
  const dataType = ELEMENT_TYPE[t.dtype];
  if (dataType === undefined) throw new TypeError(`ONNX initializer ${name}: ${t.dtype} tensors are not written (float32 and int64 are)`);
  // Raw little-endian bytes in row-major order, as TensorProto.raw_data specifies.
  const values = noGrad(() => t.data());
  return { name, dims: t.shape, dataType, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

function valueInfo(v: OnnxValueSpec) {
  const dim = v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name: v.name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim } } } };
}

/**
 * Encodes a model as ONNX protobuf bytes.
 * @param spec the graph: nodes in topological order, initializers, inputs and outputs
 * @returns the bytes of a .onnx file
 * @throws RangeError when the opset has no known IR version; TypeError for an initializer of another dtype than float32/int64
 * @example
 * const bytes = encodeOnnxModel({ graphName: 'relu', opset: 13, producer: { name: 'me', version: '1' },
 *   nodes: [{ op: 'Relu', name: 'relu', inputs: ['x'], outputs: ['y'] }], initializers: new Map(),
 *   inputs: [{ name: 'x', dims: ['batch', 3] }], outputs: [{ name: 'y', dims: ['batch', 3] }] });
 */
export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const irVersion = IR_VERSION_OF_OPSET[spec.opset];
  if (irVersion === undefined) throw new RangeError(`ONNX opset ${spec.opset} is not written (opsets 7 to 21 are)`);
  const model = {
    irVersion,
    producerName: spec.producer.name,
    producerVersion: spec.producer.version,
    opsetImport: [{ domain: '', version: spec.opset }],
    graph: {
      name: spec.graphName,
      node: spec.nodes.map((n) => ({ name: n.name, opType: n.op, domain: '', input: n.inputs, output: n.outputs, attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)) })),
      initializer: [...spec.initializers].map(([name, t]) => initializer(name, t)),
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
  };
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}
