// safetensors, the project's own weight format (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the raw little-endian tensor bytes. Safe to load: no code, every size is checked
// against the file before anything is allocated.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { noGrad, tensor, viewBuffer, type DType, type Tensor, BYTES_PER_ELEMENT } from '../engine/index.js';
import { openAtomic, writeFileAtomic } from '../common/atomic.js';
import { FileContentError } from '../common/text.js';
import { ioReason } from '../common/errors.js';

export class SafetensorsError extends FileContentError {
  override name = 'SafetensorsError';
  static override readonly codes = ['S2SNETS_SAFETENSORS'] as const;
}

const TO_FILE: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_FILE = Object.fromEntries(Object.entries(TO_FILE).map(([k, v]) => [v, k as DType])) as Record<string, DType>;

// Header size limit as in the reference implementation (100 MB): refuses absurd declared lengths.
const MAX_HEADER = 100_000_000;

/** Serialises tensors (any device; copied to the CPU) with optional string metadata. */
export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const names = [...tensors.keys()].sort();
  noGrad(() => {
    for (const name of names) {
      const t = tensors.get(name)!;
      const bytes = rawBytes(t);
      header[name] = { dtype: TO_FILE[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
      chunks.push(bytes);
      offset += bytes.byteLength;
    }
  });
  return [...headerChunks(header), ...chunks];
}

function rawBytes(t: Tensor): Uint8Array {
  // Half types have no typed array: read their bits as int16 (same size, same bytes).
  const bits = t.dtype === 'float16' || t.dtype === 'bfloat16' ? t.viewAs('int16') : t;
  try {
    const d = bits.data();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  } finally {
    if (bits !== t) bits.dispose();
  }
}

/** The 8-byte length and the JSON header, padded with spaces so the data that follows is 8-byte aligned. */
function headerChunks(header: Record<string, unknown>): [Uint8Array, Uint8Array] {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return [len, headerBytes];
}

/** A safetensors file written a row block at a time: one tensor whose first dimension grows to its declared length. */
export interface SafetensorsRowWriter {
  /** Appends rows (the tensor's bytes, [k, ...rowShape], any device). */
  append(rows: Tensor): void;
  /** Checks that every declared row was written, then puts the file in place atomically. */
  commit(): void;
  /** Drops the unfinished file. */
  abort(): void;
}

/**
 * Opens a safetensors file holding one tensor `name` of `shape` and `dtype`, whose rows are
 * appended in order, so that outputs larger than memory (reconstructions of a large evaluation
 * set) are written as they are made. The header is written first: the shape must be known.
 * @param path the file
 * @param name the tensor's name
 * @param dtype its element type
 * @param shape its full shape (rows first)
 * @param metadata string metadata
 * @throws SafetensorsError on commit when fewer or more rows were appended than declared
 * @example const w = openRowWriter(out, 'images', 'uint8', [n, 3, 224, 224]); w.append(batch); w.commit();
 */
export function openRowWriter(path: string, name: string, dtype: DType, shape: number[], metadata: Record<string, string> = {}): SafetensorsRowWriter {
  const rowBytes = shape.slice(1).reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
  const header: Record<string, unknown> = { [name]: { dtype: TO_FILE[dtype], shape, data_offsets: [0, rowBytes * shape[0]] } };
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const file = openAtomic(path);
  let rows = 0;
  for (const chunk of headerChunks(header)) file.write(chunk);
  return {
    append(t) {
      if (t.dtype !== dtype || t.shape.slice(1).join() !== shape.slice(1).join()) throw new SafetensorsError(`${path}: rows of ${t.dtype} [${t.shape}] do not fit ${name} (${dtype} [${shape}])`);
      rows += t.shape[0];
      if (rows > shape[0]) throw new SafetensorsError(`${path}: more than the ${shape[0]} rows declared for ${name}`);
      file.write(noGrad(() => rawBytes(t)));
    },
    commit() {
      if (rows !== shape[0]) throw new SafetensorsError(`${path}: ${rows} of the ${shape[0]} rows declared for ${name} were written`);
      file.commit();
    },
    abort: () => file.abort(),
  };
}

/** Rows of one tensor of a safetensors file, read when asked for. */
export interface SafetensorsRows {
  readonly rows: number;
  readonly rowShape: number[];
  readonly dtype: DType;
  /** Rows [start, start + count) as a tensor on the CPU. */
  read(start: number, count: number): Tensor;
  close(): void;
}

/**
 * Opens one tensor of a safetensors file for reading a block of rows at a time.
 * @param path the file
 * @param name the tensor
 * @throws SafetensorsError when the header is damaged or has no tensor `name`, or a read falls outside it
 * @example const r = openRows(file, 'images'); const first = r.read(0, 250); r.close();
 */
export function openRows(path: string, name: string): SafetensorsRows {
  const fd = openSync(path, 'r');
  let entry: SafetensorsEntry | undefined;
  let dataStart = 0;
  try {
    const index = readSafetensorsIndex(fd, path);
    entry = index.entries.find((e) => e.name === name);
    dataStart = index.dataStart;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  if (!entry) {
    closeSync(fd);
    throw new SafetensorsError(`${path}: no tensor '${name}'`);
  }
  const { dtype, shape, begin } = entry;
  const rowBytes = shape.slice(1).reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
  return {
    rows: shape[0],
    rowShape: shape.slice(1),
    dtype,
    read(start, count) {
      if (!(start >= 0 && count >= 0 && start + count <= shape[0])) throw new SafetensorsError(`${path}: rows [${start}, ${start + count}) are outside ${name}'s ${shape[0]}`);
      const bytes = new Uint8Array(count * rowBytes);
      if (readSync(fd, bytes, 0, bytes.length, dataStart + begin + start * rowBytes) !== bytes.length) throw new SafetensorsError(`${path}: the file is shorter than its header says`);
      return fromBytes(bytes, dtype, [count, ...shape.slice(1)], 'cpu');
    },
    close: () => closeSync(fd),
  };
}

/** Writes tensors to path atomically (temp file, fsync, rename). */
export function saveSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Where one tensor lies in a safetensors file: `begin` and `end` count from the data section's start. */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** A safetensors file's header: its tensors' places, its metadata, and where the data section starts. */
export interface SafetensorsIndex {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  dataStart: number;
}

/**
 * Parses and checks a header against a data section of `dataLen` bytes.
 * @param fail throws the error that names the file
 */
function parseHeader(headerJson: Uint8Array, dataStart: number, dataLen: number, fail: (why: string) => never): SafetensorsIndex {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(headerJson.buffer, headerJson.byteOffset, headerJson.byteLength).toString('utf8'));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, spec] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (spec === null || typeof spec !== 'object') fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(spec as object)) {
        if (typeof v !== 'string') fail(`metadata value ${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const s = spec as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (s === null || typeof s !== 'object') fail(`entry '${name}' is not an object`);
    // Own keys only: a dtype named 'toString' or 'constructor' must not reach Object.prototype.
    const dtype: DType = Object.hasOwn(FROM_FILE, String(s.dtype)) ? FROM_FILE[String(s.dtype)] : fail(`tensor '${name}': unsupported dtype ${JSON.stringify(s.dtype)}; supported: ${Object.keys(FROM_FILE).join(', ')}`);
    if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': shape ${JSON.stringify(s.shape)} is not a list of non-negative integers`);
    const offs = s.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': data_offsets ${JSON.stringify(offs)} invalid`);
    const [begin, end] = offs as number[];
    if (begin > end || end > dataLen) fail(`tensor '${name}': data_offsets [${begin}, ${end}] outside the data section (${dataLen} bytes)`);
    const shape = s.shape as number[];
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel * BYTES_PER_ELEMENT[dtype] !== end - begin) fail(`tensor '${name}': shape [${shape}] of ${dtype} needs ${numel * BYTES_PER_ELEMENT[dtype]} bytes, offsets give ${end - begin}`);
    entries.push({ name, dtype, shape, begin, end });
  }
  return { entries, metadata, dataStart };
}

/** The declared header length, checked against a file of `size` bytes. */
function headerLength(first8: Uint8Array, size: number, fail: (why: string) => never): number {
  if (size < 8) fail(`file is ${size} bytes, too short for a safetensors header`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, size - 8))) fail(`declared header length ${n} exceeds the file (${size} bytes)`);
  return Number(n);
}

/** Parses a safetensors buffer; `source` names the file in error messages. */
export function decodeSafetensors(buf: Uint8Array, source = 'safetensors data', device = 'cpu'): SafetensorsFile {
  const fail = (why: string): never => {
    throw new SafetensorsError(`${source}: ${why}`);
  };
  const headerLen = headerLength(buf, buf.byteLength, fail);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(buf.subarray(8, dataStart), dataStart, buf.byteLength - dataStart, fail);
  const tensors = new Map<string, Tensor>();
  for (const s of entries) {
    // Copy into an aligned buffer: typed arrays need aligned offsets, file data need not be.
    const bytes = new Uint8Array(buf.subarray(dataStart + s.begin, dataStart + s.end));
    tensors.set(s.name, fromBytes(bytes, s.dtype, s.shape, device));
  }
  return { tensors, metadata };
}

/**
 * Reads only the header of a safetensors file, for readers that take the tensors' bytes from
 * the file themselves (a part at a time) instead of loading it whole.
 * @param fd an open file
 * @param source names the file in error messages
 * @throws SafetensorsError when the header is damaged or does not fit the file
 * @example const index = readSafetensorsIndex(openSync(path, 'r'), path);
 */
export function readSafetensorsIndex(fd: number, source: string): SafetensorsIndex {
  const fail = (why: string): never => {
    throw new SafetensorsError(`${source}: ${why}`);
  };
  const size = fstatSync(fd).size;
  const first8 = new Uint8Array(8);
  readSync(fd, first8, 0, Math.min(8, size), 0);
  const headerLen = headerLength(first8, size, fail);
  const header = new Uint8Array(headerLen);
  readSync(fd, header, 0, headerLen, 8);
  return parseHeader(header, 8 + headerLen, size - 8 - headerLen, fail);
}

function fromBytes(bytes: Uint8Array, dtype: DType, shape: number[], device: string): Tensor {
  // float16 / bfloat16 have no typed array: load the bits as int16 and reinterpret in libtorch (same size).
  if (dtype === 'float16' || dtype === 'bfloat16') return reinterpret(tensor(new Int16Array(bytes.buffer), shape), dtype, device);
  return tensor(viewBuffer(bytes.buffer as ArrayBuffer, dtype), shape, { dtype, device });
}

function reinterpret(bits: Tensor, dtype: DType, device: string): Tensor {
  const view = bits.viewAs(dtype);
  bits.dispose();
  if (device === 'cpu') return view;
  const moved = view.to({ device });
  view.dispose();
  return moved;
}

/** Reads a safetensors file. */
export function loadSafetensors(path: string, device = 'cpu'): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`${path}: cannot read (${ioReason(e)})`);
  }
  return decodeSafetensors(buf, path, device);
}
