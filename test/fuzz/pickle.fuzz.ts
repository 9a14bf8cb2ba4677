// Fuzz target for the unpickler and the .pth reader: mutated valid pickles, zip and legacy
// checkpoints, and random bytes must either load or fail with a typed error, quickly, and the
// tensors they yield must never hold more bytes than the file. The seed files are written here
// (a small pickle writer and a stored-zip writer) so the target runs without Python.
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { memoryStats, tidy, type Tensor } from '../../src/engine/index.js';
import { PickleError, UnsafePickleError, unpickle } from '../../src/import/pickle.js';
import { PthError, decodePth, type TorchValue } from '../../src/import/pth.js';

// ---- seed writers ----------------------------------------------------------------------------

const op = (...bytes: number[]) => Buffer.from(bytes);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const str = (s: string) => Buffer.concat([op(0x58), u32(Buffer.byteLength(s)), Buffer.from(s)]);
const int = (n: number) => (n < 256 ? op(0x4b, n) : Buffer.concat([op(0x4a), u32(n)]));
const global = (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`);
const MARK = op(0x28);
const TUPLE = op(0x74);
const REDUCE = op(0x52);
const EMPTY_TUPLE = op(0x29);

interface SeedTensor {
  name: string;
  storage: string;
  type: string;
  numel: number;
  offset: number;
  size: number[];
  stride: number[];
}

const SEED_TENSORS: SeedTensor[] = [
  { name: 'conv.weight', storage: '0', type: 'FloatStorage', numel: 6, offset: 0, size: [2, 3], stride: [3, 1] },
  { name: 'conv.weight_t', storage: '0', type: 'FloatStorage', numel: 6, offset: 0, size: [3, 2], stride: [1, 3] },
  { name: 'bn.num_batches_tracked', storage: '1', type: 'LongStorage', numel: 1, offset: 0, size: [], stride: [] },
  { name: 'half', storage: '2', type: 'HalfStorage', numel: 4, offset: 1, size: [2], stride: [2] },
];
const STORAGE_BYTES: Record<string, number> = { '0': 24, '1': 8, '2': 8 };

/** Protocol-2 pickle of OrderedDict(name -> _rebuild_tensor_v2(persistent storage, ...)). */
function stateDictPickle(): Buffer {
  const parts: Buffer[] = [op(0x80, 2), global('collections', 'OrderedDict'), EMPTY_TUPLE, REDUCE, MARK];
  for (const t of SEED_TENSORS) {
    const tuple = (xs: number[]) => Buffer.concat([MARK, ...xs.map(int), TUPLE]);
    parts.push(str(t.name), global('torch._utils', '_rebuild_tensor_v2'), MARK);
    parts.push(MARK, str('storage'), global('torch', t.type), str(t.storage), str('cpu'), int(t.numel), TUPLE, op(0x51));
    parts.push(int(t.offset), tuple(t.size), tuple(t.stride), op(0x89), global('collections', 'OrderedDict'), EMPTY_TUPLE, REDUCE, TUPLE, REDUCE);
  }
  parts.push(op(0x75, 0x2e)); // SETITEMS, STOP
  return Buffer.concat(parts);
}

/** A pickle of plain values using many opcodes (memo, sets, bytes, floats, big ints). */
function plainPickle(): Buffer {
  const float = Buffer.alloc(9);
  float[0] = 0x47;
  float.writeDoubleBE(-2.5, 1);
  return Buffer.concat([
    op(0x80, 4, 0x7d, 0x94, 0x28), // PROTO 4, EMPTY_DICT, MEMOIZE, MARK
    op(0x8c, 1, 0x61), op(0x5d, 0x94, 0x28), int(1), int(70000), float, op(0x8a, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0x80), op(0x65), // 'a': [1, 70000, -2.5, -2**71+1]
    op(0x8c, 1, 0x62), op(0x43, 3, 0, 1, 2), // 'b': b'\0\1\2'
    op(0x8c, 1, 0x63), op(0x8f, 0x28), int(3), op(0x90), // 'c': {3}
    op(0x8c, 1, 0x64), op(0x68, 0), op(0x88, 0x89, 0x87), // 'd': (the dict itself, True, False)
    op(0x75, 0x2e),
  ]);
}

const i32 = (n: number) => {
  const b = Buffer.alloc(5);
  b[0] = 0x4a;
  b.writeInt32LE(n, 1);
  return b;
};
const shortBytes = (b: Buffer) => Buffer.concat([op(0x43, b.length), b]);
/** numpy.dtype(code, False, True) with its BUILD state (3, '<', None, None, None, -1, -1, 0). */
const numpyDtype = (code: string) =>
  Buffer.concat([global('numpy', 'dtype'), MARK, str(code), op(0x89, 0x88), TUPLE, REDUCE, MARK, int(3), str('<'), op(0x4e, 0x4e, 0x4e), i32(-1), i32(-1), int(0), TUPLE, op(0x62)]);

/**
 * A research checkpoint's pickle: {'state_dict': the state dict, 'arr': a numpy float32 [2, 3] array,
 * 'acc': a numpy float64 scalar, 'args': an argparse.Namespace (NEWOBJ + BUILD, kept inert)}.
 */
function researchPickle(): Buffer {
  const values = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) values.writeFloatLE(i / 2, i * 4);
  const acc = Buffer.alloc(8);
  acc.writeDoubleLE(0.93);
  const array = Buffer.concat([
    global('numpy.core.multiarray', '_reconstruct'), MARK, global('numpy', 'ndarray'), MARK, int(0), TUPLE, shortBytes(Buffer.from('b')), TUPLE, REDUCE,
    MARK, int(1), MARK, int(2), int(3), TUPLE, numpyDtype('f4'), op(0x89), shortBytes(values), TUPLE, op(0x62),
  ]);
  const scalar = Buffer.concat([global('numpy.core.multiarray', 'scalar'), MARK, numpyDtype('f8'), shortBytes(acc), TUPLE, REDUCE]);
  const namespace = Buffer.concat([global('argparse', 'Namespace'), EMPTY_TUPLE, op(0x81, 0x7d), str('arch'), str('resnet'), op(0x73, 0x62)]);
  const sd = stateDictPickle();
  return Buffer.concat([op(0x80, 2, 0x7d, 0x28), str('state_dict'), sd.subarray(2, sd.length - 1), str('arr'), array, str('acc'), scalar, str('args'), namespace, op(0x75, 0x2e)]);
}

/** A zip archive with stored entries, as torch.save writes it. */
function storedZip(files: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const n = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(n.length, 28);
    cd.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    central.push(cd, n);
    offset += 30 + n.length + data.length;
  }
  const cdBytes = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBytes, eocd]);
}

function storageBytes(key: string): Buffer {
  return Buffer.from(Array.from({ length: STORAGE_BYTES[key] }, (_, i) => (i * 37 + Number(key)) & 0xff));
}

function zipCheckpoint(pickle = stateDictPickle()): Buffer {
  return storedZip([['archive/data.pkl', pickle], ...Object.keys(STORAGE_BYTES).map((k): [string, Buffer] => [`archive/data/${k}`, storageBytes(k)]), ['archive/version', Buffer.from('3\n')]]);
}

function legacyCheckpoint(): Buffer {
  const magic = op(0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e);
  const protocol = Buffer.concat([op(0x80, 2), int(1001), op(0x2e)]);
  const sysInfo = Buffer.concat([op(0x80, 2, 0x7d), str('little_endian'), op(0x88, 0x73, 0x2e)]);
  const keys = Object.keys(STORAGE_BYTES);
  const keyList = Buffer.concat([op(0x80, 2, 0x5d, 0x28), ...keys.map(str), op(0x65, 0x2e)]);
  const records = keys.flatMap((k) => {
    const count = Buffer.alloc(8);
    const elem = SEED_TENSORS.find((t) => t.storage === k)!.numel;
    count.writeBigInt64LE(BigInt(elem));
    return [count, storageBytes(k)];
  });
  return Buffer.concat([magic, protocol, sysInfo, stateDictPickle(), keyList, ...records]);
}

/** Seeds: two checkpoint layouts, a research checkpoint and two bare pickles. Exported for the tests' sanity check. */
export function seedFiles(): { zip: Buffer; legacy: Buffer; research: Buffer; stateDict: Buffer; plain: Buffer } {
  return { zip: zipCheckpoint(), legacy: legacyCheckpoint(), research: zipCheckpoint(researchPickle()), stateDict: stateDictPickle(), plain: plainPickle() };
}

// ---- mutation and the contract --------------------------------------------------------------

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.nat(), fc.constantFrom(0xffffffff, 0x7fffffff, 0x80000000)) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(file: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = Buffer.from(file);
  for (const m of ms) {
    const at = out.length ? m.at % out.length : 0;
    if (m.kind === 'flip') {
      if (out.length) out[at] = m.byte;
    } else if (m.kind === 'truncate') {
      out = out.subarray(0, at);
    } else if (m.kind === 'u32') {
      if (at + 4 <= out.length) out.writeUInt32LE(m.value >>> 0, at);
    } else {
      out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    }
  }
  return out;
}

function tensorsIn(v: TorchValue, out: Tensor[] = []): Tensor[] {
  if (v instanceof Map) for (const x of v.values()) tensorsIn(x, out);
  else if (Array.isArray(v)) for (const x of v) tensorsIn(x, out);
  else if (v !== null && typeof v === 'object' && 'handle' in v) out.push(v);
  return out;
}

/** Bytes held by the distinct storages behind the tensors (a view's handle counts its storage). */
function distinctStorageBytes(tensors: Tensor[]): number {
  let total = 0;
  const seen: Tensor[] = [];
  for (const t of tensors) {
    if (seen.some((s) => s.handle.sameStorage(t.handle))) continue;
    seen.push(t);
    const before = memoryStats().liveBytes;
    const probe = t.detach();
    total += memoryStats().liveBytes - before;
    probe.dispose();
  }
  return total;
}

const TYPED = [PthError, PickleError, UnsafePickleError];

/** Loads and checks the contract; throws (failing the property) when it is broken. */
function check(bytes: Uint8Array, kind: 'checkpoint' | 'pickle'): void {
  const started = performance.now();
  try {
    tidy(() => {
      if (kind === 'pickle') {
        unpickle(bytes, { source: 'fuzz.pkl' });
        return;
      }
      const value = decodePth(bytes, 'fuzz.pth');
      const tensors = tensorsIn(value);
      const held = distinctStorageBytes(tensors);
      if (held > bytes.byteLength) throw new Error(`tensors hold ${held} bytes from a ${bytes.byteLength}-byte file`);
      for (const t of tensors) t.contiguous().data();
    });
  } catch (e) {
    if (!TYPED.some((T) => e instanceof T)) throw new Error(`threw ${(e as Error).name}: ${(e as Error).message}`);
    const msg = (e as Error).message;
    if (msg.includes('\n') || !/fuzz\.(pth|pkl)/.test(msg)) throw new Error(`error is not one line naming the file: ${msg}`);
  }
  const ms = performance.now() - started;
  if (ms > 1000) throw new Error(`loading ${bytes.byteLength} bytes took ${ms.toFixed(0)} ms`);
}

/** Runs numRuns cases: mutated zip and legacy checkpoints, mutated pickles, random bytes. */
export function fuzzPickle(numRuns: number): void {
  const seeds = seedFiles();
  const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });
  const cases = fc.oneof(
    fc.tuple(fc.constantFrom(seeds.zip, seeds.legacy, seeds.research), mutations).map(([f, ms]) => ({ bytes: mutate(f, ms), kind: 'checkpoint' as const })),
    fc.tuple(fc.constantFrom(seeds.stateDict, seeds.plain), mutations).map(([f, ms]) => ({ bytes: mutate(f, ms), kind: 'pickle' as const })),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ bytes, kind: 'checkpoint' as const })),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ bytes: Buffer.concat([op(0x80, 2), bytes]), kind: 'pickle' as const })),
  );
  fc.assert(fc.property(cases, ({ bytes, kind }) => check(bytes, kind)), { numRuns });
}
