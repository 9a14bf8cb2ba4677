// A safe unpickler: runs the pickle virtual machine (protocols 0 to 5) over plain data only.
// Python's pickle calls whatever global a file names (os.system included); this one never calls
// anything. A global is resolved against an allow-list of handlers written here in TypeScript,
// and any other name stops the load before a single value is built from it. Every length read
// from the file is checked against the bytes that remain before anything is allocated.
import { FileContentError } from '../common/text.js';

/** A pickle names a global outside the allow-list (possibly a code-execution attempt). */
export class UnsafePickleError extends FileContentError {
  override name = 'UnsafePickleError';
  static override readonly codes = ['S2SNETS_UNSAFE_PICKLE'] as const;
}

/** The pickle stream is malformed, truncated or uses a feature this reader does not support. */
export class PickleError extends FileContentError {
  override name = 'PickleError';
  static override readonly codes = ['S2SNETS_PICKLE'] as const;
}

/** What an allowed global does when the pickle calls it (REDUCE, NEWOBJ, INST, OBJ). */
export interface GlobalHandler {
  /** Builds a value from the call's arguments; absent for globals that may only be referenced. */
  call?: (args: unknown[], fail: (why: string) => never) => unknown;
}

/** A value whose BUILD opcode (object state) this reader applies itself, e.g. a numpy array. */
export interface Buildable {
  build(state: unknown, fail: (why: string) => never): unknown;
}

function isBuildable(v: unknown): v is Buildable {
  return typeof v === 'object' && v !== null && typeof (v as Partial<Buildable>).build === 'function';
}

/**
 * An instance of a class outside the allow-list, kept as inert data: its class is never imported
 * and no method of it runs; its constructor arguments and state are kept as plain values.
 */
export class OpaqueObject {
  state: unknown = null;
  constructor(
    /** The class, "module.name". */
    readonly type: string,
    readonly args: unknown[],
  ) {}
}

/** A global outside the allow-list: it may become the class of an OpaqueObject, never be called. */
const UNKNOWN_GLOBAL: GlobalHandler = {};

/** A reference to an allowed global, as it sits on the stack before it is called. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly handler: GlobalHandler,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface UnpickleOptions {
  /** Names the input in error messages (a file path, or "x.pth:archive/data.pkl"). */
  source: string;
  /** Extra allowed globals by "module.name", on top of the plain-data ones below. */
  globals?: Record<string, GlobalHandler>;
  /**
   * Keep instances of classes outside the allow-list (built by NEWOBJ or copyreg._reconstructor)
   * as inert OpaqueObjects instead of refusing the file. Calls of unknown globals (REDUCE) are
   * refused either way: their result would be whatever running the function returns.
   */
  placeholders?: boolean;
  /** Resolves persistent ids (PERSID, BINPERSID); without it they are an error. */
  persistentLoad?: (pid: unknown, fail: (why: string) => never) => unknown;
}

// Python 2 wrote builtins as __builtin__; pickle maps the name the same way.
const RENAMED_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

function asArray(v: unknown, what: string, fail: (why: string) => never): unknown[] {
  if (!Array.isArray(v)) fail(`${what} expects a list or tuple argument`);
  return v as unknown[];
}

/** Globals that build plain data: ordered dicts, sets and (in protocol 2) bytes. */
const PLAIN_GLOBALS: Record<string, GlobalHandler> = {
  'collections.OrderedDict': { call: (args, fail) => (args.length === 0 ? new Map() : fail('OrderedDict with arguments is not supported')) },
  'builtins.set': { call: (args, fail) => new Set(args.length ? asArray(args[0], 'set', fail) : []) },
  'builtins.frozenset': { call: (args, fail) => new Set(args.length ? asArray(args[0], 'frozenset', fail) : []) },
  'builtins.bytearray': {
    call: (args, fail) => {
      if (args.length === 0) return new Uint8Array(0);
      if (args[0] instanceof Uint8Array) return args[0];
      return fail('bytearray expects bytes');
    },
  },
  // Protocols 0 and 1 write an instance of a plain class as _reconstructor(cls, object, None).
  'copyreg._reconstructor': {
    call: ([cls, base, state], fail) => {
      if (!(cls instanceof PickleGlobal) || cls.handler !== UNKNOWN_GLOBAL) return fail('only instances of unknown classes are rebuilt, as placeholders');
      if (!(base instanceof PickleGlobal) || base.qualifiedName !== 'builtins.object' || state !== null) return fail('only _reconstructor(cls, object, None) is supported');
      return new OpaqueObject(cls.qualifiedName, []);
    },
  },
  // Protocol 2 has no bytes opcode: it writes _codecs.encode(text, 'latin1').
  '_codecs.encode': {
    call: ([text, encoding], fail) => {
      if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) fail("_codecs.encode is only allowed as encode(text, 'latin1')");
      return latin1Bytes(text as string, fail);
    },
  },
};

function latin1Bytes(text: string, fail: (why: string) => never): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) fail('latin1 text holds a character above U+00FF');
    out[i] = c;
  }
  return out;
}

/** Result of unpickling one pickle: its value and the offset just past its STOP opcode. */
export interface Unpickled {
  value: unknown;
  end: number;
}

const MARK = Symbol('mark');
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isSafe(n: bigint): boolean {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER);
}

/** A Python int: a number when it is exactly representable, otherwise a bigint. */
function pyInt(n: bigint): number | bigint {
  return isSafe(n) ? Number(n) : n;
}

/** Two's-complement little-endian integer (LONG1, LONG4); via hex, so linear in its length. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let n = BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
  if (bytes[bytes.length - 1] & 0x80) n -= 1n << BigInt(8 * bytes.length);
  return pyInt(n);
}

/** Runs one pickle starting at `start`; stops at its STOP opcode. */
export function unpickleAt(data: Uint8Array, start: number, options: UnpickleOptions): Unpickled {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const globals = { ...PLAIN_GLOBALS, ...options.globals };
  let pos = start;
  let opAt = start;
  let opcode = 0;
  const fail = (why: string): never => {
    throw new PickleError(`${options.source}: invalid pickle at byte ${opAt} (opcode 0x${opcode.toString(16).padStart(2, '0')}): ${why}`);
  };

  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number): void => {
    if (n < 0 || n > data.length - pos) fail(`needs ${n} bytes but only ${data.length - pos} remain (truncated or corrupt)`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    // Any length beyond the input is refused by need() before use; clamp to keep it a number.
    return v > BigInt(data.length) ? data.length + 1 : Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const text = (n: number): string => {
    try {
      return utf8.decode(bytes(n));
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) fail('text line has no end (truncated)');
    let s = '';
    for (let i = pos; i < nl; i++) s += String.fromCharCode(data[i]);
    pos = nl + 1;
    return s;
  };

  // A function, not stack.push(...): popMark() in the argument replaces `stack` itself.
  const push = (v: unknown): void => {
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected mark');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack[stack.length - 1];
    if (v === MARK) fail('unexpected mark');
    return v;
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) fail('no mark on the stack');
    stack = outer as unknown[];
    return items;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo key ${i} is not defined`);
    return memo.get(i);
  };

  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    const mod = RENAMED_MODULES[module] ?? module;
    const qualified = `${mod}.${name}`;
    const handler = Object.hasOwn(globals, qualified) ? globals[qualified] : options.placeholders ? UNKNOWN_GLOBAL : undefined;
    if (!handler) {
      throw new UnsafePickleError(
        `refusing to load global ${qualified} (pickle opcode at byte ${opAt} of ${options.source}); only tensors, storages, dicts, lists, tuples, numbers and strings are allowed`,
      );
    }
    return new PickleGlobal(mod, name, handler);
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PickleGlobal)) return fail('call of something that is not a global');
    if (!Array.isArray(args)) return fail(`${callable.qualifiedName} called without an argument tuple`);
    if (callable.handler === UNKNOWN_GLOBAL) {
      throw new UnsafePickleError(
        `refusing to call ${callable.qualifiedName} (pickle opcode at byte ${opAt} of ${options.source}): loading would run that function; objects of unknown classes are kept as inert placeholders, but calls are never made`,
      );
    }
    if (!callable.handler.call) return fail(`${callable.qualifiedName} may be referenced but not called`);
    return callable.handler.call(args, (why) => fail(`${callable.qualifiedName}: ${why}`));
  };
  /** cls.__new__(cls, *args) (NEWOBJ): an unknown class gives an inert placeholder. */
  const instantiate = (cls: unknown, args: unknown): unknown => {
    if (cls instanceof PickleGlobal && cls.handler === UNKNOWN_GLOBAL) return new OpaqueObject(cls.qualifiedName, Array.isArray(args) ? args : []);
    return call(cls, args);
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) fail('SETITEM(S) target is not a dict');
    if (items.length % 2) fail('SETITEMS needs key/value pairs');
    for (let i = 0; i < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) fail('APPEND(S) target is not a list');
    for (const it of items) (list as unknown[]).push(it);
  };
  const addItems = (set: unknown, items: unknown[]): void => {
    if (!(set instanceof Set)) fail('ADDITEMS target is not a set');
    for (const it of items) (set as Set<unknown>).add(it);
  };
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) return fail('persistent ids are not allowed here');
    return options.persistentLoad(pid, (why) => fail(`persistent id: ${why}`));
  };

  for (;;) {
    opAt = pos;
    opcode = u8();
    switch (opcode) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length prefix for buffering; the opcodes inside are read as usual
        need(u64());
        break;
      case 0x2e: // STOP
        if (marks.length) fail('STOP inside a mark');
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;

      // ---- constants and numbers
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(decodeLong(bytes(u8())));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        push(decodeLong(bytes(n)));
        break;
      }
      case 0x49: { // INT (text): "01"/"00" are True/False in protocol 0
        const s = line();
        if (s === '01' || s === '00') push(s === '01');
        else push(parseTextInt(s, fail));
        break;
      }
      case 0x4c: // LONG (text, optional trailing L)
        push(parseTextInt(line().replace(/L$/, ''), fail));
        break;
      case 0x46: { // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (s === '' || (Number.isNaN(v) && !/^[-+]?nan$/i.test(s))) fail(`bad float literal ${JSON.stringify(s.slice(0, 20))}`);
        push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;

      // ---- strings and bytes
      case 0x58: // BINUNICODE
        push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        push(text(u64()));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        push(decodeRawUnicodeEscape(line(), fail));
        break;
      case 0x54: { // BINSTRING (Python 2 str, read as latin-1 like encoding='latin1')
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        push(latin1(bytes(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(latin1(bytes(u8())));
        break;
      case 0x53: // STRING (quoted Python 2 repr)
        push(decodeQuotedString(line(), fail));
        break;
      case 0x42: // BINBYTES
        push(new Uint8Array(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        push(new Uint8Array(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
        push(new Uint8Array(bytes(u64())));
        break;
      case 0x96: // BYTEARRAY8
        push(new Uint8Array(bytes(u64())));
        break;
      case 0x97: // NEXT_BUFFER
        fail('out-of-band buffers (protocol 5 NEXT_BUFFER) are not supported');
        break;
      case 0x98: // READONLY_BUFFER
        top();
        break;

      // ---- containers
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        push([]);
        break;
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x6c: // LIST
      case 0x74: // TUPLE
        push(popMark());
        break;
      case 0x85: // TUPLE1
        push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        push([pop(), b, c]);
        break;
      }
      case 0x91: // FROZENSET
        push(new Set(popMark()));
        break;
      case 0x64: { // DICT
        const d = new Map();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        addItems(top(), items);
        break;
      }

      // ---- memo
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT (text)
        memo.set(parseMemoKey(line(), fail), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(u32()));
        break;
      case 0x67: // GET (text)
        push(memoGet(parseMemoKey(line(), fail)));
        break;

      // ---- globals and object construction (allow-listed handlers only)
      case 0x63: { // GLOBAL
        const module = line();
        push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x69: { // INST: module and name on text lines, arguments since the mark
        const module = line();
        const cls = resolveGlobal(module, line());
        push(call(cls, popMark()));
        break;
      }
      case 0x6f: { // OBJ: class then arguments since the mark
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        push(call(items[0], items.slice(1)));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        push(instantiate(pop(), args));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (cls instanceof PickleGlobal && cls.handler === UNKNOWN_GLOBAL) push(instantiate(cls, args));
        else if (!(kwargs instanceof Map) || kwargs.size) fail('keyword arguments are not supported');
        else push(call(cls, args));
        break;
      }
      case 0x62: { // BUILD: set object state
        const state = pop();
        const target = top();
        // A placeholder keeps its state as data; numpy arrays decode theirs; ordered dicts'
        // state (torch's _metadata) is dropped.
        if (target instanceof OpaqueObject) target.state = state;
        else if (isBuildable(target)) stack[stack.length - 1] = target.build(state, fail);
        else if (!(target instanceof Map)) fail('BUILD on an object that has no state to set');
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail('extension registry codes (EXT1/2/4) are not supported');
        break;

      // ---- persistent ids (torch's tensor storages)
      case 0x50: // PERSID (text)
        push(persistent(line()));
        break;
      case 0x51: // BINPERSID
        push(persistent(pop()));
        break;

      default:
        fail('unknown opcode');
    }
  }
}

/** Unpickles a buffer that holds exactly one pickle (trailing bytes are an error). */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  const { value, end } = unpickleAt(data, 0, options);
  if (end !== data.length) throw new PickleError(`${options.source}: ${data.length - end} unexpected bytes after the pickle's STOP opcode`);
  return value;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

// Python itself refuses longer decimal integers (sys.int_info.default_max_str_digits): parsing
// them costs time quadratic in their length.
const MAX_DECIMAL_DIGITS = 4300;

function parseTextInt(s: string, fail: (why: string) => never): number | bigint {
  if (s.length > MAX_DECIMAL_DIGITS + 2) fail(`integer literal longer than ${MAX_DECIMAL_DIGITS} digits`);
  if (!/^[-+]?\d+$/.test(s.trim())) fail(`bad integer literal ${JSON.stringify(s.slice(0, 20))}`);
  return pyInt(BigInt(s.trim()));
}

function parseMemoKey(s: string, fail: (why: string) => never): number {
  if (!/^\d{1,10}$/.test(s)) fail(`bad memo key ${JSON.stringify(s.slice(0, 20))}`);
  return Number(s);
}

const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };

/** Protocol 0 STRING: a Python 2 repr such as 'it\'s' or "a\x00b". */
function decodeQuotedString(s: string, fail: (why: string) => never): string {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('STRING argument is not quoted');
  const body = s.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') {
      out += body[i];
      continue;
    }
    const e = body[++i];
    if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e !== undefined && Object.hasOwn(SIMPLE_ESCAPES, e)) {
      out += SIMPLE_ESCAPES[e];
    } else {
      fail('unsupported escape in STRING');
    }
  }
  return out;
}

/** Protocol 0 UNICODE: latin-1 text where \uXXXX and \UXXXXXXXX stand for other characters. */
function decodeRawUnicodeEscape(s: string, fail: (why: string) => never): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, four: string | undefined, eight: string | undefined) => {
    const cp = parseInt(four ?? eight!, 16);
    if (cp > 0x10ffff) fail('code point above U+10FFFF');
    return String.fromCodePoint(cp);
  });
}
