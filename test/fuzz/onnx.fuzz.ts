// Property: parsing and building any byte-level mutation of a small valid ONNX model either
// succeeds or throws a typed OnnxError, promptly, without allocating weights larger than the file.
import fc from 'fast-check';
import { BYTES_PER_ELEMENT } from '../../src/engine/index.js';
import { loadOnnxClassifierFromBytes, OnnxError } from '../../src/import/onnx/index.js';
import { encodeModel, ints64, randomValues } from '../import/onnx-build.js';

/** A small classifier touching every part of the format the parser reads. */
export function seedModel(): Uint8Array {
  return encodeModel({
    opset: 13,
    input: { name: 'x', dims: ['batch', 2, 6, 6] },
    output: { name: 'y', dims: ['batch', 3] },
    initializers: [
      { name: 'W', dims: [4, 2, 3, 3], values: randomValues(72, 1) },
      { name: 'B', dims: [4], values: randomValues(4, 2) },
      { name: 'fcW', dims: [3, 16], values: randomValues(48, 3) },
      { name: 'shape', dims: [2], values: ints64([0, -1]) },
    ],
    nodes: [
      { op: 'Conv', inputs: ['x', 'W', 'B'], outputs: ['c'], attrs: { pads: { ints: [1, 1, 1, 1] }, strides: { ints: [1, 1] } } },
      { op: 'Relu', inputs: ['c'], outputs: ['r'] },
      { op: 'MaxPool', inputs: ['r'], outputs: ['p'], attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [3, 3] } } },
      { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value: { t: { dims: [1], values: Float32Array.from([0.5]) } } } },
      { op: 'Mul', inputs: ['p', 'k'], outputs: ['m'] },
      { op: 'Reshape', inputs: ['m', 'shape'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'fcW'], outputs: ['y'], attrs: { transB: { i: 1 } } },
    ],
  });
}

type Mutation = { kind: 'set'; at: number; byte: number } | { kind: 'cut'; at: number } | { kind: 'insert'; at: number; bytes: number[] };

function mutate(seed: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = Uint8Array.from(seed);
  for (const m of mutations) {
    const at = m.at % Math.max(1, bytes.length);
    if (m.kind === 'set') bytes[at] = m.byte;
    else if (m.kind === 'cut') bytes = bytes.subarray(0, at);
    else bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
  }
  return bytes;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 }) }) },
);

export interface FuzzSummary {
  runs: number;
  built: number;
  rejected: Record<string, number>;
}

/** Runs the property numRuns times (fixed seed; `path` replays one recorded case); throws on the first violating input. */
export function fuzzOnnx(numRuns: number, seed = 20180618, path?: string): FuzzSummary {
  const base = seedModel();
  const summary: FuzzSummary = { runs: 0, built: 0, rejected: {} };
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      const bytes = mutate(base, mutations);
      summary.runs++;
      const started = Date.now();
      try {
        const m = loadOnnxClassifierFromBytes(bytes, { file: 'fuzz.onnx' });
        const weightBytes = m.namedParameters().reduce((s, [, p]) => s + p.numel * BYTES_PER_ELEMENT[p.dtype], 0);
        m.dispose();
        if (weightBytes > bytes.length) throw new Error(`built ${weightBytes} bytes of weights from a ${bytes.length}-byte file`);
        summary.built++;
      } catch (e) {
        if (!(e instanceof OnnxError)) throw e;
        if (/\n/.test(e.message)) throw new Error(`multi-line error message: ${e.message}`);
        summary.rejected[e.name] = (summary.rejected[e.name] ?? 0) + 1;
      }
      if (Date.now() - started > 2000) throw new Error(`loading took ${Date.now() - started} ms`);
    }),
    { numRuns, seed, path },
  );
  return summary;
}
