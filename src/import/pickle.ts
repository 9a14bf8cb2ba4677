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

type Fail = (why: string) => never;

/** The pickle's bytes and the read position; every length is checked against what remains before use. */
class PickleReader {
  private readonly view: DataView;
  constructor(
    private readonly data: Uint8Array,
    /** Offset of the next byte to read. */
    public pos: number,
    private readonly fail: Fail,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  need(n: number): void {
    if (n < 0 || n > this.data.length - this.pos) this.fail(`needs ${n} bytes but only ${this.data.length - this.pos} remain (truncated or corrupt)`);
  }

  u8(): number {
    this.need(1);
    return this.data[this.pos++];
  }

  u16(): number {
    return this.fixed(2, (at) => this.view.getUint16(at, true));
  }

  u32(): number {
    return this.fixed(4, (at) => this.view.getUint32(at, true));
  }

  i32(): number {
    return this.fixed(4, (at) => this.view.getInt32(at, true));
  }

  /** A 64-bit length: any beyond the input is refused by need() before use, so it is clamped to stay a number. */
  u64(): number {
    const v = this.fixed(8, (at) => this.view.getBigUint64(at, true));
    return v > BigInt(this.data.length) ? this.data.length + 1 : Number(v);
  }

  /** A big-endian double (BINFLOAT). */
  f64(): number {
    return this.fixed(8, (at) => this.view.getFloat64(at, false));
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** n bytes of UTF-8 text. */
  text(n: number): string {
    const b = this.bytes(n);
    try {
      return utf8.decode(b);
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  /** A protocol 0 argument: the bytes up to the next newline, as latin-1 text. */
  line(): string {
    const nl = this.data.indexOf(0x0a, this.pos);
    if (nl < 0) this.fail('text line has no end (truncated)');
    const s = latin1(this.data.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }

  private fixed<T>(n: number, read: (at: number) => T): T {
    this.need(n);
    const v = read(this.pos);
    this.pos += n;
    return v;
  }
}

/**
 * The state of the pickle virtual machine: the reader, the stack, the stacks set aside by MARK
 * (the metastack) and the memo. The opcode handlers below act on it; it calls only the
 * allow-listed global handlers.
 */
class PickleMachine {
  readonly read: PickleReader;
  /** Offset and byte of the opcode being run (-1 while none is read), for error messages. */
  opAt: number;
  opcode = -1;
  /** The values pushed since the last MARK. */
  stack: unknown[] = [];
  /** The stacks MARK set aside, innermost last. */
  readonly metastack: unknown[][] = [];
  readonly memo = new Map<number, unknown>();
  private readonly globals: Record<string, GlobalHandler>;

  constructor(
    data: Uint8Array,
    start: number,
    readonly options: UnpickleOptions,
  ) {
    this.read = new PickleReader(data, start, this.fail);
    this.opAt = start;
    this.globals = { ...PLAIN_GLOBALS, ...options.globals };
  }

  /** Stops the load with a PickleError naming the input, the byte and the opcode. */
  readonly fail = (why: string): never => {
    const opcode = this.opcode < 0 ? '' : ` (opcode ${opcodeLabel(this.opcode)})`;
    throw new PickleError(`${this.options.source}: invalid pickle at byte ${this.opAt}${opcode}: ${why}`);
  };

  /** Reads the next opcode; its handler, or a PickleError naming the unknown byte. */
  next(): OpcodeHandler {
    this.opAt = this.read.pos;
    this.opcode = -1;
    const code = this.read.u8();
    this.opcode = code;
    return OPCODES[code]?.run ?? this.fail('unknown opcode: not one of pickle protocols 0 to 5 (a corrupt file?)');
  }

  // A method, not stack.push(...) at the call site: popMark() in the argument replaces `stack` itself.
  push(v: unknown): void {
    this.stack.push(v);
  }

  pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop();
  }

  top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  /** Replaces the value on top of the stack (BUILD of a value that decodes its own state). */
  replaceTop(v: unknown): void {
    this.stack[this.stack.length - 1] = v;
  }

  mark(): void {
    this.metastack.push(this.stack);
    this.stack = [];
  }

  /** The values pushed since the last MARK, restoring the stack from before it. */
  popMark(): unknown[] {
    const items = this.stack;
    const outer = this.metastack.pop();
    if (!outer) this.fail('no mark on the stack');
    this.stack = outer!;
    return items;
  }

  memoize(key: number): void {
    this.memo.set(key, this.top());
  }

  recall(key: number): unknown {
    if (!this.memo.has(key)) this.fail(`memo key ${key} is not defined`);
    return this.memo.get(key);
  }

  /** The allow-listed global module.name; any other stops the load (unless placeholders are on). */
  resolveGlobal(module: string, name: string): PickleGlobal {
    const mod = RENAMED_MODULES[module] ?? module;
    const qualified = `${mod}.${name}`;
    const handler = Object.hasOwn(this.globals, qualified) ? this.globals[qualified] : this.options.placeholders ? UNKNOWN_GLOBAL : undefined;
    if (!handler) {
      throw new UnsafePickleError(
        `refusing to load global ${qualified} (pickle opcode at byte ${this.opAt} of ${this.options.source}); only tensors, storages, dicts, lists, tuples, numbers and strings are allowed`,
      );
    }
    return new PickleGlobal(mod, name, handler);
  }

  /** callable(*args) through its allow-listed handler; an unknown global is never called. */
  call(callable: unknown, args: unknown): unknown {
    if (!(callable instanceof PickleGlobal)) return this.fail('call of something that is not a global');
    if (!Array.isArray(args)) return this.fail(`${callable.qualifiedName} called without an argument tuple`);
    if (callable.handler === UNKNOWN_GLOBAL) {
      throw new UnsafePickleError(
        `refusing to call ${callable.qualifiedName} (pickle opcode at byte ${this.opAt} of ${this.options.source}): loading would run that function; objects of unknown classes are kept as inert placeholders, but calls are never made`,
      );
    }
    if (!callable.handler.call) return this.fail(`${callable.qualifiedName} may be referenced but not called`);
    return callable.handler.call(args, (why) => this.fail(`${callable.qualifiedName}: ${why}`));
  }

  /** cls.__new__(cls, *args) (NEWOBJ): an unknown class gives an inert placeholder. */
  instantiate(cls: unknown, args: unknown): unknown {
    if (isUnknownClass(cls)) return new OpaqueObject(cls.qualifiedName, Array.isArray(args) ? args : []);
    return this.call(cls, args);
  }

  /** The value of a persistent id (torch's storages), from the caller's persistentLoad. */
  persistent(pid: unknown): unknown {
    if (!this.options.persistentLoad) return this.fail('persistent ids are not allowed here');
    return this.options.persistentLoad(pid, (why) => this.fail(`persistent id: ${why}`));
  }
}

function isUnknownClass(v: unknown): v is PickleGlobal {
  return v instanceof PickleGlobal && v.handler === UNKNOWN_GLOBAL;
}

/** Runs one opcode on the machine; STOP returns the pickle's value. */
type OpcodeHandler = (m: PickleMachine) => Unpickled | void;

// The container handlers take items already popped (an argument is evaluated before the call
// reads the container below them on the stack).

function setItems(m: PickleMachine, items: unknown[]): void {
  const dict = m.top();
  if (!(dict instanceof Map)) m.fail('SETITEM(S) target is not a dict');
  if (items.length % 2) m.fail('SETITEMS needs key/value pairs');
  for (let i = 0; i < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
}

function appendItems(m: PickleMachine, items: unknown[]): void {
  const list = m.top();
  if (!Array.isArray(list)) m.fail('APPEND(S) target is not a list');
  for (const it of items) (list as unknown[]).push(it);
}

function addItems(m: PickleMachine, items: unknown[]): void {
  const set = m.top();
  if (!(set instanceof Set)) m.fail('ADDITEMS target is not a set');
  for (const it of items) (set as Set<unknown>).add(it);
}

/** The two values on top of the stack, in the order they were pushed. */
function popPair(m: PickleMachine): [unknown, unknown] {
  const second = m.pop();
  return [m.pop(), second];
}

/** The n values on top of the stack, in the order they were pushed. */
function popN(m: PickleMachine, n: number): unknown[] {
  const items = new Array<unknown>(n);
  for (let i = n - 1; i >= 0; i--) items[i] = m.pop();
  return items;
}

// ---- the handlers that take more than one line

function stop(m: PickleMachine): Unpickled {
  if (m.metastack.length) m.fail('STOP inside a mark');
  return { value: m.pop(), end: m.read.pos };
}

/** INT (text): "01" and "00" are True and False in protocol 0. */
function textInt(m: PickleMachine): void {
  const s = m.read.line();
  m.push(s === '01' || s === '00' ? s === '01' : parseTextInt(s, m.fail));
}

/** FLOAT (text): Python's repr of a float, "inf", "-inf" and "nan" included. */
function textFloat(m: PickleMachine): void {
  const s = m.read.line().trim();
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(s);
  if (special) m.push(special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity);
  else if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) m.push(Number(s));
  else m.fail(`bad float literal ${JSON.stringify(s.slice(0, 20))}`);
}

/** A length that is a signed 32-bit field (LONG4, BINSTRING): negative is corrupt. */
function signedLength(m: PickleMachine, what: string): number {
  const n = m.read.i32();
  if (n < 0) m.fail(`negative ${what} length`);
  return n;
}

function dictFromMark(m: PickleMachine): void {
  const items = m.popMark();
  m.push(new Map());
  setItems(m, items);
}

/** GLOBAL: module and name on text lines. */
function globalFromLines(m: PickleMachine): void {
  const module = m.read.line();
  m.push(m.resolveGlobal(module, m.read.line()));
}

function stackGlobal(m: PickleMachine): void {
  const [module, name] = popPair(m);
  if (typeof module !== 'string' || typeof name !== 'string') m.fail('STACK_GLOBAL needs two strings');
  m.push(m.resolveGlobal(module as string, name as string));
}

/** INST: module and name on text lines, arguments since the mark. */
function inst(m: PickleMachine): void {
  const module = m.read.line();
  const cls = m.resolveGlobal(module, m.read.line());
  m.push(m.call(cls, m.popMark()));
}

/** OBJ: the class, then its arguments, since the mark. */
function obj(m: PickleMachine): void {
  const items = m.popMark();
  if (items.length === 0) m.fail('OBJ without a class');
  m.push(m.call(items[0], items.slice(1)));
}

/** NEWOBJ_EX: cls.__new__(cls, *args, **kwargs); keyword arguments only for placeholders, which drop them. */
function newObjEx(m: PickleMachine): void {
  const [cls, args, kwargs] = popN(m, 3);
  if (isUnknownClass(cls)) m.push(m.instantiate(cls, args));
  else if (!(kwargs instanceof Map) || kwargs.size) m.fail('keyword arguments are not supported');
  else m.push(m.call(cls, args));
}

/**
 * BUILD (set object state): a placeholder keeps its state as data; numpy arrays decode theirs;
 * ordered dicts' state (torch's _metadata) is dropped.
 */
function build(m: PickleMachine): void {
  const state = m.pop();
  const target = m.top();
  if (target instanceof OpaqueObject) target.state = state;
  else if (isBuildable(target)) m.replaceTop(target.build(state, m.fail));
  else if (!(target instanceof Map)) m.fail('BUILD on an object that has no state to set');
}

const refuseExtensions: OpcodeHandler = (m) => m.fail('extension registry codes (EXT1/2/4) are not supported');

/** Every opcode of pickle protocols 0 to 5 by its byte, named as Python's pickletools names it. */
const OPCODE_TABLE: [code: number, name: string, run: OpcodeHandler][] = [
  // ---- framing and the stack
  [0x80, 'PROTO', (m) => { if (m.read.u8() > 5) m.fail('pickle protocol above 5'); }],
  // A length prefix for buffering: the opcodes inside are read as usual.
  [0x95, 'FRAME', (m) => m.read.need(m.read.u64())],
  [0x2e, 'STOP', stop],
  [0x28, 'MARK', (m) => m.mark()],
  [0x30, 'POP', (m) => { if (m.stack.length) m.stack.pop(); else m.popMark(); }],
  [0x31, 'POP_MARK', (m) => void m.popMark()],
  [0x32, 'DUP', (m) => m.push(m.top())],

  // ---- constants and numbers
  [0x4e, 'NONE', (m) => m.push(null)],
  [0x88, 'NEWTRUE', (m) => m.push(true)],
  [0x89, 'NEWFALSE', (m) => m.push(false)],
  [0x4a, 'BININT', (m) => m.push(m.read.i32())],
  [0x4b, 'BININT1', (m) => m.push(m.read.u8())],
  [0x4d, 'BININT2', (m) => m.push(m.read.u16())],
  [0x8a, 'LONG1', (m) => m.push(decodeLong(m.read.bytes(m.read.u8())))],
  [0x8b, 'LONG4', (m) => m.push(decodeLong(m.read.bytes(signedLength(m, 'LONG4'))))],
  [0x49, 'INT', textInt],
  // Text with an optional trailing L.
  [0x4c, 'LONG', (m) => m.push(parseTextInt(m.read.line().replace(/L$/, ''), m.fail))],
  [0x46, 'FLOAT', textFloat],
  [0x47, 'BINFLOAT', (m) => m.push(m.read.f64())],

  // ---- strings and bytes (Python 2 str is read as latin-1, as encoding='latin1' does)
  [0x58, 'BINUNICODE', (m) => m.push(m.read.text(m.read.u32()))],
  [0x8c, 'SHORT_BINUNICODE', (m) => m.push(m.read.text(m.read.u8()))],
  [0x8d, 'BINUNICODE8', (m) => m.push(m.read.text(m.read.u64()))],
  [0x56, 'UNICODE', (m) => m.push(decodeRawUnicodeEscape(m.read.line(), m.fail))],
  [0x54, 'BINSTRING', (m) => m.push(latin1(m.read.bytes(signedLength(m, 'BINSTRING'))))],
  [0x55, 'SHORT_BINSTRING', (m) => m.push(latin1(m.read.bytes(m.read.u8())))],
  [0x53, 'STRING', (m) => m.push(decodeQuotedString(m.read.line(), m.fail))],
  [0x42, 'BINBYTES', (m) => m.push(new Uint8Array(m.read.bytes(m.read.u32())))],
  [0x43, 'SHORT_BINBYTES', (m) => m.push(new Uint8Array(m.read.bytes(m.read.u8())))],
  [0x8e, 'BINBYTES8', (m) => m.push(new Uint8Array(m.read.bytes(m.read.u64())))],
  [0x96, 'BYTEARRAY8', (m) => m.push(new Uint8Array(m.read.bytes(m.read.u64())))],
  [0x97, 'NEXT_BUFFER', (m) => m.fail('out-of-band buffers (protocol 5 NEXT_BUFFER) are not supported')],
  // Bytes are read-only already: it only checks that there is a value to mark.
  [0x98, 'READONLY_BUFFER', (m) => void m.top()],

  // ---- containers
  [0x5d, 'EMPTY_LIST', (m) => m.push([])],
  [0x29, 'EMPTY_TUPLE', (m) => m.push([])],
  [0x7d, 'EMPTY_DICT', (m) => m.push(new Map())],
  [0x8f, 'EMPTY_SET', (m) => m.push(new Set())],
  [0x6c, 'LIST', (m) => m.push(m.popMark())],
  [0x74, 'TUPLE', (m) => m.push(m.popMark())],
  [0x85, 'TUPLE1', (m) => m.push(popN(m, 1))],
  [0x86, 'TUPLE2', (m) => m.push(popPair(m))],
  [0x87, 'TUPLE3', (m) => m.push(popN(m, 3))],
  [0x91, 'FROZENSET', (m) => m.push(new Set(m.popMark()))],
  [0x64, 'DICT', dictFromMark],
  [0x61, 'APPEND', (m) => appendItems(m, [m.pop()])],
  [0x65, 'APPENDS', (m) => appendItems(m, m.popMark())],
  [0x73, 'SETITEM', (m) => setItems(m, popPair(m))],
  [0x75, 'SETITEMS', (m) => setItems(m, m.popMark())],
  [0x90, 'ADDITEMS', (m) => addItems(m, m.popMark())],

  // ---- memo
  [0x71, 'BINPUT', (m) => m.memoize(m.read.u8())],
  [0x72, 'LONG_BINPUT', (m) => m.memoize(m.read.u32())],
  [0x70, 'PUT', (m) => m.memoize(parseMemoKey(m.read.line(), m.fail))],
  [0x94, 'MEMOIZE', (m) => m.memoize(m.memo.size)],
  [0x68, 'BINGET', (m) => m.push(m.recall(m.read.u8()))],
  [0x6a, 'LONG_BINGET', (m) => m.push(m.recall(m.read.u32()))],
  [0x67, 'GET', (m) => m.push(m.recall(parseMemoKey(m.read.line(), m.fail)))],

  // ---- globals and object construction (allow-listed handlers only)
  [0x63, 'GLOBAL', globalFromLines],
  [0x93, 'STACK_GLOBAL', stackGlobal],
  [0x69, 'INST', inst],
  [0x6f, 'OBJ', obj],
  [0x52, 'REDUCE', (m) => m.push(m.call(...popPair(m)))],
  [0x81, 'NEWOBJ', (m) => m.push(m.instantiate(...popPair(m)))],
  [0x92, 'NEWOBJ_EX', newObjEx],
  [0x62, 'BUILD', build],
  [0x82, 'EXT1', refuseExtensions],
  [0x83, 'EXT2', refuseExtensions],
  [0x84, 'EXT4', refuseExtensions],

  // ---- persistent ids (torch's tensor storages)
  [0x50, 'PERSID', (m) => m.push(m.persistent(m.read.line()))],
  [0x51, 'BINPERSID', (m) => m.push(m.persistent(m.pop()))],
];

/** The handlers by opcode byte (undefined: not an opcode). */
const OPCODES: ({ name: string; run: OpcodeHandler } | undefined)[] = new Array(256);
for (const [code, name, run] of OPCODE_TABLE) OPCODES[code] = { name, run };

/** "0x2e STOP", or just the byte when it is not an opcode. */
function opcodeLabel(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const op = OPCODES[code];
  return op ? `${hex} ${op.name}` : hex;
}

/** Runs one pickle starting at `start`; stops at its STOP opcode. */
export function unpickleAt(data: Uint8Array, start: number, options: UnpickleOptions): Unpickled {
  const machine = new PickleMachine(data, start, options);
  for (;;) {
    const done = machine.next()(machine);
    if (done) return done;
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
