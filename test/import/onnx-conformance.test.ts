// ONNX's own conformance data (Debian's libonnx-testdata, ONNX 1.12) run through the importer:
// every node, pytorch-converted and pytorch-operator test whose operators the importer claims
// either passes at ONNX's tolerances (|ours - ref| <= 1e-7 + 1e-3 |ref|, each output; float64
// tests in float64) or is refused at load with a one-line message naming the node and operator.
// A wrong value, a crash (a raw libtorch error) or a refusal that only comes while the graph runs
// fails the test. Each test's first input stays the graph's input; the others become
// initializers, as a classifier's weights are. Every output is checked, one load per output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, tidy } from '../../src/engine/index.js';
import {
  decodeModel, decodeTensor, loadOnnxClassifierFromBytes, ModelProtoType, OnnxUnsupportedOperatorError, SUPPORTED_OPERATORS, TensorProtoType,
  type ModelProto, type TensorData, type TensorProto,
} from '../../src/import/onnx/index.js';

const DATA = process.env.ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator'];
const RTOL = 1e-3;
const ATOL = 1e-7;

type Outcome = { kind: 'pass' } | { kind: 'unsupported'; ops: string[] } | { kind: 'refused' | 'wrong' | 'crashed' | 'refused late' | 'no data input'; reason: string };

const claimed = new Set(SUPPORTED_OPERATORS);

function readTensor(path: string): TensorProto {
  return TensorProtoType.decode(readFileSync(path)) as unknown as TensorProto;
}

/** The first index where ours and ref differ beyond ONNX's tolerances, with the two values, or null. */
function mismatch(ours: number[], ref: TensorData): string | null {
  const values = Array.from(ref.values as ArrayLike<number | bigint>, Number);
  if (ours.length !== values.length) return `${ours.length} values, expected ${values.length}`;
  for (let i = 0; i < values.length; i++) {
    const [a, b] = [ours[i], values[i]];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (a === b) continue;
    if (!(Math.abs(a - b) <= ATOL + RTOL * Math.abs(b))) return `element ${i} is ${a}, expected ${b}`;
  }
  return null;
}

/** The model with its inputs after the first turned into initializers and output `k` moved first. */
function asClassifier(model: ModelProto, inputs: TensorProto[], k: number): Uint8Array {
  const graph = model.graph!;
  const [first, ...rest] = dataInputs(model);
  const init = rest.map((v, i) => Object.assign(inputs[i + 1], { name: v.name }));
  const outputs = [graph.output[k], ...graph.output.filter((_, j) => j !== k)];
  const copy = { ...model, graph: { ...graph, input: [first, ...graph.input.filter((v) => v !== first && !rest.includes(v))], initializer: [...graph.initializer, ...init], output: outputs } };
  return ModelProtoType.encode(ModelProtoType.fromObject(copy)).finish();
}

/** Graph inputs that are not initializers (older files also list their weights as inputs). */
function dataInputs(model: ModelProto) {
  const weights = new Set(model.graph!.initializer.map((t) => t.name));
  return model.graph!.input.filter((v) => !weights.has(v.name));
}

function runCase(dir: string): Outcome {
  const file = join(dir, 'model.onnx');
  const model = decodeModel(readFileSync(file), { file, dir });
  const graph = model.graph!;
  const ops = graph.node.map((n) => (n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}.${n.opType}`));
  const missing = [...new Set(ops.filter((op) => !claimed.has(op)))];
  if (missing.length) return { kind: 'unsupported', ops: missing };
  // Sequence and optional values (no tensor type) are outside what a classifier graph holds.
  if ([...graph.input, ...graph.output].some((v) => !v.type?.tensorType)) return { kind: 'unsupported', ops: ['(sequence or optional values)'] };
  const set = join(dir, 'test_data_set_0');
  const inputs = dataInputs(model).map((_, i) => readTensor(join(set, `input_${i}.pb`)));
  if (inputs.length === 0) return { kind: 'no data input', reason: 'the graph has no input' };
  let x: TensorData;
  try {
    x = decodeTensor(inputs[0], { file, dir }, `${file}: input 0`);
  } catch (e) {
    // The graph's input in an element type the importer cannot hold: it must say so as a refusal.
    return { kind: e instanceof OnnxUnsupportedOperatorError ? 'refused' : 'crashed', reason: (e as Error).message };
  }
  for (let k = 0; k < graph.output.length; k++) {
    let module;
    try {
      module = loadOnnxClassifierFromBytes(asClassifier(model, inputs, k), { file });
    } catch (e) {
      const message = (e as Error).message;
      if (!(e instanceof OnnxUnsupportedOperatorError)) return { kind: 'crashed', reason: `at load: ${(e as Error).name}: ${message}` };
      // A refusal must be one line and name the node's operator (or the data type or opset it needs).
      if (message.includes('\n') || !/\(\w+\)|data type|operator set/.test(message)) return { kind: 'crashed', reason: `a refusal that names no operator: ${message}` };
      return { kind: 'refused', reason: message };
    }
    try {
      const ref = decodeTensor(readTensor(join(set, `output_${k}.pb`)), { file, dir }, `${file}: output ${k}`);
      const problem = tidy(() => {
        const y = module.forward(tensor(x.values, x.dims, { dtype: x.dtype }));
        if (y.shape.join() !== ref.dims.join()) return `output ${k} has shape [${y.shape}], expected [${ref.dims}]`;
        const diff = mismatch(y.toArray(), ref);
        return diff && `output ${k}: ${diff}`;
      });
      if (problem) return { kind: 'wrong', reason: problem };
    } catch (e) {
      if (e instanceof OnnxUnsupportedOperatorError) return { kind: 'refused late', reason: e.message };
      return { kind: 'crashed', reason: `${(e as Error).name}: ${(e as Error).message.split('\n')[0]}` };
    } finally {
      module.dispose();
    }
  }
  return { kind: 'pass' };
}

const skip = existsSync(DATA) ? false : `ONNX's test data is not installed at ${DATA} (apt-get install libonnx-testdata, or set ONNX_TESTDATA)`;

test("ONNX 1.12's conformance tests: every claimed operator passes at ONNX's tolerances or is refused at load", { skip }, (t) => {
  const counts = new Map<string, number>();
  const failures: string[] = [];
  const refusals: string[] = [];
  const missingOps = new Map<string, number>();
  for (const suite of SUITES) {
    for (const name of readdirSync(join(DATA, suite)).sort()) {
      const outcome = runCase(join(DATA, suite, name));
      counts.set(outcome.kind, (counts.get(outcome.kind) ?? 0) + 1);
      const label = `${suite}/${name}`;
      if (outcome.kind === 'unsupported') outcome.ops.forEach((op) => missingOps.set(op, (missingOps.get(op) ?? 0) + 1));
      else if (outcome.kind === 'refused') refusals.push(`${label}: ${outcome.reason.replace(/^\S+model\.onnx: /, '')}`);
      else if (outcome.kind !== 'pass' && outcome.kind !== 'no data input') failures.push(`${outcome.kind}: ${label}: ${outcome.reason.slice(0, 300)}`);
    }
  }
  const order = ['pass', 'refused', 'unsupported', 'no data input', 'wrong', 'crashed', 'refused late'];
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const claimedTotal = total - (counts.get('unsupported') ?? 0) - (counts.get('no data input') ?? 0);
  t.diagnostic(`${total} tests, ${claimedTotal} with claimed operators: ${order.map((k) => `${counts.get(k) ?? 0} ${k}`).join(', ')}`);
  for (const r of refusals) t.diagnostic(`refused: ${r}`);
  t.diagnostic(`unsupported operators (tests): ${[...missingOps].sort((a, b) => b[1] - a[1]).map(([op, c]) => `${op} ${c}`).join(', ')}`);
  for (const f of failures) t.diagnostic(f);
  assert.deepEqual(failures, [], `${failures.length} conformance tests of claimed operators failed:\n${failures.join('\n')}`);
  assert.ok((counts.get('pass') ?? 0) > 0);
});
