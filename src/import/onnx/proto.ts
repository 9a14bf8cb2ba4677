// Reading ONNX files: protobuf decoding, and tensor payloads (inline or external) turned into
// typed arrays after checking that their sizes match the declared dims.
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { viewBuffer, type AnyTypedArray, type DType } from '../../engine/index.js';
import { OnnxExternalDataError, OnnxGraphError, OnnxParseError, OnnxUnsupportedOperatorError } from './errors.js';
import { DATA_LOCATION_EXTERNAL, DataType, ModelProtoType, int64ToNumber, type ModelProto, type TensorProto } from './schema.js';
import { ioReason } from '../../common/errors.js';

/** A decoded tensor: values in row-major order (float16 is widened to float32 values). */
export interface TensorData {
  dtype: DType;
  dims: number[];
  values: AnyTypedArray;
}

/** Where a model came from: its file (for messages) and the folder external data is relative to. */
export interface ModelSource {
  file: string;
  dir: string;
}

export function decodeModel(bytes: Uint8Array, src: ModelSource): ModelProto {
  let model: ModelProto;
  try {
    model = ModelProtoType.decode(bytes) as unknown as ModelProto;
  } catch (e) {
    throw new OnnxParseError(`${src.file}: not a valid ONNX model (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!model.graph) throw new OnnxParseError(`${src.file}: not a valid ONNX model (no graph in the file)`);
  return model;
}

interface ElementType {
  dtype: DType;
  bytes: number;
  /** Which repeated field holds the values when raw_data is not used. */
  field: 'floatData' | 'int32Data' | 'int64Data' | 'doubleData';
}

const ELEMENT_TYPES = new Map<number, ElementType>([
  [DataType.FLOAT, { dtype: 'float32', bytes: 4, field: 'floatData' }],
  [DataType.DOUBLE, { dtype: 'float64', bytes: 8, field: 'doubleData' }],
  [DataType.FLOAT16, { dtype: 'float16', bytes: 2, field: 'int32Data' }],
  [DataType.INT64, { dtype: 'int64', bytes: 8, field: 'int64Data' }],
  [DataType.INT32, { dtype: 'int32', bytes: 4, field: 'int32Data' }],
  [DataType.INT16, { dtype: 'int16', bytes: 2, field: 'int32Data' }],
  [DataType.INT8, { dtype: 'int8', bytes: 1, field: 'int32Data' }],
  [DataType.UINT8, { dtype: 'uint8', bytes: 1, field: 'int32Data' }],
  [DataType.BOOL, { dtype: 'bool', bytes: 1, field: 'int32Data' }],
]);

/** TensorProto.DataType names by code, for messages (codes 17 on are ONNX 1.14+ types). */
const TYPE_NAMES = [
  'undefined', 'float', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool', 'float16', 'double', 'uint32', 'uint64',
  'complex64', 'complex128', 'bfloat16', 'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'uint4', 'int4',
];

/**
 * The dtype of an ONNX TensorProto.DataType code.
 * @param code The element type code.
 * @param what Names the place in the message.
 * @throws OnnxUnsupportedOperatorError naming a valid ONNX type this importer does not hold
 *   (bfloat16, string...); OnnxGraphError for a code ONNX does not define
 * @example dtypeOfOnnx(1, 'input x') // 'float32'
 */
export function dtypeOfOnnx(code: number, what: string): DType {
  const t = ELEMENT_TYPES.get(code);
  if (t) return t.dtype;
  const supported = 'float, double, float16, int64, int32, int16, int8, uint8, bool are';
  if (code > 0 && code < TYPE_NAMES.length) throw new OnnxUnsupportedOperatorError(`${what}: ONNX data type ${TYPE_NAMES[code]} is not supported (${supported})`);
  throw new OnnxGraphError(`${what}: ${code} is not an ONNX data type`);
}

/** Validated dims and element count of a TensorProto. */
function shapeOf(t: TensorProto, what: string): { dims: number[]; count: number } {
  const dims = t.dims.map((d) => int64ToNumber(d));
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxGraphError(`${what}: invalid dims [${dims}] (sizes must be non-negative integers)`);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw new OnnxGraphError(`${what}: dims [${dims}] describe more elements than can be addressed`);
  return { dims, count };
}

/** Decodes a TensorProto (a graph initializer or a Constant value); `what` names it in errors. */
export function decodeTensor(t: TensorProto, src: ModelSource, what: string): TensorData {
  const type = ELEMENT_TYPES.get(t.dataType);
  if (!type) dtypeOfOnnx(t.dataType, what);
  const { dtype, bytes, field } = type as ElementType;
  const { dims, count } = shapeOf(t, what);
  let raw: Uint8Array | null = null;
  if (t.dataLocation === DATA_LOCATION_EXTERNAL) raw = readExternal(t, count * bytes, src, what);
  else if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * bytes) {
      throw new OnnxGraphError(`${what}: raw_data holds ${t.rawData.length} bytes but dims [${dims}] of ${dtype} need ${count * bytes}`);
    }
    raw = t.rawData;
  }
  if (raw) return { dtype: dtype === 'float16' ? 'float32' : dtype, dims, values: fromLittleEndian(raw, dtype, count) };
  const list = t[field] as (number | { toNumber(): number })[];
  if (list.length !== count) throw new OnnxGraphError(`${what}: ${list.length} values stored but dims [${dims}] need ${count}`);
  return { dtype: dtype === 'float16' ? 'float32' : dtype, dims, values: fromList(list, dtype) };
}

function fromLittleEndian(raw: Uint8Array, dtype: DType, count: number): AnyTypedArray {
  // Copy into a fresh, aligned buffer: raw points into the file at any byte offset.
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  const buf = copy.buffer;
  if (dtype === 'float16') return Float32Array.from(new Uint16Array(buf, 0, count), halfToFloat);
  return viewBuffer(buf, dtype);
}

function fromList(list: (number | { toNumber(): number })[], dtype: DType): AnyTypedArray {
  const nums = list.map((v) => int64ToNumber(v));
  switch (dtype) {
    case 'float32':
      return Float32Array.from(nums);
    case 'float64':
      return Float64Array.from(nums);
    case 'int64':
      return BigInt64Array.from(nums, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(nums);
    case 'int16':
      return Int16Array.from(nums);
    case 'int8':
      return Int8Array.from(nums);
    case 'float16':
      return Float32Array.from(nums, halfToFloat);
    default:
      return Uint8Array.from(nums, (v) => (dtype === 'bool' ? (v !== 0 ? 1 : 0) : v));
  }
}

/** IEEE 754 half-precision bits to a number. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Reads an external tensor payload. The location must stay inside the model's folder (also
 * after resolving symbolic links), and offset/length must lie within the file before anything
 * is allocated.
 */
function readExternal(t: TensorProto, expectedBytes: number, src: ModelSource, what: string): Uint8Array {
  const entries = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (!location) throw new OnnxExternalDataError(`${what}: external data without a 'location' entry`);
  const path = resolve(src.dir, location);
  const inside = (root: string, p: string) => {
    const rel = relative(root, p);
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  };
  if (isAbsolute(location) || !inside(src.dir, path)) {
    throw new OnnxExternalDataError(`${what}: external data location '${location}' is outside the model's folder ${src.dir}`);
  }
  const offset = parseByteCount(entries.get('offset') ?? '0', 'offset', what);
  const length = entries.has('length') ? parseByteCount(entries.get('length') as string, 'length', what) : expectedBytes;
  if (length !== expectedBytes) {
    throw new OnnxExternalDataError(`${what}: external data length ${length} does not match the ${expectedBytes} bytes its dims and type need`);
  }
  let fd: number;
  try {
    if (!inside(realpathSync(src.dir), realpathSync(path))) {
      throw new OnnxExternalDataError(`${what}: external data location '${location}' links outside the model's folder ${src.dir}`);
    }
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof OnnxExternalDataError) throw e;
    throw new OnnxExternalDataError(`${what}: cannot open external data file ${path} (${ioReason(e)})`);
  }
  try {
    const size = fstatSync(fd).size;
    if (offset + length > size) {
      throw new OnnxExternalDataError(`${what}: external data range ${offset}..${offset + length} lies beyond the end of ${path} (${size} bytes)`);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new OnnxExternalDataError(`${what}: ${path} ended while reading external data`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function parseByteCount(text: string, key: string, what: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new OnnxExternalDataError(`${what}: external data ${key} '${text}' is not a non-negative integer`);
  }
  return Number(text);
}
