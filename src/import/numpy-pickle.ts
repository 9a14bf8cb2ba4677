// numpy arrays and scalars inside pickles, decoded as data. A pickled ndarray is
// _reconstruct(ndarray, (0,), b'b') followed by BUILD with (version, shape, dtype, fortran, bytes),
// and its dtype is dtype('f8', False, True) followed by BUILD with the byte order; numpy's own
// functions are never imported: these handlers read the same arguments in TypeScript.
import type { DType } from '../engine/index.js';
import { OpaqueObject, PickleGlobal, type Buildable, type GlobalHandler } from './pickle.js';

/** numpy type codes (kind + item size) this reader turns into engine dtypes. */
const NUMPY_DTYPES: Record<string, DType> = {
  f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64', u1: 'uint8', b1: 'bool',
};

/** A numpy dtype as the pickle describes it; the byte order arrives by BUILD. */
export class NumpyDtype implements Buildable {
  byteOrder = '=';
  constructor(readonly code: string) {}
  build(state: unknown): NumpyDtype {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
    return this;
  }
  /** The engine dtype, or null when numpy stores this type in a way not read here. */
  get dtype(): DType | null {
    const code = this.code === '?' ? 'b1' : this.code;
    return this.byteOrder !== '>' && Object.hasOwn(NUMPY_DTYPES, code) ? NUMPY_DTYPES[code] : null;
  }
}

/** A decoded numpy array: little-endian bytes, with its dtype and shape. */
export class NumpyArray {
  constructor(
    readonly dtype: DType,
    readonly shape: number[],
    readonly bytes: Uint8Array,
    /** Column-major (Fortran) order: the bytes are the C layout of the reversed shape. */
    readonly fortran: boolean,
  ) {}
}

/** The array before BUILD gives it its contents. */
class PendingArray implements Buildable {
  build(state: unknown, fail: (why: string) => never): NumpyArray | OpaqueObject {
    if (!Array.isArray(state) || state.length !== 5) return fail('numpy array state must be (version, shape, dtype, fortran, data)');
    const [, shape, dt, fortran, data] = state;
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) return fail('numpy array shape must be non-negative integers');
    if (!(dt instanceof NumpyDtype)) return fail('numpy array dtype is not a numpy.dtype');
    const dtype = dt.dtype;
    // Object, string, complex and big-endian arrays stay inert placeholders (reported as skipped).
    if (!dtype || !(data instanceof Uint8Array)) return new OpaqueObject(`numpy.ndarray(dtype=${dt.byteOrder}${dt.code})`, []);
    const size = ITEM_BYTES[dtype] * shape.reduce((a: number, b: number) => a * b, 1);
    if (data.length !== size) return fail(`numpy array data holds ${data.length} bytes, shape [${shape}] of ${dt.code} needs ${size}`);
    return new NumpyArray(dtype, shape as number[], data, fortran === true);
  }
}

const ITEM_BYTES: Record<string, number> = { float16: 2, float32: 4, float64: 8, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, bool: 1 };

/** A numpy scalar (numpy.float64(0.93), numpy.int64(12)): a JS number, bigint or boolean. */
function numpyScalar([dt, data]: unknown[], fail: (why: string) => never): unknown {
  if (!(dt instanceof NumpyDtype)) return fail('numpy scalar dtype is not a numpy.dtype');
  const dtype = dt.dtype;
  if (!dtype || !(data instanceof Uint8Array)) return new OpaqueObject(`numpy scalar (dtype=${dt.byteOrder}${dt.code})`, []);
  if (data.length !== ITEM_BYTES[dtype]) return fail(`numpy ${dt.code} scalar holds ${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (dtype) {
    case 'float64':
      return view.getFloat64(0, true);
    case 'float32':
      return view.getFloat32(0, true);
    case 'float16':
      return halfToNumber(view.getUint16(0, true));
    case 'int64': {
      const v = view.getBigInt64(0, true);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 'int32':
      return view.getInt32(0, true);
    case 'int16':
      return view.getInt16(0, true);
    case 'int8':
      return view.getInt8(0);
    case 'bool':
      return data[0] !== 0;
    default:
      return data[0];
  }
}

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const reconstruct: GlobalHandler = {
  call: ([cls], fail) => (cls instanceof PickleGlobal && cls.name === 'ndarray' ? new PendingArray() : fail('only numpy.ndarray is reconstructed')),
};
const scalar: GlobalHandler = { call: (args, fail) => numpyScalar(args, fail) };
const dtype: GlobalHandler = {
  call: ([code], fail) => (typeof code === 'string' && /^[a-zA-Z?][0-9]*$/.test(code) ? new NumpyDtype(code) : fail('numpy dtype code must be like f8')),
};

/** Allow-listed numpy globals (numpy 1.x names under numpy.core, numpy 2.x under numpy._core). */
export const NUMPY_GLOBALS: Record<string, GlobalHandler> = Object.fromEntries(
  ['numpy.core', 'numpy._core'].flatMap((core) => [
    [`${core}.multiarray._reconstruct`, reconstruct],
    [`${core}.multiarray.scalar`, scalar],
  ]).concat([
    ['numpy.ndarray', {}],
    ['numpy.dtype', dtype],
  ]),
);
