// The safe unpickler against Python's own: pickles of protocols 0 to 5 that together use every
// opcode (test/fixtures/pickle_opcodes.py) read to the values pickle.loads reads from them; the
// opcodes this reader refuses, and bytes that are no opcode, are named in a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpaqueObject, PickleError, unpickle } from '../../src/import/pickle.js';
import { pythonMissing } from '../nn/python.js';

/** A value as the fixture script writes Python's result (see canon() there). */
type Canon =
  | null
  | boolean
  | { num: string }
  | { big: string }
  | { str: string }
  | { bytes: string }
  | { ref: number }
  | { list: Canon[] }
  | { dict: [Canon, Canon][] }
  | { set: Canon[] }
  | { object: string; args: Canon; state: Canon };

interface OpcodeCase {
  name: string;
  pickle: string;
  opcodes: string[];
  placeholders: boolean;
  expected?: Canon;
  error?: string;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const python = process.env.PYTHON ?? '/usr/bin/python3';
const skip = pythonMissing(['pickletools']) ?? false;

function readCases(): { opcodes: Record<string, number>; cases: OpcodeCase[] } {
  const r = spawnSync(python, [join(root, 'test', 'fixtures', 'pickle_opcodes.py')], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`pickle_opcodes.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const fixture = skip ? { opcodes: {}, cases: [] } : readCases();

/** The canonical form of a value this reader returns, built as the fixture script builds Python's. */
function canon(v: unknown, ids = new Map<unknown, number>()): Canon {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return { num: b.toString('hex') };
  }
  if (typeof v === 'bigint') return { big: String(v) };
  if (typeof v === 'string') return { str: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if ((Array.isArray(v) && v.length) || ((v instanceof Map || v instanceof Set) && v.size)) {
    if (ids.has(v)) return { ref: ids.get(v)! };
    ids.set(v, ids.size);
  }
  if (Array.isArray(v)) return { list: v.map((x) => canon(x, ids)) };
  if (v instanceof Map) return { dict: [...v].map(([k, x]): [Canon, Canon] => [canon(k, ids), canon(x, ids)]) };
  if (v instanceof Set) return { set: [...v].map((x) => canon(x, ids)).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
  if (v instanceof OpaqueObject) return { object: v.type, args: canon(v.args, ids), state: canon(v.state, ids) };
  throw new Error(`no canonical form for ${String(v)}`);
}

const read = (c: OpcodeCase) =>
  unpickle(Buffer.from(c.pickle, 'hex'), { source: c.name, placeholders: c.placeholders, persistentLoad: (pid) => new Map([['persistent', pid]]) });

test('pickles of protocols 0 to 5 that use every opcode read to the values Python reads', { skip }, () => {
  assert.equal(Object.keys(fixture.opcodes).length, 68, 'pickletools lists the 68 opcodes of protocols 0 to 5');
  const readable = fixture.cases.filter((c) => c.expected !== undefined);
  for (const c of readable) assert.deepEqual(canon(read(c)), c.expected, c.name);
  // The cases that must read cover every opcode but those this reader refuses.
  const refused = ['NEXT_BUFFER', 'EXT1', 'EXT2', 'EXT4'];
  const covered = new Set(readable.flatMap((c) => c.opcodes));
  assert.deepEqual(Object.keys(fixture.opcodes).filter((name) => !covered.has(name)).sort(), refused.sort());
});

test('a cycle and a value shared through the memo stay one object', { skip }, () => {
  const plain = fixture.cases.find((c) => c.name === 'plain values, protocol 2')!;
  const value = read(plain) as Map<string, unknown>;
  const cyclic = value.get('cyclic') as unknown[][];
  assert.equal(cyclic[0][0], cyclic, 'the tuple inside the list is the tuple itself');
  const [first, second] = value.get('shared') as unknown[];
  assert.equal(first, second);
});

test('opcodes Python reads but this reader refuses are named in a typed one-line error', { skip }, () => {
  const refused = fixture.cases.filter((c) => c.error !== undefined);
  assert.equal(refused.length, 5);
  for (const c of refused) {
    assert.throws(() => read(c), (e: Error) => {
      assert.ok(e instanceof PickleError, `${c.name}: ${e.name}`);
      assert.match(e.message, new RegExp(`^${c.name.replace(/[()]/g, '\\$&')}: invalid pickle at byte \\d+ \\(${c.error}`));
      return true;
    });
  }
});

test('a byte that is no opcode is refused by its value and offset; a pickle cut before STOP says so', () => {
  assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0xff, 0x2e]), { source: 'odd.pkl' }), {
    name: 'PickleError',
    message: 'odd.pkl: invalid pickle at byte 2 (opcode 0xff): unknown opcode: not one of pickle protocols 0 to 5 (a corrupt file?)',
  });
  assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x4b, 0x01]), { source: 'cut.pkl' }), {
    name: 'PickleError',
    message: 'cut.pkl: invalid pickle at byte 4: needs 1 bytes but only 0 remain (truncated or corrupt)',
  });
});
