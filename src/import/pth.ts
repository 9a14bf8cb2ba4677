// PyTorch checkpoints (.pth/.pt written by torch.save) read without Python and without running
// pickled code. Two layouts exist:
// - zip (PyTorch >= 1.6): <prefix>/data.pkl is the pickle, <prefix>/data/<key> the raw bytes of
//   each storage, written STORED (uncompressed);
// - legacy (older releases, or _use_new_zipfile_serialization=False): five consecutive pickles
//   (magic number, protocol version, system info, the object, the storage keys), then each
//   storage as an 8-byte element count followed by its bytes.
// A tensor is a storage plus offset, size and stride; it is rebuilt as a strided view of one
// shared tensor per storage, so views that shared memory in Python share it here too, and the
// memory held never exceeds the storage bytes in the file.
import { FileContentError } from '../common/text.js';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { BYTES_PER_ELEMENT, isFloating, noGrad, tensor, tidy, Tensor as TensorClass, type DType, type Tensor } from '../engine/index.js';
import { NUMPY_GLOBALS, NumpyArray } from './numpy-pickle.js';
import { OpaqueObject, PickleError, PickleGlobal, unpickle, unpickleAt, type GlobalHandler } from './pickle.js';
import { ioReason } from '../common/errors.js';

export { UnsafePickleError, PickleError, OpaqueObject } from './pickle.js';

/** The checkpoint file is malformed, truncated, or not a PyTorch checkpoint. */
export class PthError extends FileContentError {
  override name = 'PthError';
  static override readonly codes = ['S2SNETS_PTH'] as const;
}

/**
 * What a checkpoint holds: nested plain values with tensors (numpy arrays included) as leaves,
 * and OpaqueObjects where an object of a class outside the allow-list was (never executed).
 */
export type TorchValue = null | boolean | number | bigint | string | Uint8Array | Tensor | OpaqueObject | TorchValue[] | Map<TorchValue, TorchValue> | Set<TorchValue>;

export interface LoadPthOptions {
  /** Device for the tensors (default 'cpu'). */
  device?: string;
  /** Told once, in one line, which objects were kept as inert placeholders (see describeSkipped). */
  warn?: (line: string) => void;
}

// torch.<Name>Storage classes name the dtype of a storage in the pickle.
const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** The bytes of one stored storage, whichever dtypes the pickle reads it as. */
class StorageRecord {
  bytes: Uint8Array | null = null;
  constructor(
    readonly key: string,
    readonly nbytes: number,
    /** The dtype of its first reference: legacy files count the stored elements in it. */
    readonly dtype: DType,
  ) {}
}

/** A storage read as one dtype. */
class StorageRef {
  constructor(
    readonly record: StorageRecord,
    readonly dtype: DType,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it, turned into an engine Tensor once storages are read. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
    public requiresGrad: boolean,
  ) {}
}

/** torch.FloatStorage and friends: referenced by persistent ids, never called. */
class StorageTypeHandler implements GlobalHandler {
  readonly call = undefined;
  constructor(readonly dtype: DType) {}
}

function intList(v: unknown, what: string, fail: (why: string) => never): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) fail(`${what} must be a tuple of non-negative integers`);
  return v as number[];
}

function rebuildTensor([storage, offset, size, stride, requiresGrad]: unknown[], fail: (why: string) => never): TensorRef {
  if (!(storage instanceof StorageRef)) return fail('first argument is not a storage');
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return fail('storage offset must be a non-negative integer');
  const dims = intList(size, 'size', fail);
  const strides = intList(stride, 'stride', fail);
  if (dims.length !== strides.length) fail(`size has ${dims.length} dims but stride has ${strides.length}`);
  const numel = dims.reduce((a, b) => a * b, 1);
  if (numel > 0) {
    const last = dims.reduce((at, d, i) => at + (d - 1) * strides[i], offset);
    if (last >= storage.numel) fail(`tensor of size [${dims}] stride [${strides}] offset ${offset} reaches element ${last} of a storage with ${storage.numel}`);
  }
  return new TensorRef(storage, offset, dims, strides, requiresGrad === true);
}

const TORCH_GLOBALS: Record<string, GlobalHandler> = {
  'torch._utils._rebuild_tensor_v2': { call: (args, fail) => rebuildTensor(args, fail) },
  'torch._utils._rebuild_tensor': { call: (args, fail) => rebuildTensor([...args.slice(0, 4), false], fail) },
  'torch._utils._rebuild_parameter': { call: (args, fail) => rebuildParameter(args, fail) },
  'torch._utils._rebuild_parameter_with_state': { call: (args, fail) => rebuildParameter(args, fail) },
  'torch.Size': { call: ([dims], fail) => intList(dims, 'torch.Size', fail) },
  ...NUMPY_GLOBALS,
  ...Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([name, dtype]) => [`torch.${name}`, new StorageTypeHandler(dtype)])),
};

function rebuildParameter([data, requiresGrad]: unknown[], fail: (why: string) => never): TensorRef {
  if (!(data instanceof TensorRef)) return fail('parameter data is not a tensor');
  data.requiresGrad = requiresGrad === true;
  return data;
}

function storageTypeOf(v: unknown): DType | null {
  return v instanceof PickleGlobal && v.handler instanceof StorageTypeHandler ? v.handler.dtype : null;
}

/**
 * Parses a persistent id ('storage', torch.XStorage, key, location, numel[, view]) into a
 * StorageRef; references to one key share its StorageRecord and must agree on its byte size.
 */
function storageLoader(records: Map<string, StorageRecord>) {
  const refs = new Map<string, StorageRef>();
  return (pid: unknown, fail: (why: string) => never): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) return fail("expected ('storage', type, key, location, numel)");
    const [, type, key, , numel, view] = pid;
    const dtype = storageTypeOf(type);
    if (!dtype) return fail('storage type is not a torch.*Storage class');
    if (typeof key !== 'string' && typeof key !== 'number') return fail('storage key must be a string');
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return fail('storage size must be a non-negative integer');
    if (view !== undefined && view !== null) return fail('storage views of pre-1.0 checkpoints are not supported');
    const name = String(key);
    const nbytes = numel * BYTES_PER_ELEMENT[dtype];
    let record = records.get(name);
    if (!record) {
      record = new StorageRecord(name, nbytes, dtype);
      records.set(name, record);
    } else if (record.nbytes !== nbytes) {
      fail(`storage ${name} is declared with two different byte sizes`);
    }
    const refKey = `${name}:${dtype}`;
    let ref = refs.get(refKey);
    if (!ref) {
      ref = new StorageRef(record, dtype, numel);
      refs.set(refKey, ref);
    }
    return ref;
  };
}

// ---- zip container -------------------------------------------------------------------------

interface ZipEntry {
  name: string;
  method: number;
  localAt: number;
  dataStart: number;
  compressedSize: number;
  size: number;
}

const U32_MAX = 0xffffffff;
/** Deflate emits at least one bit per 258-byte match: no stream inflates more than ~1032-fold. */
const DEFLATE_MAX_RATIO = 1032;

const MiB = 1 << 20;
/**
 * What a checkpoint may inflate to, checked on the sizes its zip directory declares before
 * anything is inflated (inflating is bounded by the declared size). torch.save stores members
 * uncompressed, so a checkpoint inflates to about its own size; re-zipped with deflate, weights
 * barely shrink. All members together may hold at most INFLATION_FACTOR times the file plus
 * INFLATION_SLACK (small files of zeros compress well), and never more than MAX_INFLATED_TOTAL;
 * one member at most MAX_INFLATED_MEMBER, the pickle at most MAX_INFLATED_PICKLE (a state dict's
 * pickle is kilobytes to a few megabytes). Anything more is a zip bomb or a corrupt file.
 */
export const INFLATION_LIMITS = { factor: 8, slack: 16 * MiB, total: 32 * 1024 * MiB, member: 4 * 1024 * MiB, pickle: 256 * MiB } as const;

const sizeText = (bytes: number) => (bytes >= 1024 * MiB ? `${bytes / (1024 * MiB)} GiB` : `${bytes / MiB} MiB`);

/** Refuses a zip whose members would inflate past INFLATION_LIMITS (a member too large, or all of them together). */
function checkInflation(entries: Map<string, ZipEntry>, fileBytes: number, fail: (why: string) => never): void {
  let total = 0;
  for (const e of entries.values()) {
    if (e.size > INFLATION_LIMITS.member) fail(`zip entry ${e.name} declares ${e.size} inflated bytes, more than one member of a checkpoint may hold (${sizeText(INFLATION_LIMITS.member)}): a zip bomb or a corrupt file`);
    total += e.size;
  }
  const cap = Math.min(INFLATION_LIMITS.total, INFLATION_LIMITS.factor * fileBytes + INFLATION_LIMITS.slack);
  if (total > cap) {
    fail(
      `its zip entries declare ${total} inflated bytes in all from a ${fileBytes}-byte file, more than a checkpoint may inflate to (${INFLATION_LIMITS.factor} times its size plus ${sizeText(INFLATION_LIMITS.slack)}, at most ${sizeText(INFLATION_LIMITS.total)}): a zip bomb or a corrupt file`,
    );
  }
}

/** Reads the central directory of a zip file, checking every offset and size against the file. */
function readZipEntries(buf: Uint8Array, fail: (why: string) => never): Map<string, ZipEntry> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => {
    const v = view.getBigUint64(at, true);
    return v > BigInt(buf.length) ? Infinity : Number(v);
  };
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  let eocd = -1;
  for (let at = buf.length - 22; at >= Math.max(0, buf.length - 22 - 0xffff); at--) {
    if (u32(at) === 0x06054b50) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail('zip end-of-central-directory record not found (truncated file?)');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdStart = u32(eocd + 16);
  if (count === 0xffff || cdSize === U32_MAX || cdStart === U32_MAX) {
    const locator = eocd - 20;
    if (locator < 0 || u32(locator) !== 0x07064b50) fail('zip64 locator missing');
    const z64 = u64(locator + 8);
    if (!(z64 + 56 <= buf.length) || u32(z64) !== 0x06064b50) fail('zip64 end-of-central-directory record missing or out of range');
    count = u64(z64 + 32);
    cdSize = u64(z64 + 40);
    cdStart = u64(z64 + 48);
  }
  if (!(cdStart + cdSize <= buf.length)) fail(`zip central directory (offset ${cdStart}, ${cdSize} bytes) lies outside the ${buf.length}-byte file`);
  if (count * 46 > cdSize) fail(`zip central directory declares ${count} entries in ${cdSize} bytes`);

  const entries = new Map<string, ZipEntry>();
  let at = cdStart;
  const cdEnd = cdStart + cdSize;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdEnd || u32(at) !== 0x02014b50) fail(`zip central directory entry ${i} is corrupt`);
    const method = u16(at + 10);
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    const nameLen = u16(at + 28);
    const extraLen = u16(at + 30);
    const commentLen = u16(at + 32);
    let localAt = u32(at + 42);
    const next = at + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`zip central directory entry ${i} overruns the directory`);
    const name = new TextDecoder().decode(buf.subarray(at + 46, at + 46 + nameLen));
    // zip64: sizes and offset that overflow 32 bits move to extra field 0x0001, in this order.
    for (let x = at + 46 + nameLen; x + 4 <= at + 46 + nameLen + extraLen; ) {
      const id = u16(x);
      const len = u16(x + 2);
      if (id === 0x0001) {
        let f = x + 4;
        const take = () => {
          if (f + 8 > x + 4 + len) fail(`zip64 extra field of ${name} is short`);
          const v = u64(f);
          f += 8;
          return v;
        };
        // The inflated size is not bounded by the file: read it as is (checked against deflate's ratio below).
        if (size === U32_MAX) {
          const sizeAt = f;
          take();
          size = Number(view.getBigUint64(sizeAt, true));
        }
        if (compressedSize === U32_MAX) compressedSize = take();
        if (localAt === U32_MAX) localAt = take();
      }
      x += 4 + len;
    }
    if (!(localAt + 30 <= buf.length) || u32(localAt) !== 0x04034b50) fail(`zip local header of ${name} at offset ${localAt} is missing or outside the file`);
    const dataStart = localAt + 30 + u16(localAt + 26) + u16(localAt + 28);
    if (!(dataStart + compressedSize <= buf.length)) fail(`zip entry ${name} (${compressedSize} bytes at offset ${dataStart}) lies outside the ${buf.length}-byte file`);
    if (method !== 0 && method !== 8) fail(`zip entry ${name} uses compression method ${method} (only stored and deflated are supported)`);
    if (method === 0 && compressedSize !== size) fail(`zip entry ${name} is stored but its sizes differ`);
    if (method === 8 && size > DEFLATE_MAX_RATIO * compressedSize + 1024) {
      fail(`zip entry ${name} declares ${size} bytes inflated from ${compressedSize} compressed bytes, more than deflate can produce (${DEFLATE_MAX_RATIO}:1): a corrupt file or a zip bomb`);
    }
    if (entries.has(name)) fail(`zip archive has two entries named ${name}`);
    entries.set(name, { name, method, localAt, dataStart, compressedSize, size });
    at = next;
  }
  // Entries sharing bytes would let a small file expand into many copies of its data.
  const spans = [...entries.values()].sort((a, b) => a.localAt - b.localAt);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    if (spans[i].localAt < prev.dataStart + prev.compressedSize) fail(`zip entries ${prev.name} and ${spans[i].name} overlap`);
  }
  return entries;
}

function zipEntryBytes(buf: Uint8Array, e: ZipEntry, fail: (why: string) => never): Uint8Array {
  const raw = buf.subarray(e.dataStart, e.dataStart + e.compressedSize);
  if (e.method === 0) return raw;
  let out: Buffer;
  try {
    // The declared size bounds the output, so a zip bomb cannot allocate beyond it.
    out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
  } catch (err) {
    return fail(`zip entry ${e.name} does not inflate to its declared ${e.size} bytes (${(err as Error).message})`);
  }
  if (out.length !== e.size) fail(`zip entry ${e.name} inflates to ${out.length} bytes, not the declared ${e.size}`);
  return out;
}

function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

function readZipCheckpoint(buf: Uint8Array, source: string, storages: Map<string, StorageRecord>): unknown {
  const fail = (why: string): never => {
    throw new PthError(`${source}: ${why}`);
  };
  const entries = readZipEntries(buf, fail);
  checkInflation(entries, buf.length, fail);
  const pkl = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) fail('zip archive has no <name>/data.pkl (not a torch.save checkpoint)');
  const pickleBytes = entries.get(pkl!)!.size;
  if (pickleBytes > INFLATION_LIMITS.pickle) fail(`zip entry ${pkl} declares ${pickleBytes} inflated bytes, more than a checkpoint's pickle may hold (${sizeText(INFLATION_LIMITS.pickle)}): a zip bomb or a corrupt file`);
  const prefix = pkl!.slice(0, -'data.pkl'.length);
  if (entries.has(`${prefix}constants.pkl`) || [...entries.keys()].some((n) => n.startsWith(`${prefix}code/`))) {
    fail('this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; load it with loadTorchScriptClassifier');
  }
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(zipEntryBytes(buf, order, fail)) !== 'little') fail('big-endian checkpoints are not supported');
  const value = unpickle(zipEntryBytes(buf, entries.get(pkl!)!, fail), {
    source: `${source}:${pkl}`,
    globals: TORCH_GLOBALS,
    placeholders: true,
    persistentLoad: storageLoader(storages),
  });
  for (const s of storages.values()) {
    const entry = entries.get(`${prefix}data/${s.key}`);
    if (!entry) fail(`storage ${s.key} has no entry ${prefix}data/${s.key}`);
    if (entry!.size !== s.nbytes) fail(`storage entry ${entry!.name} holds ${entry!.size} bytes, the pickle declares ${s.nbytes}`);
    s.bytes = zipEntryBytes(buf, entry!, fail);
  }
  return value;
}

// ---- legacy stream -------------------------------------------------------------------------

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function readLegacyCheckpoint(buf: Uint8Array, source: string, storages: Map<string, StorageRecord>): unknown {
  const fail = (why: string): never => {
    throw new PthError(`${source}: ${why}`);
  };
  const header = { source: `${source} (header)` };
  let at = 0;
  const next = (opts: Parameters<typeof unpickleAt>[2]): unknown => {
    const r = unpickleAt(buf, at, opts);
    at = r.end;
    return r.value;
  };
  let magic: unknown;
  try {
    magic = next(header);
  } catch (e) {
    if (e instanceof PickleError) fail('not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save stream)');
    throw e;
  }
  if (magic !== LEGACY_MAGIC) fail('not a PyTorch checkpoint (legacy magic number missing)');
  const protocol = next(header);
  if (protocol !== LEGACY_PROTOCOL) fail(`legacy protocol version ${String(protocol)} is not supported (expected ${LEGACY_PROTOCOL})`);
  const sysInfo = next(header);
  if (!(sysInfo instanceof Map) || sysInfo.get('little_endian') !== true) fail('big-endian or unrecognised legacy checkpoint (sys_info.little_endian is not True)');
  const value = next({ source, globals: TORCH_GLOBALS, placeholders: true, persistentLoad: storageLoader(storages) });
  const keys = next({ source: `${source} (storage keys)` });
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) fail('legacy storage key list is not a list of strings');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const key of keys as string[]) {
    const s = storages.get(key);
    if (!s) fail(`storage key ${key} is not referenced by the pickle`);
    if (at + 8 > buf.length) fail(`file ends before storage ${key} (truncated)`);
    const count = view.getBigInt64(at, true);
    const nbytes = s!.nbytes;
    const declared = nbytes / BYTES_PER_ELEMENT[s!.dtype];
    if (count !== BigInt(declared)) fail(`storage ${key} holds ${count} elements, the pickle declares ${declared}`);
    at += 8;
    if (at + nbytes > buf.length) fail(`storage ${key} needs ${nbytes} bytes at offset ${at} but the file has ${buf.length - at} left (truncated)`);
    s!.bytes = buf.subarray(at, at + nbytes);
    at += nbytes;
  }
  for (const s of storages.values()) if (!s.bytes) fail(`storage ${s.key} is referenced but not stored`);
  if (at !== buf.length) fail(`${buf.length - at} unexpected bytes after the last storage`);
  return value;
}

// ---- tensors ---------------------------------------------------------------------------------

/** One engine tensor per (storage, dtype): the shared base every view is cut from. */
function baseTensor(s: StorageRef, device: string): Tensor {
  return tidy(() => {
    const bytes = tensor(s.record.bytes!, [s.record.nbytes], { dtype: 'uint8' });
    const typed = s.dtype === 'uint8' ? bytes : bytes.viewAs(s.dtype);
    return device === 'cpu' ? typed : typed.to({ device });
  });
}

/**
 * Replaces every TensorRef in the unpickled value by an engine tensor, in place (the value may
 * share sub-objects, so each container is visited once; iterative, so deep nesting is fine).
 */
function materialize(root: unknown, source: string, device: string): TorchValue {
  const fail = (why: string): never => {
    throw new PthError(`${source}: ${why}`);
  };
  const bases = new Map<StorageRef, Tensor>();
  const tensors = new Map<TensorRef, Tensor>();
  const toTensor = (r: TensorRef): Tensor => {
    let t = tensors.get(r);
    if (t) return t;
    let base = bases.get(r.storage);
    if (!base) {
      base = baseTensor(r.storage, device);
      bases.set(r.storage, base);
    }
    t = base.asStrided(r.size, r.stride, r.offset);
    if (r.requiresGrad && isFloating(t.dtype)) t.requiresGrad_(true);
    tensors.set(r, t);
    return t;
  };
  // A storage saved on its own comes back as a 1-D tensor over all of it.
  const swap = (v: unknown): unknown =>
    v instanceof TensorRef ? toTensor(v) : v instanceof StorageRef ? toTensor(new TensorRef(v, 0, [v.numel], [1], false)) : v instanceof NumpyArray ? numpyTensor(v, device) : v;
  noGrad(() => {
    const seen = new Set<object>();
    const todo: unknown[] = [root];
    while (todo.length) {
      const v = todo.pop();
      if (v === null || typeof v !== 'object' || seen.has(v)) continue;
      seen.add(v);
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          v[i] = swap(v[i]);
          todo.push(v[i]);
        }
      } else if (v instanceof Map) {
        for (const [k, x] of v) {
          if (k instanceof TensorRef) fail('a tensor is used as a dict key');
          v.set(k, swap(x));
          todo.push(x);
        }
      } else if (v instanceof Set) {
        for (const x of v) if (x instanceof TensorRef) fail('a set holds a tensor');
      } else if (v instanceof OpaqueObject) {
        // Left as it is: what it holds is reported by skippedObjects, not turned into tensors.
      } else if (v instanceof PickleGlobal) {
        fail(`the checkpoint holds the global ${v.qualifiedName} itself, not a value built from it`);
      }
    }
  });
  // The bases live on only through their views.
  for (const b of bases.values()) b.dispose();
  return swap(root) as TorchValue;
}

/** A numpy array as an engine tensor (copied; Fortran order permuted back). */
function numpyTensor(a: NumpyArray, device: string): Tensor {
  return tidy(() => {
    const dims = a.fortran ? [...a.shape].reverse() : a.shape;
    const bytes = tensor(new Uint8Array(a.bytes), [a.bytes.length], { dtype: 'uint8' });
    let t = (a.dtype === 'uint8' ? bytes : bytes.viewAs(a.dtype)).reshape(dims);
    if (a.fortran) t = t.permute(dims.map((_, i) => dims.length - 1 - i)).contiguous();
    return device === 'cpu' ? t : t.to({ device });
  });
}

/** An object a checkpoint holds that was kept as an inert placeholder. */
export interface SkippedObject {
  /** Where it sits: dict keys joined by '.', list positions as [i]; '' for the top level. */
  path: string;
  /** Its class, "module.name". */
  type: string;
  /** How many tensors it holds (not readable without running its class). */
  tensors: number;
}

function countTensorRefs(root: unknown): number {
  let count = 0;
  const seen = new Set<object>();
  const todo = [root];
  while (todo.length) {
    const v = todo.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof TensorRef) count++;
    else if (Array.isArray(v)) todo.push(...v);
    else if (v instanceof Map) todo.push(...v.values());
    else if (v instanceof OpaqueObject) todo.push(v.args, v.state);
  }
  return count;
}

function joinPath(path: string, key: unknown): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${String(key)}` : String(key);
}

/** Calls leaf(path, v) for every tensor and placeholder of a checkpoint's value, each once, outermost first. */
function walkLeaves(value: TorchValue, leaf: (path: string, v: Tensor | OpaqueObject) => void): void {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof OpaqueObject || v instanceof TensorClass) leaf(path, v);
    else if (Array.isArray(v)) v.forEach((x, i) => visit(x, joinPath(path, i)));
    else if (v instanceof Map) for (const [k, x] of v) visit(x, joinPath(path, k));
  };
  visit(value, '');
}

/**
 * Every placeholder in a checkpoint's value, outermost first.
 * @param value What loadPth returned.
 * @example skippedObjects(loadPth('ckpt.pth')) // [{ path: 'args', type: 'argparse.Namespace', tensors: 0 }]
 */
export function skippedObjects(value: TorchValue): SkippedObject[] {
  const out: SkippedObject[] = [];
  walkLeaves(value, (path, v) => v instanceof OpaqueObject && out.push({ path, type: v.type, tensors: countTensorRefs([v.args, v.state]) }));
  return out;
}

/**
 * Every tensor of a checkpoint's value with where it sits (numpy arrays included).
 * @param value What loadPth returned.
 * @example checkpointTensors(loadPth('ckpt.pth')) // [['state_dict.conv.weight', Tensor], ...]
 */
export function checkpointTensors(value: TorchValue): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  walkLeaves(value, (path, v) => v instanceof TensorClass && out.push([path, v]));
  return out;
}

/**
 * Whether checkpoint-like bytes are a TorchScript archive (torch.jit.save) rather than torch.save output.
 * @example isTorchScriptArchive(readFileSync('model.pt'))
 */
export function isTorchScriptArchive(buf: Uint8Array): boolean {
  if (!isZip(buf)) return false;
  try {
    const names = [...readZipEntries(buf, (why) => { throw new PthError(why); }).keys()];
    return names.some((n) => /^[^/]+\/(constants\.pkl|code\/)/.test(n));
  } catch {
    return false;
  }
}

/**
 * One line naming what was skipped, or null when nothing was.
 * @example describeSkipped(skippedObjects(v)) // "kept 1 object as an inert placeholder (its class was not run): args (argparse.Namespace)"
 */
export function describeSkipped(skipped: SkippedObject[]): string | null {
  if (!skipped.length) return null;
  const list = skipped.map((s) => `${s.path || '(top level)'} (${s.type}${s.tensors ? `, ${s.tensors} tensors` : ''})`).join(', ');
  const one = skipped.length === 1;
  return `kept ${one ? '1 object as an inert placeholder (its class was' : `${skipped.length} objects as inert placeholders (their classes were`} not run): ${list}`;
}

/** Parses checkpoint bytes; `source` names the file in error messages. */
export function decodePth(buf: Uint8Array, source = 'checkpoint', options: LoadPthOptions = {}): TorchValue {
  const storages = new Map<string, StorageRecord>();
  const value = isZip(buf) ? readZipCheckpoint(buf, source, storages) : readLegacyCheckpoint(buf, source, storages);
  return materialize(value, source, options.device ?? 'cpu');
}

/** Reads a .pth/.pt file written by torch.save (zip or legacy format) without executing any code. */
export function loadPth(path: string, options: LoadPthOptions = {}): TorchValue {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new PthError(`${path}: cannot read (${ioReason(e)})`);
  }
  return decodePth(buf, path, options);
}

// ---- state dicts -----------------------------------------------------------------------------

/** Keys under which training scripts commonly nest the model's state dict. */
const STATE_DICT_KEYS = ['state_dict', 'model_state', 'model_state_dict', 'model', 'net', 'network'];
/** Prefixes that wrappers add to every name (DataParallel, the S2SNets release). */
const STRIPPED_PREFIXES = ['module.', 'segnet.'];

function isStateDict(v: unknown): v is Map<string, Tensor> {
  return v instanceof Map && v.size > 0 && [...v].every(([k, t]) => typeof k === 'string' && t !== null && typeof t === 'object' && 'handle' in t && 'shape' in t);
}

/**
 * Finds the state dict in a checkpoint (the value itself, or under state_dict, model_state,
 * model_state_dict, model, net or network) and strips `module.`/`segnet.` prefixes shared by
 * all its names.
 */
export function stateDictOf(value: TorchValue, source = 'checkpoint'): Map<string, Tensor> {
  let found: Map<string, Tensor> | null = isStateDict(value) ? value : null;
  if (!found && value instanceof Map) {
    for (const key of STATE_DICT_KEYS) {
      const inner = value.get(key);
      if (isStateDict(inner)) {
        found = inner;
        break;
      }
    }
  }
  if (!found) {
    const holder = skippedObjects(value).find((o) => o.tensors > 0);
    if (holder) {
      throw new PthError(
        `${source}: the tensors are inside an object of class ${holder.type} at '${holder.path || '(top level)'}' (${holder.tensors} tensors); reading it would mean running that class's code, so it is refused: save model.state_dict() (a plain dict of tensors) instead`,
      );
    }
    const keys = value instanceof Map ? [...value.keys()].map(String).slice(0, 10).join(', ') : typeof value;
    throw new PthError(`${source}: no state dict found (a dict of name -> tensor, at the top or under ${STATE_DICT_KEYS.join('/')}); top-level keys: ${keys}`);
  }
  let names = [...found.keys()];
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of STRIPPED_PREFIXES) {
      if (names.every((n) => n.startsWith(p))) {
        names = names.map((n) => n.slice(p.length));
        changed = true;
      }
    }
  }
  const tensors = [...found.values()];
  return new Map(names.map((n, i) => [n, tensors[i]]));
}

/** Reads a checkpoint and returns its state dict (see stateDictOf); options.warn hears what was skipped. */
export function loadStateDict(path: string, options: LoadPthOptions = {}): Map<string, Tensor> {
  const value = loadPth(path, options);
  const state = stateDictOf(value, path);
  const skipped = describeSkipped(skippedObjects(value));
  if (skipped) options.warn?.(`${path}: ${skipped}`);
  return state;
}
