// Builds small ONNX models in tests (encoded with the importer's own schema), for operator modes
// PyTorch's exporter never emits and for malformed graphs.
import { ModelProtoType } from '../../src/import/onnx/index.js';

export type Attr = { i: number } | { f: number } | { ints: number[] } | { floats: number[] } | { s: string } | { t: TensorSpec };

export interface TensorSpec {
  name?: string;
  dims: number[];
  /** float32 values, int64 values for a BigInt64Array, bool values for a Uint8Array. */
  values: Float32Array | BigInt64Array | Uint8Array;
  /** Store the bytes in this external file (relative to the model) instead of inline. */
  external?: { location: string; offset: number; length?: number };
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, Attr>;
}

export interface ModelSpec {
  opset: number;
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
  input: { name: string; dims: (number | string)[] };
  output: { name: string; dims?: (number | string)[] };
}

const ONNX_FLOAT = 1;
const ONNX_INT64 = 7;
const ONNX_BOOL = 9;

function tensorProto(t: TensorSpec) {
  const bytes = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
  const dataType = t.values instanceof Float32Array ? ONNX_FLOAT : t.values instanceof BigInt64Array ? ONNX_INT64 : ONNX_BOOL;
  const base = { name: t.name ?? '', dims: t.dims, dataType };
  if (!t.external) return { ...base, rawData: bytes };
  const entries = [
    { key: 'location', value: t.external.location },
    { key: 'offset', value: String(t.external.offset) },
    { key: 'length', value: String(t.external.length ?? bytes.length) },
  ];
  return { ...base, dataLocation: 1, externalData: entries };
}

function attribute(name: string, a: Attr) {
  if ('i' in a) return { name, type: 2, i: a.i };
  if ('f' in a) return { name, type: 1, f: a.f };
  if ('ints' in a) return { name, type: 7, ints: a.ints };
  if ('floats' in a) return { name, type: 6, floats: a.floats };
  if ('s' in a) return { name, type: 3, s: Buffer.from(a.s) };
  return { name, type: 4, t: tensorProto(a.t) };
}

function valueInfo(name: string, dims?: (number | string)[]) {
  const shape = dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined;
  return { name, type: { tensorType: { elemType: ONNX_FLOAT, shape } } };
}

export function encodeModel(m: ModelSpec): Uint8Array {
  const model = {
    irVersion: 8,
    producerName: 's2snets-test',
    opsetImport: [{ domain: '', version: m.opset }],
    graph: {
      name: 'test',
      node: m.nodes.map((n, k) => ({ name: n.name ?? `${n.op.toLowerCase()}_${k}`, opType: n.op, domain: n.domain ?? '', input: n.inputs, output: n.outputs, attribute: Object.entries(n.attrs ?? {}).map(([k2, a]) => attribute(k2, a)) })),
      initializer: (m.initializers ?? []).map(tensorProto),
      input: [valueInfo(m.input.name, m.input.dims)],
      output: [valueInfo(m.output.name, m.output.dims)],
    },
  };
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}

/** Deterministic pseudo-random float32 values in [-1, 1). */
export function randomValues(count: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  });
}

export const ints64 = (values: number[]) => BigInt64Array.from(values, BigInt);
