// Fuzz target for the safetensors decoder: mutated valid files and random bytes must either
// decode or fail with SafetensorsError, quickly, and never allocate more tensor bytes than the
// file holds. Run briefly by test/nn/safetensors.test.ts and at length by scripts/fuzz.mjs.
import fc from 'fast-check';
import { memoryStats, tensor, tidy } from '../../src/engine/index.js';
import { SafetensorsError, decodeSafetensors, encodeSafetensors } from '../../src/nn/index.js';

function validFile(): Uint8Array {
  return tidy(() => {
    const tensors = new Map([
      ['conv.weight', tensor([1, 2, 3, 4, 5, 6], [2, 3])],
      ['bn.count', tensor(new BigInt64Array([7n]), [])],
      ['half', tensor([0.5, -1], [2], { dtype: 'float16' })],
      ['mask', tensor(new Uint8Array([1, 0, 1]), [3], { dtype: 'bool' })],
    ]);
    return new Uint8Array(Buffer.concat(encodeSafetensors(tensors, { format: 'pt' })));
  });
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ kind: fc.constant('headerText' as const), at: fc.nat(), text: fc.string({ maxLength: 12 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(file: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = file;
  for (const m of ms) {
    const at = out.length ? m.at % out.length : 0;
    if (m.kind === 'flip') {
      out = Uint8Array.from(out);
      if (out.length) out[at] = m.byte;
    } else if (m.kind === 'truncate') {
      out = out.subarray(0, at);
    } else {
      const bytes = m.kind === 'insert' ? m.bytes : new Uint8Array(Buffer.from(m.text));
      out = new Uint8Array(Buffer.concat([out.subarray(0, at), bytes, out.subarray(at)]));
    }
  }
  return out;
}

/** Decodes and checks the contract; throws (failing the property) when it is broken. */
function checkDecode(bytes: Uint8Array): void {
  const liveBefore = memoryStats().liveBytes;
  const started = performance.now();
  try {
    tidy(() => {
      const { tensors } = decodeSafetensors(bytes, 'fuzz.safetensors');
      const held = memoryStats().liveBytes - liveBefore;
      if (held > bytes.byteLength) throw new Error(`decoded tensors hold ${held} bytes from a ${bytes.byteLength}-byte file`);
      for (const t of tensors.values()) t.data();
    });
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw new Error(`decoder threw ${(e as Error).name}: ${(e as Error).message}`);
    if (!e.message.startsWith('fuzz.safetensors: ')) throw new Error(`error does not name the file: ${e.message}`);
  }
  const ms = performance.now() - started;
  if (ms > 1000) throw new Error(`decoding ${bytes.byteLength} bytes took ${ms.toFixed(0)} ms`);
}

/** Runs numRuns cases: half mutated valid files, half random bytes (some with a plausible length prefix). */
export function fuzzSafetensors(numRuns: number): void {
  const valid = validFile();
  const randomFile = fc.oneof(
    fc.uint8Array({ maxLength: 256 }),
    fc.tuple(fc.nat({ max: 300 }), fc.uint8Array({ maxLength: 256 })).map(([n, rest]) => {
      const head = new Uint8Array(8);
      new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
      return new Uint8Array(Buffer.concat([head, rest]));
    }),
  );
  const cases = fc.oneof(fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => mutate(valid, ms)), randomFile);
  fc.assert(fc.property(cases, (bytes) => checkDecode(bytes)), { numRuns });
}
