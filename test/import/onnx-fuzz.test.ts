import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzOnnx } from '../fuzz/onnx.fuzz.js';

test('2000 mutated ONNX files: each loads or fails with a typed one-line OnnxError, promptly, within its size', (t) => {
  const summary = fuzzOnnx(2000);
  t.diagnostic(JSON.stringify(summary));
  assert.equal(summary.runs, 2000);
  // Both outcomes must occur, or the mutations are not exercising the parser.
  assert.ok(summary.built > 0 && summary.built < summary.runs);
});

test('regression: a mutation giving a constant absurd dims fails with OnnxGraphError (case 238,130 of the long fuzz run)', () => {
  fuzzOnnx(1, 20180618, '238129');
});
